"""``manage.py qcluster`` with the venue call timeouts a fault test asks for (test code only).

Env: PL_TEST_EXCHANGE_TIMEOUTS_S, JSON {call kind: seconds} over exchanges/guard.py's defaults
(a Django setting, not an environment variable, in production).
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelabs.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.EXCHANGE_TIMEOUTS_S = json.loads(os.environ.get("PL_TEST_EXCHANGE_TIMEOUTS_S") or "{}")

from django.core.management import execute_from_command_line  # noqa: E402

execute_from_command_line(["manage.py", "qcluster"])
