#!/usr/bin/env bash
# Install everything and run the test suite. Extra arguments go to pytest.
# DATABASE_URL=postgres://... runs it on PostgreSQL instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
exec "$VENV/bin/python" -m pytest "$@"
