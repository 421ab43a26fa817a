"""gunicorn settings for `make run` and the benchmark; override with GUNICORN_* / PORT variables."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
# gthread keeps connections alive, so a service that asks for tokens often skips the TCP handshake.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 2))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 15))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
