from django.urls import path

from deployments.service_map import views

urlpatterns = [
    path("clusters/<int:pk>/map/", views.cluster_map, name="cluster-map"),
]
