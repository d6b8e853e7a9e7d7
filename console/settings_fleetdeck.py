"""Fleetdeck's own settings (FLEETDECK_*: intervals, retention, health, logs, the API
budget, ...), read from the environment like the rest; ``console.settings`` imports
them. Each one is listed in the README's settings table."""

from __future__ import annotations

from console.env import (
    ConfigError,
    decimal_map,
    env_bool,
    env_int,
    env_rates,
    env_secret,
    env_str,
)

_TESTING = env_bool("FLEETDECK_TESTING", False)  # as console.settings.TESTING

FLEETDECK_SYNC_INTERVAL_SECONDS = env_int("FLEETDECK_SYNC_INTERVAL_SECONDS", 30, minimum=5)
# Cloud Map namespaces and services change rarely: listed this often (instances and
# their health follow the sync interval). docs/service-map.md.
FLEETDECK_CLOUDMAP_CATALOG_INTERVAL_SECONDS = env_int(
    "FLEETDECK_CLOUDMAP_CATALOG_INTERVAL_SECONDS", 900, minimum=60
)
# A starting worker syncs every enabled account at once (console/celery.py), instead
# of leaving the pages empty until beat's first interval has passed.
FLEETDECK_SYNC_ON_START = env_bool("FLEETDECK_SYNC_ON_START", True)
# A cluster's sync lock lives this long unless its holder renews it (every third of
# it): a worker killed mid-sync frees the cluster within this time, not 10 minutes.
FLEETDECK_SYNC_LOCK_SECONDS = env_int("FLEETDECK_SYNC_LOCK_SECONDS", 60, minimum=3)
# The ECS event stream (docs/event-stream.md explains each setting):
FLEETDECK_RECONCILE_SECONDS = env_int("FLEETDECK_RECONCILE_SECONDS", 300, minimum=30)
FLEETDECK_RECONCILE_FULL_SECONDS = env_int("FLEETDECK_RECONCILE_FULL_SECONDS", 3600, minimum=60)
FLEETDECK_STREAM_NAME = env_str("FLEETDECK_STREAM_NAME", "fleetdeck-ecs-events")
FLEETDECK_STREAM_MAX_RECEIVES = env_int("FLEETDECK_STREAM_MAX_RECEIVES", 5, minimum=1)
FLEETDECK_STREAM_VISIBILITY_SECONDS = env_int("FLEETDECK_STREAM_VISIBILITY_SECONDS", 60, minimum=10)
FLEETDECK_STREAM_STALE_SECONDS = env_int("FLEETDECK_STREAM_STALE_SECONDS", 90, minimum=30)
FLEETDECK_STREAM_DESCRIBE_UNKNOWN = env_bool("FLEETDECK_STREAM_DESCRIBE_UNKNOWN", True)
FLEETDECK_STREAM_BATCH_SECONDS = env_int("FLEETDECK_STREAM_BATCH_SECONDS", 60, minimum=1)
FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS = env_int(
    "FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS", 30, minimum=5
)
FLEETDECK_RETENTION_DAYS = env_int("FLEETDECK_RETENTION_DAYS", 30, minimum=1)
FLEETDECK_EVENT_RETENTION_DAYS = env_int("FLEETDECK_EVENT_RETENTION_DAYS", 90, minimum=1)


def _retention_overrides(raw: str) -> dict[str, int]:
    """``"docker=30,sync=7"`` -> {"docker": 30, "sync": 7}; malformed is a start-up error."""
    overrides: dict[str, int] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        source, sep, days = item.partition("=")
        if not sep or not days.strip().isdigit() or int(days) < 1:
            raise ConfigError(
                f"FLEETDECK_EVENT_RETENTION_OVERRIDES: expected source=days (days >= 1), "
                f"got {item.strip()!r}"
            )
        overrides[source.strip()] = int(days)
    return overrides


