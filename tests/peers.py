"""Finding the real peers the tests talk to, and starting a real Celery worker.

In CI (CI=true) a missing peer is a failure, never a skip: a suite that quietly
skips its integration tests proves nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def peer_missing(what: str) -> None:
    """Fail in CI, skip elsewhere, when a real peer is not available."""
    message = f"{what} is not available"
    if IN_CI:
        pytest.fail(f"{message} (in CI every peer must be present)")
    pytest.skip(message)


def database_url_for_subprocess() -> str:
    """The URL of the database the tests are using, for a worker subprocess."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    port = db.get("PORT") or 5432
    user = db.get("USER") or ""
    return f"postgres://{user}@{db['HOST']}:{port}/{db['NAME']}"


@contextmanager
def django_process(
    argv: list[str],
    env_overrides: dict[str, str],
    *,
    log_path: Path | None = None,
    term_wait: float = 20,
    log_mode: str = "wb",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python <argv>`` from the repo as a real process, in its own process group,
    on the test database, until the block ends (SIGTERM, SIGKILL after ``term_wait``)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings_test",
            "DATABASE_URL": database_url_for_subprocess(),
            "FLEETDECK_DATA_DIR": str(settings.DATA_DIR),
        }
    )
    env.update(env_overrides)
    log = open(log_path or os.devnull, log_mode)  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(term_wait)
        except ProcessLookupError:
            pass  # already dead (a test killed it on purpose)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


@contextmanager
def celery_worker_process(
    env_overrides: dict[str, str],
    *,
    queues: str = "celery",
    log_path: Path | None = None,
    loglevel: str = "INFO",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``celery -A console worker`` as a real process until the block ends."""
    argv = ["-m", "celery", "-A", "console", "worker", "--pool", "solo", "--loglevel", loglevel]
    argv += ["-Q", queues, "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with django_process(argv, env_overrides, log_path=log_path) as proc:
        yield proc


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
