"""Waiting for a run: the long poll (`?wait=S`) and the event stream (SSE).

The serving tests run a real gunicorn with two workers; status changes are applied by
another app in this process (as the status consumer would), so a waiter on a worker is
woken through PostgreSQL `LISTEN/NOTIFY`, never by polling.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from ingress_app import create_app
from ingress_app.ids import new_id
from ingress_app.runs.events import apply_run_event
from tests.conftest import JWT_SECRET, auth, base_config, key_prefix, sample_flow
from tests.integration.conftest import assert_error, create_run
from tests.integration.test_serving_edge import Nginx
from tests.support.gunicorn import GunicornServer


def status_event(run: dict, status: str, tenant: str = "acme") -> dict:
    return {
        "event_id": new_id(), "run_id": run["run_id"], "tenant_id": tenant,
        "status": status, "occurred_at": datetime.now(UTC).isoformat(),
        **({"output": {"answer": 42}} if status == "SUCCEEDED" else {}),
    }


def apply(app, run: dict, status: str, tenant: str = "acme") -> str:
    with app.app_context():
        return apply_run_event(status_event(run, status, tenant))


# ------------------------------------------------------------------ in process


def test_bad_wait_values_are_400(client):
    run = create_run(client)
    for value in ("0", "61", "-1", "abc", "1.5", ""):
        response = client.get(f"/v1/runs/{run['run_id']}?wait={value}", headers=auth())
        assert_error(response, 400)


def test_another_tenants_run_is_404_at_once(client):
    run = create_run(client)
    started = time.monotonic()
    response = client.get(f"/v1/runs/{run['run_id']}?wait=30", headers=auth("globex"))
    assert_error(response, 404)
    assert time.monotonic() - started < 5
    response = client.get(f"/v1/runs/{run['run_id']}/events", headers=auth("globex"))
    assert_error(response, 404)


def test_a_terminal_run_answers_at_once(app, client):
    run = create_run(client)
    apply(app, run, "SUCCEEDED")
    started = time.monotonic()
    response = client.get(f"/v1/runs/{run['run_id']}?wait=30", headers=auth())
    assert response.status_code == 200
    assert response.get_json()["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5


def test_wait_times_out_with_the_unchanged_run(client):
    run = create_run(client)
    plain = client.get(f"/v1/runs/{run['run_id']}", headers=auth()).get_json()
    started = time.monotonic()
    response = client.get(f"/v1/runs/{run['run_id']}?wait=1", headers=auth())
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.get_json() == plain
    assert 1 <= elapsed < 5
    assert response.headers["Cache-Control"] == "no-store"


def test_sqlite_long_poll_is_woken_in_process(sqlite_app):
    """The embedded default has no LISTEN/NOTIFY: the commit wakes this process's waiters."""
    client = sqlite_app.test_client()
    run = create_run(client)
    timer = threading.Timer(0.5, apply, (sqlite_app, run, "RUNNING"))
    timer.start()
    started = time.monotonic()
    response = client.get(f"/v1/runs/{run['run_id']}?wait=20", headers=auth())
    timer.join()
    assert response.get_json()["status"] == "RUNNING"
    assert time.monotonic() - started < 5


def test_a_bad_last_event_id_is_400(client):
    run = create_run(client)
    response = client.get(
        f"/v1/runs/{run['run_id']}/events", headers={**auth(), "Last-Event-ID": "x1"}
    )
    assert_error(response, 400)


