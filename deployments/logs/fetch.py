"""The worker side of a log read: one adapter call (CloudWatch Logs or the Docker
engine), lines redacted and bounded, as a plain dict that the cache and the
database hold. Never called in a web request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clusters.aws.errors import AwsError
from clusters.aws.logs import LogStreamMissing, log_events_page, log_events_search
from clusters.core.redaction import redact
from clusters.docker_hosts import DockerHostError, container_logs, host_endpoint
from clusters.models import DockerHost
from deployments.logs.sources import LogTarget
from deployments.models import Task

MODES = ("tail", "older", "search")
LINE_CHARS = 4000  # one line longer than this is cut (a stack trace in one JSON line)
DOCKER_SEARCH_LINES = 2000  # Docker cannot search: the newest lines are read and filtered


def _line(at: datetime | None, message: str, stream: str) -> dict[str, Any]:
    text = redact(message)
    if len(text) > LINE_CHARS:
        text = text[:LINE_CHARS] + " …(cut)"
    return {"at": at.isoformat() if at else None, "message": text, "stream": stream}


def _cloudwatch(task: Task, target: LogTarget, mode: str, arg: str, limit: int) -> dict[str, Any]:
    where = {"group": target.group, "stream": target.stream, "region": target.region}
    account = task.cluster.account
    if mode == "search":
        found = log_events_search(account=account, **where, text=arg, limit=limit)
        return {"lines": [_line(x.at, x.message, x.stream) for x in found], "older": None}
    page = log_events_page(
        account=account, **where, limit=limit, before=arg if mode == "older" else None
    )
    return {"lines": [_line(x.at, x.message, x.stream) for x in page.lines], "older": page.older}


def _docker(target: LogTarget, mode: str, arg: str, limit: int) -> dict[str, Any]:
    host = DockerHost.objects.filter(pk=target.host_id or 0).first()
    if host is None:
        raise DockerHostError("the Docker host is no longer configured")
    try:
        until = datetime.fromisoformat(arg) if mode == "older" and arg else None
    except ValueError:
        raise DockerHostError("not a cursor this page gave out") from None
    tail = DOCKER_SEARCH_LINES if mode == "search" else limit
    got = container_logs(host_endpoint(host), target.container_id, tail=tail, until=until)
    if mode == "search":
        got = [x for x in got if arg.lower() in x.message.lower()][-limit:]
    lines = [_line(x.at, x.message, x.stream) for x in got]
    older = lines[0]["at"] if mode != "search" and len(got) >= limit and lines else None
    return {"lines": lines, "older": older}


def logs_fetch(*, task: Task, target: LogTarget, mode: str, arg: str, limit: int) -> dict[str, Any]:
    """Read one page: ``tail`` (the newest), ``older`` (before the cursor ``arg``) or
    ``search`` (lines containing ``arg``). Errors are part of the answer: a page
    shows why nothing came back."""
    result: dict[str, Any] = {"source": target.kind, "lines": [], "older": None, "error": ""}
    try:
        if target.kind == "cloudwatch":
            result.update(_cloudwatch(task, target, mode, arg, limit))
        elif target.kind == "docker":
            result.update(_docker(target, mode, arg, limit))
        else:
            result["error"] = target.why
    except LogStreamMissing:
        result["error"] = (
            f"No log stream {target.stream} in {target.group}: it was never written, "
            "or its retention expired."
        )
    except (AwsError, DockerHostError) as exc:
        result["error"] = redact(str(exc))[:500]
    return result
