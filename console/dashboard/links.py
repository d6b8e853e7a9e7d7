"""Links of attention items: the mirror's detail pages and the filtered timeline."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

# reverse() costs ~0.1 ms; hundreds of items would spend more time there than in
# SQL, so each route is reversed once per process and filled in by string.
_PK_MARK = 987654321


@functools.cache
def _route(name: str, with_pk: bool) -> str:
    try:
        return reverse(name, args=[_PK_MARK] if with_pk else None)
    except NoReverseMatch:
        return ""


def _url(name: str, **query: str) -> str:
    base = _route(name, False)
    if not base:
        return ""
    return f"{base}?{urlencode(query)}" if query else base


def detail_url(name: str, pk: int | None) -> str:
    """The object's own page (the mirror's detail pages, by primary key)."""
    route = _route(name, True) if pk is not None else ""
    return route.replace(str(_PK_MARK), str(pk)) if route else ""


def timeline_url(**subject: str) -> str:
    """``/timeline/?service=<arn>`` and friends: the timeline filtered to one subject."""
    return _url("timeline", **subject)


def _detail_by_name(name: str, key: str | int) -> str:
    try:
        return reverse(name, args=[key])
    except NoReverseMatch:
        return ""
