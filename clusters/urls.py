from django.urls import path

from .docker_urls import urlpatterns as docker_urlpatterns
from .views import placeholder

app_name = "clusters"

urlpatterns = [
    path(
        "clusters/",
        placeholder(
            "clusters",
            "Clusters",
            "Every ECS cluster of every account and region, with counts and health.",
        ),
        name="list",
    ),
    path(
        "instances/",
        placeholder(
            "instances",
            "Instances",
            "Container instances, EC2 and external (mi-), with resources and agent state.",
        ),
        name="instances",
    ),
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
