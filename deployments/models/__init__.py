from .ecs import Deployment, Service, Task, TaskContainer, TaskDefinition
from .redeploy import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Redeploy,
    RedeployBatch,
    RedeployStatus,
)

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Deployment",
    "Redeploy",
    "RedeployBatch",
    "RedeployStatus",
    "Service",
    "Task",
    "TaskContainer",
    "TaskDefinition",
]
