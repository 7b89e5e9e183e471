"""Tests of the test-support helpers themselves (TcpProxy, KafkaBroker)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import confluent_kafka
import pytest

from .kafka import KafkaBroker
from .proxy import TcpProxy

# ---------------------------------------------------------------------- helpers


class EchoServer:
    """Tiny threaded TCP echo server."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port = self.sock.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
            t = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone does not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._acceptor.join(5)
        with self._lock:
            for c in self._clients:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(5)


def roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = bytearray()
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return bytes(got)


def assert_dead_quickly(sock: socket.socket, limit: float = 1.0) -> None:
    """The peer must be gone: recv gives an error or EOF at once, not a hang."""
    sock.settimeout(5)
    start = time.monotonic()
    try:
        sock.sendall(b"ping")
        data = sock.recv(100)
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        data = b""
    elapsed = time.monotonic() - start
    assert data == b"", f"connection still alive, got {data!r}"
    assert elapsed < limit, f"took {elapsed:.2f}s to notice the cut"


def assert_new_connection_closed_at_once(port: int, limit: float = 1.0) -> None:
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert_dead_quickly(s, limit)
    except ConnectionError:
        pass  # the reset can win the race against connect() returning: also fine
    assert time.monotonic() - start < limit


@pytest.fixture
def thread_errors() -> Iterator[list[threading.ExceptHookArgs]]:
    """Collect exceptions escaping from threads (there must be none)."""
    errors: list[threading.ExceptHookArgs] = []
    old = threading.excepthook
    threading.excepthook = errors.append
    try:
        yield errors
    finally:
        threading.excepthook = old


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer, thread_errors: list) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", echo.port) as p:
        yield p
    assert not thread_errors


# ------------------------------------------------------------------ TcpProxy


def test_proxy_forwards_bytes(proxy: TcpProxy) -> None:
    assert proxy.port > 0
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        assert roundtrip(s, b"hello") == b"hello"
        big = bytes(range(256)) * 8192  # 2 MiB, exercises back-pressure
        assert roundtrip(s, big) == big


def test_proxy_many_concurrent_connections(proxy: TcpProxy) -> None:
    socks = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(300)]
    try:
        for i, s in enumerate(socks):
            s.sendall(b"msg%d" % i)
        for i, s in enumerate(socks):
            assert s.recv(100) == b"msg%d" % i
        assert proxy.connection_count == 300
        proxy.cut()
        assert proxy.connection_count == 0
        for s in socks:
            assert_dead_quickly(s)
    finally:
        for s in socks:
            s.close()


