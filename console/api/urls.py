from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from console.api import compare, cost, history, logs, views
from console.api.resources import RESOURCES

# Plain path() routes (not a router's regexes) so the access tests can walk them.
urlpatterns = [
    path("", views.index, name="api-index"),
    path("me", views.me, name="api-me"),
    path("schema", SpectacularJSONAPIView.as_view(), name="api-schema"),
    path("docs", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("services/<int:pk>/compare", compare.service_compare, name="api-service-compare"),
    path("services/<int:pk>/history", history.service_history, name="api-service-history"),
    path("tasks/<int:pk>/logs", logs.task_logs, name="api-task-logs"),
    path("cost", cost.anywhere_cost, name="api-cost"),
]
for _name, _viewset in RESOURCES.items():
    urlpatterns += [
        path(_name, _viewset.as_view({"get": "list"}), name=f"api-{_name}"),
        path(
            f"{_name}/<int:pk>", _viewset.as_view({"get": "retrieve"}), name=f"api-{_name}-detail"
        ),
    ]
