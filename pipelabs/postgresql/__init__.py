"""Django's PostgreSQL backend with time limits a web process can rely on (see ``base.py``)."""
