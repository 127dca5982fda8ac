"""gunicorn's settings for the web process; gunicorn reads this file from the working directory, so
the Procfile and bench/api_load.py start the same server. Why these values: README, "Speed"."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# A request spends about half its time waiting on PostgreSQL and Redis round trips, so a 2-core
# machine is kept busy by more processes than cores; each holds its own DB and Redis connections.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = 30
accesslog = "-"
