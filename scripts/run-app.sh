#!/bin/sh
# Set up the kit in a local virtual environment and start the desktop app.
# Usage: scripts/run-app.sh [--data DIR] [--lang ar|zh|en|fr|ru|es]
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
.venv/bin/python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e '.[all]'
exec .venv/bin/python -m app.ui.main "$@"