# Per-source retention of timeline events, e.g. "docker=30,sync=7"; the others keep
# FLEETDECK_EVENT_RETENTION_DAYS.
FLEETDECK_EVENT_RETENTION_OVERRIDES = _retention_overrides(
    env_str("FLEETDECK_EVENT_RETENTION_OVERRIDES")
)
# Forced redeploys: how often a worker looks at a rollout, and when it gives up.
FLEETDECK_REDEPLOY_POLL_SECONDS = env_int("FLEETDECK_REDEPLOY_POLL_SECONDS", 3, minimum=1)
# Redeploys in one cluster share its sync when it ran less than this ago.
FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = env_int("FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS", 2, minimum=0)
FLEETDECK_REDEPLOY_TIMEOUT_SECONDS = env_int("FLEETDECK_REDEPLOY_TIMEOUT_SECONDS", 3600, minimum=60)
# One API budget per AWS account and Region (clusters/aws/budget.py, docs/mirror.md):
FLEETDECK_API_BUDGET = env_bool("FLEETDECK_API_BUDGET", True)
FLEETDECK_API_BUDGET_PERCENT = env_int("FLEETDECK_API_BUDGET_PERCENT", 80, minimum=1)
FLEETDECK_API_BUDGET_OVERRIDES = env_rates("FLEETDECK_API_BUDGET_OVERRIDES")
# The most rows one timeline export (CSV/JSON) streams.
FLEETDECK_TIMELINE_EXPORT_MAX = env_int("FLEETDECK_TIMELINE_EXPORT_MAX", 100_000, minimum=1)
FLEETDECK_AWS_ENDPOINT_URL = env_str("FLEETDECK_AWS_ENDPOINT_URL")
FLEETDECK_DEMO = env_bool("FLEETDECK_DEMO", False)
FLEETDECK_ALLOW_SELF_APPROVAL = env_bool("FLEETDECK_ALLOW_SELF_APPROVAL", False)
# How often SSM activations are refreshed and the waiting room is scanned.
FLEETDECK_REGISTRATION_INTERVAL_SECONDS = env_int(
    "FLEETDECK_REGISTRATION_INTERVAL_SECONDS", 30, minimum=5
)
FLEETDECK_METRICS_TOKEN = env_secret("FLEETDECK_METRICS_TOKEN")
# The dashboard's selectors are shared by every viewer: each web process reuses
# its last result this long, so 20 wallboards polling cost about one (0 = off;
# off in tests, where every test has its own fleet).
FLEETDECK_DASHBOARD_CACHE_SECONDS = env_int(
    "FLEETDECK_DASHBOARD_CACHE_SECONDS", 0 if _TESTING else 2, minimum=0
)
FLEETDECK_STUCK_ROLLOUT_MINUTES = env_int("FLEETDECK_STUCK_ROLLOUT_MINUTES", 30, minimum=1)
# Health (deployments/health, docs/dashboard.md): a crash loop is this many failed task
# stops (non-zero exit or OOM, not requested) of one service within the window.
FLEETDECK_CRASH_LOOP_STOPS = env_int("FLEETDECK_CRASH_LOOP_STOPS", 3, minimum=1)
FLEETDECK_CRASH_LOOP_MINUTES = env_int("FLEETDECK_CRASH_LOOP_MINUTES", 10, minimum=1)
FLEETDECK_HEALTH_INTERVAL_SECONDS = env_int("FLEETDECK_HEALTH_INTERVAL_SECONDS", 30, minimum=5)
FLEETDECK_ALERT_INTERVAL_SECONDS = env_int("FLEETDECK_ALERT_INTERVAL_SECONDS", 60, minimum=10)
# Container logs (deployments/logs, docs/logs.md): the least role that may read them
# (logs can hold what applications print), how many failed containers' last lines one
# sync keeps (one log call each, made by a worker after the sync), and their bounds.
FLEETDECK_LOGS_MIN_ROLE = env_str("FLEETDECK_LOGS_MIN_ROLE", "viewer")
if FLEETDECK_LOGS_MIN_ROLE not in ("viewer", "operator", "admin"):
    raise ConfigError("FLEETDECK_LOGS_MIN_ROLE must be viewer, operator or admin")
FLEETDECK_LAST_WORDS_PER_SYNC = env_int("FLEETDECK_LAST_WORDS_PER_SYNC", 20, minimum=0)
FLEETDECK_LAST_WORDS_LINES = env_int("FLEETDECK_LAST_WORDS_LINES", 100, minimum=1)
FLEETDECK_LAST_WORDS_BYTES = env_int("FLEETDECK_LAST_WORDS_BYTES", 16384, minimum=256)
# ECS Anywhere's bill (docs/cost.md): USD per instance-hour, per-region overrides, idle days.
FLEETDECK_ANYWHERE_PRICE_PER_HOUR = decimal_map(
    "default=" + env_str("FLEETDECK_ANYWHERE_PRICE_PER_HOUR", "0.01025"), "default price"
)["default"]
FLEETDECK_ANYWHERE_PRICE_BY_REGION = decimal_map(
    env_str("FLEETDECK_ANYWHERE_PRICE_BY_REGION"), "FLEETDECK_ANYWHERE_PRICE_BY_REGION"
)
FLEETDECK_ANYWHERE_IDLE_DAYS = env_int("FLEETDECK_ANYWHERE_IDLE_DAYS", 7, minimum=1)
# Absolute links in notifications ("Open in Fleetdeck"); relative when unset.
FLEETDECK_BASE_URL = env_str("FLEETDECK_BASE_URL")
