from .drift import DriftFinding, DriftKind, DriftSeverity
from .ecs import Deployment, Service, Task, TaskContainer, TaskDefinition

__all__ = [
    "Deployment",
    "DriftFinding",
    "DriftKind",
    "DriftSeverity",
    "Service",
    "Task",
    "TaskContainer",
    "TaskDefinition",
]
