import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelabs.settings")

application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve a production config that would fail them.
from pipelabs.checks import refuse_invalid_production_config  # noqa: E402

refuse_invalid_production_config()
