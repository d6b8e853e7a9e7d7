"""The compare page, included in deployments/urls.py (namespace "deployments")."""

from django.urls import path

from deployments.revisions import views

urlpatterns = [
    path("services/<int:pk>/compare", views.service_compare, name="service-compare"),
]
