from .audit import AuditEntry
from .aws import (
    AuthMode,
    AwsAccount,
    Cluster,
    ContainerInstance,
    SyncRun,
    SyncRunStatus,
    SyncStatus,
)
from .base import MirroredModel
from .hosts import Container, ContainerHealth, DockerHost
from .registration import (
    Activation,
    DecommissionRequest,
    DockerInstallSource,
    InstanceAdmission,
    RegistrationRequest,
)
from .timeline import Event, EventSeverity, EventSource

__all__ = [
    "Activation",
    "AuditEntry",
    "AuthMode",
    "AwsAccount",
    "Cluster",
    "Container",
    "ContainerHealth",
    "ContainerInstance",
    "DecommissionRequest",
    "DockerHost",
    "DockerInstallSource",
    "Event",
    "EventSeverity",
    "EventSource",
    "InstanceAdmission",
    "MirroredModel",
    "RegistrationRequest",
    "SyncRun",
    "SyncRunStatus",
    "SyncStatus",
]