def test_a_last_event_id_past_every_event_resumes_with_nothing_to_replay(app, client):
    run = create_run(client)
    apply(app, run, "SUCCEEDED")
    response = client.get(
        f"/v1/runs/{run['run_id']}/events",
        headers={**auth(), "Last-Event-ID": "9" * 18},  # beyond the 32-bit sequence
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert "event: status" not in response.get_data(as_text=True)


def test_cancel_is_a_status_event(app, client, pg):
    run = create_run(client)
    assert client.post(f"/v1/runs/{run['run_id']}/cancel", headers=auth()).status_code == 202
    rows = pg.execute(
        "SELECT status, outcome, run_body FROM run_events WHERE run_id = %s", (run["run_id"],)
    ).fetchall()
    assert [(r["status"], r["outcome"]) for r in rows] == [("CANCEL_REQUESTED", "applied")]
    assert json.loads(rows[0]["run_body"])["status"] == "CANCEL_REQUESTED"


# ------------------------------------------------------------------ the listener's connection


@pytest.fixture
def proxied_app(make_pg_app, postgres_url):
    """An app whose database connections (the listener's too) go through a TcpProxy."""
    from sqlalchemy.engine import make_url

    from tests.integration.conftest import url_with_port
    from tests.support.proxy import TcpProxy

    target = make_url(postgres_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        app = make_pg_app(DATABASE_URL=url_with_port(postgres_url, proxy.port),
                          WAIT_LISTENER_PING_SECONDS=1.0)
        yield app, proxy


def long_poll_in_background(app, run: dict, wait: int = 30):
    from ingress_app.fanout import hub_for

    pool = ThreadPoolExecutor(1)
    future = pool.submit(
        lambda: app.test_client().get(f"/v1/runs/{run['run_id']}?wait={wait}", headers=auth())
    )
    hub = hub_for(app)
    deadline = time.monotonic() + 10
    while not (hub.count and hub.connected.is_set()):
        assert time.monotonic() < deadline, "the waiter never parked"
        time.sleep(0.05)
    time.sleep(1)  # the connect's resync read is over: the waiter sleeps on its event
    pool.shutdown(wait=False)
    return future, hub


def test_a_change_made_while_the_listener_was_cut_off_is_not_missed(proxied_app, make_pg_app):
    app, proxy = proxied_app
    direct = make_pg_app()
    run = create_run(app.test_client())
    future, hub = long_poll_in_background(app, run)
    proxy.cut()  # the listener's connection is reset; reconnecting fails until restore
    assert apply(direct, run, "RUNNING") == "applied"  # its NOTIFY reaches nobody here
    time.sleep(1)
    assert not future.done()
    proxy.restore()  # reconnect: every waiter re-reads its run once
    response = future.result(timeout=15)
    assert response.status_code == 200 and response.get_json()["status"] == "RUNNING"


def test_a_silent_database_costs_the_listener_its_connection(proxied_app, make_pg_app):
    """A server that stops answering (frozen) is noticed by the ping's deadline; the
    listener reconnects once it answers again, and the waiter still gets the change."""
    app, proxy = proxied_app
    direct = make_pg_app()
    run = create_run(app.test_client())
    future, hub = long_poll_in_background(app, run)
    proxy.freeze()
    deadline = time.monotonic() + 10
    while hub.connected.is_set():
        assert time.monotonic() < deadline, "the listener never gave up on a frozen server"
        time.sleep(0.1)
    assert apply(direct, run, "RUNNING") == "applied"
    proxy.restore()
    response = future.result(timeout=20)
    assert response.status_code == 200 and response.get_json()["status"] == "RUNNING"


# ------------------------------------------------------------------ two gunicorn workers


@pytest.fixture(scope="module")
def applier(postgres_url, redis_url):
    """Another app on the same database: it applies status events like the consumer."""
    app = create_app(base_config(DATABASE_URL=postgres_url, REDIS_URL=redis_url,
                                 CACHE_KEY_PREFIX=key_prefix()))
    yield app
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()


def server_env(postgres_url, redis_url, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "JWT_SECRET_KEY": JWT_SECRET,
        "KAFKA_BOOTSTRAP_SERVERS": "", "API_WORKERS": "2", "API_THREADS": "4",
        "SSE_HEARTBEAT_SECONDS": "1", **extra,
    }


@pytest.fixture(scope="module")
def server(postgres_url, redis_url, tmp_path_factory):
    with GunicornServer(server_env(postgres_url, redis_url),
                        tmp_path_factory.mktemp("waiting")) as gunicorn:
        gunicorn.wait_healthy(workers=2)
        yield gunicorn


@pytest.fixture(autouse=True)
def _emptied(request):
    if "server" in request.fixturenames or "small_server" in request.fixturenames:
        request.getfixturevalue("emptied_after")


def call(port: int, method: str, path: str, body=None, headers=None, timeout: float = 10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def wait_parked(port: int, count: int, timeout: float = 20) -> None:
    """Until the server's `ingress_run_waiters` gauge counts `count` parked waiters."""
    deadline = time.monotonic() + timeout
    while True:
        _, _, text = call(port, "GET", "/metrics")
        found = [line for line in text.decode().splitlines()
                 if line.startswith("ingress_run_waiters ")]
        if found and float(found[0].split()[1]) >= count:
            return
        assert time.monotonic() < deadline, f"fewer than {count} waiters parked: {found}"
        time.sleep(0.1)


def start_run(port: int, tenant: str = "acme") -> dict:
    status, _, body = call(port, "POST", "/v1/runs",
                           json.dumps({"flow_definition": sample_flow()}),
                           {**auth(tenant), "Content-Type": "application/json"})
    assert status == 202, body
    return json.loads(body)


class Stream:
    """An SSE client: reads events and comments as they arrive."""

    def __init__(self, port: int, run_id: str, headers=None, timeout: float = 10):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", f"/v1/runs/{run_id}/events", headers={**auth(), **(headers or {})})
        self.response = self.conn.getresponse()
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}

    def next(self) -> dict | None:
        """The next event or comment block; None when the stream has ended."""
        fields: dict = {}
        while True:
            line = self.response.readline()
            if not line:
                return fields or None
            line = line.decode().rstrip("\n")
            if line == "":
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.lstrip(" ")

    def next_event(self) -> dict | None:
        while True:
            block = self.next()
            if block is None or "event" in block:
                return block

    def close(self) -> None:
        self.conn.close()


def test_long_polls_on_both_workers_wake_on_the_change(server, applier):
    run = start_run(server.port)
    path = f"/v1/runs/{run['run_id']}?wait=30"
    with ThreadPoolExecutor(8) as pool:
        waiting = [pool.submit(call, server.port, "GET", path, None, auth(), 40) for _ in range(8)]
        wait_parked(server.port, 8)
        assert not any(f.done() for f in waiting)
        applied_at = time.monotonic()
        assert apply(applier, run, "RUNNING") == "applied"
        answers = [f.result() for f in waiting]
        woken_after = time.monotonic() - applied_at
    assert woken_after < 5
    for status, headers, body in answers:
        assert status == 200 and json.loads(body)["status"] == "RUNNING"
        assert headers["cache-control"] == "no-store"
    pids = {p for p in server.worker_pids()}
    assert len(pids) == 2


def test_a_cancel_wakes_a_long_poll(server):
    run = start_run(server.port)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(call, server.port, "GET", f"/v1/runs/{run['run_id']}?wait=30",
                              None, auth(), 40)
        wait_parked(server.port, 1)
        status, _, _ = call(server.port, "POST", f"/v1/runs/{run['run_id']}/cancel",
                            headers=auth())
        assert status == 202
        status, _, body = waiting.result(timeout=10)
    assert status == 200 and json.loads(body)["status"] == "CANCEL_REQUESTED"


def test_long_poll_timeout_and_tenancy_on_gunicorn(server):
    run = start_run(server.port)
    started = time.monotonic()
    status, _, body = call(server.port, "GET", f"/v1/runs/{run['run_id']}?wait=1", None, auth())
    assert status == 200 and json.loads(body)["status"] == "PENDING"
    assert 1 <= time.monotonic() - started < 6
    status, _, body = call(server.port, "GET", f"/v1/runs/{run['run_id']}?wait=30", None,
                           auth("globex"))
    assert status == 404 and json.loads(body)["error"]
    status, _, body = call(server.port, "GET", f"/v1/runs/{run['run_id']}?wait=99", None, auth())
    assert status == 400 and json.loads(body)["error"]


def test_event_stream_follows_a_run_to_its_end(server, applier):
    run = start_run(server.port)
    stream = Stream(server.port, run["run_id"])
    try:
        assert stream.response.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-accel-buffering"] == "no"
        first = stream.next_event()
        assert first["event"] == "status" and first["id"] == "0"
        assert json.loads(first["data"])["status"] == "PENDING"
        # idle: heartbeat comments (SSE_HEARTBEAT_SECONDS=1)
        block = stream.next()
        assert block == {"comment": "heartbeat"}
        apply(applier, run, "RUNNING")
        running = stream.next_event()
        assert json.loads(running["data"])["status"] == "RUNNING"
        apply(applier, run, "SUCCEEDED")
        done = stream.next_event()
        body = json.loads(done["data"])
        assert body["status"] == "SUCCEEDED" and body["output"] == {"answer": 42}
        assert int(first["id"]) < int(running["id"]) < int(done["id"])
        assert stream.next_event() is None  # the stream ended after the terminal status
        # the event's data is the run as GET returns it
        status, _, plain = call(server.port, "GET", f"/v1/runs/{run['run_id']}", None, auth())
        assert json.loads(plain) == body
    finally:
        stream.close()


def test_last_event_id_replays_the_missed_changes(server, applier):
    run = start_run(server.port)
    stream = Stream(server.port, run["run_id"])
    first = stream.next_event()
    apply(applier, run, "RUNNING")
    running = stream.next_event()
    stream.close()  # the client drops; meanwhile two changes happen
    apply(applier, run, "CANCEL_REQUESTED")
    apply(applier, run, "CANCELLED")
    resumed = Stream(server.port, run["run_id"], {"Last-Event-ID": running["id"]})
    try:
        events = [resumed.next_event(), resumed.next_event()]
        assert [json.loads(e["data"])["status"] for e in events] == [
            "CANCEL_REQUESTED", "CANCELLED"]
        assert int(running["id"]) < int(events[0]["id"]) < int(events[1]["id"])
        assert resumed.next_event() is None
    finally:
        resumed.close()
    # resuming from the very start replays every change; after the end: nothing more
    again = Stream(server.port, run["run_id"], {"Last-Event-ID": first["id"]})
    statuses = []
    while (event := again.next_event()) is not None:
        statuses.append(json.loads(event["data"])["status"])
    again.close()
    assert statuses == ["RUNNING", "CANCEL_REQUESTED", "CANCELLED"]
    ended = Stream(server.port, run["run_id"], {"Last-Event-ID": events[1]["id"]})
    assert ended.next_event() is None
    ended.close()


def test_event_stream_through_nginx_is_not_buffered(server, applier, tmp_path):
    run = start_run(server.port)
    with Nginx(server.port, tmp_path) as proxy:
        stream = Stream(proxy.port, run["run_id"])
        try:
            # each arrives while the stream is still open: nothing waits in a buffer
            assert json.loads(stream.next_event()["data"])["status"] == "PENDING"
            assert stream.next() == {"comment": "heartbeat"}
            apply(applier, run, "SUCCEEDED")
            assert json.loads(stream.next_event()["data"])["status"] == "SUCCEEDED"
            assert stream.next_event() is None
        finally:
            stream.close()
        status, _, body = call(proxy.port, "GET", f"/v1/runs/{run['run_id']}?wait=5", None,
                               auth())
        assert status == 200 and json.loads(body)["status"] == "SUCCEEDED"


def test_nginx_gives_waiting_requests_time():
    """A long poll holds up to 60 s: nginx must not cut it (or a stream between
    heartbeats) at the 35 s of ordinary requests."""
    import re

    from tests.integration.test_serving_edge import NGINX_CONF

    conf = NGINX_CONF.read_text()
    for location in (r"^/v1/runs/[^/]+/events$", r"^/v1/runs/[^/]+$"):
        block = conf[conf.index(f"location ~ {location} {{"):]
        block = block[: block.index("}")]
        timeout = int(re.search(r"proxy_read_timeout (\d+)s;", block).group(1))
        assert timeout > 60, location
    events = conf[conf.index("location ~ ^/v1/runs/[^/]+/events$"):]
    assert "proxy_buffering off;" in events[: events.index("}")]


@pytest.fixture
def small_server(postgres_url, redis_url, tmp_path):
    env = server_env(postgres_url, redis_url, API_WORKERS="1", API_THREADS="1",
                     WAIT_MAX_WAITERS="2")
    with GunicornServer(env, tmp_path) as gunicorn:
        gunicorn.wait_healthy(workers=1)
        yield gunicorn


def test_waiters_over_the_cap_are_503_and_ordinary_requests_keep_their_thread(small_server):
    """One ordinary thread, two waiters: both waiters parked, the ordinary thread still
    serves, and a third waiter is refused at once with Retry-After."""
    port = small_server.port
    run = start_run(port)
    path = f"/v1/runs/{run['run_id']}?wait=15"
    with ThreadPoolExecutor(2) as pool:
        parked = [pool.submit(call, port, "GET", path, None, auth(), 30) for _ in range(2)]
        wait_parked(port, 2)
        started = time.monotonic()
        status, _, _ = call(port, "GET", f"/v1/runs/{run['run_id']}", None, auth())
        # served by the ordinary thread (the waiters hold theirs for 15 s)
        assert status == 200 and time.monotonic() - started < 5
        assert start_run(port)["run_id"]  # POST too
        status, headers, body = call(port, "GET", path, None, auth())
        assert status == 503 and headers["retry-after"] == "5"
        assert "WAIT_MAX_WAITERS" in json.loads(body)["detail"]
        assert not any(f.done() for f in parked)
        assert all(f.result()[0] == 200 for f in parked)


def test_a_graceful_stop_answers_the_waiters_at_once(small_server):
    """SIGTERM: a long poll answers with the run as it is, a stream ends; neither holds
    the stop up for its remaining time."""
    import os
    import signal

    port = small_server.port
    run = start_run(port)
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(call, port, "GET", f"/v1/runs/{run['run_id']}?wait=30", None,
                              auth(), 40)
        stream = Stream(port, run["run_id"], timeout=40)
        assert json.loads(stream.next_event()["data"])["status"] == "PENDING"
        wait_parked(port, 2)
        stopped_at = time.monotonic()
        os.killpg(small_server.pid, signal.SIGTERM)
        status, _, body = polling.result(timeout=25)  # well before the 30 s it asked for
        assert status == 200 and json.loads(body)["status"] == "PENDING"
        assert stream.next_event() is None  # ended, not cut mid-event
        stream.close()
        small_server.proc.wait(20)
    assert time.monotonic() - stopped_at < 25
