"""The door's message size agrees with librdkafka's: whatever it lets through, a producer
with `message.max.bytes` = the limit accepts (librdkafka checks locally, no broker)."""

from __future__ import annotations

import confluent_kafka
import pytest

from ingress_app.outbox.kafka import producer_config
from ingress_app.outbox.messages import message_size, outbox_row, oversized

LIMIT = 5000


def row_with(payload_chars: int, char: str = "x", tenant: str = "acme") -> dict:
    return outbox_row(
        topic="flow_runs",
        message_type="flow_run.requested",
        run_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        correlation_id="c" * 36,
        tenant_id=tenant,
        body={"input": {"t": char * payload_chars}},
    )


@pytest.fixture
def producer():
    # Nothing listens on port 9: produce() still checks the size, locally.
    config = producer_config(
        {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "KAFKA_MAX_MESSAGE_BYTES": LIMIT,
         "OUTBOX_DELIVERY_TIMEOUT_SECONDS": 1}
    )
    made = confluent_kafka.Producer({**config, "log_level": 0})
    yield made
    made.purge()
    made.flush(0)


def produces(producer, row: dict) -> bool:
    try:
        producer.produce(
            row["topic"],
            value=row["payload"].encode(),
            key=row["key"].encode(),
            headers=[(k, v.encode()) for k, v in row["headers"].items()],
        )
        return True
    except confluent_kafka.KafkaException as exc:
        assert exc.args[0].code() == confluent_kafka.KafkaError.MSG_SIZE_TOO_LARGE
        return False


@pytest.mark.parametrize("char", ["x", "é", "€", "🙂"], ids=["1-byte", "2-byte", "3-byte", "4-byte"])
@pytest.mark.parametrize("tenant", ["acme", "t" * 200])
def test_what_the_door_lets_through_librdkafka_produces(producer, char, tenant):
    passed = 0
    for chars in range(0, LIMIT, 3):
        row = row_with(chars, char, tenant)
        if oversized(row, LIMIT) is not None:
            break
        assert produces(producer, row), message_size(row)
        passed += 1
    assert passed  # the limit is reachable
    assert message_size(row) > LIMIT


def test_the_door_is_stricter_than_librdkafka_by_a_few_bytes_a_header_at_most(producer):
    low, high = 0, LIMIT
    while low < high:  # the largest payload librdkafka accepts
        middle = (low + high + 1) // 2
        if produces(producer, row_with(middle)):
            low = middle
        else:
            high = middle - 1

    slack = message_size(row_with(low)) - LIMIT

    # each header's two length varints are counted at 5 bytes each; they take 1 here
    assert 0 < slack <= 8 * len(row_with(0)["headers"])


def test_small_payloads_are_bounded_without_encoding_and_others_measured_exactly():
    assert oversized(row_with(10), LIMIT) is None
    big = row_with(LIMIT)
    assert oversized(big, LIMIT) == message_size(big) > LIMIT
    # two bytes a character: four times the length is over the limit, the exact size not
    accented = row_with(2000, "é")
    assert 4 * len(accented["payload"]) > LIMIT
    assert oversized(accented, LIMIT) is None
