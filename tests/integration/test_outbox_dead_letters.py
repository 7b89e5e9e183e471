"""One message Kafka refuses never holds the others back.

An oversized row (written straight into `outbox_messages`, past the 413 at the door,
as a row from before the limit or from another writer would be) sits among ten
accepted runs: the ten reach the topic exactly once, the oversized one is
dead-lettered with its error, the relay keeps running, `/health` warns and the metric
counts it; `outbox failed` lists it and `outbox retry` requeues it after a fix.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from ingress_app.db_types import utcnow
from ingress_app.outbox.relay import OutboxRelay
from tests.conftest import auth
from tests.integration.test_kafka_delivery import create_runs, pending_count, wait_until
from tests.support.kafka import consume_all

pytestmark = pytest.mark.kafka

# Big messages need a consumer that fetches them.
BIG_FETCH = {"fetch.max.bytes": 10_000_000, "receive.message.max.bytes": 20_000_000}


def insert_oversized(pg, topic: str, size: int = 1_100_000) -> tuple[int, str]:
    run_id = str(uuid.uuid4())
    envelope = {
        "schema_version": 1,
        "type": "flow_run.requested",
        "message_id": str(uuid.uuid4()),
        "run_id": run_id,
        "tenant_id": "acme",
        "input": {"text": "x" * size},
    }
    row = pg.execute(
        "INSERT INTO outbox_messages (message_id, topic, key, headers, payload, created_at, "
        "attempts) VALUES (%s, %s, %s, %s, %s, %s, 0) RETURNING id",
        (
            envelope["message_id"],
            topic,
            run_id,
            json.dumps({"tenant_id": "acme", "type": "flow_run.requested"}),
            json.dumps(envelope),
            utcnow(),
        ),
    ).fetchone()
    return row["id"], run_id


def dead_row(pg, row_id: int) -> dict:
    return pg.execute(
        "SELECT published_at, failed_at, attempts, last_error, next_attempt_at "
        "FROM outbox_messages WHERE id = %s",
        (row_id,),
    ).fetchone()


def metric(client, name: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


DEAD_TOO_LARGE = 'ingress_outbox_dead_lettered_total{error="MSG_SIZE_TOO_LARGE"}'


def test_an_oversized_message_is_dead_lettered_and_the_others_go_out_once(
    kafka_app, kafka_broker, kafka_topics, pg
):
    client = kafka_app.test_client()
    topic = kafka_topics[0]
    run_ids = create_runs(client, 5)
    dead_id, dead_run = insert_oversized(pg, topic)
    run_ids += create_runs(client, 5)
    dead_before = metric(client, DEAD_TOO_LARGE)
    assert client.get("/health").get_json()["checks"]["outbox"]["status"] == "pass"

    relay = OutboxRelay(kafka_app).start()  # one batch holds all eleven
    try:
        assert wait_until(lambda: dead_row(pg, dead_id)["failed_at"] is not None, 20)
        assert wait_until(lambda: pending_count(pg) == 1, 20)  # only the dead one

        messages = consume_all(kafka_broker.bootstrap, topic, expected=11, timeout=4)
        assert sorted(m.key().decode() for m in messages) == sorted(run_ids)  # once each

        row = dead_row(pg, dead_id)
        assert row["published_at"] is None and row["next_attempt_at"] is None
        assert row["attempts"] == 1
        assert "MSG_SIZE_TOO_LARGE" in row["last_error"]

        # the relay is still running: a new run goes out
        [later] = create_runs(client, 1)
        assert wait_until(lambda: pending_count(pg) == 1, 10)
        later_messages = consume_all(kafka_broker.bootstrap, topic, expected=12, timeout=4)
        assert sorted(m.key().decode() for m in later_messages) == sorted([*run_ids, later])

        health = client.get("/health", headers=auth()).get_json()
        assert health["status"] == "warn"
        assert health["checks"]["outbox"]["status"] == "warn"
        assert health["checks"]["outbox"]["failed"] == 1
        assert health["checks"]["outbox"]["pending"] == 0
        assert "outbox failed" in health["checks"]["outbox"]["output"]
        assert metric(client, DEAD_TOO_LARGE) == dead_before + 1
        assert metric(client, "ingress_outbox_failed") == 1
        assert metric(client, "ingress_outbox_pending") == 0
        assert relay.dead_total == 1
    finally:
        relay.stop()

    listed = kafka_app.test_cli_runner().invoke(args=["outbox", "failed"])
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    assert line.startswith(f"{dead_id}\t")
    assert "tenant=acme" in line and f"run={dead_run}" in line
    assert "attempts=1" in line and "MSG_SIZE_TOO_LARGE" in line and "failed_at=" in line


def test_retry_requeues_a_dead_message_which_goes_out_after_the_fix(
    kafka_app, kafka_broker, kafka_topics, pg
):
    topic = kafka_topics[0]
    dead_id, dead_run = insert_oversized(pg, topic)
    assert OutboxRelay(kafka_app).publish_batch() == 0
    assert dead_row(pg, dead_id)["failed_at"] is not None
    runner = kafka_app.test_cli_runner()

    # unchanged, a retry is refused again (and counted as a second attempt)
    assert runner.invoke(args=["outbox", "retry", str(dead_id)]).output == "requeued: 1\n"
    assert dead_row(pg, dead_id)["failed_at"] is None
    assert OutboxRelay(kafka_app).publish_batch() == 0
    assert dead_row(pg, dead_id)["attempts"] == 2
    assert dead_row(pg, dead_id)["failed_at"] is not None

    # the operator's fix: the broker takes bigger messages, and so may we
    kafka_app.config["KAFKA_MAX_MESSAGE_BYTES"] = 2_000_000
    retried = runner.invoke(args=["outbox", "retry", "--all"])
    assert retried.exit_code == 0 and retried.output == "requeued: 1\n"
    assert OutboxRelay(kafka_app).publish_batch() == 1

    row = dead_row(pg, dead_id)
    assert row["published_at"] is not None and row["failed_at"] is None
    [message] = consume_all(kafka_broker.bootstrap, topic, expected=1, config=BIG_FETCH)
    assert message.key().decode() == dead_run
    assert runner.invoke(args=["outbox", "failed"]).output == "no dead-lettered messages\n"
    health = kafka_app.test_client().get("/health").get_json()
    assert health["checks"]["outbox"]["status"] == "pass"


def test_retry_of_a_message_that_is_not_dead_says_so(kafka_app, pg):
    create_runs(kafka_app.test_client(), 1)
    pending_id = pg.execute("SELECT id FROM outbox_messages").fetchone()["id"]
    runner = kafka_app.test_cli_runner()

    result = runner.invoke(args=["outbox", "retry", str(pending_id), "999999"])

    assert result.exit_code != 0
    assert "requeued: 0" in result.output
    assert f"{pending_id}, 999999" in result.output
    assert runner.invoke(args=["outbox", "retry"]).exit_code != 0  # neither ids nor --all
    assert pending_count(pg) == 1


def test_relay_keeps_publishing_across_batches_past_a_dead_message(
    kafka_app, kafka_broker, kafka_topics, pg
):
    """With batches of 3, the dead row is claimed once and never again."""
    topic = kafka_topics[0]
    dead_id, _ = insert_oversized(pg, topic)
    run_ids = create_runs(kafka_app.test_client(), 7)
    relay = OutboxRelay(kafka_app)

    delivered = [relay.publish_batch(limit=3) for _ in range(4)]

    assert delivered == [2, 3, 2, 0]
    messages = consume_all(kafka_broker.bootstrap, topic, expected=8, timeout=4)
    assert sorted(m.key().decode() for m in messages) == sorted(run_ids)
    assert dead_row(pg, dead_id)["attempts"] == 1


def test_relay_once_drains_past_a_batch_of_only_dead_messages(
    kafka_app, kafka_broker, kafka_topics, pg
):
    kafka_app.config["OUTBOX_BATCH_SIZE"] = 1
    topic = kafka_topics[0]
    dead_id, _ = insert_oversized(pg, topic)  # the first batch: nothing delivered
    run_ids = create_runs(kafka_app.test_client(), 3)

    result = kafka_app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])

    assert result.exit_code == 0, result.output
    assert "published: 3" in result.output
    assert pending_count(pg) == 1 and dead_row(pg, dead_id)["failed_at"] is not None
    messages = consume_all(kafka_broker.bootstrap, topic, expected=4, timeout=4)
    assert sorted(m.key().decode() for m in messages) == sorted(run_ids)
