from django.urls import path

from . import redeploy_views, views

app_name = "deployments"

urlpatterns = [
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster"),
    path("clusters/<int:pk>/sync", views.cluster_sync_now, name="cluster-sync"),
    path("accounts/<int:pk>/sync", views.account_sync_now, name="account-sync"),
    path("instances/<int:pk>/", views.instance_detail, name="instance"),
    path("services/", views.service_list, name="services"),
    path("services/<int:pk>/", views.service_detail, name="service"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    # Forced redeploys
    path("services/<int:pk>/redeploy/", redeploy_views.redeploy_confirm, name="redeploy-confirm"),
    path("services/<int:pk>/redeploy/start", redeploy_views.redeploy_start, name="redeploy-start"),
    path("redeploys/", redeploy_views.redeploy_list, name="redeploys"),
    path("redeploys/<int:pk>/", redeploy_views.redeploy_detail, name="redeploy"),
    path("redeploys/<int:pk>/retry", redeploy_views.redeploy_retry_view, name="redeploy-retry"),
    path(
        "redeploys/batches/<int:pk>/",
        redeploy_views.redeploy_batch_detail,
        name="redeploy-batch",
    ),
    path("clusters/<int:pk>/redeploy/", redeploy_views.redeploy_bulk, name="redeploy-bulk"),
    path(
        "clusters/<int:pk>/redeploy/start",
        redeploy_views.redeploy_bulk_start,
        name="redeploy-bulk-start",
    ),
]
