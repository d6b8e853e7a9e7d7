from django.urls import path

from deployments import views
from deployments.logs.urls import urlpatterns as logs_urlpatterns
from deployments.redeploy.urls import urlpatterns as redeploy_urlpatterns
from deployments.revisions.urls import urlpatterns as revisions_urlpatterns
from deployments.rollback.urls import urlpatterns as rollback_urlpatterns
from deployments.service_map.urls import urlpatterns as service_map_urlpatterns

app_name = "deployments"

urlpatterns = [
    path("clusters/", views.cluster_list, name="clusters"),
    path("instances/", views.instance_list, name="instances"),
    path("sync-runs/<int:pk>/", views.sync_run_status, name="sync-run"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster"),
    path("clusters/<int:pk>/sync", views.cluster_sync_now, name="cluster-sync"),
    path("accounts/<int:pk>/sync", views.account_sync_now, name="account-sync"),
    path("instances/<int:pk>/", views.instance_detail, name="instance"),
    path("services/", views.service_list, name="services"),
    path("services/<int:pk>/", views.service_detail, name="service"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    *logs_urlpatterns,
    *redeploy_urlpatterns,
    *revisions_urlpatterns,
    *rollback_urlpatterns,
    *service_map_urlpatterns,
]
