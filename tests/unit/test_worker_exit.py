"""The gthread worker's SIGTERM handler: it wakes waiters once and never waits on a
lock an interrupted handler holds."""

from __future__ import annotations

import signal
import threading

from ingress_app import fanout
from ingress_app.serving import JsonErrorThreadWorker


def test_a_second_sigterm_while_the_first_wakes_waiters_does_not_hang(sqlite_app, monkeypatch):
    """The master forwards a SIGTERM and a process-group kill sends another: the second
    handler runs while the first is inside the fan-out, holding its lock."""
    worker = object.__new__(JsonErrorThreadWorker)  # no gunicorn arbiter needed
    worker.alive = True
    worker.wsgi = sqlite_app
    close_waiters = fanout.Hub.close_waiters
    calls: list[int] = []

    def second_signal_meanwhile(hub):
        with hub._lock:  # held, as the real method holds it
            calls.append(1)
            if len(calls) == 1:
                worker.handle_exit(signal.SIGTERM, None)
        close_waiters(hub)

    monkeypatch.setattr(fanout.Hub, "close_waiters", second_signal_meanwhile)
    done = threading.Event()
    threading.Thread(
        target=lambda: (worker.handle_exit(signal.SIGTERM, None), done.set()), daemon=True
    ).start()

    assert done.wait(5), "the second SIGTERM's handler waited for the first one's lock"
    assert worker.alive is False
    assert calls == [1]  # woken once
    assert fanout.hub_for(sqlite_app).closing
