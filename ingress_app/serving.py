"""Serving: gunicorn's hooks (`gunicorn.conf.py`, `python -m ingress_app`) and the
granian entry point (`granian_app`).

Importing this module is cheap and creates no metrics, so the master imports it at
start-up and its hooks import nothing. The worker hooks run only in a worker, after
the app has loaded, and import the outbox relay there. Every hook is wrapped by
`never_raises`: gunicorn runs master hooks in its main loop and SIGCHLD handler, where
an exception ends the arbiter, and a worker hook that raises before the worker booted
makes the master halt the whole server.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import socket
import sys
from collections.abc import Callable
from concurrent import futures
from typing import Any

from gunicorn import util
from gunicorn.http.errors import ParseException
from gunicorn.workers.gthread import ThreadWorker

from .frontdoor import tune_gc_for_serving

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
    from .callbacks.relay import start_background_callbacks  # in the worker, never the master
    from .outbox.relay import start_background_relay  # in the worker, never the master

    tune_gc_for_serving()
    start_background_relay(worker.wsgi)
    start_background_callbacks(worker.wsgi)


@never_raises
def worker_exit(server: Any, worker: Any) -> None:
    """Stop the relay and flush its producer: a graceful stop leaves nothing in flight."""
    from .callbacks.relay import stop_background_callbacks  # in the worker, never the master
    from .outbox.relay import stop_background_relay  # in the worker, never the master

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_background_relay(app)
        stop_background_callbacks(app)


def granian_app():
    """The app for a granian worker (`granian --interface wsgi --factory
    ingress_app.serving:granian_app`): granian has no worker hooks, so the worker's own
    setup (gc tuning, the outbox and callback relays, their flush at exit) is done here."""
    import atexit

    from .callbacks.relay import start_background_callbacks, stop_background_callbacks
    from .outbox.relay import start_background_relay, stop_background_relay
    from .startup import create_app_or_exit

    app = create_app_or_exit()
    tune_gc_for_serving()
    start_background_relay(app)
    start_background_callbacks(app)
    atexit.register(stop_background_relay, app)
    atexit.register(stop_background_callbacks, app)
    _wake_waiters_on_stop(app)
    return app


def _wake_waiters_on_stop(app: Any) -> None:
    """Answer parked waiters as soon as a granian worker is told to stop, as gunicorn's
    `handle_exit` does: otherwise a minute-long poll holds the stop up. granian has no
    worker stop hook and installs its own signal handlers after this runs, so the signal
    is learnt from Python's signal wakeup fd, which any Python-level handler writes."""
    import signal
    import threading

    from .fanout import close_waiters

    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread: no way to hear the signal, waiters time out
        reader.close()
        writer.close()
        return
    stops = {int(signal.SIGTERM), int(signal.SIGINT)}

    def watch(reader: socket.socket, writer: socket.socket) -> None:
        # Both ends stay open (this thread holds them) for the life of the process: a
        # closed wakeup fd's number could be reused, and a later signal would then write
        # into that file.
        woken = False
        while data := reader.recv(64):
            if not woken and stops.intersection(data):
                woken = True
                close_waiters(app)

    threading.Thread(
        target=watch, args=(reader, writer), name="ingress-stop-watch", daemon=True
    ).start()


def granian_blocking_threads(config: Any) -> int:
    """granian's `--blocking-threads` for Ingress: API_THREADS for ordinary requests, plus
    one per waiter (WAIT_MAX_WAITERS) and a few spare when waiting is on. granian runs
    every WSGI request, a minute-long poll included, on one pool; sized like this, parked
    waiters never take the threads ordinary requests need. granian starts threads on
    demand and ends idle ones, so this is a ceiling (docs/operations.md: its cost)."""
    waiters = int(config["WAIT_MAX_WAITERS"])
    return int(config["API_THREADS"]) + (waiters + WAIT_POOL_SPARE if waiters > 0 else 0)


