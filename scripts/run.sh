#!/usr/bin/env bash
# `make run`: prepare the data directory, migrate, create the admin once, and
# start every long-running process under one supervisor (honcho). Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

export FLEETDECK_DATA_DIR="${FLEETDECK_DATA_DIR:-$PWD/.data}"
export PORT="${PORT:-8000}"
export FLEETDECK_WEB_PORT="$PORT"   # honcho overwrites PORT in each process
export FLEETDECK_SANDBOX_PORT="${FLEETDECK_SANDBOX_PORT:-4566}"
export DJANGO_DEBUG="${DJANGO_DEBUG:-false}"
export FLEETDECK_HTTPS="${FLEETDECK_HTTPS:-false}"   # a local console speaks plain HTTP
export PYTHONUNBUFFERED=1
PY=.venv/bin/python

mkdir -p "$FLEETDECK_DATA_DIR"/broker/{out,processed,results}
chmod 700 "$FLEETDECK_DATA_DIR"

# Secrets are generated once, kept in the data dir (mode 600), never printed.
secret_file() {  # secret_file NAME GENERATOR
    local path="$FLEETDECK_DATA_DIR/$1"
    if [[ ! -s "$path" ]]; then
        (umask 077; $PY -c "$2" > "$path")
    fi
    echo "$path"
}
if [[ -z "${SECRET_KEY:-}${SECRET_KEY_FILE:-}" ]]; then
    export SECRET_KEY_FILE="$(secret_file secret-key 'import secrets; print(secrets.token_urlsafe(50))')"
fi
if [[ -z "${FLEETDECK_ENCRYPTION_KEYS:-}${FLEETDECK_ENCRYPTION_KEYS_FILE:-}" ]]; then
    export FLEETDECK_ENCRYPTION_KEYS_FILE="$(secret_file encryption-key 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
fi
if [[ -z "${FLEETDECK_METRICS_TOKEN:-}${FLEETDECK_METRICS_TOKEN_FILE:-}" ]]; then
    export FLEETDECK_METRICS_TOKEN_FILE="$(secret_file metrics-token 'import secrets; print(secrets.token_urlsafe(32))')"
fi

$PY manage.py migrate --noinput -v 0
$PY manage.py createcachetable
# One line: how to log in (with the password only the run that created the
# account); shown in the final block below, where it does not scroll away.
login_line="$($PY manage.py ensure_admin)"

processes=(web worker beat)
grep -q '^watcher:' Procfile && processes+=(watcher)
# The ECS event stream's follower idles until setup_event_stream has made a stream.
grep -q '^events:' Procfile && processes+=(events)
# Demo mode: without an AWS account of your own, a local AWS peer serves a
# living demo fleet. FLEETDECK_DEMO=false turns it off.
if [[ "${FLEETDECK_DEMO:-true}" == "true" ]] && [[ -d sandbox ]] && grep -q '^sandbox:' Procfile; then
    export FLEETDECK_DEMO=true
    export FLEETDECK_SANDBOX_URL="http://127.0.0.1:$FLEETDECK_SANDBOX_PORT"
    processes+=(sandbox)
    # With a local Docker engine, the demo's first edge machine runs its tasks as real
    # containers there (built from the local busybox image), so container logs and drift
    # have something to show; docker_setup below registers the engine as a Docker host.
    if [[ -S /var/run/docker.sock ]] && scripts/busybox-image.sh >/dev/null 2>&1; then
        export FLEETDECK_SANDBOX_DOCKER_HOST="unix:///var/run/docker.sock"
    fi
    if $PY manage.py help demo_setup >/dev/null 2>&1; then
        $PY manage.py demo_setup --endpoint-url "$FLEETDECK_SANDBOX_URL"
    fi
fi

# The local Docker engine, when there is one, is a Docker host (idempotent).
[[ -S /var/run/docker.sock ]] && $PY manage.py docker_setup || true

echo
echo "  Fleetdeck is starting: open http://127.0.0.1:$PORT/"
echo "  $login_line"
echo "  Processes: ${processes[*]}. Press Ctrl-C to stop them all."
echo
exec $PY scripts/supervise.py -f Procfile start "${processes[@]}"
