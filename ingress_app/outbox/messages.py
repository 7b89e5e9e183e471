"""Messages to the orchestrator as outbox rows.

Every message is a JSON envelope with `schema_version`, `type` and `message_id`;
the Kafka key is the run id and the headers carry `correlation_id`, `tenant_id`
and `type`. The JSON Schemas in `docs/schemas/` describe them (see docs/messages.md).
"""

from __future__ import annotations

import threading
from typing import Any

from ..ids import new_id
from ..jsonutil import dumps_str

SCHEMA_VERSION = 1
RUN_REQUESTED = "flow_run.requested"
CANCEL_REQUESTED = "flow_run.cancel_requested"

# librdkafka refuses a message whose record would exceed `message.max.bytes`: value,
# key and headers plus the record's framing, at most 36 bytes (its
# RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD), and two length varints of up to 5 bytes per header.
RECORD_OVERHEAD = 36
HEADER_OVERHEAD = 10


def message_size(row: dict[str, Any], payload_bytes: int | None = None) -> int:
    """The most bytes librdkafka counts for an outbox row's record (`outbox_row`'s shape)."""
    if payload_bytes is None:
        payload_bytes = len(row["payload"].encode())
    size = RECORD_OVERHEAD + payload_bytes + len((row.get("key") or "").encode())
    for name, value in (row.get("headers") or {}).items():
        size += HEADER_OVERHEAD + len(name.encode()) + len(str(value).encode())
    return size


def oversized(row: dict[str, Any], limit: int) -> int | None:
    """The row's record size if it exceeds `limit` bytes, else None.

    Checked against `KAFKA_MAX_MESSAGE_BYTES` before a run is stored, so that every
    stored message can be produced. UTF-8 takes at most 4 bytes a character, so most
    payloads are bounded without encoding them.
    """
    if message_size(row, 4 * len(row["payload"])) <= limit:
        return None
    size = message_size(row)
    return size if size > limit else None


def outbox_row(
    *,
    topic: str,
    message_type: str,
    run_id: str,
    correlation_id: str,
    tenant_id: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Build the outbox row for one message; `body` holds the type-specific fields."""
    message_id = new_id()
    envelope = {
        "schema_version": SCHEMA_VERSION,
        "type": message_type,
        "message_id": message_id,
        "run_id": run_id,
        "correlation_id": correlation_id,
        "tenant_id": tenant_id,
        **body,
    }
    return {
        "message_id": message_id,
        "topic": topic,
        "key": run_id,
        "headers": {"correlation_id": correlation_id, "tenant_id": tenant_id, "type": message_type},
        "payload": dumps_str(envelope),
    }


class OutboxSignal:
    """Wakes this process's relay right after a commit, so publishing starts at once."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        if not self._event.is_set():  # already set: the relay has not woken yet
            self._event.set()

    def wait(self, timeout: float) -> bool:
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke


signal = OutboxSignal()
