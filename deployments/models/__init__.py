from .ecs import Deployment, Service, Task, TaskContainer, TaskDefinition
from .samples import ServiceSample

__all__ = [
    "Deployment",
    "Service",
    "ServiceSample",
    "Task",
    "TaskContainer",
    "TaskDefinition",
]
