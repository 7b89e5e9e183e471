"""gunicorn settings for Ingress: `gunicorn wsgi:app` reads this file from the working directory.

Values come from the same environment variables as the service (API_HOST, API_PORT,
API_WORKERS, API_THREADS, LOG_LEVEL, LOG_FORMAT). Serving with gunicorn means
production: INGRESS_ENV defaults to "production" here, so a missing JWT secret is a
startup error rather than a generated development key.
"""

import os
import shutil
import tempfile

os.environ.setdefault("INGRESS_ENV", "production")
# Metrics from every worker process are merged through files in this directory
# (prometheus-client multiprocess mode); it must be set before the app is imported.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"ingress-metrics-{os.getpid()}")
)

# Everything a hook needs is imported here, once, in the master. A hook that imported
# lazily could be re-entered by gunicorn's SIGCHLD handler (it reaps workers inside the
# signal handler) while the first import is half done, and a raising master hook ends
# the arbiter's main loop: no workers, nothing to start new ones.
from gunicorn.glogging import Logger  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from ingress_app import serving  # noqa: E402
from ingress_app.config import load_config  # noqa: E402
from ingress_app.serving import never_raises  # noqa: E402

_cfg = load_config()

bind = f"{_cfg['API_HOST']}:{_cfg['API_PORT']}"
# gthread: a few processes, each with a thread pool; I/O-bound handlers (PostgreSQL,
# Redis) overlap inside one process and a slow client never pins a whole worker.
# (ingress_app.serving.JsonErrorThreadWorker: gthread whose own errors are JSON.)
worker_class = "ingress_app.serving.JsonErrorThreadWorker"
workers = _cfg["API_WORKERS"]
threads = _cfg["API_THREADS"]
# Above every dependency timeout (DB connect 2 s, pool wait 5 s, statement 10 s), so a
# worker is never killed in the middle of a request that its own timeouts would end.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Worker recycling is off unless API_MAX_REQUESTS is set: a recycled gthread worker
# closes its keep-alive connections, which a client sees as a reset. Set it only where a
# leak is shown; the jitter staggers workers so they never restart together.
max_requests = _cfg["API_MAX_REQUESTS"]
max_requests_jitter = max(max_requests // 10, 1) if max_requests else 0
# Load the app in each worker after fork: connection pools and Kafka producers are
# never shared across processes.
preload_app = False
accesslog = os.environ.get("ACCESS_LOG") or None


class IngressLogger(Logger):
    """gunicorn's logger, but access lines cost nothing unless ACCESS_LOG is set."""

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


logger_class = IngressLogger

_formatter = (
    {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    }
    if _cfg["LOG_FORMAT"].lower() == "json"
    else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": _formatter},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "gunicorn.error": {
            "handlers": ["stderr"],
            "level": _cfg["LOG_LEVEL"].upper(),
            "propagate": False,
        },
        # Access lines only when ACCESS_LOG is set (they cost ~10% of a request's CPU).
        "gunicorn.access": {
            "handlers": ["stderr"] if accesslog else [],
            "level": "INFO" if accesslog else "CRITICAL",
            "propagate": False,
        },
    },
    # gunicorn merges this over its defaults, whose root logger names a handler we
    # replace; the app installs its own root handler (JSON lines with correlation id).
    "root": {"level": _cfg["LOG_LEVEL"].upper(), "handlers": []},
}


@never_raises
def on_starting(server):
    """Start with an empty metrics directory (stale files would double-count)."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


@never_raises
def child_exit(server, worker):
    """Drop a dead worker's live gauges from the merged metrics (a few file removals)."""
    multiprocess.mark_process_dead(worker.pid)


@never_raises
def on_exit(server):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


# In each worker: start its outbox relay after fork, flush it on exit.
post_worker_init = serving.post_worker_init
worker_exit = serving.worker_exit
