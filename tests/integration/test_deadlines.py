"""Dependencies that stop answering, and connections a database restart left dead.

A TCP proxy the test controls sits in front of the real PostgreSQL (or Redis, or the
broker). Frozen, it plays a server that accepts TCP and acknowledges what is sent but
never answers: calls on connections the app already holds must end at their
client-side deadline with 503 + `Retry-After` (or fall back, for the cache), and the
serving threads must be free again. Cut and restored, it plays a restart: every
connection the app held is dead, and the next request of every serving thread must
still succeed.

Requests run on a fixed set of threads (like gunicorn's), so each thread keeps its own
accept connection between requests, as it does in production.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from ingress_app import dbdeadlines
from ingress_app.extensions import db
from ingress_app.outbox import health as outbox_health
from ingress_app.state import ingress_state
from tests.conftest import JWT_SECRET, auth, sample_flow, truncate_all
from tests.integration.conftest import assert_error, url_with_port
from tests.support.kafka import free_port
from tests.support.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
THREADS = 4
RUN = {"flow_definition": sample_flow(), "input": {}}
NETWORK_TIMEOUT_MS = 1500
# the deadline, plus the watchdog's tick and a loaded machine's scheduling
BOUND = NETWORK_TIMEOUT_MS / 1000 + 1.5


@pytest.fixture
def pg_proxy():
    with TcpProxy("127.0.0.1", 5432) as proxy:
        yield proxy


@pytest.fixture
def serving_threads():
    with ThreadPoolExecutor(THREADS) as pool:
        yield pool


def on_every_thread(pool: ThreadPoolExecutor, call):
    """Run `call()` once on each of the pool's threads at the same time; the results."""
    barrier = threading.Barrier(THREADS, timeout=10)

    def task():
        barrier.wait()  # THREADS tasks waiting together: one per thread
        return threading.get_ident(), call()

    results = [future.result(timeout=60) for future in [pool.submit(task) for _ in range(THREADS)]]
    assert len({ident for ident, _ in results}) == THREADS
    return [result for _, result in results]


def timed(call):
    def run():
        started = time.monotonic()
        response = call()
        return response, time.monotonic() - started

    return run


def create_and_read(client) -> tuple[str, int]:
    """Create a run and read it back: the run id and the read's status."""
    created = client.post("/v1/runs", json=RUN, headers=auth())
    assert created.status_code == 202, created.get_json()
    run_id = created.get_json()["run_id"]
    return run_id, client.get(f"/v1/runs/{run_id}", headers=auth()).status_code


def deadline_app(make_pg_app, postgres_url, proxy, **overrides):
    return make_pg_app(
        DATABASE_URL=url_with_port(postgres_url, proxy.port),
        DB_STATEMENT_TIMEOUT_MS=1000,
        DB_NETWORK_TIMEOUT_MS=NETWORK_TIMEOUT_MS,
        DB_CONNECT_TIMEOUT_SECONDS=1,
        DB_POOL_TIMEOUT_SECONDS=1,
        CACHE_TYPE="NullCache",
        CACHE_NO_NULL_WARNING=True,  # every read goes to PostgreSQL
        **overrides,
    )


