from deployments.models.cloudmap import (
    CloudMapInstance,
    CloudMapListing,
    CloudMapNamespace,
    CloudMapService,
)
from deployments.models.drift import DriftFinding, DriftKind, DriftSeverity
from deployments.models.ecs import Deployment, Service, Task, TaskContainer, TaskDefinition
from deployments.models.history import ServiceDeployment, ServiceHistoryCursor, ServiceRevision
from deployments.models.logs import ContainerLastWords, LastWordsState, LogSource
from deployments.models.redeploy import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Redeploy,
    RedeployBatch,
    RedeployKind,
    RedeployStatus,
    RollbackMethod,
)
from deployments.models.samples import ServiceSample

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "CloudMapInstance",
    "CloudMapListing",
    "CloudMapNamespace",
    "CloudMapService",
    "ContainerLastWords",
    "Deployment",
    "DriftFinding",
    "DriftKind",
    "DriftSeverity",
    "LastWordsState",
    "LogSource",
    "Redeploy",
    "RedeployBatch",
    "RedeployKind",
    "RedeployStatus",
    "RollbackMethod",
    "Service",
    "ServiceDeployment",
    "ServiceHistoryCursor",
    "ServiceRevision",
    "ServiceSample",
    "Task",
    "TaskContainer",
    "TaskDefinition",
]
