"""nextToken/maxResults paging and batch limits the way ECS and SSM apply them.

moto 5.2.5 returns every ARN in one page and accepts any number of ids in a
Describe call; AWS pages (ListServices default 10, max 100; others default and
max 100) and rejects oversized batches with InvalidParameterException.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TypeVar

from moto.core.exceptions import JsonRESTError

T = TypeVar("T")


class InvalidParameterException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterException", message)


def encode_token(offset: int) -> str:
    raw = json.dumps({"o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameterException("Invalid nextToken") from exc


def paginate(
    items: Sequence[T],
    next_token: str | None,
    max_results: int | None,
    *,
    default: int,
    maximum: int,
    error: type[JsonRESTError] = InvalidParameterException,
) -> tuple[list[T], str | None]:
    """Return one page and the token for the next (None on the last page)."""
    if max_results is None:
        size = default
    else:
        size = int(max_results)
        if size < 1 or size > maximum:
            raise error(f"maxResults must be between 1 and {maximum}.")  # type: ignore[call-arg]
    start = decode_token(next_token)
    page = list(items[start : start + size])
    end = start + size
    return page, (encode_token(end) if end < len(items) else None)


def check_batch(ids: Sequence[object] | None, limit: int, what: str) -> None:
    if ids is not None and len(ids) > limit:
        raise InvalidParameterException(f"{what} cannot have more than {limit} elements")
