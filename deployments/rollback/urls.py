"""Rollback pages, included in deployments/urls.py (namespace "deployments"); the
rollback's progress is the redeploy page (``deployments:redeploy``)."""

from django.urls import path

from deployments.rollback import views

urlpatterns = [
    path("services/<int:pk>/rollback/", views.rollback_confirm, name="rollback-confirm"),
    path("services/<int:pk>/rollback/start", views.rollback_start, name="rollback-start"),
]
