"""One API budget per AWS account and Region, taken by every call the adapter makes.

ECS throttles each account per Region with token buckets, one per API action
category ("Request throttling for the Amazon ECS API", Amazon ECS API Reference,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html).
Ten workers on ten machines each retrying on their own would still make a
throttling storm; so every HTTP request a client of ``clusters.aws.session`` sends
first takes a token from a shared bucket (``clusters.core.budget``: Redis, or the
database cache) sized below ECS's: ``FLEETDECK_API_BUDGET_PERCENT`` (default
80 %) of the documented capacity and refill rate of its category. Other services
(SSM, EC2, Cloud Map, STS, ...) share one bucket per service with
``OTHER_SERVICE`` sizes. ``FLEETDECK_API_BUDGET_OVERRIDES`` sets any category's
``[capacity, rate]`` (after a quota increase, say); ``FLEETDECK_API_BUDGET =
False`` turns the budget off.

The hook is botocore's ``before-send`` event: it fires once per HTTP attempt,
retries included (AWS counts every request it receives), just before the request
goes out. A client remembers how long its calls waited (``waited_ms``), which a
sync records on its ``SyncRun``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings

from clusters.core.budget import bucket_take

log = logging.getLogger(__name__)

# category: (bucket maximum capacity, refill rate per second, ECS actions), as documented.
ECS_CATEGORIES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "cluster-read": (50, 20, ("DescribeClusters", "ListClusters")),
    "cluster-modify": (20, 1, ("CreateCluster", "DeleteCluster", "UpdateCluster")),
    "task-definition-read": (
        50,
        20,
        ("DescribeTaskDefinition", "ListTaskDefinitions", "ListTaskDefinitionFamilies"),
    ),
    "task-definition-modify": (20, 1, ("DeregisterTaskDefinition", "RegisterTaskDefinition")),
    "tag-read": (50, 20, ("ListTagsForResource",)),
    "tag-modify": (20, 10, ("TagResource", "UntagResource")),
    "cluster-resource-read": (
        100,
        20,
        (
            "DescribeContainerInstances",
            "DescribeTasks",
            "ListAttributes",
            "ListContainerInstances",
            "ListTasks",
        ),
    ),
    "cluster-resource-modify": (
        100,
        40,
        (
            "DeleteAttributes",
            "DeregisterContainerInstance",
            "ExecuteCommand",
            "PutAttributes",
            "RunTask",
            "StartTask",
            "StopTask",
            "UpdateContainerAgent",
            "UpdateContainerInstancesState",
        ),
    ),
    "service-read": (100, 20, ("DescribeServices", "ListServices")),
    "service-modify": (50, 5, ("CreateService", "DeleteService", "UpdateService")),
    "service-deployment": (50, 20, ("DescribeServiceDeployments", "ListServiceDeployments")),
    "service-revision": (50, 20, ("DescribeServiceRevisions",)),
}
# Any ECS action the table does not name, and every other service (one bucket each).
ECS_OTHER = (20, 1)
OTHER_SERVICE = (50, 10)
_ECS_CATEGORY = {a: name for name, (_, _, actions) in ECS_CATEGORIES.items() for a in actions}


def bucket_for(service_id: str, operation: str) -> tuple[str, float, float]:
    """(bucket name, capacity, refill per second) of one call, as configured."""
    if service_id == "ecs":
        category = _ECS_CATEGORY.get(operation, "ecs-other")
        capacity, rate = ECS_CATEGORIES[category][:2] if category in ECS_CATEGORIES else ECS_OTHER
        name = f"ecs:{category}"
    else:
        name = service_id
        capacity, rate = OTHER_SERVICE
    override = (getattr(settings, "FLEETDECK_API_BUDGET_OVERRIDES", None) or {}).get(name)
    if override:
        return name, float(override[0]), float(override[1])
    fraction = int(getattr(settings, "FLEETDECK_API_BUDGET_PERCENT", 80)) / 100
    return name, capacity * fraction, rate * fraction


def budget_enabled() -> bool:
    return bool(getattr(settings, "FLEETDECK_API_BUDGET", True))


class BudgetHook:
    """botocore ``before-send`` handler of one client: take a token, wait if told to."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.waited = 0.0
        self.waits = 0
        self._lock = threading.Lock()

    def __call__(self, event_name: str = "", **kwargs: Any) -> None:
        # Never raise and never return a value: botocore would treat either as the
        # request's outcome.
        try:
            if not budget_enabled():
                return
            parts = event_name.split(".")
            if len(parts) < 3:
                return
            name, capacity, rate = bucket_for(parts[1], parts[2])
            wait = bucket_take(name=f"{self.scope}:{name}", capacity=capacity, rate=rate)
            if wait > 0:
                time.sleep(wait)
                with self._lock:
                    self.waited += wait
                    self.waits += 1
        except Exception:
            log.warning("API budget hook failed; call sent without it", exc_info=True)


def budget_attach(client: Any, *, account_key: str, region: str) -> BudgetHook:
    """Make every request of ``client`` take from the (account, region) budget."""
    hook = BudgetHook(f"{account_key}:{region}")
    client.meta.events.register("before-send", hook)
    client._fleetdeck_budget = hook
    return hook


def waited_ms(client: Any) -> int:
    """How long the calls of ``client`` have waited for the budget so far, in ms."""
    hook = getattr(client, "_fleetdeck_budget", None)
    return int(hook.waited * 1000) if isinstance(hook, BudgetHook) else 0
