"""One lock primitive: a named lock in the shared cache, with an owner token.

Every process (web, worker, beat, watcher) sees the same cache, so a lock taken
here keeps two runs of the same job apart across processes: Redis in production,
the database cache in the embedded mode. The lock expires ``ttl`` seconds after
its holder last took or renewed it, so a holder killed mid-run (SIGKILL, OOM)
blocks the next run for at most that long. Only the holder's token can renew or
release it: a holder that outlived its ``ttl`` cannot release the lock a second
holder has taken since.

Renew and release compare the token and act in one step:
- Redis: a Lua script (Redis runs a script atomically).
- Any other Django cache: ``get`` then ``touch``/``delete``. A second holder can
  only slip between the two when the lock expires in that very instant; a holder
  that keeps its lock alive (``keep_alive=True``) renews it at a third of its
  ``ttl``, so a live holder's lock is never that close to expiring. Only the
  embedded single-machine mode (and tests without Redis) use this path.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection

log = logging.getLogger(__name__)

KEY_PREFIX = "fleetdeck:lock:"

# KEYS[1] the lock's key, ARGV[1] the owner's token as stored, ARGV[2] the ttl.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lock:
    """``Lock("cluster-sync:7", ttl=60)``: one holder at a time for that name.

    ``acquire`` takes it (False when someone holds it), ``renew`` pushes its expiry
    to ``ttl`` seconds from now, ``release`` frees it; both only act while this
    object's token is the one stored."""

    def __init__(self, name: str, *, ttl: int) -> None:
        self.name = name
        self.ttl = int(ttl)
        self.key = KEY_PREFIX + name
        self.token = uuid.uuid4().hex

    def acquire(self) -> bool:
        # cache.add is an atomic "set if absent" on every backend (SET NX on Redis).
        return bool(caches["default"].add(self.key, self.token, self.ttl))

    def renew(self) -> bool:
        """Extend the lock if this object still holds it; False when it does not."""
        backend = caches["default"]
        if isinstance(backend, RedisCache):
            return bool(self._redis_eval(backend, _RENEW, self.ttl))
        if backend.get(self.key) != self.token:
            return False
        return bool(backend.touch(self.key, self.ttl))

    def release(self) -> bool:
        """Free the lock if this object still holds it; a lock that expired and was
        taken by another holder is left alone. True when it was released."""
        backend = caches["default"]
        if isinstance(backend, RedisCache):
            return bool(self._redis_eval(backend, _RELEASE))
        if backend.get(self.key) != self.token:
            return False
        return bool(backend.delete(self.key))

    def _redis_eval(self, backend: RedisCache, script: str, *args: Any) -> Any:
        # Django's Redis backend has no public compare-and-set; its client and
        # serializer are the ones ``add`` used, so key and stored token match.
        redis: Any = backend._cache  # type: ignore[attr-defined]
        key = backend.make_and_validate_key(self.key)
        stored = redis._serializer.dumps(self.token)
        return redis.get_client(key, write=True).eval(script, 1, key, stored, *args)

    @contextmanager
    def held(self, *, keep_alive: bool = False) -> Iterator[bool]:
        """Take the lock for the ``with`` block; yields whether it was taken.

        ``keep_alive`` renews it from a thread every ``ttl / 3`` seconds while the
        block runs, for work that may outlast ``ttl``."""
        if not self.acquire():
            yield False
            return
        stop = threading.Event()
        renewer = None
        if keep_alive:
            renewer = threading.Thread(
                target=self._keep_alive, args=(stop,), daemon=True, name=f"lock:{self.name}"
            )
            renewer.start()
        try:
            yield True
        finally:
            stop.set()
            if renewer is not None:
                renewer.join(timeout=5)
            self.release()

    def _keep_alive(self, stop: threading.Event) -> None:
        """Renew until told to stop; a killed process stops renewing."""
        try:
            while not stop.wait(max(1.0, self.ttl / 3)):
                try:
                    if not self.renew():
                        log.warning("lock %s was lost (expired and taken)", self.name)
                        return
                except Exception:  # a cache outage: keep trying while the block runs
                    log.warning("renewing lock %s failed", self.name, exc_info=True)
        finally:
            connection.close()  # the database cache may have opened one in this thread
