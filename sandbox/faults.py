"""WSGI middleware in front of moto: request counting and fault injection.

Counting happens at the HTTP layer (one count per AWS request, by
``service:Operation``) so the console's tests can assert how many calls a page
costs. ECS's own throttling (``sandbox.throttle``) and the faults
(throttle / error500 / stall / stall_after) are off by default and are set with
``POST /_sandbox/faults``. Every AWS request also takes the sandbox lock, so a
scheduler tick never runs in the middle of one.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from sandbox import ecs_events
from sandbox.state import LOCK
from sandbox.throttle import THROTTLE

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# X-Amz-Target prefixes of the JSON-protocol services the project uses.
TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonSSM": "ssm",
    "Logs_20140328": "logs",
    "Route53AutoNaming_v20170314": "servicediscovery",
    "GraniteServiceVersion20100801": "cloudwatch",
}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def identify(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(service, operation) of an AWS request, or None for anything else."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = _SCOPE.search(auth)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target and "." in target:
        prefix, op = target.split(".", 1)
        service = TARGET_PREFIXES.get(prefix) or (scope.group(2) if scope else prefix)
        return service, op
    action = None
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in qs:
        action = qs["Action"][0]
    elif environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            action = form["Action"][0]
    if action and scope:
        return scope.group(2), action
    if scope:
        return scope.group(2), environ.get("REQUEST_METHOD", "GET") + " " + environ.get(
            "PATH_INFO", ""
        )
    return None


def _region(environ: dict[str, Any]) -> str:
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return scope.group(1) if scope else "us-east-1"


# stall: the request waits before AWS handles it; stall_after: AWS handles it at
# once and the answer waits (the work is done, the caller does not know yet).
FAULTS = ("throttle", "error500", "stall", "stall_after")


@dataclass
class Rule:
    service: str = "*"
    operation: str = "*"
    fault: str = "throttle"
    rate: float | None = None
    schedule: list[bool] | None = None
    count: int | None = None
    stall_seconds: float = 5.0
    seen: int = 0

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)

    def fires(self, rng: random.Random) -> bool:
        n = self.seen
        self.seen += 1
        if self.schedule is not None:
            return n < len(self.schedule) and bool(self.schedule[n])
        if self.count is not None:
            return n < self.count
        if self.rate is not None:
            return rng.random() < self.rate
        return True


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def configure(self, spec: dict[str, Any]) -> None:
        rules = []
        for raw in spec.get("rules") or []:
            if raw.get("fault", "throttle") not in FAULTS:
                raise ValueError(f"unknown fault {raw.get('fault')!r}")
            rules.append(
                Rule(
                    service=raw.get("service", "*"),
                    operation=raw.get("operation", "*"),
                    fault=raw.get("fault", "throttle"),
                    rate=raw.get("rate"),
                    schedule=raw.get("schedule"),
                    count=raw.get("count"),
                    stall_seconds=float(raw.get("stall_seconds", 5.0)),
                )
            )
        self.rules = rules
        self.rng = random.Random(spec.get("seed", 0))

    def clear(self) -> None:
        self.rules = []

    def pick(self, service: str, operation: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(service, operation) and rule.fires(self.rng):
                return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in rule.__dict__.items() if v is not None} for rule in self.rules]


class AwsMiddleware:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.faults = Faults()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        ident = identify(environ)
        if ident is None:
            return self.app(environ, start_response)
        service, operation = ident
        with self._lock:
            self.counts[f"{service}:{operation}"] += 1
            rule = self.faults.pick(service, operation)
        if service == "ecs" and not THROTTLE.admit(_region(environ), operation):
            return _error(environ, start_response, "throttle")
        if rule is not None:
            if rule.fault == "stall":
                time.sleep(rule.stall_seconds)
            elif rule.fault != "stall_after":
                return _error(environ, start_response, rule.fault)
        if service == "sqs":
            # SQS long polls (ReceiveMessage waits up to 20 s) must not hold the sandbox
            # still; moto's queues have their own lock.
            body = list(self.app(environ, start_response))
        else:
            with LOCK:
                # Materialise the body under the lock: moto does its work lazily.
                body = list(self.app(environ, start_response))
                # What this request changed reaches EventBridge as ECS events.
                ecs_events.flush()
        if rule is not None and rule.fault == "stall_after":
            time.sleep(rule.stall_seconds)  # outside the lock: AWS goes on meanwhile
        return body


def _error(environ: dict[str, Any], start_response: Callable[..., Any], fault: str) -> list[bytes]:
    throttle = fault == "throttle"
    code = "ThrottlingException" if throttle else "ServerException"
    message = "Rate exceeded" if throttle else "Service Unavailable. Please try again later."
    status = "400 Bad Request" if throttle else "500 Internal Server Error"
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = "application/x-amz-json-1.1"
    else:
        # Query-protocol services (EC2) use the XML error envelope.
        code = "Throttling" if throttle else "InternalError"
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>sandbox</RequestID></Response>"
        ).encode()
        ctype = "text/xml"
    start_response(
        status,
        [("Content-Type", ctype), ("Content-Length", str(len(body))), ("x-amzn-ErrorType", code)],
    )
    return [body]
