"""The one lock primitive (clusters.core.locks) against the real Redis the suite
runs with, and against the Django caches the other modes use (the database cache
of the embedded mode, the local-memory cache of a run without Redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.management import call_command
from django.test import override_settings

from clusters.core.locks import Lock
from clusters.mirror.sync import SyncLockBusy, cluster_lock

OTHER_CACHES = {
    "database": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "fleetdeck_lock_test_cache",
    },
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}


def _until_expired(ttl: int, backend: str) -> None:
    # The database cache stores expiry times rounded down to the second and
    # compares them to the current second: allow it one more.
    time.sleep(ttl + (1.1 if backend == "database" else 0.3))


@pytest.fixture
def on_redis(redis_url: str) -> str:
    # The suite's settings put the cache on REDIS_URL: the atomic (Lua) path.
    assert isinstance(caches["default"], RedisCache)
    return "redis"


REDIS = "redis"
# transactional: the keep-alive thread has its own database connection
DATABASE = pytest.param("database", marks=pytest.mark.django_db(transaction=True))


def _cache_in_use(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "redis":
        yield request.getfixturevalue("on_redis")
        return
    with override_settings(CACHES={"default": OTHER_CACHES[request.param]}):
        if request.param == "database":
            call_command("createcachetable", verbosity=0)
        caches["default"].clear()
        yield request.param


@pytest.fixture(params=[REDIS, DATABASE, "locmem"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _cache_in_use(request)


@pytest.fixture(params=[REDIS, DATABASE])
def timed_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The caches of production and of the embedded mode, for the tests that wait
    for expiry (seconds each): the local-memory cache is only a test fallback."""
    yield from _cache_in_use(request)


def test_two_owners_one_holder(backend: str) -> None:
    first, second = Lock("test:two", ttl=30), Lock("test:two", ttl=30)
    assert first.acquire()
    assert not second.acquire()
    assert not second.release()  # not its lock: nothing happens
    assert not second.renew()
    assert not second.acquire()  # still held by the first owner
    assert first.release()
    assert second.acquire()
    assert not first.acquire()
    assert second.release()


def test_expiry_and_release_of_a_lock_no_longer_owned(timed_backend: str) -> None:
    stale, fresh, third = (
        Lock("test:exp", ttl=1),
        Lock("test:exp", ttl=30),
        Lock("test:exp", ttl=30),
    )
    assert stale.acquire()
    _until_expired(1, timed_backend)  # the holder stopped renewing (a killed worker): it expires
    assert fresh.acquire()
    assert not stale.renew()  # renewing does not take it back
    assert not stale.release()  # and releasing leaves the new holder's lock alone
    assert not third.acquire()
    assert fresh.release()
    assert third.acquire()


def test_renewal_keeps_the_lock_past_its_ttl(timed_backend: str) -> None:
    holder, other = Lock("test:renew", ttl=3), Lock("test:renew", ttl=3)
    assert holder.acquire()
    for _ in range(4):
        time.sleep(1)
        assert holder.renew()
    assert not other.acquire()  # 4 s after taking a 3 s lock, still held
    _until_expired(3, timed_backend)  # no renewal: it expires
    assert other.acquire()


def test_held_keeps_alive_releases_and_reports_busy(timed_backend: str) -> None:
    lock, other = Lock("test:held", ttl=3), Lock("test:held", ttl=3)
    with lock.held(keep_alive=True) as got:
        assert got
        time.sleep(4)  # longer than the ttl: the renewer thread (every 1 s) keeps it
        with other.held() as busy:
            assert not busy
        assert not other.acquire()  # a busy `held` did not release the holder's lock
    assert other.acquire()  # released on the way out


def test_held_without_keep_alive_releases_on_error(backend: str) -> None:
    lock = Lock("test:error", ttl=30)
    with pytest.raises(RuntimeError), lock.held() as got:
        assert got
        raise RuntimeError("the work failed")
    assert Lock("test:error", ttl=30).acquire()


def test_redis_lock_expires_on_its_ttl(on_redis: str) -> None:
    lock = Lock("test:ttl", ttl=40)
    assert lock.acquire()
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    client = backend._cache.get_client(write=True)
    key = backend.make_and_validate_key(lock.key)
    assert 38 <= client.ttl(key) <= 40
    assert backend.get(lock.key) == lock.token  # readable as a plain cache value
    client.expire(key, 5)
    assert lock.renew()
    assert client.ttl(key) >= 38


def test_cluster_lock_is_busy_for_a_second_sync(on_redis: str) -> None:
    with cluster_lock(cluster_id=7, timeout=30):
        with pytest.raises(SyncLockBusy), cluster_lock(cluster_id=7, timeout=30):
            pass
        with cluster_lock(cluster_id=8, timeout=30):
            pass  # another cluster is independent
    with cluster_lock(cluster_id=7, timeout=30):
        pass  # released