def test_a_frozen_database_is_503_within_the_deadline_on_open_connections(
    make_pg_app, postgres_url, pg_proxy, serving_threads, pg
):
    app = deadline_app(make_pg_app, postgres_url, pg_proxy)
    client = app.test_client()
    run_ids = [
        run_id
        for run_id, read in on_every_thread(serving_threads, lambda: create_and_read(client))
        if read == 200
    ]
    # every thread holds its accept connection and the pool holds read connections
    assert pg_proxy.connection_count >= THREADS + 1
    pg_proxy.freeze()

    started = time.monotonic()
    bodies = [{**RUN, "request_id": f"frozen-{n}"} for n in range(THREADS)]
    sent = iter(bodies)
    posts = on_every_thread(
        serving_threads, timed(lambda: client.post("/v1/runs", json=next(sent), headers=auth()))
    )
    reads = iter(run_ids)
    gets = on_every_thread(
        serving_threads, timed(lambda: client.get(f"/v1/runs/{next(reads)}", headers=auth()))
    )
    live = client.get("/health/live")

    for response, elapsed in posts + gets:
        assert_error(response, 503)
        assert int(response.headers["Retry-After"]) > 0
        assert elapsed < BOUND, f"took {elapsed:.2f}s"
    assert live.status_code == 200
    assert time.monotonic() - started < 2 * BOUND + 1

    # A 503 does not say the run was not stored: the statement may have reached the
    # server before it froze. The client's retry with the same key settles it.
    pg_proxy.restore()
    resent = iter(bodies)
    retried = on_every_thread(
        serving_threads, lambda: client.post("/v1/runs", json=next(resent), headers=auth())
    )
    assert [response.status_code for response in retried] == [202] * THREADS
    rows = pg.execute(
        "SELECT request_id FROM flow_runs_audit WHERE request_id LIKE 'frozen-%%'"
    ).fetchall()
    assert sorted(row["request_id"] for row in rows) == sorted(b["request_id"] for b in bodies)
    assert pg.execute("SELECT count(*) AS n FROM outbox_messages").fetchone()["n"] == 2 * THREADS


def test_liveness_answers_while_every_serving_thread_waits_on_a_frozen_database(
    make_pg_app, postgres_url, pg_proxy, serving_threads
):
    app = deadline_app(make_pg_app, postgres_url, pg_proxy)
    client = app.test_client()
    on_every_thread(serving_threads, lambda: create_and_read(client))
    pg_proxy.freeze()

    stuck = [
        serving_threads.submit(timed(lambda: client.post("/v1/runs", json=RUN, headers=auth())))
        for _ in range(THREADS)
    ]
    time.sleep(0.2)  # every serving thread is now inside a database call
    assert not any(future.done() for future in stuck)
    # the pool's threads come free within the deadline and serve the probe
    probe = timed(lambda: client.get("/health/live"))
    live, elapsed = serving_threads.submit(probe).result(timeout=30)

    assert live.status_code == 200
    assert elapsed < BOUND, f"liveness took {elapsed:.2f}s"
    for future in stuck:
        response, took = future.result(timeout=30)
        assert_error(response, 503)
        assert took < BOUND


def test_readiness_fails_within_the_deadline_on_a_frozen_database(
    make_pg_app, postgres_url, pg_proxy
):
    app = deadline_app(make_pg_app, postgres_url, pg_proxy)
    client = app.test_client()
    assert client.get("/health").status_code == 200
    pg_proxy.freeze()

    response, elapsed = timed(lambda: client.get("/health"))()

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["status"] == "fail"
    # the database check's deadline, then the outbox check's new connection (libpq's
    # least connect timeout is 2 s)
    assert elapsed < BOUND + 2, f"took {elapsed:.2f}s"


def test_every_thread_succeeds_right_after_a_database_restart(
    make_pg_app, postgres_url, pg_proxy, serving_threads, pg
):
    # no cache: every read goes to PostgreSQL on a pooled connection
    app = make_pg_app(
        DATABASE_URL=url_with_port(postgres_url, pg_proxy.port),
        CACHE_TYPE="NullCache",
        CACHE_NO_NULL_WARNING=True,
    )
    client = app.test_client()

    def statuses():
        created = client.post("/v1/runs", json=RUN, headers=auth())
        if created.status_code != 202:
            return created.status_code, None
        read = client.get(f"/v1/runs/{created.get_json()['run_id']}", headers=auth())
        return created.status_code, read.status_code

    assert on_every_thread(serving_threads, statuses) == [(202, 200)] * THREADS
    assert pg_proxy.connection_count >= THREADS + 1

    pg_proxy.cut()  # every connection the app holds dies, as in a restart
    pg_proxy.restore()

    assert on_every_thread(serving_threads, statuses) == [(202, 200)] * THREADS
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 2 * THREADS
    assert pg.execute("SELECT count(*) AS n FROM outbox_messages").fetchone()["n"] == 2 * THREADS


