"""ECS's request throttling: a token bucket per region and API action category.

"Request throttling for the Amazon ECS API" (Amazon ECS API Reference): ECS
throttles every account per Region with the token bucket algorithm; the actions
of one category share a bucket whose maximum capacity is the burst rate and whose
refill rate is the sustained rate; a request finding the bucket empty gets
``ThrottlingException`` "Rate exceeded". The table below is the documented one
for the actions the sandbox serves. Off by default (existing tests never meet
it); ``POST /_sandbox/throttle {"enabled": true, "scale": 1}`` turns it on, and
``scale`` multiplies capacities and rates (a bench can shrink them).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

# category: (bucket maximum capacity, refill rate per second, actions)
CATEGORIES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "cluster-modify": (20, 1, ("CreateCluster", "DeleteCluster", "UpdateCluster")),
    "cluster-read": (50, 20, ("DescribeClusters", "ListClusters")),
    "task-definition-modify": (20, 1, ("DeregisterTaskDefinition", "RegisterTaskDefinition")),
    "task-definition-read": (
        50,
        20,
        ("DescribeTaskDefinition", "ListTaskDefinitions", "ListTaskDefinitionFamilies"),
    ),
    "tag-modify": (20, 10, ("TagResource", "UntagResource")),
    "tag-read": (50, 20, ("ListTagsForResource",)),
    "cluster-resource-modify": (
        100,
        40,
        (
            "DeleteAttributes",
            "DeregisterContainerInstance",
            "PutAttributes",
            "RunTask",
            "StartTask",
            "StopTask",
            "UpdateContainerInstancesState",
        ),
    ),
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
    "agent-modify": (200, 120, ("RegisterContainerInstance",)),
    "service-modify": (50, 5, ("CreateService", "DeleteService", "UpdateService")),
    "service-read": (100, 20, ("DescribeServices", "ListServices")),
    "service-deployment": (50, 20, ("DescribeServiceDeployments", "ListServiceDeployments")),
    "service-revision": (50, 20, ("DescribeServiceRevisions",)),
}
CATEGORY_OF = {action: name for name, (_, _, actions) in CATEGORIES.items() for action in actions}


@dataclass
class Throttle:
    enabled: bool = False
    scale: float = 1.0
    throttled: int = 0
    admitted: int = 0
    # (region, category) -> (tokens, last refill on the monotonic clock)
    buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, spec: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.enabled = bool(spec.get("enabled", True))
            self.scale = float(spec.get("scale", 1.0))
            self.buckets.clear()
            self.throttled = self.admitted = 0
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "scale": self.scale,
            "throttled": self.throttled,
            "admitted": self.admitted,
        }

    def admit(self, region: str, operation: str) -> bool:
        """Take one token from the action's bucket; False: throttle this request."""
        category = CATEGORY_OF.get(operation)
        if not self.enabled or category is None:
            return True
        capacity, rate, _ = CATEGORIES[category]
        cap, per_second = capacity * self.scale, rate * self.scale
        now = time.monotonic()
        with self._lock:
            tokens, last = self.buckets.get((region, category), (cap, now))
            tokens = min(cap, tokens + (now - last) * per_second)
            if tokens < 1:
                self.buckets[(region, category)] = (tokens, now)
                self.throttled += 1
                return False
            self.buckets[(region, category)] = (tokens - 1, now)
            self.admitted += 1
            return True


THROTTLE = Throttle()
