"""The ECS Anywhere bill (namespace "cost"), included at /cost/ by console/urls.py."""

from django.urls import path

from console.cost import views

app_name = "cost"

urlpatterns = [
    path("", views.cost_page, name="page"),
    path("export.csv", views.cost_export_csv, name="export-csv"),
]