@pytest.fixture
def redis_proxy():
    with TcpProxy("127.0.0.1", 6379) as proxy:
        yield proxy


def test_a_frozen_redis_is_skipped_within_its_socket_timeout(
    make_pg_app, redis_url, redis_proxy, serving_threads
):
    proxied = url_with_port(redis_url, redis_proxy.port)
    app = make_pg_app(REDIS_URL=proxied, REDIS_SOCKET_TIMEOUT_SECONDS=0.3)
    client = app.test_client()
    run_id = client.post("/v1/runs", json=RUN, headers=auth()).get_json()["run_id"]
    on_every_thread(serving_threads, lambda: client.get(f"/v1/runs/{run_id}", headers=auth()))
    redis_proxy.freeze()

    reads = on_every_thread(
        serving_threads, timed(lambda: client.get(f"/v1/runs/{run_id}", headers=auth()))
    )
    created, took = timed(lambda: client.post("/v1/runs", json=RUN, headers=auth()))()

    for response, elapsed in reads:
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["run_id"] == run_id
        assert elapsed < 2.0, f"took {elapsed:.2f}s"
    assert created.status_code == 202
    assert took < 2.0
    # the cache is bypassed now: no request waits on Redis any more
    response, elapsed = timed(lambda: client.get(f"/v1/runs/{run_id}", headers=auth()))()
    assert response.status_code == 200
    assert elapsed < 0.3


def test_a_missing_run_on_a_frozen_database_is_503_not_a_hang(make_pg_app, postgres_url, pg_proxy):
    app = deadline_app(make_pg_app, postgres_url, pg_proxy)
    client = app.test_client()
    assert client.get(f"/v1/runs/{uuid.uuid4()}", headers=auth()).status_code == 404
    pg_proxy.freeze()

    response, elapsed = timed(lambda: client.get(f"/v1/runs/{uuid.uuid4()}", headers=auth()))()

    assert_error(response, 503)
    assert elapsed < BOUND


def test_a_slow_statement_is_ended_by_the_server_and_keeps_its_connection(
    make_pg_app, postgres_url, pg_proxy
):
    app = deadline_app(make_pg_app, postgres_url, pg_proxy)
    with app.app_context():
        deadlines = ingress_state(app).db_deadlines
        with db.engine.connect() as conn:
            with pytest.raises(sa_exc.OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(5)"))
            conn.rollback()
            assert conn.execute(text("SELECT 1")).scalar() == 1

    assert deadlines.fired == 0


def test_a_call_left_armed_is_never_cut_once_its_connection_is_idle(postgres_url):
    deadlines = dbdeadlines.CallDeadlines(0.3)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        deadlines.arm(conn)  # as for a commit: no "after" hook disarms it
        conn.execute("SELECT 1")
        time.sleep(1.0)

        assert conn.execute("SELECT 2").fetchone() == (2,)
    assert deadlines.fired == 0


def test_after_a_cut_calls_get_a_short_deadline_until_one_is_answered(postgres_url, pg_proxy):
    deadlines = dbdeadlines.CallDeadlines(1.0)
    url = url_with_port(postgres_url, pg_proxy.port)
    with psycopg.connect(url, autocommit=True) as frozen, psycopg.connect(url) as other:
        pg_proxy.freeze()
        deadlines.arm(frozen)
        with pytest.raises(psycopg.OperationalError):
            frozen.execute("SELECT 1")
        assert deadlines.disarm(frozen, answered=False) is True

        deadlines.arm(other)  # suspect: a tenth of the deadline (at least 0.2 s)
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            other.execute("SELECT 1")
        assert time.monotonic() - started < 0.7
        deadlines.disarm(other, answered=False)
    pg_proxy.restore()

    with psycopg.connect(url, autocommit=True) as conn:
        deadlines.arm(conn)
        conn.execute("SELECT 1")
        deadlines.disarm(conn)
        deadlines.arm(conn)  # answered again: the whole deadline
        conn.execute("SELECT pg_sleep(0.5)")
        assert deadlines.disarm(conn) is False
    assert deadlines.fired == 2


def test_while_suspect_one_connection_attempt_runs_and_the_others_fail_fast(postgres_url, pg_proxy):
    deadlines = dbdeadlines.CallDeadlines(1.0)  # short deadline: 0.2 s
    url = url_with_port(postgres_url, pg_proxy.port)

    def connect():
        with deadlines.connecting():
            return psycopg.connect(url, autocommit=True, connect_timeout=2)

    pg_proxy.freeze()
    with pytest.raises(psycopg.errors.ConnectionTimeout):
        connect()  # accepted, never answered: the server is suspect now
    with ThreadPoolExecutor(1) as prober:
        probe = prober.submit(connect)
        time.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match="not answering"):
            connect()
        assert time.monotonic() - started < 0.6
        with pytest.raises(psycopg.errors.ConnectionTimeout):
            probe.result(timeout=10)
    pg_proxy.restore()

    with ThreadPoolExecutor(3) as pool:  # the first success lets the others through
        conns = list(pool.map(lambda _: connect(), range(3)))
    for conn in conns:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.close()


