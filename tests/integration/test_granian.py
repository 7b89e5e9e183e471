"""`ingress serve --server granian`: the same app under granian's WSGI interface, its
workers' outbox relays publishing what they accept."""

from __future__ import annotations

import json
import sys
import urllib.request

import pytest

from tests.conftest import JWT_SECRET, auth, sample_flow
from tests.support.gunicorn import GunicornServer
from tests.support.kafka import consume_all

pytest.importorskip("granian")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("emptied_after")]


def _call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers=auth(),
        data=None if body is None else json.dumps(body).encode(),
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_a_run_is_created_read_and_published_under_granian(
    postgres_url, redis_url, kafka_broker, kafka_topics, pg, tmp_path
):
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET_KEY": JWT_SECRET,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "KAFKA_TOPIC_FLOW_RUNS": kafka_topics[0],
        "KAFKA_TOPIC_RUN_EVENTS": kafka_topics[1],
        "API_WORKERS": "2",
        "API_THREADS": "2",
    }
    command = [sys.executable, "-m", "ingress_app", "serve", "--server", "granian"]
    with GunicornServer(env, tmp_path, command=command) as server:
        server.wait_healthy()
        created = [_call(server.port, "POST", "/v1/runs", {"flow_definition": sample_flow()})
                   for _ in range(3)]
        run_id = created[0][1]["run_id"]
        reads = [_call(server.port, "GET", f"/v1/runs/{run_id}") for _ in range(2)]
        messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], expected=3, timeout=30)

    assert [status for status, _ in created] == [202, 202, 202]
    assert [status for status, _ in reads] == [200, 200]
    assert reads[0][1]["run_id"] == run_id and reads[0][1]["status"] == "PENDING"
    assert sorted(m.key().decode() for m in messages) == sorted(b["run_id"] for _, b in created)
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 3


def test_parked_waiters_leave_threads_for_ordinary_requests_under_granian(
    postgres_url, redis_url, tmp_path
):
    """Twice as many long polls as API_THREADS are parked, and ordinary requests are
    still answered at once: granian's pool has a thread per possible waiter."""
    import threading
    import time

    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "JWT_SECRET_KEY": JWT_SECRET,
           "KAFKA_BOOTSTRAP_SERVERS": "", "API_WORKERS": "1", "API_THREADS": "2"}
    command = [sys.executable, "-m", "ingress_app", "serve", "--server", "granian"]
    with GunicornServer(env, tmp_path, command=command) as server:
        server.wait_healthy()
        status, created = _call(server.port, "POST", "/v1/runs", {"flow_definition": sample_flow()})
        assert status == 202
        run_id = created["run_id"]
        answers: list[tuple[int, float]] = []

        def long_poll() -> None:
            started = time.monotonic()
            code, _ = _call(server.port, "GET", f"/v1/runs/{run_id}?wait=6")
            answers.append((code, time.monotonic() - started))

        pollers = [threading.Thread(target=long_poll) for _ in range(4)]
        for poller in pollers:
            poller.start()
        time.sleep(1.5)  # all four parked on the run
        started = time.monotonic()
        reads = [_call(server.port, "GET", f"/v1/runs/{run_id}") for _ in range(5)]
        created_again = _call(server.port, "POST", "/v1/runs", {"flow_definition": sample_flow()})
        ordinary_seconds = time.monotonic() - started
        for poller in pollers:
            poller.join(timeout=15)

    assert [code for code, _ in reads] == [200] * 5 and created_again[0] == 202
    assert ordinary_seconds < 2.0, ordinary_seconds
    # the long polls were really parked while those were answered: none came back early
    assert len(answers) == 4 and all(code == 200 and took >= 5 for code, took in answers)


def test_a_stop_answers_parked_waiters_at_once_under_granian(postgres_url, redis_url, tmp_path):
    """SIGTERM to `ingress serve --server granian` wakes a parked long poll, which answers
    with the run as it is, and the server exits long before the poll's own deadline."""
    import os
    import signal
    import threading
    import time

    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "JWT_SECRET_KEY": JWT_SECRET,
           "KAFKA_BOOTSTRAP_SERVERS": "", "API_WORKERS": "1", "API_THREADS": "2"}
    command = [sys.executable, "-m", "ingress_app", "serve", "--server", "granian"]
    answers: list[tuple[int, dict]] = []
    with GunicornServer(env, tmp_path, command=command) as server:
        server.wait_healthy()
        status, created = _call(server.port, "POST", "/v1/runs", {"flow_definition": sample_flow()})
        assert status == 202
        poller = threading.Thread(target=lambda: answers.append(
            _call(server.port, "GET", f"/v1/runs/{created['run_id']}?wait=50")))
        poller.start()
        time.sleep(1.5)  # parked
        started = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)  # the server process only, as an orchestrator does
        server.proc.wait(30)
        stopped_in = time.monotonic() - started
        poller.join(timeout=10)

    assert stopped_in < 10, stopped_in
    assert answers and answers[0][0] == 200 and answers[0][1]["status"] == "PENDING"
