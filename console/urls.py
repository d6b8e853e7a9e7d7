from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console.alerts import views as alert_views
from console.dashboard import views as dashboard_views
from console.login import ThrottledLoginView
from console.ops import views as ops_views
from console.timeline import views as timeline_views

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/acknowledge/", dashboard_views.acknowledge, name="dashboard-acknowledge"),
    path("alerts/channels/", alert_views.channel_list, name="alert-channels"),
    path("alerts/channels/new/", alert_views.channel_create, name="alert-channel-new"),
    path("alerts/channels/<int:pk>/", alert_views.channel_edit, name="alert-channel"),
    path("alerts/channels/<int:pk>/test/", alert_views.channel_test, name="alert-channel-test"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("timeline/", timeline_views.timeline, name="timeline"),
    path("timeline/export.csv", timeline_views.timeline_export_csv, name="timeline-export-csv"),
    path("timeline/export.json", timeline_views.timeline_export_json, name="timeline-export-json"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("users/", include("console.users.urls")),
    path("cost/", include("console.cost.urls")),
    path("api/v1/", include("console.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("clusters.urls")),
    path("", include("deployments.urls")),
]

handler403 = "console.errors.permission_denied"
handler404 = "console.errors.not_found"
handler500 = "console.errors.server_error"