def _http(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 20):
    """One request on its own connection: (status, headers, seconds taken)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json", **auth()} if body is not None else {}
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders()), time.monotonic() - started
    finally:
        conn.close()


@pytest.mark.slow
def test_under_gunicorn_liveness_keeps_answering_while_clients_hit_a_frozen_database(
    postgres_url, redis_url, pg_proxy, tmp_path
):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url_with_port(postgres_url, pg_proxy.port),
        "DB_STATEMENT_TIMEOUT_MS": "1000",
        "DB_NETWORK_TIMEOUT_MS": str(NETWORK_TIMEOUT_MS),
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": JWT_SECRET,
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "API_WORKERS": "1",
        "API_THREADS": "2",
        "OUTBOX_RELAY_ENABLED": "false",
        "LOG_LEVEL": "ERROR",
        "INGRESS_INSTANCE_PATH": str(tmp_path / "instance"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    body = json.dumps(RUN).encode()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _http(port, "GET", "/health/live", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        with ThreadPoolExecutor(4) as warm:  # both serving threads get their connections
            statuses = list(warm.map(lambda _: _http(port, "POST", "/v1/runs", body)[0], range(8)))
        assert statuses == [202] * 8
        pg_proxy.freeze()

        stop = threading.Event()
        answers: list[tuple[int, dict, float]] = []

        def client():
            while not stop.is_set():
                answers.append(_http(port, "POST", "/v1/runs", body))

        probes = []
        with ThreadPoolExecutor(6) as clients:
            for _ in range(6):
                clients.submit(client)
            time.sleep(0.5)
            for _ in range(8):
                probes.append(_http(port, "GET", "/health/live", timeout=20))
                time.sleep(0.5)
            stop.set()

        assert [status for status, _, _ in probes] == [200] * len(probes)
        assert max(took for _, _, took in probes) < BOUND, probes
        assert answers and {status for status, _, _ in answers} == {503}
        assert all(int(headers["Retry-After"]) > 0 for _, headers, _ in answers)

        pg_proxy.restore()
        assert _http(port, "POST", "/v1/runs", body)[0] == 202
    finally:
        pg_proxy.restore()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        truncate_all(postgres_url)


@pytest.mark.kafka
def test_a_frozen_broker_makes_readiness_warn_within_its_timeout(kafka_app, kafka_broker):
    if kafka_broker.proxy is None:
        pytest.skip("needs the test-controlled proxy in front of tansu")
    client = kafka_app.test_client()
    outbox_health._last.update(at=0.0)  # no probe result kept from an earlier test
    kafka_broker.proxy.freeze()
    try:
        response, elapsed = timed(lambda: client.get("/health", headers=auth()))()
    finally:
        kafka_broker.proxy.restore()

    assert response.status_code == 200
    check = response.get_json()["checks"]["kafka"]
    assert check["status"] == "warn"
    assert "unreachable" in check["output"]
    assert elapsed < 3.0, f"took {elapsed:.2f}s"
