"""`events consume` against a real broker: events applied, junk skipped, offsets committed."""

from __future__ import annotations

import json
import uuid

import confluent_kafka
import pytest

from ingress_app.runs.consumer import RunEventConsumer
from tests.conftest import auth, sample_flow

pytestmark = pytest.mark.kafka


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(10) == 0


def event(run_id: str, status: str, tenant: str = "acme", **extra) -> bytes:
    body = {
        "event_id": extra.pop("event_id", str(uuid.uuid4())),
        "run_id": run_id,
        "tenant_id": tenant,
        "status": status,
        "occurred_at": "2026-11-27T10:00:00+00:00",
        **extra,
    }
    return json.dumps(body).encode()


def test_consumer_applies_events_skips_junk_and_commits(kafka_app, kafka_broker, kafka_topics, pg):
    client = kafka_app.test_client()
    run_id = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth()
    ).get_json()["run_id"]
    assert client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()["status"] == "PENDING"
    duplicate_id = str(uuid.uuid4())
    values = [
        b"not json at all",
        event(run_id, "RUNNING", event_id=duplicate_id),
        event(run_id, "RUNNING", event_id=duplicate_id),  # redelivery
        json.dumps({"run_id": run_id}).encode(),  # missing fields
        event(str(uuid.uuid4()), "RUNNING"),  # unknown run
        event(run_id, "SUCCEEDED", tenant="someone-else"),  # wrong tenant
        event(run_id, "RUNNING", task_id="classify"),
        event(run_id, "SUCCEEDED", task_id="classify", output={"label": "billing"}),
        event(run_id, "SUCCEEDED", output={"answer": 42}),
        event(run_id, "RUNNING"),  # after a terminal state: ignored
    ]
    produce(kafka_broker.bootstrap, kafka_topics[1], values)

    counts = RunEventConsumer(kafka_app).run(max_messages=len(values), poll_timeout=0.5)

    assert counts == {"invalid": 3, "applied": 4, "duplicate": 1, "unknown_run": 1, "ignored": 1}
    run = client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()
    assert run["status"] == "SUCCEEDED"
    assert run["output"] == {"answer": 42}
    assert run["tasks"]["classify"]["status"] == "SUCCEEDED"
    assert run["tasks"]["classify"]["output"] == {"label": "billing"}
    stored = pg.execute("SELECT count(*) AS n FROM run_events WHERE run_id = %s", (run_id,)).fetchone()
    assert stored["n"] == 5  # applied + ignored, each kept once

    # Offsets were committed: a new member of the group has nothing left to read.
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": kafka_broker.bootstrap, "group.id": kafka_app.config["KAFKA_CONSUMER_GROUP"]}
    )
    committed = consumer.committed([confluent_kafka.TopicPartition(kafka_topics[1], 0)], timeout=10)
    consumer.close()
    assert committed[0].offset == len(values)


def test_consumer_started_before_its_topic_exists_picks_it_up(
    make_pg_app, kafka_broker, kafka_topics, pg
):
    """A newcomer starts `events consume` before anything was published: the topic appears
    later and its events must still be applied within seconds (metadata refresh 10 s),
    not after librdkafka's default five minutes."""
    import threading
    import time

    topic = f"late-events-{uuid.uuid4().hex[:8]}"
    app = make_pg_app(
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap,
        KAFKA_TOPIC_FLOW_RUNS=kafka_topics[0],
        KAFKA_TOPIC_RUN_EVENTS=topic,
        KAFKA_CONSUMER_GROUP=f"late-{uuid.uuid4().hex[:8]}",
        KAFKA_SESSION_TIMEOUT_MS=6000,
        KAFKA_HEARTBEAT_INTERVAL_MS=500,
    )
    client = app.test_client()
    run_id = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth()
    ).get_json()["run_id"]
    consumer = RunEventConsumer(app)
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(consumer.run(max_messages=1, poll_timeout=0.5)), daemon=True
    )
    thread.start()
    time.sleep(3)  # subscribed to a topic that does not exist yet

    produce(kafka_broker.bootstrap, topic, [event(run_id, "SUCCEEDED")])  # creates it
    thread.join(timeout=45)
    consumer.stop()
    thread.join(timeout=10)

    assert outcome == {"applied": 1}
    assert client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()["status"] == "SUCCEEDED"
