from django.urls import path

from . import views
from .docker_urls import urlpatterns as docker_urlpatterns
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
]

urlpatterns += docker_urlpatterns
