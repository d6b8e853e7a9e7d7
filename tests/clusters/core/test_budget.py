"""The shared token bucket (clusters.core.budget): several processes on the real Redis
never take more than capacity + rate x T tokens in T seconds; the database cache of the
embedded mode does the same in one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.management import call_command
from django.test import override_settings

from clusters.core.budget import bucket_take

REPO = Path(__file__).resolve().parents[3]

# One process: take N tokens, wait as told, print when each was used.
_TAKER = textwrap.dedent(
    """
    import json, sys, time
    import django
    django.setup()
    from clusters.core.budget import bucket_take
    name, n = sys.argv[1], int(sys.argv[2])
    capacity, rate, start = (float(a) for a in sys.argv[3:6])
    while time.time() < start:
        time.sleep(0.001)
    used = []
    for _ in range(n):
        wait = bucket_take(name=name, capacity=capacity, rate=rate)
        time.sleep(wait)
        used.append(time.time())
    print(json.dumps(used))
    """
)


def _worst_window(stamps: list[float], capacity: float, rate: float) -> float:
    """The most tokens used in any window, minus what the bucket allows in it."""
    stamps = sorted(stamps)
    worst = -1e9
    for i, t0 in enumerate(stamps):
        for j in range(i, len(stamps)):
            used = j - i + 1
            worst = max(worst, used - (capacity + rate * (stamps[j] - t0)))
    return worst


def test_two_processes_on_redis_never_exceed_the_rate(redis_url: str) -> None:
    """Two processes, 40 tokens each, bucket 5 / 20 per second: 80 tokens take
    (80 - 5) / 20 = 3.75 s, and no window holds more than 5 + 20 x its length
    (+1 for the clock's granularity between processes)."""
    assert isinstance(caches["default"], RedisCache)
    name, capacity, rate, n = f"test:{uuid.uuid4().hex}", 5.0, 20.0, 40
    start = time.time() + 3.0  # both processes are up by then (a busy 2-core machine)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="console.settings_test", REDIS_URL=redis_url)
    args = [name, str(n), str(capacity), str(rate), str(start)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, *args], cwd=REPO, env=env, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    stamps: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        stamps.extend(json.loads(out))
    assert len(stamps) == 2 * n
    elapsed = max(stamps) - min(stamps)
    assert (2 * n - capacity) / rate - 0.1 <= elapsed <= (2 * n - capacity) / rate + 0.5
    assert _worst_window(stamps, capacity, rate) <= 1.0


@pytest.mark.django_db(transaction=True)
def test_database_cache_fallback_paces_the_same() -> None:
    """Without Redis (the embedded mode's database cache): a burst of 10 is free, then
    each token waits 1 / rate seconds longer than the one before (less what refilled
    while the takes themselves ran)."""
    cache = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "budget_test"}
    with override_settings(CACHES={"default": cache}):
        call_command("createcachetable", verbosity=0)
        caches["default"].clear()
        started = time.monotonic()
        waits = [bucket_take(name="test:db", capacity=10, rate=5) for _ in range(20)]
        elapsed = time.monotonic() - started
    assert waits[:10] == [0.0] * 10
    assert waits == sorted(waits)
    assert 0.2 - elapsed <= waits[10] <= 0.2
    assert 2.0 - elapsed <= waits[19] <= 2.0


def test_a_broken_cache_never_blocks_aws_work() -> None:
    """The cache unreachable: no wait (logged); AWS's throttling and retries remain."""
    broken = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    with override_settings(CACHES={"default": broken}):
        assert bucket_take(name="test:down", capacity=1, rate=1) == 0.0
        assert bucket_take(name="test:down", capacity=1, rate=1) == 0.0
