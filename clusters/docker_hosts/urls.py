"""Docker host pages, included in clusters/urls.py (namespace "clusters")."""

from django.urls import path

from clusters.docker_hosts import views as docker_views

urlpatterns = [
    path("docker-hosts/", docker_views.host_list, name="docker-hosts"),
    path("docker-hosts/add/", docker_views.host_add, name="docker-host-add"),
    path("docker-hosts/<slug:name>/", docker_views.host_detail, name="docker-host"),
    path("docker-hosts/<slug:name>/sync/", docker_views.host_sync_now, name="docker-host-sync"),
    path("docker-hosts/<slug:name>/link/", docker_views.host_link, name="docker-host-link"),
    path("docker-hosts/<slug:name>/tls/", docker_views.host_tls, name="docker-host-tls"),
    path(
        "docker-hosts/<slug:name>/containers/<str:container_id>/",
        docker_views.container_detail,
        name="docker-container",
    ),
    path(
        "docker-hosts/<slug:name>/containers/<str:container_id>/action/",
        docker_views.container_action,
        name="docker-container-action",
    ),
]
