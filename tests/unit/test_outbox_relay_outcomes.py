"""Each row of a batch gets its own outcome (SQLite, a scripted producer).

The broker tests (tests/integration/test_outbox_dead_letters.py) show a real
MSG_SIZE_TOO_LARGE; here a stand-in producer answers each message with the delivery
report a broker could give, which tansu cannot be made to give: authorization
failures, timeouts, fatal errors.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import KafkaError, KafkaException

from ingress_app.outbox.relay import PERMANENT_ERRORS, OutboxRelay, retry_delay
from tests.conftest import auth, sample_flow


class ScriptedProducer:
    """Delivers every message, except those whose run id `script` maps to an error;
    `refuse` maps run ids to an error `produce()` raises at once."""

    def __init__(self, script=None, refuse=None):
        self.script = script or {}
        self.refuse = refuse or {}
        self.produced: list[str] = []
        self._reports = []

    def produce(self, topic, value, key, headers, on_delivery):
        run_id = key.decode()
        if run_id in self.refuse:
            raise KafkaException(self.refuse[run_id])
        self.produced.append(run_id)
        self._reports.append((on_delivery, self.script.get(run_id)))

    def flush(self, timeout=None):
        reports, self._reports = self._reports, []
        for on_delivery, error in reports:
            on_delivery(error, None)
        return 0

    def poll(self, timeout=None):
        return 0


def db_rows(app, sql: str, *params):
    path = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///") :]
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def outbox(app) -> dict[str, sqlite3.Row]:
    return {
        row["key"]: row
        for row in db_rows(
            app,
            "SELECT key, published_at, failed_at, next_attempt_at, attempts, last_error "
            "FROM outbox_messages",
        )
    }


@pytest.fixture
def runs(sqlite_app):
    client = sqlite_app.test_client()
    ids = []
    for i in range(4):
        response = client.post(
            "/v1/runs", json={"flow_definition": sample_flow(), "input": {"i": i}}, headers=auth()
        )
        assert response.status_code == 202
        ids.append(response.get_json()["run_id"])
    return ids


def relay_with(app, producer) -> OutboxRelay:
    return OutboxRelay(app, producer=producer)


def test_a_permanent_report_dead_letters_its_row_and_the_rest_is_published(sqlite_app, runs):
    producer = ScriptedProducer({runs[1]: KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)})
    relay = relay_with(sqlite_app, producer)

    assert relay.publish_batch() == 3

    rows = outbox(sqlite_app)
    assert [rows[r]["published_at"] is not None for r in runs] == [True, False, True, True]
    assert rows[runs[1]]["failed_at"] is not None
    assert "TOPIC_AUTHORIZATION_FAILED" in rows[runs[1]]["last_error"]
    assert rows[runs[1]]["attempts"] == 1
    assert relay._producer is producer  # a message's own error keeps the producer
    # the next batch finds nothing: the dead row is not claimed again
    assert relay.publish_batch() == 0 and relay.last_claimed == 0
    assert producer.produced == runs


def test_a_refusal_at_produce_time_does_not_stop_the_batch(sqlite_app, runs):
    refused = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    relay = relay_with(sqlite_app, ScriptedProducer(refuse={runs[0]: refused}))

    assert relay.publish_batch() == 3

    rows = outbox(sqlite_app)
    assert rows[runs[0]]["failed_at"] is not None
    assert "MSG_SIZE_TOO_LARGE" in rows[runs[0]]["last_error"]
    assert all(rows[r]["published_at"] is not None for r in runs[1:])


def test_a_passing_failure_retries_that_row_later_with_backoff(sqlite_app, runs):
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    first = ScriptedProducer({runs[2]: timed_out})
    relay = relay_with(sqlite_app, first)

    assert relay.publish_batch() == 3

    row = outbox(sqlite_app)[runs[2]]
    assert row["published_at"] is None and row["failed_at"] is None
    assert row["attempts"] == 1 and "_MSG_TIMED_OUT" in row["last_error"]
    due = datetime.fromisoformat(row["next_attempt_at"]).replace(tzinfo=UTC)
    assert timedelta(0) < due - datetime.now(UTC) <= timedelta(seconds=retry_delay(1, 60))
    assert relay._producer is None  # replaced after a failed delivery
    # not due yet: the next batch does not send it
    second = ScriptedProducer()
    relay._producer = second
    assert relay.publish_batch() == 0 and second.produced == []
    # once due, it goes out
    db_rows(sqlite_app, "UPDATE outbox_messages SET next_attempt_at = '2000-01-01 00:00:00'")
    assert relay.publish_batch() == 1
    assert second.produced == [runs[2]]
    assert outbox(sqlite_app)[runs[2]]["published_at"] is not None


def test_a_fatal_error_is_the_producers_not_the_messages(sqlite_app, runs):
    fatal = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, fatal=True)
    relay = relay_with(sqlite_app, ScriptedProducer({r: fatal for r in runs}))

    assert relay.publish_batch() == 0

    rows = outbox(sqlite_app)
    assert all(rows[r]["failed_at"] is None and rows[r]["next_attempt_at"] for r in runs)
    assert relay._producer is None


def test_unknown_errors_are_retried_not_dead_lettered(sqlite_app, runs):
    unknown = KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION)
    assert unknown.name() not in PERMANENT_ERRORS
    relay = relay_with(sqlite_app, ScriptedProducer({runs[0]: unknown}))

    relay.publish_batch()

    assert outbox(sqlite_app)[runs[0]]["failed_at"] is None


def test_the_retry_delay_doubles_up_to_the_ceiling():
    assert [retry_delay(n, 60) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_delay(10_000, 60) == 60  # no overflow after a long outage