class _Captured:
    """Stands in for the client socket while gunicorn renders its HTML error page."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


#: Request lines of the waiting requests: a long poll (`wait` in the query) or a stream.
_WAITING_REQUEST = re.compile(
    rb"GET /v1/runs/[^/?# ]+(?:/events(?:[?# ]|$)|\?(?:[^ #]*&)?wait=)"
)
#: Threads beyond WAIT_MAX_WAITERS, so that requests over the cap are answered 503 at
#: once rather than queued behind the waiters.
WAIT_POOL_SPARE = 4


class JsonErrorThreadWorker(ThreadWorker):
    """gunicorn's gthread worker with two thread pools, and JSON for its own errors.

    Waiting requests (a long poll `GET /v1/runs/{id}?wait=S`, an event stream
    `GET /v1/runs/{id}/events`) hold their thread for up to a minute or more. They run on
    a pool of their own (WAIT_MAX_WAITERS threads, plus a few to refuse those over the
    cap), chosen by peeking at the request line before it is read, so the API_THREADS
    of the ordinary pool always serve ordinary requests, however many waiters are
    parked. A waiting thread sleeps on an event (no CPU, no database connection).

    The errors gunicorn answers itself (a malformed request line, headers too large, an
    unsupported transfer coding) are JSON `{"error", "detail"}` like every other
    response, instead of an HTML page.
    """

    wait_pool: futures.ThreadPoolExecutor | None = None
    #: Waiting requests in progress. Kept out of gthread's `futures` deque: its main loop
    #: checks that whole deque for a finished request on every turn (about 2 µs per
    #: entry), which with 150 parked waiters cost each ordinary request ~0.3 ms of GIL.
    wait_futures: set[futures.Future] | None = None

    def _waiting_pool(self) -> futures.ThreadPoolExecutor | None:
        if self.wait_pool is None:
            config = getattr(self.wsgi, "config", None)
            if config is None:
                return None
            self.wait_pool = futures.ThreadPoolExecutor(
                max_workers=int(config["WAIT_MAX_WAITERS"]) + WAIT_POOL_SPARE,
                thread_name_prefix="ingress-wait",
            )
        return self.wait_pool

    def enqueue_req(self, conn):  # noqa: ANN001 - gunicorn's signature
        """Ordinary requests go to gthread's own pool unchanged; a waiting request, seen
        by peeking at its request line without consuming it, goes to the waiting pool."""
        pool = None
        if not self.cfg.is_ssl:
            try:
                head = conn.sock.recv(512, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except OSError:
                head = b""
            if _WAITING_REQUEST.match(head):
                pool = self._waiting_pool()
        if pool is None:
            super().enqueue_req(conn)
            return
        conn.init()
        fs = pool.submit(self.handle, conn)
        if self.wait_futures is None:
            self.wait_futures = set()
        self.wait_futures.add(fs)
        fs.conn = conn
        fs.add_done_callback(self.wait_futures.discard)
        fs.add_done_callback(self.finish_request)

    def run(self) -> None:
        """gthread's loop; then, on the way out, let waiters finish their answers (they
        were woken by `handle_exit` and answer at once)."""
        super().run()
        if self.wait_futures:
            futures.wait(list(self.wait_futures), timeout=self.cfg.graceful_timeout)

    #: Set by the first SIGTERM's handler (see `handle_exit`).
    exit_handled = False

    def handle_exit(self, sig, frame):  # noqa: ANN001 - gunicorn's signature
        """SIGTERM: waiters answer now (a long poll with the run as it is, a stream
        ends and its client resumes elsewhere), so the graceful stop is not held up.

        Only once, and without importing: a second SIGTERM (the master forwards one; a
        kill of the process group, as systemd's default stop does, sends another) can
        arrive while the first handler holds the fan-out's lock, and a handler that
        waited for that lock would hang the worker until gunicorn's graceful timeout."""
        super().handle_exit(sig, frame)
        if self.exit_handled:
            return
        self.exit_handled = True
        fanout = sys.modules.get(f"{__package__}.fanout")  # not loaded: no waiters
        if fanout is not None:
            fanout.close_waiters(getattr(self, "wsgi", None))

    def handle_error(self, req, client, addr, exc):  # noqa: ANN001 - gunicorn's signature
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)  # logs, status line, access log
        status_line = captured.data.split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = (status_line.split(" ", 2) + ["500", "Internal Server Error"])[:3]
        detail = str(exc) if isinstance(exc, ParseException) else None
        body = json.dumps({"error": reason, "detail": detail}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")
