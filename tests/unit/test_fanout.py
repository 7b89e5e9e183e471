"""The status fan-out's hub and the worker's choice of thread pool, without servers."""

from __future__ import annotations

import threading

import pytest

from ingress_app import create_app
from ingress_app.fanout import TooManyWaiters, hub_for, payload
from ingress_app.serving import _WAITING_REQUEST
from tests.conftest import base_config


@pytest.fixture
def hub(tmp_path):
    app = create_app(base_config(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
                                 WAIT_MAX_WAITERS=2))
    return hub_for(app)


def test_a_notification_wakes_only_the_waiters_of_its_run(hub):
    with hub.waiter("acme", "r1") as mine, hub.waiter("acme", "r2") as other:
        hub.deliver(payload("acme", "r1", "RUNNING", 7))
        assert mine.wait(1)
        assert not other.wait(0.05)


def test_tenant_and_run_ids_never_collide(hub):
    """("a:b", "c") and ("a", "b:c") are different runs, whatever a key joiner would do."""
    with hub.waiter("a:b", "c") as first, hub.waiter("a", "b:c") as second:
        hub.deliver(payload("a", "b:c", "RUNNING", 1))
        assert second.wait(1) and not first.wait(0.05)


def test_a_malformed_notification_wakes_nobody_and_breaks_nothing(hub):
    with hub.waiter("acme", "r1") as waiter:
        for bad in ("not json", "{}", "[1]", '{"t": "acme"}'):
            hub.deliver(bad)
        assert not waiter.wait(0.05)
        hub.deliver(payload("acme", "r1", "RUNNING", 2))
        assert waiter.wait(1)


def test_waiters_over_the_cap_are_refused_and_freed_slots_reused(hub):
    with hub.waiter("acme", "r1"), hub.waiter("acme", "r1"):
        with pytest.raises(TooManyWaiters):
            with hub.waiter("acme", "r2"):
                pass
    assert hub.count == 0
    with hub.waiter("acme", "r2"):
        assert hub.count == 1


def test_closing_wakes_every_waiter_and_marks_new_ones(hub):
    woke = []
    with hub.waiter("acme", "r1") as waiter:
        thread = threading.Thread(target=lambda: woke.append(waiter.wait(5)))
        thread.start()
        hub.close_waiters()
        thread.join(5)
        assert woke == [True] and waiter.closing
    with hub.waiter("acme", "r3") as late:
        assert late.closing


def test_payload_stays_far_below_postgresql_limit():
    longest = payload("t" * 255, "r" * 255, "CANCEL_REQUESTED", 10**18)
    assert len(longest.encode()) < 1000


@pytest.mark.parametrize(
    ("line", "waiting"),
    [
        (b"GET /v1/runs/3f2a?wait=30 HTTP/1.1\r\n", True),
        (b"GET /v1/runs/3f2a?x=1&wait=30 HTTP/1.1\r\n", True),
        (b"GET /v1/runs/3f2a/events HTTP/1.1\r\n", True),
        (b"GET /v1/runs/3f2a/events?x=1 HTTP/1.1\r\n", True),
        (b"GET /v1/runs/3f2a HTTP/1.1\r\n", False),
        (b"GET /v1/runs/3f2a?nowait=1 HTTP/1.1\r\n", False),
        (b"GET /v1/runs?wait=1 HTTP/1.1\r\n", False),
        (b"POST /v1/runs HTTP/1.1\r\n", False),
        (b"POST /v1/runs/3f2a/cancel HTTP/1.1\r\n", False),
        (b"GET /v1/runs/3f2a/eventsx HTTP/1.1\r\n", False),
        (b"GET /v1/ru", False),  # not all there yet: the ordinary pool
    ],
)
def test_the_worker_sends_waiting_requests_to_their_own_pool(line, waiting):
    assert bool(_WAITING_REQUEST.match(line)) is waiting


def test_granian_pool_has_a_thread_per_waiter_beside_the_ordinary_ones():
    from ingress_app.serving import WAIT_POOL_SPARE, granian_blocking_threads

    assert granian_blocking_threads({"API_THREADS": 4, "WAIT_MAX_WAITERS": 200}) == \
        4 + 200 + WAIT_POOL_SPARE
    # waiting off: every waiter is refused at once, so the pool is the ordinary threads
    assert granian_blocking_threads({"API_THREADS": 4, "WAIT_MAX_WAITERS": 0}) == 4
