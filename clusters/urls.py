from django.urls import path

from . import views
from .views import placeholder

app_name = "clusters"

urlpatterns = [
    path("clusters/", views.cluster_list, name="list"),
    path("instances/", views.instance_list, name="instances"),
    path("sync-runs/<int:pk>/", views.sync_run_status, name="sync-run"),
    path(
        "registrations/",
        placeholder(
            "registrations",
            "Registrations",
            "Requests for SSM activations, their approval, and the waiting room for new "
            "external instances.",
        ),
        name="registrations",
    ),
    path(
        "docker-hosts/",
        placeholder(
            "docker-hosts",
            "Docker hosts",
            "The machines behind external instances, their containers and events, and drift "
            "against what ECS believes.",
        ),
        name="docker-hosts",
    ),
]
