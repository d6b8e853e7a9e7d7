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
from .timeline import Event, EventSeverity, EventSource

__all__ = [
    "AuditEntry",
    "AuthMode",
    "AwsAccount",
    "Cluster",
    "ContainerInstance",
    "Event",
    "EventSeverity",
    "EventSource",
    "MirroredModel",
    "SyncRun",
    "SyncRunStatus",
    "SyncStatus",
]
