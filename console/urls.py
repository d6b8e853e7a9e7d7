from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .login import ThrottledLoginView

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("timeline/", views.timeline, name="timeline"),
    path("timeline/export.csv", views.timeline_export_csv, name="timeline-export-csv"),
    path("timeline/export.json", views.timeline_export_json, name="timeline-export-json"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("console.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("clusters.urls")),
    path("", include("deployments.urls")),
]

handler403 = "console.errors.permission_denied"
handler404 = "console.errors.not_found"
handler500 = "console.errors.server_error"
