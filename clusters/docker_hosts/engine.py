"""The Docker adapter: the only module that imports the ``docker`` SDK.

It speaks to one engine per call through the low-level ``APIClient`` (the
high-level ``containers.list()`` inspects every container, one call each), counts
every HTTP request it makes, and returns plain dataclasses. Connection problems
become ``DockerUnreachable``; malformed endpoints ``EndpointInvalid``.

TLS material comes as file paths or as PEM text (decrypted by the caller from
what the database holds encrypted). ``docker.tls.TLSConfig`` wants files, so PEM
text is written to private files (``clusters.docker_hosts.tls_files``) that live exactly as
long as the client and are removed when it closes. The dataclasses and errors it
returns are in ``engine_types`` (no SDK there) and exported from here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import docker
import requests
from docker import errors as docker_errors
from docker.tls import TLSConfig

from clusters.docker_hosts import tls_files
from clusters.docker_hosts.engine_types import (
    DEFAULT_API_VERSION,
    DEFAULT_TIMEOUT,
    ECS_LABELS,
    ContainerDetail,
    ContainerFacts,
    ContainerLogLine,
    ContainerNotFound,
    DockerEvent,
    DockerHostError,
    DockerUnreachable,
    Endpoint,
    EndpointInvalid,
    EngineInfo,
    ecs_fields,
    endpoint_validate,
)
from clusters.docker_hosts.engine_types import since_param as _since_param
from clusters.docker_hosts.engine_types import timestamp_parse as _ts
from clusters.docker_hosts.engine_types import transport_message as _transport_message

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_TIMEOUT",
    "ECS_LABELS",
    "CallCounter",
    "ContainerDetail",
    "ContainerFacts",
    "ContainerLogLine",
    "ContainerNotFound",
    "DockerEvent",
    "DockerHostError",
    "DockerUnreachable",
    "Endpoint",
    "EndpointInvalid",
    "EngineInfo",
    "EventStream",
    "container_inspect",
    "container_logs",
    "container_restart",
    "container_stop",
    "containers_list",
    "ecs_fields",
    "endpoint_validate",
    "engine_info",
]


class CallCounter:
    """Counts the HTTP requests a client makes (a requests response hook)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        self.calls.append(f"{request.method} {urlparse(str(request.url)).path}")

    @property
    def count(self) -> int:
        return len(self.calls)


