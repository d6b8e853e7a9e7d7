from django.urls import path

from clusters.views import placeholder

app_name = "deployments"

urlpatterns = [
    path(
        "services/",
        placeholder(
            "services",
            "Services",
            "Services with their deployments, rollout progress and events, and forced redeploys.",
        ),
        name="services",
    ),
    path(
        "tasks/",
        placeholder(
            "tasks",
            "Tasks",
            "Running and stopped tasks, kept long after AWS forgets them, with exit codes and "
            "stop reasons.",
        ),
        name="tasks",
    ),
]
