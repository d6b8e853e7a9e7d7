from clusters.models.audit import AuditEntry
from clusters.models.aws import (
    AuthMode,
    AwsAccount,
    Cluster,
    ContainerInstance,
    SyncRun,
    SyncRunStatus,
    SyncStatus,
)
from clusters.models.base import HealthFields, MirroredModel
from clusters.models.cost import InstanceRegistration
from clusters.models.hosts import Container, ContainerAction, ContainerHealth, DockerHost
from clusters.models.jobs import QueuedJob
from clusters.models.registration import (
    Activation,
    DecommissionRequest,
    DockerInstallSource,
    InstanceAdmission,
    RegistrationRequest,
)
from clusters.models.streams import EventStream
from clusters.models.timeline import Event, EventSeverity, EventSource

__all__ = [
    "Activation",
    "AuditEntry",
    "AuthMode",
    "AwsAccount",
    "Cluster",
    "Container",
    "ContainerAction",
    "ContainerHealth",
    "ContainerInstance",
    "DecommissionRequest",
    "DockerHost",
    "DockerInstallSource",
    "Event",
    "EventSeverity",
    "EventSource",
    "EventStream",
    "HealthFields",
    "InstanceAdmission",
    "InstanceRegistration",
    "MirroredModel",
    "QueuedJob",
    "RegistrationRequest",
    "SyncRun",
    "SyncRunStatus",
    "SyncStatus",
]
