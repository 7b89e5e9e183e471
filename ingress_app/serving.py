"""gunicorn server hooks shared by `gunicorn.conf.py` and `python -m ingress_app`.

Importing this module is cheap and creates no metrics, so the master imports it at
start-up and its hooks import nothing. The worker hooks run only in a worker, after
the app has loaded the outbox modules they use. Every hook is wrapped by
`never_raises`: gunicorn runs master hooks in its main loop and SIGCHLD handler, where
an exception ends the arbiter, and a worker hook that raises before the worker booted
makes the master halt the whole server.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from .edge import tune_gc_for_serving

log = logging.getLogger("gunicorn.error")


def never_raises(hook: Callable[..., Any]) -> Callable[..., None]:
    """Run `hook`, turning any failure into one logged line."""

    @functools.wraps(hook)
    def guarded(*args: Any) -> None:
        try:
            hook(*args)
        except Exception as exc:  # noqa: BLE001 - a hook must not take the server down
            log.error("gunicorn hook %s failed: %s: %s", hook.__name__, type(exc).__name__, exc)

    return guarded


@never_raises
def post_worker_init(worker: Any) -> None:
    """Start the worker's outbox relay after fork (producers are never shared) and tune
    the garbage collector. If the relay cannot start the worker still serves; another
    relay publishes what it accepts."""
    from .outbox.relay import start_background_relay  # loaded by the app already

    tune_gc_for_serving()
    start_background_relay(worker.wsgi)


@never_raises
def worker_exit(server: Any, worker: Any) -> None:
    """Stop the relay and flush its producer: a graceful stop leaves nothing in flight."""
    from .outbox.relay import stop_background_relay  # loaded by the app already

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_background_relay(app)
