from .audit import AuditEntry
from .base import MirroredModel
from .timeline import Event, EventSeverity, EventSource

__all__ = ["AuditEntry", "Event", "EventSeverity", "EventSource", "MirroredModel"]