class _Connection:
    """A client and the private files its TLS needs; ``close()`` ends both."""

    def __init__(self, endpoint: Endpoint, counter: CallCounter | None = None) -> None:
        self._files = contextlib.ExitStack()
        self.material_dir: str | None = None
        try:
            self.client = self._open(endpoint, counter)
        except BaseException:
            self._files.close()
            raise

    def _open(self, endpoint: Endpoint, counter: CallCounter | None) -> docker.APIClient:
        url = endpoint_validate(endpoint.url)
        tls: TLSConfig | bool = False
        if url.startswith("tcp://") and endpoint.uses_tls:
            try:
                files = self._files.enter_context(
                    tls_files.materialise(
                        pems=(endpoint.tls_ca_pem, endpoint.tls_cert_pem, endpoint.tls_key_pem),
                        paths=(endpoint.tls_ca_path, endpoint.tls_cert_path, endpoint.tls_key_path),
                    )
                )
            except tls_files.MaterialError as exc:
                raise DockerHostError(str(exc)) from None
            self.material_dir = files.directory
            try:
                tls = TLSConfig(
                    client_cert=(files.cert, files.key) if files.cert and files.key else None,
                    ca_cert=files.ca or None,
                    # Always verify the engine's certificate: against the given CA, or
                    # the system's trust store when none is given (never unverified).
                    verify=True,
                )
            except docker_errors.TLSParameterError as exc:
                raise EndpointInvalid(str(exc)) from exc
        try:
            client = docker.APIClient(
                base_url=url,
                version=endpoint.api_version or DEFAULT_API_VERSION,
                timeout=endpoint.timeout,
                tls=tls,
                use_ssh_client=url.startswith("ssh://"),
            )
        except docker_errors.DockerException as exc:
            raise DockerUnreachable(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise EndpointInvalid(str(exc)) from exc
        if isinstance(tls, TLSConfig) and tls.ca_cert:
            # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's own
            # CA (psf/requests#3829): the host's CA must win.
            client.trust_env = False
        if counter is not None:
            client.hooks["response"].append(counter)
        return client

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self._files.close()


@contextlib.contextmanager
def _connected(
    endpoint: Endpoint, counter: CallCounter | None = None
) -> Iterator[docker.APIClient]:
    conn = _Connection(endpoint, counter)
    try:
        yield conn.client
    finally:
        conn.close()


def _translate(exc: Exception) -> DockerHostError:
    if isinstance(exc, docker_errors.NotFound):
        return ContainerNotFound(str(exc))
    if isinstance(exc, docker_errors.APIError):
        return DockerHostError(f"Docker API error: {exc.explanation or exc}")
    return DockerUnreachable(_transport_message(exc))


_TRANSPORT_ERRORS = (
    requests.exceptions.RequestException,
    docker_errors.DockerException,
    OSError,
)


def engine_info(endpoint: Endpoint, counter: CallCounter | None = None) -> EngineInfo:
    """/info and /version: also the connection test run when a host is saved."""
    try:
        with _connected(endpoint, counter) as client:
            info = client.info()
            version = client.version()
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc) from exc
    return EngineInfo(
        hostname=str(info.get("Name") or ""),
        engine_version=str(version.get("Version") or info.get("ServerVersion") or ""),
        api_version=str(version.get("ApiVersion") or ""),
        os=str(info.get("OperatingSystem") or info.get("OSType") or ""),
        arch=str(info.get("Architecture") or ""),
        kernel=str(info.get("KernelVersion") or ""),
        cpus=int(info.get("NCPU") or 0),
        memory_bytes=int(info.get("MemTotal") or 0),
        containers=int(info.get("Containers") or 0),
        running=int(info.get("ContainersRunning") or 0),
        paused=int(info.get("ContainersPaused") or 0),
        stopped=int(info.get("ContainersStopped") or 0),
        labels=list(info.get("Labels") or []),
    )


_EXITED = re.compile(r"^Exited \((-?\d+)\)")
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def _health_from_status(status: str) -> str:
    m = _HEALTH.search(status or "")
    if not m:
        return ""
    return "starting" if m.group(1) == "health: starting" else m.group(1)


def _facts(raw: dict[str, Any]) -> ContainerFacts:
    names = raw.get("Names") or []
    status = str(raw.get("Status") or "")
    exited = _EXITED.match(status)
    return ContainerFacts(
        id=str(raw["Id"]),
        name=(names[0] if names else "").lstrip("/"),
        image=str(raw.get("Image") or ""),
        image_id=str(raw.get("ImageID") or ""),
        command=str(raw.get("Command") or ""),
        state=str(raw.get("State") or ""),
        status=status,
        exit_code=int(exited.group(1)) if exited else None,
        health=_health_from_status(status),
        created=_ts(raw.get("Created")),
        labels=dict(raw.get("Labels") or {}),
        ports=[dict(p) for p in raw.get("Ports") or []],
    )


def containers_list(endpoint: Endpoint, counter: CallCounter | None = None) -> list[ContainerFacts]:
    """Every container on the host, running or not: exactly one API call."""
    try:
        with _connected(endpoint, counter) as client:
            raw = client.containers(all=True)
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc) from exc
    return [_facts(r) for r in raw]


