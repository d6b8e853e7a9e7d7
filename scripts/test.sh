#!/usr/bin/env bash
# The pytest part of `make test`: real peers up, then two passes at once: the whole
# suite on SQLite, and every model and migration again on PostgreSQL (browser and
# make-run tests are database-independent and run once). The passes share the peers
# but not their state: each has its own Redis database (0 and 1), its own sandbox
# servers, data directory and test database. Most of the suite waits on real peers
# (workers, the sandbox, Chromium), so on two cores the passes overlap well: about
# 17 minutes instead of 27 one after the other. Soak variants run only under `make soak`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    scripts/busybox-image.sh
fi
# Make the browser tests fail fast, not hang, if Playwright's driver cannot start.
export PLAYWRIGHT_BROWSERS_PATH=0
exec .venv/bin/python scripts/services.py -- bash -c '
set -uo pipefail
pg_log=$(mktemp)
trap "rm -f $pg_log" EXIT
(
    REDIS_URL="${REDIS_URL%/0}/1" DATABASE_URL="$FLEETDECK_TEST_POSTGRES_URL" \
        .venv/bin/pytest -p no:cacheprovider -m "not browser and not slow and not soak" \
        --ignore=tests/sandbox "$@" > "$pg_log" 2>&1
) &
pg_pid=$!
status=0
echo "== pytest on SQLite (the PostgreSQL pass runs alongside; its output follows)"
.venv/bin/pytest -p no:cacheprovider -m "not soak" "$@" || status=$?
wait $pg_pid
pg_status=$?
echo "== pytest on PostgreSQL"
cat "$pg_log"
[[ $pg_status -eq 0 || $pg_status -eq 5 ]] || status=$pg_status
exit $status
' pytest-passes "$@"
