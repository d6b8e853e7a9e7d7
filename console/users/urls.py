"""The users pages (namespace "users"), included at /users/ by console/urls.py."""

from django.urls import path

from console.users import views

app_name = "users"

urlpatterns = [
    path("", views.user_list, name="list"),
    path("new/", views.user_new, name="new"),
    path("no-role/", views.no_role, name="no-role"),
    path(
        "set-password/<uidb64>/<token>/",
        views.SetPasswordView.as_view(),
        name="set-password",
    ),
    path("<int:pk>/", views.user_detail, name="detail"),
    path("<int:pk>/role/", views.user_role_change, name="role"),
    path("<int:pk>/deactivate/", views.user_deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", views.user_reactivate, name="reactivate"),
    path("<int:pk>/password-link/", views.user_password_link, name="password-link"),
]