def _detail(raw: dict[str, Any]) -> ContainerDetail:
    state = raw.get("State") or {}
    config = raw.get("Config") or {}
    health = state.get("Health") or {}
    status = str(state.get("Status") or "")
    cmd = config.get("Cmd") or []
    entry = config.get("Entrypoint") or []
    exit_code = state.get("ExitCode")
    facts = ContainerFacts(
        id=str(raw["Id"]),
        name=str(raw.get("Name") or "").lstrip("/"),
        image=str(config.get("Image") or ""),
        image_id=str(raw.get("Image") or ""),
        command=" ".join(str(p) for p in [*entry, *cmd]),
        state=status,
        status=status,
        exit_code=int(exit_code)
        if status in {"exited", "dead"} and exit_code is not None
        else None,
        health=str(health.get("Status") or ""),
        created=_ts(raw.get("Created")),
        labels=dict(config.get("Labels") or {}),
        ports=[],
    )
    return ContainerDetail(
        facts=facts,
        started_at=_ts(state.get("StartedAt")),
        finished_at=_ts(state.get("FinishedAt")),
        exit_code=facts.exit_code,
        oom_killed=bool(state.get("OOMKilled")),
        restart_count=int(raw.get("RestartCount") or 0),
        health_log=[
            {
                "start": str(h.get("Start") or ""),
                "end": str(h.get("End") or ""),
                "exit_code": h.get("ExitCode"),
                "output": str(h.get("Output") or "")[:2000],
            }
            for h in (health.get("Log") or [])
        ],
        error=str(state.get("Error") or ""),
    )


def container_inspect(
    endpoint: Endpoint, container_id: str, counter: CallCounter | None = None
) -> ContainerDetail:
    try:
        with _connected(endpoint, counter) as client:
            raw = client.inspect_container(container_id)
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc) from exc
    return _detail(raw)


def container_restart(endpoint: Endpoint, container_id: str, *, timeout: int = 10) -> None:
    try:
        with _connected(replace(endpoint, timeout=endpoint.timeout + timeout)) as client:
            client.restart(container_id, timeout=timeout)
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc) from exc


def container_stop(endpoint: Endpoint, container_id: str, *, timeout: int = 10) -> None:
    try:
        with _connected(replace(endpoint, timeout=endpoint.timeout + timeout)) as client:
            client.stop(container_id, timeout=timeout)
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc) from exc


def _log_lines(raw: bytes, stream: str) -> list[ContainerLogLine]:
    lines = []
    for text in raw.decode("utf-8", "replace").splitlines():
        stamp, _, message = text.partition(" ")
        lines.append(ContainerLogLine(at=_ts(stamp), message=message, stream=stream))
    return lines


def container_logs(
    endpoint: Endpoint,
    container_id: str,
    *,
    tail: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ContainerLogLine]:
    """The last ``tail`` lines of each stream (after ``since``, before ``until``),
    timestamped, stdout and stderr marked, oldest first. Two calls: the engine only
    tells the streams apart when asked for one at a time."""
    lines: list[ContainerLogLine] = []
    try:
        with _connected(endpoint) as client:
            for stream in ("stdout", "stderr"):
                raw = client.logs(
                    container_id,
                    stdout=stream == "stdout",
                    stderr=stream == "stderr",
                    timestamps=True,
                    tail=tail,
                    since=since.timestamp() if since else None,
                    until=until.timestamp() if until else None,
                )
                lines += _log_lines(raw, stream)
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc) from exc
    lines.sort(key=lambda line: line.at or datetime.min.replace(tzinfo=UTC))
    return lines[-tail:]


class EventStream:
    """A live stream of container events; ``close()`` from another thread ends it."""

    def __init__(self, endpoint: Endpoint, *, since_nanos: int | None = None) -> None:
        # The SDK reads the event stream without a timeout (idle is normal);
        # close() from another thread wakes the reader.
        self._conn = _Connection(endpoint)
        # where its PEM files live while the stream is open (None: no PEM text)
        self.material_dir = self._conn.material_dir
        try:
            self._stream = self._conn.client.events(
                since=_since_param(since_nanos),
                decode=True,
                filters={"type": "container"},
            )
        except _TRANSPORT_ERRORS as exc:
            self._conn.close()
            raise _translate(exc) from exc

    def __iter__(self) -> Iterator[DockerEvent]:
        try:
            for raw in self._stream:
                if raw.get("Type") != "container":
                    continue
                actor = raw.get("Actor") or {}
                time_nano = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
                yield DockerEvent(
                    container_id=str(actor.get("ID") or raw.get("id") or ""),
                    action=str(raw.get("Action") or raw.get("status") or ""),
                    time_nano=time_nano,
                    attributes={str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()},
                )
        except _TRANSPORT_ERRORS as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        # Closing a stream whose connection already broke may raise anything;
        # there is nothing left to clean up then.
        with contextlib.suppress(Exception):
            self._stream.close()
        self._conn.close()
