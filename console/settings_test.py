"""Settings for the test suite: production settings with test-only defaults.

Environment set by the test runner (scripts/services.py) wins over these defaults.
"""

import os
import tempfile

os.environ.setdefault("FLEETDECK_TESTING", "1")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make there are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("FLEETDECK_HTTPS", "0")
# Fake credentials and no default endpoint: nothing in the tests can reach AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
if "FLEETDECK_DATA_DIR" not in os.environ:
    os.environ["FLEETDECK_DATA_DIR"] = tempfile.mkdtemp(prefix="fleetdeck-test-")
os.environ.setdefault(
    "FLEETDECK_SQLITE_TEST_NAME",
    os.path.join(os.environ["FLEETDECK_DATA_DIR"], "test.sqlite3"),
)
# Test workers (tests.peers.celery_worker_process) start on fixtures of their own; the
# startup sync is tested where it is wanted (tests/deployments/test_sync_on_start.py).
os.environ.setdefault("FLEETDECK_SYNC_ON_START", "0")
# The shared API budget would make unrelated tests wait on each other's calls; its own
# tests turn it on (tests/clusters/test_api_budget.py).
os.environ.setdefault("FLEETDECK_API_BUDGET", "0")
os.environ.setdefault("FLEETDECK_ENCRYPTION_KEYS", "RhpMaeEjdt8cxpt4CGjR2hgJF-W0nK6n2TRazGZCZsc=")

from console.settings import *  # noqa: F403

if not REDIS_URL:  # noqa: F405
    # Without the test peers (scripts/services.py) there is no cache table either.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
