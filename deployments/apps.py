from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "deployments"
    verbose_name = "Workloads"

    def ready(self) -> None:
        # Drift hangs off clusters' signals so clusters never imports deployments.
        from clusters.docker_hosts import docker_host_page, docker_host_synced
        from deployments.drift.hooks import host_page_panel, on_docker_host_synced

        docker_host_synced.connect(on_docker_host_synced, dispatch_uid="drift-after-docker-sync")
        docker_host_page.connect(host_page_panel, dispatch_uid="drift-host-panel")
