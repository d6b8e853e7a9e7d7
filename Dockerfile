# Fleetdeck application image: web (gunicorn), worker, beat and watcher all run it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=console.settings \
    FLEETDECK_DATA_DIR=/var/lib/fleetdeck \
    FLEETDECK_STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN pip install .

COPY manage.py ./
COPY console ./console
COPY clusters ./clusters
COPY deployments ./deployments
COPY templates ./templates
COPY static ./static

# collectstatic needs settings but no secrets or database.
RUN SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home-dir /var/lib/fleetdeck --create-home fleetdeck \
    && chown -R fleetdeck /var/lib/fleetdeck
USER fleetdeck

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["gunicorn", "console.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
