"""Container logs pages, included in deployments/urls.py (namespace "deployments")."""

from django.urls import path

from deployments.logs import views

urlpatterns = [
    path("tasks/<int:pk>/logs/", views.task_logs, name="task-logs"),
]
