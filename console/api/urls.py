from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from console.api import mirror, views

# Plain path() routes (not a router's regexes) so the access tests can walk them.
RESOURCES = {
    "accounts": mirror.AccountViewSet,
    "clusters": mirror.ClusterViewSet,
    "instances": mirror.InstanceViewSet,
    "services": mirror.ServiceViewSet,
    "deployments": mirror.DeploymentViewSet,
    "tasks": mirror.TaskViewSet,
    "events": mirror.EventViewSet,
}

urlpatterns = [
    path("me", views.me, name="api-me"),
    path("schema", SpectacularJSONAPIView.as_view(), name="api-schema"),
]
for _name, _viewset in RESOURCES.items():
    urlpatterns += [
        path(_name, _viewset.as_view({"get": "list"}), name=f"api-{_name}"),
        path(
            f"{_name}/<int:pk>", _viewset.as_view({"get": "retrieve"}), name=f"api-{_name}-detail"
        ),
    ]
