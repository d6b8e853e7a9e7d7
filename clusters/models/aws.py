"""AWS accounts and the ECS infrastructure mirrored from them."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils import timezone

from clusters.models.base import HealthFields, MirroredModel


class AuthMode(models.TextChoices):
    DEFAULT = "default", "Default credential chain"
    PROFILE = "profile", "Named profile"
    ASSUME_ROLE = "assume_role", "Assume role"
    ENDPOINT = "endpoint", "Explicit endpoint (sandbox)"


class SyncStatus(models.TextChoices):
    NEVER = "", "Never synced"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class AwsAccount(HealthFields):
    """An AWS account Fleetdeck mirrors. Credentials are never stored here: the
    account only says *how* to obtain them (default chain, profile, role)."""

    name = models.CharField(max_length=64, unique=True)
    account_id = models.CharField(max_length=12, blank=True)
    regions = models.JSONField(default=list, blank=True)
    auth_mode = models.CharField(max_length=16, choices=AuthMode.choices, default=AuthMode.DEFAULT)
    profile_name = models.CharField(max_length=128, blank=True)
    role_arn = models.CharField(max_length=2048, blank=True)
    external_id = models.CharField(max_length=1224, blank=True)
    endpoint_url = models.CharField(max_length=512, blank=True)
    enabled = models.BooleanField(default=True)
    anywhere_role = models.CharField(
        max_length=128,
        default="ecsAnywhereRole",
        help_text="IAM role given to SSM activations for ECS Anywhere instances.",
    )
    last_sync_status = models.CharField(
        max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER, blank=True
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Cluster(HealthFields, MirroredModel):
    account = models.ForeignKey(AwsAccount, on_delete=models.CASCADE, related_name="clusters")
    region = models.CharField(max_length=32)
    arn = models.CharField(max_length=2048, unique=True)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=32, blank=True)
    registered_instances_count = models.IntegerField(default=0)
    running_tasks_count = models.IntegerField(default=0)
    pending_tasks_count = models.IntegerField(default=0)
    active_services_count = models.IntegerField(default=0)
    # {"namespace": ...}: where new Service Connect services of the cluster register.
    service_connect_defaults = models.JSONField(default=dict, blank=True)
    hold_new_instances = models.BooleanField(
        default=True,
        help_text="New external instances wait (DRAINING) until an operator approves them.",
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_ok = models.BooleanField(null=True)
    last_sync_error = models.TextField(blank=True)

    class Meta:
        ordering = ["account__name", "region", "name"]
        indexes = [models.Index(fields=["account", "region", "name"], name="cluster_acct_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.region})"


class ContainerInstance(HealthFields, MirroredModel):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="instances")
    arn = models.CharField(max_length=2048, unique=True)
    ec2_instance_id = models.CharField(max_length=64, blank=True, db_index=True)
    is_external = models.BooleanField(default=False)
    status = models.CharField(max_length=32, blank=True)
    status_reason = models.TextField(blank=True)
    agent_connected = models.BooleanField(default=False)
    agent_connected_changed_at = models.DateTimeField(null=True, blank=True)
    agent_version = models.CharField(max_length=64, blank=True)
    docker_version = models.CharField(max_length=128, blank=True)
    registered_cpu = models.IntegerField(default=0)
    registered_memory = models.IntegerField(default=0)
    remaining_cpu = models.IntegerField(default=0)
    remaining_memory = models.IntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    health_status = models.CharField(max_length=32, blank=True)
    running_tasks_count = models.IntegerField(default=0)
    pending_tasks_count = models.IntegerField(default=0)
    registered_at = models.DateTimeField(null=True, blank=True)
    # DescribeContainerInstances' and the instance event's ``version`` (see Task.version).
    version = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["ec2_instance_id", "id"]
        indexes = [models.Index(fields=["cluster", "status"], name="ci_cluster_status_idx")]

    def __str__(self) -> str:
        return self.ec2_instance_id or self.arn.rsplit("/", 1)[-1]

    @property
    def short_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def used_cpu(self) -> int:
        return max(0, self.registered_cpu - self.remaining_cpu)

    @property
    def used_memory(self) -> int:
        return max(0, self.registered_memory - self.remaining_memory)

    # The machine behind an external (mi-) instance. ECS does not say; SSM does, and
    # the waiting room stores SSM's answer (DescribeInstanceInformation: ComputerName,
    # IPAddress) on the instance's admission when it joins, so showing it costs no
    # call. A linked Docker host's engine name stands in for a missing hostname.
    # Pages load both with select_related("admission") / prefetch_related("docker_hosts").
    def _admission_value(self, field: str) -> str:
        try:
            return str(getattr(self.admission, field) or "")  # type: ignore[attr-defined]
        except ObjectDoesNotExist:
            return ""

    @property
    def hostname(self) -> str:
        name = self._admission_value("hostname")
        hosts = self.docker_hosts.all()  # type: ignore[attr-defined]
        named = (h.hostname for h in hosts if h.hostname not in ("", self.ec2_instance_id))
        return name or next(named, "")

    @property
    def ip_address(self) -> str:
        """As SSM reported it when the instance joined."""
        return self._admission_value("ip_address")


class SyncRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One sync of one (account, region[, cluster]); polled by the "Sync now" UI."""

    account = models.ForeignKey(AwsAccount, on_delete=models.CASCADE, related_name="sync_runs")
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="sync_runs"
    )
    region = models.CharField(max_length=32, blank=True)
    phase = models.CharField(max_length=64, default="queued")
    status = models.CharField(
        max_length=16, choices=SyncRunStatus.choices, default=SyncRunStatus.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    calls = models.JSONField(default=dict, blank=True)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    gone_count = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)
    # Time the run's AWS calls waited for the shared API budget (clusters/aws/budget.py).
    budget_wait_ms = models.IntegerField(default=0)
    # A light reconcile (stream mode): what the listings name is checked, but tasks the
    # mirror holds as settled RUNNING are not described (deployments/reconcile.py).
    light = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The dashboard's "last successful sync" of each cluster and account
            # (console.dashboard.snapshot._newest_success): one index probe each, however
            # many runs are kept.
            models.Index(
                fields=["cluster", "status", "-finished_at"], name="syncrun_cluster_success_idx"
            ),
            models.Index(
                fields=["account", "status", "-finished_at"], name="syncrun_account_success_idx"
            ),
            # The newest run of a cluster (its page) and of an account (the clusters list).
            models.Index(fields=["cluster", "-started_at"], name="syncrun_cluster_recent_idx"),
            models.Index(
                fields=["account", "-started_at"],
                name="syncrun_account_recent_idx",
                condition=models.Q(cluster__isnull=True),
            ),
            # /metrics' failed runs of the last 24 h, and the prune of runs past 7 days:
            # range scans instead of reading every run kept.
            models.Index(fields=["status", "started_at"], name="syncrun_status_started_idx"),
            models.Index(fields=["started_at"], name="syncrun_started_idx"),
        ]

    def __str__(self) -> str:
        return f"SyncRun {self.pk} {self.status} {self.phase}"

    @property
    def is_finished(self) -> bool:
        return self.status != SyncRunStatus.RUNNING

    @property
    def total_calls(self) -> int:
        return sum(int(v) for v in self.calls.values())

    @property
    def budget_wait_seconds(self) -> float:
        return self.budget_wait_ms / 1000

    @property
    def duration_seconds(self) -> float | None:
        return None if self.duration_ms is None else self.duration_ms / 1000
