"""Fleetdeck settings, all read from the environment (see README "Configuration").

Two modes: DJANGO_DEBUG=true for development, otherwise production, which needs a
real SECRET_KEY and, with FLEETDECK_HTTPS (default on in production), passes
``manage.py check --deploy`` with no warnings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dj_database_url
from csp import constants as csp_constants

from console.env import ConfigError, env_bool, env_int, env_list, env_rates, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("FLEETDECK_DATA_DIR", str(BASE_DIR / ".data")))

DEBUG = env_bool("DJANGO_DEBUG", False)
TESTING = env_bool("FLEETDECK_TESTING", False)

_secret = env_secret("SECRET_KEY")
if not _secret:
    if not (DEBUG or TESTING):
        raise ConfigError(
            "SECRET_KEY (or SECRET_KEY_FILE) is required when DJANGO_DEBUG is off. "
            "`make run` generates one under .data/."
        )
    _secret = "insecure-development-key-only-for-debug-and-tests-" + "x" * 20
SECRET_KEY: str = _secret

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("FLEETDECK_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, served from here: /api/v1/docs works offline, under the CSP.
    "drf_spectacular_sidecar",
    "csp",
    "clusters",
    "deployments",
    "console",
]
# django-linear-migrations (a dev dependency) keeps each app's migration history a
# single line: its max_migration.txt files make two branches that both add a
# migration conflict in git, and its system check fails when a file is stale. The
# production image installs no dev dependencies, so it is added only when present.
if importlib.util.find_spec("django_linear_migrations") is not None:
    INSTALLED_APPS.append("django_linear_migrations")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.middleware.FleetdeckLoginRequiredMiddleware",
    "console.middleware.NulCharacterIs400Middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "console.middleware.PermissionsPolicyMiddleware",
    "console.middleware.MissingObjectIs404Middleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.shell",
            ],
        },
    },
]

# --- database --------------------------------------------------------------
_sqlite_path = DATA_DIR / "fleetdeck.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{_sqlite_path}",
        conn_max_age=env_int("FLEETDECK_DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker, beat, watcher and web all write to one file: WAL lets readers
    # run beside a writer and IMMEDIATE transactions avoid upgrade deadlocks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _test_db = env_str("FLEETDECK_SQLITE_TEST_NAME")
    if _test_db:
        # A file, not :memory:, so the real Celery worker in tests sees the data.
        DATABASES["default"]["TEST"] = {"NAME": _test_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- broker, results, cache ------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": 3600,
        # A Redis that hangs (not refuses) must fail a publish in seconds: a job's
        # claim in the outbox goes stale after 60 s (clusters/core/jobs.py).
        "socket_connect_timeout": 5,
        "socket_timeout": 10,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "fleetdeck",
        }
    }
else:
    # Embedded default: a broker that needs no server. kombu's filesystem
    # transport moves messages between folders; the worker picks them up in ~0.5 s.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{BROKER_DIR / 'results'}"
    # The database cache is shared by every process, so per-object locks taken
    # with cache.add() hold across the web, worker and beat processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "fleetdeck_cache",
        }
    }

# --- auth ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing cost is irrelevant to what the tests check and dominates their time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- i18n / static ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("FLEETDECK_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"

# --- Content-Security-Policy (django-csp) -----------------------------------
# The console loads nothing from elsewhere (it must work on an air-gapped ops
# network), so 'self' is all it needs; no inline scripts or styles anywhere (htmx
# is told not to inject its own styles: see the htmx-config meta in base.html).
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": [f"/{STATIC_URL.strip('/')}/"],
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF],
        "img-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "font-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}
STATICFILES_DIRS = [BASE_DIR / "static"]
# Set for a deployment that runs collectstatic (the Dockerfile does); without it
# WhiteNoise serves straight from static/ through the finders.
STATIC_ROOT = Path(env_str("FLEETDECK_STATIC_ROOT")) if env_str("FLEETDECK_STATIC_ROOT") else None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from static/ without collectstatic

# --- security --------------------------------------------------------------
HTTPS = env_bool("FLEETDECK_HTTPS", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("FLEETDECK_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("FLEETDECK_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("FLEETDECK_BEHIND_PROXY", False) else None
)
SILENCED_SYSTEM_CHECKS: list[str] = []

# --- logging: never log secrets (activation codes are redacted at source) ---
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_secrets": {"()": "console.log_redaction.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("FLEETDECK_LOG_LEVEL", "INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}

# --- Celery (console/celery.py reads CELERY_*) -----------------------------
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("FLEETDECK_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("FLEETDECK_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ALWAYS_EAGER = env_bool("FLEETDECK_CELERY_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing retries briefly, then gives up: the outbox keeps the job and its sweep
# resends it, so a page never waits long on a broker that is down.
CELERY_BROKER_CONNECTION_TIMEOUT = 4
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- REST API --------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first so an anonymous API call gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.api.permissions.CanViewFleet"],
    "DEFAULT_PAGINATION_CLASS": "console.api.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "console.api.errors.json_exception_handler",
    # django-filter FilterSets (console/api/filters.py): an unknown enum value is a 400.
    "DEFAULT_FILTER_BACKENDS": ["console.api.filters.ListFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fleetdeck API",
    "DESCRIPTION": "Read-only JSON view of the mirrored ECS fleet.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["console.api.permissions.CanViewFleet"],
    # /api/v1/docs: Swagger UI from drf-spectacular-sidecar's static files, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to the public validator (validator.swagger.io) from an offline page.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "console.api.schema.error_responses",
    ],
}

# --- Fleetdeck's own settings ---------------------------------------------
FLEETDECK_SYNC_INTERVAL_SECONDS = env_int("FLEETDECK_SYNC_INTERVAL_SECONDS", 30, minimum=5)
# A starting worker syncs every enabled account at once (console/celery.py).
FLEETDECK_SYNC_ON_START = env_bool("FLEETDECK_SYNC_ON_START", True)
# A cluster's sync lock lives this long unless its holder renews it (every third of
# it): a worker killed mid-sync frees the cluster within this time, not 10 minutes.
FLEETDECK_SYNC_LOCK_SECONDS = env_int("FLEETDECK_SYNC_LOCK_SECONDS", 60, minimum=3)
# The ECS event stream (docs/event-stream.md explains each setting):
FLEETDECK_RECONCILE_SECONDS = env_int("FLEETDECK_RECONCILE_SECONDS", 300, minimum=30)
FLEETDECK_STREAM_NAME = env_str("FLEETDECK_STREAM_NAME", "fleetdeck-ecs-events")
FLEETDECK_STREAM_MAX_RECEIVES = env_int("FLEETDECK_STREAM_MAX_RECEIVES", 5, minimum=1)
FLEETDECK_STREAM_VISIBILITY_SECONDS = env_int("FLEETDECK_STREAM_VISIBILITY_SECONDS", 60, minimum=10)
FLEETDECK_STREAM_STALE_SECONDS = env_int("FLEETDECK_STREAM_STALE_SECONDS", 90, minimum=30)
FLEETDECK_STREAM_DESCRIBE_UNKNOWN = env_bool("FLEETDECK_STREAM_DESCRIBE_UNKNOWN", True)
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
    "FLEETDECK_DASHBOARD_CACHE_SECONDS", 0 if TESTING else 2, minimum=0
)
FLEETDECK_STUCK_ROLLOUT_MINUTES = env_int("FLEETDECK_STUCK_ROLLOUT_MINUTES", 30, minimum=1)
# Health (deployments/health, docs/dashboard.md): a crash loop is this many failed task
# stops (non-zero exit or OOM, not requested) of one service within the window.
FLEETDECK_CRASH_LOOP_STOPS = env_int("FLEETDECK_CRASH_LOOP_STOPS", 3, minimum=1)
FLEETDECK_CRASH_LOOP_MINUTES = env_int("FLEETDECK_CRASH_LOOP_MINUTES", 10, minimum=1)
FLEETDECK_HEALTH_INTERVAL_SECONDS = env_int("FLEETDECK_HEALTH_INTERVAL_SECONDS", 30, minimum=5)
FLEETDECK_ALERT_INTERVAL_SECONDS = env_int("FLEETDECK_ALERT_INTERVAL_SECONDS", 60, minimum=10)
# Absolute links in notifications ("Open in Fleetdeck"); relative when unset.
FLEETDECK_BASE_URL = env_str("FLEETDECK_BASE_URL")

# --- e-mail (alert channels of kind "email") --------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fleetdeck@localhost")
# Key(s) for encrypting activation codes at rest (Fernet). Comma-separated: the
# first encrypts, all decrypt, which is how a key is rotated (docs/security.md).
FLEETDECK_ENCRYPTION_KEYS = env_list("FLEETDECK_ENCRYPTION_KEYS", [])
_enc_file = env_secret("FLEETDECK_ENCRYPTION_KEYS")
if _enc_file and not FLEETDECK_ENCRYPTION_KEYS:
    FLEETDECK_ENCRYPTION_KEYS = [k.strip() for k in _enc_file.split(",") if k.strip()]
