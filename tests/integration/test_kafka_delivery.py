"""Outbox → Kafka: every accepted run reaches the broker, once, even across an outage."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ingress_app.outbox.relay import OutboxRelay
from tests.conftest import auth, sample_flow
from tests.support.kafka import consume_all

pytestmark = pytest.mark.kafka


def create_runs(client, count: int, tenant: str = "acme") -> list[str]:
    headers = auth(tenant)
    ids = []
    for i in range(count):
        response = client.post(
            "/v1/runs", json={"flow_definition": sample_flow(), "input": {"i": i}}, headers=headers
        )
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["run_id"])
    return ids


def pending_count(pg) -> int:
    return pg.execute(
        "SELECT count(*) AS n FROM outbox_messages WHERE published_at IS NULL"
    ).fetchone()["n"]


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_created_run_is_published_with_envelope_key_and_headers(kafka_app, kafka_broker, kafka_topics, pg):
    client = kafka_app.test_client()
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow(), "input": {"q": "hi"}, "request_id": "r-1"},
        headers={**auth("acme", "alice"), "X-Correlation-ID": "corr-9"},
    )
    run_id = response.get_json()["run_id"]

    assert OutboxRelay(kafka_app).publish_batch() == 1

    [message] = consume_all(kafka_broker.bootstrap, kafka_topics[0], expected=1)
    assert message.key() == run_id.encode()
    assert dict(message.headers()) == {
        "correlation_id": b"corr-9",
        "tenant_id": b"acme",
        "type": b"flow_run.requested",
    }
    envelope = json.loads(message.value())
    assert envelope["type"] == "flow_run.requested"
    assert envelope["run_id"] == run_id
    assert envelope["correlation_id"] == "corr-9"
    assert envelope["tenant_id"] == "acme" and envelope["user_id"] == "alice"
    assert envelope["request_id"] == "r-1"
    assert envelope["input"] == {"q": "hi"}
    assert envelope["flow_definition"]["id"] == "support-triage"
    row = pg.execute("SELECT published_at, message_id FROM outbox_messages").fetchone()
    assert row["published_at"] is not None
    assert row["message_id"] == envelope["message_id"]


def test_each_run_is_published_exactly_once(kafka_app, kafka_broker, kafka_topics, pg):
    run_ids = create_runs(kafka_app.test_client(), 5)
    relay = OutboxRelay(kafka_app)

    assert relay.publish_batch() == 5
    assert relay.publish_batch() == 0

    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], expected=6, timeout=4)
    assert sorted(m.key().decode() for m in messages) == sorted(run_ids)
    assert pending_count(pg) == 0


def test_broker_outage_loses_nothing(kafka_app, kafka_broker, kafka_topics, pg):
    if kafka_broker.proxy is None:
        pytest.skip("needs the test-controlled proxy in front of tansu")
    client = kafka_app.test_client()
    relay = OutboxRelay(kafka_app).start()  # what each gunicorn worker runs
    try:
        create_runs(client, 3)
        assert wait_until(lambda: pending_count(pg) == 0, 15)

        kafka_broker.proxy.cut()
        run_ids = create_runs(client, 200)  # every one accepted while the broker is away
        time.sleep(1)
        assert pending_count(pg) > 0
        health = client.get("/health", headers=auth()).get_json()
        assert health["status"] == "warn"
        assert health["checks"]["kafka"]["status"] == "warn"
        assert health["checks"]["outbox"]["pending"] > 0
        metrics = client.get("/metrics").get_data(as_text=True)
        backlog = next(
            line for line in metrics.splitlines() if line.startswith("ingress_outbox_pending ")
        )
        assert float(backlog.split()[1]) > 0

        kafka_broker.proxy.restore()
        assert wait_until(lambda: pending_count(pg) == 0, 60, interval=0.25)
    finally:
        kafka_broker.proxy.restore()
        relay.stop()

    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], expected=203, timeout=30)
    keys = [m.key().decode() for m in messages]
    assert set(run_ids) <= set(keys)
    assert len(keys) == 203


def test_two_relays_in_parallel_publish_each_row_once(kafka_app, kafka_broker, kafka_topics, pg):
    run_ids = create_runs(kafka_app.test_client(), 120)
    relays = [OutboxRelay(kafka_app), OutboxRelay(kafka_app)]
    counts = [0, 0]

    def drain(index: int) -> None:
        while (n := relays[index].publish_batch(limit=10)) > 0:
            counts[index] += n

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(counts) == 120
    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], expected=121, timeout=5)
    message_ids = [json.loads(m.value())["message_id"] for m in messages]
    assert len(message_ids) == 120 == len(set(message_ids))
    assert sorted(m.key().decode() for m in messages) == sorted(run_ids)


def test_cancel_message_follows_the_run_on_the_same_key(kafka_app, kafka_broker, kafka_topics):
    client = kafka_app.test_client()
    [run_id] = create_runs(client, 1)
    assert client.post(f"/v1/runs/{run_id}/cancel", headers=auth()).status_code == 202

    OutboxRelay(kafka_app).publish_batch()

    messages = consume_all(kafka_broker.bootstrap, kafka_topics[0], expected=2)
    assert [json.loads(m.value())["type"] for m in messages] == [
        "flow_run.requested",
        "flow_run.cancel_requested",
    ]
    assert {m.key().decode() for m in messages} == {run_id}


def test_outbox_status_command_shows_backlog(kafka_app):
    create_runs(kafka_app.test_client(), 2)

    result = kafka_app.test_cli_runner().invoke(args=["outbox", "status"])

    assert result.exit_code == 0
    assert "pending: 2" in result.output
    assert "oldest pending age:" in result.output


def test_relay_command_once_publishes_pending(kafka_app, kafka_broker, kafka_topics, pg):
    create_runs(kafka_app.test_client(), 3)

    result = kafka_app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])

    assert result.exit_code == 0, result.output
    assert "published: 3" in result.output
    assert pending_count(pg) == 0


def test_prune_removes_only_old_published_rows(kafka_app, pg):
    create_runs(kafka_app.test_client(), 3)
    OutboxRelay(kafka_app).publish_batch()
    pg.execute(
        "UPDATE outbox_messages SET published_at = now() - interval '48 hours' "
        "WHERE id = (SELECT min(id) FROM outbox_messages)"
    )
    create_runs(kafka_app.test_client(), 1)  # pending: never pruned

    assert OutboxRelay(kafka_app).prune() == 1

    rows = pg.execute("SELECT published_at FROM outbox_messages").fetchall()
    assert len(rows) == 3
    assert sum(r["published_at"] is None for r in rows) == 1


def test_a_lone_commit_is_published_at_once_and_a_stream_in_spaced_batches(
    kafka_app, kafka_broker, kafka_topics, pg
):
    kafka_app.config["OUTBOX_BATCH_SPACING_MS"] = 300
    client = kafka_app.test_client()
    relay = OutboxRelay(kafka_app)
    batches: list[int] = []
    publish_batch = relay.publish_batch

    def counted(limit=None):
        delivered = publish_batch(limit)
        if delivered:
            batches.append(delivered)
        return delivered

    relay.publish_batch = counted
    relay.start()
    try:
        create_runs(client, 1)  # the broker connection is made: later timings are the relay's
        assert wait_until(lambda: pending_count(pg) == 0, 15, interval=0.01)
        time.sleep(0.5)  # quiet: the last batch started more than the spacing ago

        started = time.monotonic()
        create_runs(client, 1)
        assert wait_until(lambda: pending_count(pg) == 0, 5, interval=0.005)
        lone = time.monotonic() - started

        batches.clear()
        stream_started = time.monotonic()
        run_ids = []
        for _ in range(40):  # a steady stream: one run every ~30 ms for ~1.2 s
            run_ids += create_runs(client, 1)
            time.sleep(0.03)
        assert wait_until(lambda: pending_count(pg) == 0, 15, interval=0.05)
        stream_seconds = time.monotonic() - stream_started
    finally:
        relay.stop()

    assert lone < 0.25  # not held back by the 300 ms spacing
    assert sum(batches) == 40
    # at most one batch start per 300 ms (plus the first and a final one), not one per run
    assert len(batches) <= stream_seconds / 0.3 + 2, batches
    keys = {m.key().decode() for m in consume_all(
        kafka_broker.bootstrap, kafka_topics[0], expected=42, timeout=10)}
    assert set(run_ids) <= keys