def test_proxy_half_close_is_forwarded(proxy: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(b"bye")
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b"bye"
        assert s.recv(100) == b""  # echo server closed after our FIN


def test_proxy_cut_and_restore(proxy: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        assert roundtrip(s, b"before") == b"before"
        proxy.cut()
        assert proxy.is_cut
        assert_dead_quickly(s)

    # While cut, new connections are accepted and closed at once.
    for _ in range(3):
        assert_new_connection_closed_at_once(proxy.port)
    assert proxy.rejected == 3

    proxy.restore()
    assert not proxy.is_cut
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        assert roundtrip(s, b"after") == b"after"


def test_proxy_freeze_keeps_connections_open_and_silent_until_restore(proxy: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        assert roundtrip(s, b"before") == b"before"
        proxy.freeze()
        assert proxy.is_frozen
        s.sendall(b"during")  # accepted by the kernel, never answered
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.recv(100)
        # a new connection is accepted too, and is just as silent
        late = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        late.sendall(b"late")
        late.settimeout(0.3)
        with pytest.raises(TimeoutError):
            late.recv(100)
        assert proxy.connection_count == 2

        proxy.restore()
        assert not proxy.is_frozen
        s.settimeout(5)
        late.settimeout(5)
        assert s.recv(100) == b"during"  # what was sent meanwhile is delivered
        assert late.recv(100) == b"late"
        assert roundtrip(s, b"after") == b"after"
        late.close()


def test_proxy_cut_while_frozen_resets_every_connection(proxy: TcpProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        assert roundtrip(s, b"x") == b"x"
        proxy.freeze()
        proxy.cut()
        assert_dead_quickly(s)
    proxy.restore()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        assert roundtrip(s, b"again") == b"again"


def test_proxy_target_down_resets_client(thread_errors: list) -> None:
    # Keep the target port bound but not listening: connects to it are refused,
    # and the proxy's own port 0 bind can't be handed the same port.
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        with TcpProxy("127.0.0.1", dead.getsockname()[1]) as p:
            assert_new_connection_closed_at_once(p.port)
    assert not thread_errors


def test_proxy_stop_closes_everything(echo: EchoServer, thread_errors: list) -> None:
    p = TcpProxy("127.0.0.1", echo.port).start()
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    try:
        assert roundtrip(s, b"x") == b"x"
        p.stop()
        p.stop()  # idempotent
        assert_dead_quickly(s)
        assert not any(t.name == f"TcpProxy-{p.port}" for t in threading.enumerate())
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", p.port), timeout=2).close()
    finally:
        s.close()
    assert not thread_errors


# ------------------------------------------------------------------ KafkaBroker


def _delivery_recorder() -> tuple[list, object]:
    results: list[tuple[confluent_kafka.KafkaError | None, confluent_kafka.Message]] = []

    def on_delivery(err, msg) -> None:  # noqa: ANN001
        results.append((err, msg))

    return results, on_delivery


@pytest.mark.kafka
def test_broker_produce_and_consume_with_headers() -> None:
    with KafkaBroker() as broker:
        assert broker.proxy is None
        assert broker.bootstrap == f"127.0.0.1:{broker.port}"
        broker.create_topic("roundtrip", partitions=1)
        broker.create_topic("roundtrip", partitions=1)  # idempotent

        producer = confluent_kafka.Producer(
            {
                "bootstrap.servers": broker.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": 10000,
            }
        )
        results, on_delivery = _delivery_recorder()
        for i in range(3):
            producer.produce(
                "roundtrip",
                key=f"key-{i}".encode(),
                value=f"value-{i}".encode(),
                headers=[("trace-id", f"t{i}".encode()), ("kind", b"test"), ("empty", None)],
                on_delivery=on_delivery,
            )
        assert producer.flush(10) == 0
        assert [err for err, _ in results] == [None, None, None]

        msgs = broker.consume_all("roundtrip", expected=3, timeout=10)
        assert [m.key() for m in msgs] == [b"key-0", b"key-1", b"key-2"]
        assert [m.value() for m in msgs] == [b"value-0", b"value-1", b"value-2"]
        assert [m.offset() for m in msgs] == [0, 1, 2]
        for i, m in enumerate(msgs):
            assert m.headers() == [
                ("trace-id", f"t{i}".encode()),
                ("kind", b"test"),
                ("empty", None),
            ]

        # expected=None: returns after ~1 s of silence with everything there is.
        start = time.monotonic()
        assert len(broker.consume_all("roundtrip")) == 3
        assert time.monotonic() - start < 5

        pid = broker.pid
    assert not broker.is_running()
    assert pid is not None
    assert broker.log_path and "tansu" in broker.read_log()


@pytest.mark.kafka
def test_broker_behind_proxy_outage_queues_then_delivers(thread_errors: list) -> None:
    with KafkaBroker(with_proxy=True) as broker:
        assert broker.proxy is not None
        assert broker.bootstrap == f"127.0.0.1:{broker.proxy.port}"
        broker.create_topic("outage", partitions=1)

        producer = confluent_kafka.Producer(
            {
                "bootstrap.servers": broker.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": 60000,
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 500,
            }
        )
        results, on_delivery = _delivery_recorder()
        producer.produce("outage", key=b"k", value=b"m0", on_delivery=on_delivery)
        assert producer.flush(10) == 0
        assert broker.proxy.connection_count >= 1  # traffic really goes through the proxy

        broker.proxy.cut()
        for i in range(1, 6):
            producer.produce("outage", key=b"k", value=f"m{i}".encode(), on_delivery=on_delivery)
        # During the outage nothing is delivered and nothing fails: it stays queued.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            producer.poll(0.1)
        assert len(results) == 1
        assert len(producer) == 5

        broker.proxy.restore()
        assert producer.flush(30) == 0
        assert len(results) == 6
        assert [err for err, _ in results] == [None] * 6

        msgs = broker.consume_all("outage", expected=6, timeout=10)
        assert [m.value() for m in msgs] == [f"m{i}".encode() for i in range(6)]  # no loss, no dup
    assert not thread_errors
