from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clusters.models.base import HealthFields, MirroredModel

# A Docker host's TLS material, item by item: the fields are tls_<item>_path and
# encrypted_tls_<item>.
TLS_ITEMS = ("ca", "cert", "key")


class DockerHost(HealthFields):
    """A Docker engine Fleetdeck mirrors: usually the machine behind an external
    (mi-) container instance."""

    name = models.SlugField(max_length=100, unique=True)
    endpoint = models.CharField(max_length=500)
    # TLS material for tcp:// endpoints, as paths on the console's machine (the
    # files stay where the operator's secret management put them).
    tls_ca_path = models.CharField(max_length=500, blank=True)
    tls_cert_path = models.CharField(max_length=500, blank=True)
    tls_key_path = models.CharField(max_length=500, blank=True)
    # ... or as PEM text given through the form, stored as Fernet tokens
    # (clusters.core.crypto; manage.py rotate_encryption_keys finds every field named
    # encrypted_*). Each wins over the matching path; the key is never shown again.
    encrypted_tls_ca = models.TextField(blank=True, editable=False)
    encrypted_tls_cert = models.TextField(blank=True, editable=False)
    encrypted_tls_key = models.TextField(blank=True, editable=False)
    api_version = models.CharField(max_length=16, blank=True)
    enabled = models.BooleanField(default=True)
    # The ECS container instance this machine is (for external instances: mi-...).
    container_instance = models.ForeignKey(
        "clusters.ContainerInstance",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="docker_hosts",
    )
    # how the link was made: "auto:<rule>" or "operator"
    link_source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # reachability
    reachable = models.BooleanField(default=False)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    unreachable_since = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_ms = models.PositiveIntegerField(null=True, blank=True)

    # what the engine says about itself (refreshed every few minutes, not every sync)
    hostname = models.CharField(max_length=255, blank=True)
    engine_version = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=255, blank=True)
    arch = models.CharField(max_length=64, blank=True)
    kernel = models.CharField(max_length=255, blank=True)
    cpus = models.PositiveIntegerField(null=True, blank=True)
    memory_bytes = models.BigIntegerField(null=True, blank=True)
    info_at = models.DateTimeField(null=True, blank=True)
    engine_labels = models.JSONField(default=list, blank=True)

    # counts from the last complete listing
    containers_total = models.PositiveIntegerField(default=0)
    containers_running = models.PositiveIntegerField(default=0)
    containers_paused = models.PositiveIntegerField(default=0)
    containers_stopped = models.PositiveIntegerField(default=0)

    # the watcher's position in the host's event stream (Docker's timeNano)
    events_cursor_nanos = models.BigIntegerField(null=True, blank=True)
    watcher_connected_at = models.DateTimeField(null=True, blank=True)
    watcher_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tls_stored(self) -> list[str]:
        """Which TLS items are stored encrypted (of TLS_ITEMS)."""
        return [item for item in TLS_ITEMS if getattr(self, f"encrypted_tls_{item}")]

    @property
    def tls_from_files(self) -> list[str]:
        return [item for item in TLS_ITEMS if getattr(self, f"tls_{item}_path")]


class ContainerHealth(models.TextChoices):
    NONE = "", "—"
    STARTING = "starting", "Starting"
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"


class Container(MirroredModel):
    host = models.ForeignKey(DockerHost, on_delete=models.CASCADE, related_name="containers")
    container_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    image = models.CharField(max_length=500, blank=True)
    image_id = models.CharField(max_length=128, blank=True)
    command = models.TextField(blank=True)
    state = models.CharField(max_length=32, db_index=True)
    status = models.CharField(max_length=255, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    health = models.CharField(max_length=16, choices=ContainerHealth.choices, blank=True)
    health_log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    restart_count = models.PositiveIntegerField(default=0)
    labels = models.JSONField(default=dict, blank=True)
    ports = models.JSONField(default=list, blank=True)
    # parsed from the ECS agent's labels
    ecs_cluster = models.CharField(max_length=2048, blank=True)
    ecs_task_arn = models.CharField(max_length=2048, blank=True, db_index=True)
    ecs_container_name = models.CharField(max_length=255, blank=True)
    ecs_family = models.CharField(max_length=255, blank=True)
    ecs_revision = models.CharField(max_length=32, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    # digest of the listing fields last written (see docker_sync.mirror._fingerprint)
    fingerprint = models.CharField(max_length=32, blank=True)
    # set when an inspect filled what the listing lacks (times, OOM, health log)
    inspected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["host", "container_id"], name="container_host_id_uniq")
        ]
        indexes = [
            models.Index(fields=["host", "gone_at", "state"], name="container_host_state_idx")
        ]

    def __str__(self) -> str:
        return f"{self.host.name}/{self.name}"

    @property
    def short_id(self) -> str:
        return self.container_id[:12]

    @property
    def is_running(self) -> bool:
        return self.state == "running" and not self.is_gone

    @property
    def is_ecs_agent(self) -> bool:
        return self.name == "ecs-agent"

    @property
    def has_ecs_labels(self) -> bool:
        return bool(self.ecs_task_arn)


class ContainerAction(models.Model):
    """An operator's restart or stop of a container: the web request records it
    QUEUED, a worker claims it (RUNNING) and makes the Docker call, then DONE or
    FAILED with the outcome. The Docker call never runs in the web request."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        RESTART = "restart", "Restart"
        STOP = "stop", "Stop"

    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    finished_at = models.DateTimeField(null=True, blank=True)
    # what happened, for people: "Stopped web on edge-1." or the failed call's error
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.container_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
