"""Forced redeploy pages, included in deployments/urls.py (namespace "deployments")."""

from django.urls import path

from deployments.redeploy import views

urlpatterns = [
    path("services/<int:pk>/redeploy/", views.redeploy_confirm, name="redeploy-confirm"),
    path("services/<int:pk>/redeploy/start", views.redeploy_start, name="redeploy-start"),
    path("redeploys/", views.redeploy_list, name="redeploys"),
    path("redeploys/<int:pk>/", views.redeploy_detail, name="redeploy"),
    path("redeploys/<int:pk>/retry", views.redeploy_retry_view, name="redeploy-retry"),
    path(
        "redeploys/batches/<int:pk>/",
        views.redeploy_batch_detail,
        name="redeploy-batch",
    ),
    path("clusters/<int:pk>/redeploy/", views.redeploy_bulk, name="redeploy-bulk"),
    path(
        "clusters/<int:pk>/redeploy/start",
        views.redeploy_bulk_start,
        name="redeploy-bulk-start",
    ),
]
