#!/bin/sh
# Set up everything the test suite needs on a fresh Debian/Ubuntu machine and run it.
# Usage: scripts/run-tests.sh [pytest arguments]
set -eu
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for pkg in $(grep -v '^#' scripts/system-packages.txt); do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        SUDO=""
        [ "$(id -u)" = 0 ] || SUDO="sudo"
        echo "Installing system packages:$missing"
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
    fi
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
.venv/bin/python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e '.[dev]'

export QT_QPA_PLATFORM=offscreen

# A throwaway PostgreSQL server for the platform service's tests (SQLite is tested always).
PG_DIR=""
if [ -z "${SDGKIT_TEST_PG_URL:-}" ]; then
    PG_DIR="$(mktemp -d /tmp/sdgkit-pg.XXXXXX)"
    SDGKIT_TEST_PG_URL="$(SDGKIT_PG_DIR="$PG_DIR" scripts/ci-postgres.sh)"
    export SDGKIT_TEST_PG_URL
fi
stop_pg() {
    [ -n "$PG_DIR" ] || return 0
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PG_DIR/data' -m fast stop" >/dev/null 2>&1 || true
    else
        "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
}
trap stop_pg EXIT
status=0
.venv/bin/python -m pytest "$@" || status=$?
exit $status
