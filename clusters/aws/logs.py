"""CloudWatch Logs reads for the container logs of a task (the ``awslogs`` driver).

Two calls, both on one stream (``<awslogs-stream-prefix>/<container name>/<task id>``,
as the ECS agent names it): ``GetLogEvents`` pages backwards from the newest line
(``startFromHead=false``; ``nextBackwardToken`` is the "older" cursor, and AWS hands
back the token it was given once nothing older is left) and ``FilterLogEvents``
searches the same stream. Both return at most 10,000 events (1 MB) per call; we ask
for far fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clusters.aws.errors import AwsPermanentError, aws_call_errors
from clusters.aws.session import aws_client

if TYPE_CHECKING:
    from clusters.models import AwsAccount

MAX_EVENTS = 10_000  # the API's own limit per call


@dataclass(frozen=True)
class LogLine:
    at: datetime | None
    message: str
    stream: str = ""  # "stdout"/"stderr" where the source tells them apart


@dataclass(frozen=True)
class LogPage:
    """Lines oldest first; ``older`` is the token for the page before (None: none)."""

    lines: list[LogLine]
    older: str | None


class LogStreamMissing(AwsPermanentError):
    """The group or stream does not exist (never written, or expired/deleted)."""


def _line(event: dict[str, Any]) -> LogLine:
    ms = event.get("timestamp")
    at = datetime.fromtimestamp(ms / 1000, tz=UTC) if isinstance(ms, int | float) else None
    return LogLine(at=at, message=str(event.get("message") or "").rstrip("\n"))


def _client(account: AwsAccount, region: str) -> Any:
    return aws_client(account=account, region=region, service="logs")


def _missing(exc: AwsPermanentError) -> AwsPermanentError:
    if exc.code == "ResourceNotFoundException":
        return LogStreamMissing(exc.code, exc.message, operation=exc.operation)
    return exc


def log_events_page(
    *,
    account: AwsAccount,
    region: str,
    group: str,
    stream: str,
    limit: int,
    before: str | None = None,
) -> LogPage:
    """The newest ``limit`` lines of the stream, or the page older than ``before``."""
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "logStreamName": stream,
        "limit": max(1, min(limit, MAX_EVENTS)),
        "startFromHead": False,
    }
    if before:
        kwargs["nextToken"] = before
    try:
        with aws_call_errors():
            answer = _client(account, region).get_log_events(**kwargs)
    except AwsPermanentError as exc:
        raise _missing(exc) from exc
    events = answer.get("events") or []
    token = answer.get("nextBackwardToken")
    # Fewer lines than asked for: the stream's start was reached. (AWS also returns
    # the token it was given once nothing older is left.)
    full = len(events) >= kwargs["limit"]
    older = token if full and token and token != before else None
    return LogPage(lines=[_line(e) for e in events], older=older)


def log_events_search(
    *, account: AwsAccount, region: str, group: str, stream: str, text: str, limit: int
) -> list[LogLine]:
    """The newest lines of the stream that contain ``text`` (a quoted term: an exact
    phrase in CloudWatch's filter syntax), oldest first, at most ``limit``. FilterLogEvents
    reads from the stream's start, so the pages are read on (a few at most) and the
    last ``limit`` kept."""
    phrase = '"' + text.replace('"', " ") + '"'
    lines: list[LogLine] = []
    token: str | None = None
    for _ in range(5):  # a few pages at most: a search is a person waiting
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "logStreamNames": [stream],
            "filterPattern": phrase,
            "limit": max(1, min(limit, MAX_EVENTS)),
        }
        if token:
            kwargs["nextToken"] = token
        try:
            with aws_call_errors():
                answer = _client(account, region).filter_log_events(**kwargs)
        except AwsPermanentError as exc:
            raise _missing(exc) from exc
        lines += [_line(e) for e in answer.get("events") or []]
        token = answer.get("nextToken")
        if not token:
            break
    return lines[-limit:]
