"""Process-wide sandbox state: one lock, the clock and the tunables.

moto's server is threaded; every extension (the scheduler, the patched ECS and
SSM handlers, the control endpoints) takes ``LOCK`` so a tick never interleaves
with a half-served request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

LOCK = threading.RLock()

ACCOUNT_ID = "123456789012"


@dataclass
class Clock:
    """Wall-clock time plus an offset that manual ticks push forward.

    In ``manual`` mode only ``tick`` moves the scheduler, and each tick also
    advances time by ``tick_seconds`` so time-based rules (forgetting stopped
    tasks, activation expiry) can be driven deterministically by tests.
    """

    mode: str = "manual"
    tick_seconds: float = 2.0
    offset: float = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def timestamp(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Settings:
    forget_after: float = 3600.0
    docker_host: str | None = None
    # ec2InstanceId -> docker URL, for the Docker-backed agent.
    docker_links: dict[str, str] = field(default_factory=dict)


CLOCK = Clock()
SETTINGS = Settings()


def reset_settings() -> None:
    """Forget per-run knobs (not the clock mode, which is a CLI choice)."""
    SETTINGS.forget_after = 3600.0
    SETTINGS.docker_links.clear()
    # Manual ticks moved time forward; a reset brings it back to the wall clock.
    CLOCK.offset = 0.0
