"""The Docker adapter's vocabulary: endpoints, errors and the plain dataclasses
``clusters.docker_hosts.engine`` returns. No Docker SDK here (only ``engine``
imports it); import these names through ``engine``, the adapter's interface."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

DEFAULT_TIMEOUT = 10
# A fixed API version avoids the extra /version round trip of "auto" on every
# client; 1.41 (Docker 20.10) is spoken by every engine we support.
DEFAULT_API_VERSION = "1.41"

ECS_LABELS = {
    "cluster": "com.amazonaws.ecs.cluster",
    "task_arn": "com.amazonaws.ecs.task-arn",
    "container_name": "com.amazonaws.ecs.container-name",
    "family": "com.amazonaws.ecs.task-definition-family",
    "revision": "com.amazonaws.ecs.task-definition-version",
}


class DockerHostError(Exception):
    """Anything that went wrong talking to a Docker host."""


class DockerUnreachable(DockerHostError):
    """The engine could not be reached (connection refused, timeout, TLS, ...)."""


class EndpointInvalid(DockerHostError):
    """The endpoint is not something Fleetdeck can connect to."""


class ContainerNotFound(DockerHostError):
    pass


@dataclass(frozen=True)
class ContainerLogLine:
    at: datetime | None
    message: str
    stream: str  # "stdout" or "stderr"


@dataclass(frozen=True)
class Endpoint:
    url: str
    tls_ca_path: str = ""
    tls_cert_path: str = ""
    tls_key_path: str = ""
    api_version: str = DEFAULT_API_VERSION
    timeout: int = DEFAULT_TIMEOUT
    # PEM text; each wins over the matching path. Kept out of repr() so an
    # endpoint in a log line or a traceback never shows key material.
    tls_ca_pem: str = field(default="", repr=False)
    tls_cert_pem: str = field(default="", repr=False)
    tls_key_pem: str = field(default="", repr=False)

    @property
    def uses_tls(self) -> bool:
        return self.url.startswith("tcp://") and bool(
            self.tls_cert_path or self.tls_ca_path or self.tls_cert_pem or self.tls_ca_pem
        )


@dataclass(frozen=True)
class EngineInfo:
    hostname: str
    engine_version: str
    api_version: str
    os: str
    arch: str
    kernel: str
    cpus: int
    memory_bytes: int
    containers: int
    running: int
    paused: int
    stopped: int
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ContainerFacts:
    """What one listing entry says about a container."""

    id: str
    name: str
    image: str
    image_id: str
    command: str
    state: str
    status: str
    exit_code: int | None
    health: str
    created: datetime | None
    labels: dict[str, str]
    ports: list[dict[str, Any]]


@dataclass(frozen=True)
class ContainerDetail:
    """What an inspect adds to the listing."""

    facts: ContainerFacts
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    oom_killed: bool
    restart_count: int
    health_log: list[dict[str, Any]]
    error: str


@dataclass(frozen=True)
class DockerEvent:
    container_id: str
    action: str
    time_nano: int
    attributes: dict[str, str]

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromtimestamp(self.time_nano / 1e9, tz=UTC)


def endpoint_validate(url: str) -> str:
    """Return the normalised endpoint or raise EndpointInvalid with a clear message."""
    url = (url or "").strip()
    if not url:
        raise EndpointInvalid("An endpoint is required.")
    if url.startswith("/"):
        url = "unix://" + url
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        if not parsed.path.startswith("/"):
            raise EndpointInvalid("A unix endpoint needs an absolute socket path: unix:///path.")
        return url
    if parsed.scheme in {"tcp", "ssh"}:
        if not parsed.hostname:
            raise EndpointInvalid(f"A {parsed.scheme}:// endpoint needs a host name or address.")
        try:
            port = parsed.port
        except ValueError as exc:
            raise EndpointInvalid(f"The port in {url!r} is not a number.") from exc
        if parsed.scheme == "tcp" and port is None:
            raise EndpointInvalid("A tcp:// endpoint needs a port, e.g. tcp://10.0.0.5:2376.")
        return url
    raise EndpointInvalid(
        "Use unix:///var/run/docker.sock, tcp://HOST:PORT (optionally with TLS) or ssh://USER@HOST."
    )


def ecs_fields(labels: dict[str, str]) -> dict[str, str]:
    """The ECS agent's labels on a container, by our field names ("" when absent)."""
    return {key: labels.get(label, "") for key, label in ECS_LABELS.items()}


_TRANSPORT_HINTS = (
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("No such file or directory", "no such socket"),
    ("Permission denied", "permission denied"),
    ("Name or service not known", "unknown host name"),
    ("Temporary failure in name resolution", "unknown host name"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ("SSL", "TLS handshake failed"),
)


def transport_message(exc: Exception) -> str:
    """A short reason a person can act on, instead of urllib3's retry chain."""
    text = str(exc)
    for needle, reason in _TRANSPORT_HINTS:
        if needle in text:
            return reason
    return f"{type(exc).__name__}: {text[:300]}"


def timestamp_parse(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value)
    if text.startswith("0001-01-01"):
        return None
    # RFC 3339 with nanoseconds: Python parses at most microseconds.
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return None
    frac = (m.group(2) or ".0")[:7]
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}{frac}{tz}")


def since_param(since_nanos: int | None) -> str | None:
    if not since_nanos:
        return None
    return f"{since_nanos // 1_000_000_000}.{since_nanos % 1_000_000_000:09d}"
