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
