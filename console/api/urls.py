from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from . import views

urlpatterns = [
    path("me", views.me, name="api-me"),
    path("schema", SpectacularJSONAPIView.as_view(), name="api-schema"),
]
