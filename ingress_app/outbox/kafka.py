"""librdkafka settings from the service configuration.

Security settings pass straight through: `KAFKA_SECURITY_PROTOCOL`,
`KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`,
`KAFKA_SSL_CA_LOCATION`; and any librdkafka property can be given as an environment
variable `KAFKA_RDKAFKA_<NAME>` with dots written as underscores
(`KAFKA_RDKAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=none`).
"""

from __future__ import annotations

import os
from typing import Any

_PASSTHROUGH = {
    "KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "KAFKA_SASL_USERNAME": "sasl.username",
    "KAFKA_SASL_PASSWORD": "sasl.password",
    "KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
}
RDKAFKA_PREFIX = "KAFKA_RDKAFKA_"


def client_config(config: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings every Kafka client shares: bootstrap servers and security."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {"bootstrap.servers": config["KAFKA_BOOTSTRAP_SERVERS"]}
    for name, key in _PASSTHROUGH.items():
        value = config.get(name) or environ.get(name)
        if value:
            settings[key] = value
    for name, value in environ.items():
        if name.startswith(RDKAFKA_PREFIX) and value:
            settings[name[len(RDKAFKA_PREFIX) :].lower().replace("_", ".")] = value
    return settings


def producer_config(config: dict[str, Any]) -> dict[str, Any]:
    """An idempotent, acks=all producer: retries never duplicate or reorder a message."""
    return {
        # The size every accepted run was checked against (librdkafka's floor is 1000).
        "message.max.bytes": max(int(config.get("KAFKA_MAX_MESSAGE_BYTES", 1_000_000)), 1000),
        **client_config(config),
        "client.id": "ingress-outbox-relay",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
        # Each message gets a final delivery report within this time; the relay waits for it.
        "message.timeout.ms": int(config["OUTBOX_DELIVERY_TIMEOUT_SECONDS"] * 1000),
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.max.ms": 2000,
    }


def consumer_config(config: dict[str, Any]) -> dict[str, Any]:
    """A consumer-group member that commits offsets only after the database write."""
    return {
        # A subscribed topic that does not exist yet (the consumer started before anything
        # was published) is found at the next metadata refresh: 10 s, not librdkafka's 5 min.
        "topic.metadata.refresh.interval.ms": 10000,
        **client_config(config),
        "group.id": config["KAFKA_CONSUMER_GROUP"],
        "client.id": "ingress-run-events",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": int(config.get("KAFKA_SESSION_TIMEOUT_MS", 10000)),
        "heartbeat.interval.ms": int(config.get("KAFKA_HEARTBEAT_INTERVAL_MS", 1000)),
    }
