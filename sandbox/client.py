"""A small ``requests`` client for the sandbox's ``/_sandbox/`` control endpoints.

It imports nothing from moto, so the console's tests can use it cheaply.
"""

from __future__ import annotations

from typing import Any

import requests


class SandboxError(RuntimeError):
    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(f"sandbox answered {status}: {payload}")
        self.status = status
        self.payload = payload


class SandboxClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        resp = self.session.request(
            method, f"{self.base_url}/_sandbox/{name}", json=body, timeout=self.timeout
        )
        payload = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            raise SandboxError(resp.status_code, payload)
        return payload

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")  # type: ignore[no-any-return]

    def tick(self, count: int = 1) -> dict[str, Any]:
        return self._call("POST", "tick", {"count": count})  # type: ignore[no-any-return]

    def register_instance(
        self,
        *,
        activation_id: str,
        activation_code: str,
        cluster: str,
        region: str = "us-east-1",
        hostname: str | None = None,
        ip: str | None = None,
        cpu: int = 2048,
        memory: int = 4096,
    ) -> dict[str, Any]:
        """Returns {"instanceId": "mi-...", "containerInstanceArn": ..., "cluster", "region"}."""
        body: dict[str, Any] = {
            "activationId": activation_id,
            "activationCode": activation_code,
            "cluster": cluster,
            "region": region,
            "cpu": cpu,
            "memory": memory,
        }
        if hostname:
            body["hostname"] = hostname
        if ip:
            body["ip"] = ip
        return self._call("POST", "register-instance", body)  # type: ignore[no-any-return]

    def set_agent_connected(
        self,
        connected: bool,
        *,
        container_instance_arn: str | None = None,
        ec2_instance_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"connected": connected}
        if container_instance_arn:
            body["containerInstanceArn"] = container_instance_arn
        if ec2_instance_id:
            body["ec2InstanceId"] = ec2_instance_id
        return self._call("POST", "agent", body)  # type: ignore[no-any-return]

    def set_faults(
        self, rules: list[dict[str, Any]], seed: int = 0, events: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``events``: EventBridge delivery faults, e.g. ``{"duplicate": 0.3,
        "delay_seconds": 2, "reorder": True}``."""
        body = {"rules": rules, "seed": seed, "events": events}
        return self._call("POST", "faults", body)  # type: ignore[no-any-return]

    def throttle(self, enabled: bool = True, scale: float = 1.0) -> dict[str, Any]:
        """ECS's per-category request throttling (documented rates times ``scale``)."""
        body = {"enabled": enabled, "scale": scale}
        return self._call("POST", "throttle", body)  # type: ignore[no-any-return]

    def throttle_state(self) -> dict[str, Any]:
        return self._call("GET", "throttle")  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def crash_task_definition(
        self,
        task_definition: str,
        exit_code: int = 137,
        reason: str = "OutOfMemoryError: Container killed due to memory usage",
        crash: bool = True,
    ) -> dict[str, Any]:
        return self._call(  # type: ignore[no-any-return]
            "POST",
            "crash-task-definition",
            {
                "taskDefinition": task_definition,
                "exitCode": exit_code,
                "reason": reason,
                "crash": crash,
            },
        )

    def stop_task(self, task: str, exit_code: int = 1, reason: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"task": task, "exitCode": exit_code}
        if reason:
            body["reason"] = reason
        return self._call("POST", "stop-task", body)  # type: ignore[no-any-return]

    def seed(self, name: str = "demo") -> dict[str, Any]:
        return self._call("POST", "seed", {"name": name})  # type: ignore[no-any-return]

    def forget_after(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "forget-after", {"seconds": seconds})  # type: ignore[no-any-return]

    def link_docker_host(
        self, ec2_instance_id: str, docker_url: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"ec2InstanceId": ec2_instance_id}
        if docker_url:
            body["dockerUrl"] = docker_url
        return self._call("POST", "link-docker-host", body)  # type: ignore[no-any-return]

    def request_counts(self) -> dict[str, int]:
        return self._call("GET", "requests")  # type: ignore[no-any-return]

    def reset_request_counts(self) -> None:
        self._call("DELETE", "requests")

    def reset(self) -> None:
        self._call("POST", "reset")
