from .audit import AuditEntry
from .base import MirroredModel
from .hosts import Container, ContainerHealth, DockerHost
from .timeline import Event, EventSeverity, EventSource

__all__ = [
    "AuditEntry",
    "Container",
    "ContainerHealth",
    "DockerHost",
    "Event",
    "EventSeverity",
    "EventSource",
    "MirroredModel",
]
