from .drift import DriftFinding, DriftKind, DriftSeverity
from .ecs import Deployment, Service, Task, TaskContainer, TaskDefinition
from .samples import ServiceSample

__all__ = [
    "Deployment",
    "DriftFinding",
    "DriftKind",
    "DriftSeverity",
    "Service",
    "ServiceSample",
    "Task",
    "TaskContainer",
    "TaskDefinition",
]
