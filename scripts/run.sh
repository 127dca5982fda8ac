#!/usr/bin/env bash
# Install everything and run pipelabs locally: web on http://127.0.0.1:8000 and a worker cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py setup_schedules
.venv/bin/python manage.py setup_demo
exec .venv/bin/python manage.py runlocal "$@"
