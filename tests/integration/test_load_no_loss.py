"""Load without loss: 2,000 creates through gunicorn while Kafka goes away and a worker dies.

The real serving path — `gunicorn -c gunicorn.conf.py wsgi:app` with in-worker outbox
relays — against PostgreSQL, Redis and tansu behind a proxy the test cuts. Clients
retry failed requests with the same Idempotency-Key, as a well-behaved client would.
Afterwards: runs in PostgreSQL = accepted responses = distinct message_ids on Kafka,
no duplicate runs, and each tenant sees only its own runs.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import JWT_SECRET, key_prefix, make_token, sample_flow
from tests.support.gunicorn import GunicornServer, wait_for
from tests.support.kafka import consume_all

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.usefixtures("emptied_after")]

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 2000
CONNECTIONS = 32
TENANTS = ["acme", "globex", "initech", "umbrella"]


@pytest.fixture
def gunicorn_server(postgres_url, redis_url, kafka_broker, kafka_topics, tmp_path):
    if kafka_broker.proxy is None:
        pytest.skip("needs the test-controlled proxy in front of tansu")
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": key_prefix(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "KAFKA_TOPIC_FLOW_RUNS": kafka_topics[0],
        "JWT_SECRET_KEY": JWT_SECRET,
        "API_WORKERS": "2",
        "API_THREADS": "8",
        "OUTBOX_DELIVERY_TIMEOUT_SECONDS": "3",
    }
    server = GunicornServer(env, tmp_path).start()
    try:
        server.wait_healthy()
        yield {"port": server.port, "pid": server.pid, "log": server.log_path, "proc": server.proc}
    finally:
        kafka_broker.proxy.restore()
        server.stop()


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_two_thousand_creates_survive_kafka_outage_and_worker_kill(
    gunicorn_server, kafka_broker, kafka_topics, pg
):
    port = gunicorn_server["port"]
    tokens = {tenant: make_token(tenant, f"user-{tenant}", expires_in=3600) for tenant in TENANTS}
    jobs = [(TENANTS[i % len(TENANTS)], f"load-{i}-{uuid.uuid4().hex[:8]}", i) for i in range(TOTAL)]
    accepted: dict[str, tuple[str, str]] = {}  # idempotency key -> (tenant, run_id)
    lock = threading.Lock()
    progress = {"done": 0, "retries": 0}
    failures: list[str] = []
    cursor = iter(jobs)

    def client() -> None:
        conn = None
        while True:
            with lock:
                job = next(cursor, None)
            if job is None:
                break
            tenant, key, i = job
            body = json.dumps({"flow_definition": sample_flow(), "input": {"i": i}})
            headers = {
                "Authorization": f"Bearer {tokens[tenant]}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            }
            for attempt in range(120):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("POST", "/v1/runs", body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    if response.status == 202:
                        with lock:
                            accepted[key] = (tenant, json.loads(payload)["run_id"])
                            progress["done"] += 1
                        break
                    assert response.status >= 500, (response.status, payload)
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                with lock:
                    progress["retries"] += 1
                time.sleep(min(0.05 * (attempt + 1), 1.0))
            else:
                failures.append(key)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()

    assert wait_for(lambda: progress["done"] >= 400, 120)
    kafka_broker.proxy.cut()  # Kafka goes away: accepts must continue
    assert wait_for(lambda: progress["done"] >= 900, 120)
    victim = worker_pids(gunicorn_server["pid"])[0]
    os.kill(victim, signal.SIGKILL)  # a worker dies mid-flight; the master replaces it
    assert wait_for(lambda: progress["done"] >= 1400, 120)
    kafka_broker.proxy.restore()
    for thread in threads:
        thread.join(300)
    assert failures == []
    assert progress["done"] == TOTAL

    run_ids = {run_id for _, run_id in accepted.values()}
    assert len(accepted) == TOTAL and len(run_ids) == TOTAL
    rows = pg.execute("SELECT run_id, tenant_id, request_id FROM flow_runs_audit").fetchall()
    assert len(rows) == TOTAL  # no duplicate runs from retries
    assert {r["run_id"] for r in rows} == run_ids
    assert all(accepted[r["request_id"]] == (r["tenant_id"], r["run_id"]) for r in rows)

    def drained() -> bool:
        return pg.execute(
            "SELECT count(*) AS n FROM outbox_messages WHERE published_at IS NULL"
        ).fetchone()["n"] == 0

    assert wait_for(drained, 120, interval=0.5), gunicorn_server["log"].read_text()[-3000:]
    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], timeout=60, idle=3.0)
    envelopes = [json.loads(m.value()) for m in messages]
    message_ids = {e["message_id"] for e in envelopes}
    assert len(message_ids) == TOTAL  # redelivery after the kill may repeat a message_id
    assert {e["run_id"] for e in envelopes} == run_ids

    for tenant in TENANTS:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/runs?limit=100", headers={"Authorization": f"Bearer {tokens[tenant]}"})
        items = json.loads(conn.getresponse().read())["items"]
        conn.close()
        assert items and {item["tenant_id"] for item in items} == {tenant}
        own = sum(1 for r in rows if r["tenant_id"] == tenant)
        assert own == TOTAL // len(TENANTS)


def test_a_graceful_stop_under_load_loses_no_accepted_run(
    gunicorn_server, make_pg_app, kafka_broker, kafka_topics, pg
):
    """SIGTERM to gunicorn while 16 clients create runs: requests in flight finish, every
    202 is a stored run with its message, and the messages all reach Kafka."""
    port = gunicorn_server["port"]
    tenant = f"graceful-{uuid.uuid4().hex[:8]}"  # this test's rows, whatever else is stored
    token = make_token(tenant, "alice", expires_in=3600)
    accepted: dict[str, str] = {}  # idempotency key -> run_id
    unknown: set[str] = set()  # the connection broke after the request was sent
    other: list[tuple[int, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        conn = None
        while not stop.is_set():
            key = f"graceful-{n}-{i}"
            i += 1
            sent = False
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.connect()
                body = json.dumps({"flow_definition": sample_flow(), "input": {"n": n}})
                conn.request("POST", "/v1/runs", body=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                    "Idempotency-Key": key,
                })
                sent = True
                response = conn.getresponse()
                payload = response.read()
                with lock:
                    if response.status == 202:
                        accepted[key] = json.loads(payload)["run_id"]
                    else:
                        other.append((response.status, payload))
            except ConnectionRefusedError:
                break  # the listener is closed: this server is gone
            except (OSError, http.client.HTTPException):
                if sent:
                    with lock:
                        unknown.add(key)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(16)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: len(accepted) >= 300, 60)
    os.kill(gunicorn_server["pid"], signal.SIGTERM)  # what a container stop sends
    assert wait_for(lambda: gunicorn_server["proc"].poll() is not None, 45)
    stop.set()
    for thread in threads:
        thread.join(30)

    assert other == []  # nothing but 202s: no 5xx while shutting down
    rows = pg.execute(
        "SELECT r.run_id, r.request_id, m.message_id FROM flow_runs_audit r "
        "JOIN outbox_messages m ON m.key = r.run_id WHERE r.tenant_id = %s", (tenant,)
    ).fetchall()
    stored = {r["request_id"]: r["run_id"] for r in rows}
    assert all(stored.get(key) == run_id for key, run_id in accepted.items())  # none lost
    assert set(stored) <= set(accepted) | unknown  # nothing stored that no client sent
    assert pg.execute(
        "SELECT count(*) AS n FROM flow_runs_audit WHERE tenant_id = %s", (tenant,)
    ).fetchone()["n"] == len(rows)

    # Whatever the stopping workers' relays had not published, the next relay does.
    from ingress_app.outbox.relay import OutboxRelay

    relay_app = make_pg_app(
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap, KAFKA_TOPIC_FLOW_RUNS=kafka_topics[0],
        OUTBOX_DELIVERY_TIMEOUT_SECONDS=3.0,
    )
    relay = OutboxRelay(relay_app)
    while relay.publish_batch():
        pass
    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], timeout=60, idle=3.0)
    assert {json.loads(m.value())["message_id"] for m in messages} == {
        r["message_id"] for r in rows
    }
