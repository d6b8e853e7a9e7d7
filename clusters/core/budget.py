"""One token bucket shared by every process: a rate budget in the shared cache.

``bucket_take(name=..., capacity=..., rate=...)`` reserves one token from the bucket
``name`` (at most ``capacity`` tokens, refilled at ``rate`` per second) and returns
how many seconds the caller must wait before using it: 0 while the bucket has
tokens. A reservation always succeeds: the bucket may go below zero, and each
caller waits until its own token has been refilled, so callers queue in the order
they asked and, over any window of T seconds, no more than ``capacity + rate * T``
tokens are used, however many processes on however many machines take from it.

Where the bucket lives follows ``clusters.core.locks``:
- Redis (production): one Lua script (Redis runs it atomically) reads, refills
  and takes, on Redis's own clock, so machines with skewed clocks agree.
- Any other Django cache (the embedded mode's database cache, tests' local
  memory): read-modify-write under the one lock primitive, on this machine's clock
  (the embedded mode is one machine).
A cache outage never stops AWS work: the budget is skipped (logged) and AWS's own
throttling plus the client's retries remain.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from clusters.core.locks import Lock

log = logging.getLogger(__name__)

KEY_PREFIX = "fleetdeck:budget:"
# A bucket untouched this long is full anyway; let the cache forget it.
IDLE_TTL = 3600

# KEYS[1] the bucket; ARGV capacity, refill per second, idle ttl. Returns the wait in µs.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[3])
if tokens >= 0 then return 0 end
return math.ceil(-tokens / rate * 1000000)
"""


def refill(tokens: float, at: float, now: float, *, capacity: float, rate: float) -> float:
    return min(capacity, tokens + max(0.0, now - at) * rate)


def bucket_take(*, name: str, capacity: float, rate: float) -> float:
    """Reserve one token of bucket ``name``; seconds to wait before using it."""
    if capacity <= 0 or rate <= 0:
        return 0.0
    backend = caches["default"]
    try:
        if isinstance(backend, RedisCache):
            return _redis_take(backend, KEY_PREFIX + name, capacity, rate)
        return _locked_take(backend, KEY_PREFIX + name, capacity, rate)
    except Exception:  # the cache is down: AWS work goes on without the budget
        log.warning("API budget %s unavailable; not waiting", name, exc_info=True)
        return 0.0


def _redis_take(backend: RedisCache, key: str, capacity: float, rate: float) -> float:
    redis: Any = backend._cache  # type: ignore[attr-defined]
    full_key = backend.make_and_validate_key(key)
    client = redis.get_client(full_key, write=True)
    micros = client.eval(_TAKE, 1, full_key, repr(capacity), repr(rate), IDLE_TTL)
    return int(micros) / 1_000_000


def _locked_take(backend: Any, key: str, capacity: float, rate: float) -> float:
    lock = Lock("budget:" + key[len(KEY_PREFIX) :], ttl=5)
    deadline = time.monotonic() + 2.0
    while not lock.acquire():
        if time.monotonic() > deadline:
            log.warning("API budget %s: lock busy for 2 s; not waiting", key)
            return 0.0
        time.sleep(0.002)
    try:
        now = time.time()
        tokens, at = backend.get(key) or (capacity, now)
        tokens = refill(float(tokens), float(at), now, capacity=capacity, rate=rate) - 1
        backend.set(key, (tokens, now), IDLE_TTL)
    finally:
        lock.release()
        _close_thread_connection()
    return 0.0 if tokens >= 0 else -tokens / rate


def _close_thread_connection() -> None:
    """A reader's pool threads call AWS and never otherwise touch the database: the
    connection the database cache opened in such a thread is closed, not left behind."""
    if threading.current_thread() is not threading.main_thread() and not (
        connection.in_atomic_block
    ):
        connection.close()
