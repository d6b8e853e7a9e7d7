"""The ``/_sandbox/`` control endpoints (JSON), served next to moto's API.

These are the knobs tests and the demo turn that AWS itself has no API for:
stepping the scheduler, playing an on-prem install script, unplugging an
agent, crashing a task definition, injecting faults, counting requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.exceptions import JsonRESTError

from sandbox import ecs_anywhere, ecs_events, scheduler
from sandbox.ecs_model import all_tasks
from sandbox.faults import AwsMiddleware, WSGIApp
from sandbox.state import CLOCK, LOCK, SETTINGS, reset_settings
from sandbox.throttle import THROTTLE

Handler = Callable[[dict[str, Any]], Any]


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def reset_all() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    from sandbox import docker_agent

    with LOCK:
        for backend in scheduler.iter_backends():
            for t in all_tasks(backend):
                docker_agent.stop(t)
        moto_api_backend.reset()
        scheduler.reset()
        ecs_events.reset()
        reset_settings()


class ControlApp:
    def __init__(self, app: WSGIApp, aws: AwsMiddleware) -> None:
        self.app = app
        self.aws = aws
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "health"): lambda body: {
                "status": "ok",
                "clock": CLOCK.mode,
                "tickSeconds": CLOCK.tick_seconds,
                "moto": _moto_version(),
            },
            ("POST", "tick"): self.tick,
            ("POST", "register-instance"): self.register_instance,
            ("POST", "agent"): self.agent,
            ("POST", "faults"): self.set_faults,
            ("GET", "faults"): lambda body: {
                "rules": self.aws.faults.describe(),
                "events": ecs_events.DELIVERY.describe(),
            },
            ("DELETE", "faults"): self.clear_faults,
            ("POST", "throttle"): lambda body: THROTTLE.configure(body),
            ("GET", "throttle"): lambda body: THROTTLE.describe(),
            ("POST", "crash-task-definition"): self.crash_task_definition,
            ("POST", "stop-task"): self.stop_task,
            ("POST", "seed"): self.seed,
            ("POST", "forget-after"): self.forget_after,
            ("POST", "link-docker-host"): self.link_docker_host,
            ("GET", "requests"): lambda body: self.aws.request_counts(),
            ("DELETE", "requests"): self.reset_requests,
            ("POST", "reset"): self.reset,
        }

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_sandbox/"):
            return self.app(environ, start_response)
        name = path[len("/_sandbox/") :].strip("/")
        handler = self.routes.get((environ.get("REQUEST_METHOD", "GET"), name))
        if handler is None:
            return _respond(start_response, 404, {"error": f"no control endpoint {name}"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw.strip() else {}
            result = handler(body)
            if environ.get("REQUEST_METHOD") == "POST":
                ecs_events.flush()  # a control call (agent, stop-task, ...) changed ECS
            return _respond(start_response, 200, result)
        except ControlError as exc:
            return _respond(start_response, exc.status, {"error": str(exc)})
        except JsonRESTError as exc:
            return _respond(start_response, 400, {"error": exc.error_type, "message": exc.message})
        except (KeyError, ValueError, TypeError) as exc:
            return _respond(start_response, 400, {"error": f"bad request: {exc!r}"})

    # --- handlers ----------------------------------------------------------

    def tick(self, body: dict[str, Any]) -> dict[str, Any]:
        count = int(body.get("count", 1))
        scheduler.tick(count)
        return {"ticks": count, "now": CLOCK.timestamp()}

    def register_instance(self, body: dict[str, Any]) -> dict[str, Any]:
        with LOCK:
            return ecs_anywhere.register_instance(
                region=body.get("region", "us-east-1"),
                activation_id=body["activationId"],
                activation_code=body["activationCode"],
                cluster=body.get("cluster", "default"),
                hostname=body.get("hostname"),
                ip=body.get("ip"),
                cpu=int(body.get("cpu", 2048)),
                memory=int(body.get("memory", 4096)),
            )

    def agent(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = body.get("containerInstanceArn") or body.get("ec2InstanceId")
        if not ref:
            raise ControlError("containerInstanceArn or ec2InstanceId is required")
        with LOCK:
            arns = ecs_anywhere.set_agent_connected(ref, bool(body.get("connected", True)))
        return {"containerInstanceArns": arns, "connected": bool(body.get("connected", True))}

    def set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        self.aws.faults.configure(body)
        # "events": {"duplicate": p, "delay_seconds": s, "reorder": bool} for EventBridge.
        ecs_events.DELIVERY.configure(body.get("events"))
        return {"rules": self.aws.faults.describe(), "events": ecs_events.DELIVERY.describe()}

    def clear_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        self.aws.faults.clear()
        ecs_events.DELIVERY.configure(None)
        return {"rules": []}

    def crash_task_definition(self, body: dict[str, Any]) -> dict[str, Any]:
        key = body["taskDefinition"]
        with LOCK:
            if body.get("crash", True):
                scheduler.CRASHES[key] = (
                    int(body.get("exitCode", 137)),
                    body.get("reason", "OutOfMemoryError: Container killed due to memory usage"),
                )
            else:
                scheduler.CRASHES.pop(key, None)
        return {"crashing": sorted(scheduler.CRASHES)}

    def stop_task(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = body["task"]
        with LOCK:
            for backend in scheduler.iter_backends():
                for t in all_tasks(backend):
                    if ref in (t.task_arn, t.id) and t.last_status != "STOPPED":
                        scheduler.kill(t, int(body.get("exitCode", 1)), body.get("reason"))
                        return {"task": t.render()}
        raise ControlError(f"no running task {ref}", 404)

    def seed(self, body: dict[str, Any]) -> dict[str, Any]:
        from sandbox import seed

        with LOCK:
            return seed.seed(body.get("name", "demo"))

    def forget_after(self, body: dict[str, Any]) -> dict[str, Any]:
        SETTINGS.forget_after = float(body["seconds"])
        return {"seconds": SETTINGS.forget_after}

    def link_docker_host(self, body: dict[str, Any]) -> dict[str, Any]:
        from sandbox import docker_agent

        url = body.get("dockerUrl") or SETTINGS.docker_host
        if not url:
            raise ControlError("dockerUrl is required (no --docker-host default)")
        if not docker_agent.available(url):
            raise ControlError(f"no Docker engine answers at {url}", 409)
        SETTINGS.docker_links[body["ec2InstanceId"]] = url
        return {"ec2InstanceId": body["ec2InstanceId"], "dockerUrl": url}

    def reset_requests(self, body: dict[str, Any]) -> dict[str, Any]:
        self.aws.reset_counts()
        return {}

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        reset_all()
        self.aws.faults.clear()
        self.aws.reset_counts()
        THROTTLE.configure({"enabled": False})
        return {"reset": True}


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def _respond(start_response: Callable[..., Any], status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
