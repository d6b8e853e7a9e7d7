#!/usr/bin/env bash
# The pytest part of `make test`: real peers up, the whole suite on SQLite, then
# again on PostgreSQL (every model and migration; browser and make-run tests are
# database-independent and run once). Soak variants run only under `make soak`.
# The passes run one after the other, not at once: they would share the machine's
# Docker engine, where tests label containers with fixed task ARNs and count what the
# engine lists (tried: three Docker tests saw the other pass's containers).
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
status=0
echo "== pytest on SQLite"
.venv/bin/pytest -p no:cacheprovider -m "not soak" "$@" || status=$?
echo "== pytest on PostgreSQL"
DATABASE_URL="$FLEETDECK_TEST_POSTGRES_URL" .venv/bin/pytest -p no:cacheprovider \
    -m "not browser and not slow and not soak" --ignore=tests/sandbox "$@" || { s=$?; [[ $s -eq 5 ]] || status=$s; }
exit $status
' pytest-passes "$@"
