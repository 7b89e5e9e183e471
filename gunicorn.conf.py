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

from gunicorn.glogging import Logger  # noqa: E402

from ingress_app.config import load_config  # noqa: E402

_cfg = load_config()

bind = f"{_cfg['API_HOST']}:{_cfg['API_PORT']}"
# gthread: a few processes, each with a thread pool; I/O-bound handlers (PostgreSQL,
# Redis) overlap inside one process and a slow client never pins a whole worker.
worker_class = "gthread"
workers = _cfg["API_WORKERS"]
threads = _cfg["API_THREADS"]
# Above every dependency timeout (DB connect 2 s, pool wait 5 s, statement 10 s), so a
# worker is never killed in the middle of a request that its own timeouts would end.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory growth), staggered so they never all
# restart together.
max_requests = 20000
max_requests_jitter = 2000
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


def on_starting(server):
    """Start with an empty metrics directory (stale files would double-count)."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the merged metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):
    """Start this worker's outbox relay after fork (producers are never shared), then
    tune the garbage collector for serving (see `ingress_app.edge.tune_gc_for_serving`)."""
    from ingress_app.edge import tune_gc_for_serving
    from ingress_app.outbox.relay import start_background_relay

    start_background_relay(worker.wsgi)
    tune_gc_for_serving()


def worker_exit(server, worker):
    """Stop the relay and flush its producer, so a graceful stop leaves nothing in flight."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from ingress_app.outbox.relay import stop_background_relay

        stop_background_relay(app)
