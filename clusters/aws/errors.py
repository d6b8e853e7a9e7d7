"""Typed AWS errors. Callers never see botocore exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class AwsError(Exception):
    """Base of the typed errors; ``code`` is AWS's error code (or a local one)."""

    def __init__(self, code: str, message: str, *, operation: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.operation = operation
        self.sync_run_id: int | None = None  # set by a sync that will be retried


class AwsTransientError(AwsError):
    """Throttling, 5xx, connection trouble: worth retrying later with backoff."""


class AwsPermanentError(AwsError):
    """AccessDenied, validation, missing cluster...: retrying will not help."""


def translate(exc: BaseException) -> AwsError:
    """Map a botocore exception to a typed one."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "Unknown")
        message = str(err.get("Message") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        op = getattr(exc, "operation_name", "") or ""
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return AwsTransientError(code, message, operation=op)
        return AwsPermanentError(code, message, operation=op)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return AwsPermanentError(type(exc).__name__, str(exc))
    if isinstance(exc, EndpointConnectionError | BotoConnectionError | ReadTimeoutError):
        return AwsTransientError(type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError):
        return AwsTransientError(type(exc).__name__, str(exc))
    return AwsTransientError(type(exc).__name__, str(exc))


@contextmanager
def aws_call_errors() -> Iterator[None]:
    """``with aws_call_errors(): client.x()`` raises only ``AwsError`` subclasses."""
    try:
        yield
    except AwsError:
        raise
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc) from exc
