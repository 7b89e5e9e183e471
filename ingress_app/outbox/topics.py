"""Create the Kafka topics Ingress uses, once, before the relay and the consumer start.

`ensure_topics` asks the broker which topics exist (a metadata request for all topics,
which creates nothing even on brokers that auto-create topics named in a request) and
creates the missing ones through the admin API. Running it again changes nothing:
topics that exist are reported with their partition count and left as they are
(partitions can only be added, and adding them moves keys between partitions, so that
stays a deliberate operator step). Every broker call has a deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .kafka import client_config

log = logging.getLogger(__name__)


class TopicsError(RuntimeError):
    """The broker could not be reached or refused to create a topic."""


@dataclass(frozen=True)
class TopicState:
    name: str
    created: bool
    partitions: int


def ensure_topics(
    config: dict[str, Any],
    topics: list[str],
    *,
    partitions: int,
    replication_factor: int,
    timeout: float,
    topic_config: dict[str, str] | None = None,
) -> list[TopicState]:
    """Create each of `topics` that does not exist; returns every topic's state, in order.

    `replication_factor=-1` leaves it to the broker's `default.replication.factor`;
    `topic_config` (e.g. `min.insync.replicas`) applies to the topics created here.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(
        {
            **client_config(config),
            "client.id": "ingress-init-topics",
            "socket.timeout.ms": int(timeout * 1000),
            "socket.connection.setup.timeout.ms": int(timeout * 1000),
        },
        logger=log,
    )

    def list_topics() -> dict[str, Any]:
        try:
            return admin.list_topics(timeout=timeout).topics
        except KafkaException as exc:
            reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else exc
            raise TopicsError(
                f"cannot reach Kafka (KAFKA_BOOTSTRAP_SERVERS="
                f"{config['KAFKA_BOOTSTRAP_SERVERS']}) within {timeout:g} s: {reason}"
            ) from None

    existing = list_topics()
    missing = [name for name in dict.fromkeys(topics) if name not in existing]
    created: set[str] = set()
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(name, partitions, replication_factor, config=dict(topic_config or {}))
                for name in missing
            ],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                created.add(name)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue  # created by someone else meanwhile: that is what we wanted
                reason = error.str() if error is not None else exc
                raise TopicsError(f"cannot create topic {name!r}: {reason}") from None
            except TimeoutError:
                raise TopicsError(
                    f"creating topic {name!r} took longer than {timeout:g} s"
                ) from None
        existing = list_topics()
    states = []
    for name in dict.fromkeys(topics):
        metadata = existing.get(name)
        states.append(
            TopicState(name, name in created, len(metadata.partitions) if metadata else partitions)
        )
    return states
