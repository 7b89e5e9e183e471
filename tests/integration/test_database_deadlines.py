"""Dependencies that stop answering, and connections a database restart left dead.

A TCP proxy the test controls sits in front of the real PostgreSQL (or Redis). Frozen,
it plays a server that accepts TCP and acknowledges what is sent but never answers:
calls on connections the app already holds must end at their client-side deadline
with 503 + `Retry-After`, and the serving threads must be free again. Cut and restored,
it plays a restart: every connection the app held is dead, and the next request of
every serving thread must still succeed.

Requests run on a fixed set of threads (like gunicorn's), so each thread keeps its own
accept connection between requests, as it does in production.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from ingress_app import dbdeadlines
from ingress_app.extensions import db
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, url_with_port
from tests.support.proxy import TcpProxy

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
        deadlines = app.extensions[dbdeadlines.EXTENSION]
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
