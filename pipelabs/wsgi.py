import os
import sys

from django.core.wsgi import get_wsgi_application

from pipelabs.env import mark_web_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelabs.settings")
# Database sessions of this process get the web's statement and lock timeouts.
mark_web_process()

application = get_wsgi_application()

from django.conf import settings  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from pipelabs.checks import refuse_invalid_production_config  # noqa: E402

# No PIPELABS_ENV means development: DEBUG on and a public SECRET_KEY. Only Django's runserver
# (./scripts/run.sh) may serve that silently; any other server (gunicorn) must be told.
if not settings.ENVIRONMENT_IS_EXPLICIT and "runserver" not in sys.argv[1:2]:
    raise ImproperlyConfigured(
        "PIPELABS_ENV is not set: refusing to serve development defaults (DEBUG, a public SECRET_KEY). "
        "Set PIPELABS_ENV=production, or PIPELABS_ENV=development for a local server."
    )

# gunicorn runs no system checks: refuse to serve a production config that would fail them.
refuse_invalid_production_config()
