"""A controllable TCP proxy for tests, used to simulate network / service outages.

    with TcpProxy("127.0.0.1", pg_port) as proxy:
        connect_to(proxy.port)
        proxy.cut()       # every open connection is reset, new ones are reset at once
        proxy.restore()   # forward again
        proxy.freeze()    # stop forwarding; connections stay open, new ones are accepted
        proxy.restore()   # forward again (what was sent meanwhile is delivered)

Design: one background thread runs a ``selectors`` event loop that owns the
listening socket and every proxied connection (non-blocking sockets, bounded
per-direction buffers with back-pressure, half-close propagated). Commands from
the test thread (cut/restore/stop) are handed to the loop through a queue plus a
wake-up socketpair and are *synchronous*: when ``cut()`` returns, every
connection that existed has already been reset. A single loop thread scales to
hundreds of connections and makes "cut everything at once" atomic.

"Cut" closes sockets with ``SO_LINGER = (on, 0)`` which makes the kernel send a
TCP RST instead of a FIN, so peers get ``ECONNRESET`` (or EOF) immediately
rather than hanging. "Freeze" plays a server that accepts TCP but never answers (a
stopped process, a hung host behind a live load balancer): sockets stay open, the
kernel acknowledges what is sent, nothing is forwarded either way until restore().
Errors on sockets are expected during tests and are never
printed; they are logged at DEBUG level on the ``tests.support.proxy`` logger.
"""

from __future__ import annotations

import errno
import logging
import queue
import selectors
import socket
import struct
import threading
from typing import Any

__all__ = ["TcpProxy"]

log = logging.getLogger(__name__)

_RECV_SIZE = 65536
# Stop reading from one side while this many bytes are waiting to be written
# to the other side (back-pressure).
_BUFFER_LIMIT = 1 << 20
_COMMAND_TIMEOUT = 10.0


def _reset_close(sock: socket.socket | None) -> None:
    """Close ``sock`` sending an RST (abortive close) if possible; never raises."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _graceful_close(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass


class _Conn:
    """One proxied connection: client <-> upstream."""

    __slots__ = (
        "client",
        "upstream",
        "connecting",
        "c2u",
        "u2c",
        "client_eof",
        "upstream_eof",
        "upstream_wr_shut",
        "client_wr_shut",
        "masks",
        "closed",
    )

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.connecting = True
        self.c2u = bytearray()  # client -> upstream, waiting to be sent
        self.u2c = bytearray()  # upstream -> client, waiting to be sent
        self.client_eof = False  # client sent FIN (no more data from client)
        self.upstream_eof = False
        self.upstream_wr_shut = False  # we propagated client's FIN to upstream
        self.client_wr_shut = False
        self.masks: dict[socket.socket, int] = {client: 0, upstream: 0}
        self.closed = False


class TcpProxy:
    """Forward ``listen_host:port`` to ``target_host:target_port``; can be cut/restored."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = int(target_port)
        self.listen_host = listen_host

        # Bind eagerly so ``port`` is known before start() (e.g. to advertise it).
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((listen_host, int(listen_port)))
            self._listener.listen(1024)
        except BaseException:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]

        self._sel: selectors.BaseSelector | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._commands: queue.Queue[tuple[str, threading.Event]] = queue.Queue()
        self._conns: set[_Conn] = set()
        self._cut = False
        self._frozen = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Counters, handy for assertions / debugging.
        self.accepted = 0
        self.rejected = 0

    # ------------------------------------------------------------------ public API

    @property
    def address(self) -> tuple[str, int]:
        return (self.listen_host, self.port)

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def is_frozen(self) -> bool:
        return self._frozen

    @property
    def connection_count(self) -> int:
        """Number of currently proxied connections (approximate, racy by nature)."""
        return len(self._conns)

    def start(self) -> TcpProxy:
        with self._lock:
            if self._stopped:
                raise RuntimeError("TcpProxy was stopped; create a new one")
            if self._thread is not None:
                return self
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._listener, selectors.EVENT_READ, None)
            self._sel.register(self._wake_r, selectors.EVENT_READ, None)
            self._thread = threading.Thread(
                target=self._run, name=f"TcpProxy-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def cut(self) -> None:
        """Reset every open connection (both sides) and reset new ones until restore()."""
        self._command("cut")

    def freeze(self) -> None:
        """Stop forwarding in both directions, keeping every connection open; new
        connections are accepted (and connected upstream) but get no bytes through."""
        self._command("freeze")

    def restore(self) -> None:
        """Accept and forward connections again (after cut() or freeze())."""
        self._command("restore")

    def stop(self) -> None:
        """Close everything and stop the loop thread. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        if thread is not None:
            done = self._send_command("stop")
            done.wait(_COMMAND_TIMEOUT)
            thread.join(_COMMAND_TIMEOUT)
        else:
            _graceful_close(self._listener)
        for s in (self._wake_r, self._wake_w):
            _graceful_close(s)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = (
            "stopped"
            if self._stopped
            else ("cut" if self._cut else ("frozen" if self._frozen else "up"))
        )
        return (
            f"<TcpProxy {self.listen_host}:{self.port} -> "
            f"{self.target_host}:{self.target_port} {state}>"
        )

    # ------------------------------------------------------------ command plumbing

    def _send_command(self, name: str) -> threading.Event:
        done = threading.Event()
        self._commands.put((name, done))
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, InterruptedError):
            pass  # pipe full: the loop is going to wake up anyway
        except OSError:
            done.set()
        return done

    def _command(self, name: str) -> None:
        if self._stopped:
            raise RuntimeError("TcpProxy is stopped")
        if self._thread is None:
            # Not started: nothing to close yet, just record the state.
            self._cut = name == "cut"
            self._frozen = name == "freeze"
            return
        done = self._send_command(name)
        if not done.wait(_COMMAND_TIMEOUT):
            raise RuntimeError(f"TcpProxy loop did not process {name!r} in time")

    # -------------------------------------------------------------------- the loop

    def _run(self) -> None:
        sel = self._sel
        assert sel is not None
        try:
            while True:
                try:
                    events = sel.select(timeout=1.0)
                except InterruptedError:
                    continue
                stop = False
                for key, mask in events:
                    sock = key.fileobj
                    if sock is self._wake_r:
                        stop = self._drain_commands() or stop
                    elif sock is self._listener:
                        self._accept()
                    else:
                        conn: _Conn = key.data
                        if conn.closed:
                            continue
                        try:
                            self._handle(conn, sock, mask)  # type: ignore[arg-type]
                        except Exception:  # noqa: BLE001 - never let the loop die
                            log.debug("proxy connection error", exc_info=True)
                            self._close_conn(conn, reset=True)
                    if stop:
                        break
                if stop:
                    return
        except Exception:  # noqa: BLE001
            log.exception("TcpProxy loop crashed")
        finally:
            for conn in list(self._conns):
                self._close_conn(conn, reset=True)
            _graceful_close(self._listener)
            try:
                sel.close()
            except Exception:  # noqa: BLE001
                pass
            # Release anybody waiting on a command.
            while True:
                try:
                    _, done = self._commands.get_nowait()
                except queue.Empty:
                    break
                done.set()

    def _drain_commands(self) -> bool:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass
        stop = False
        while True:
            try:
                name, done = self._commands.get_nowait()
            except queue.Empty:
                break
            if name == "cut":
                self._cut = True
                for conn in list(self._conns):
                    self._close_conn(conn, reset=True)
                # Reset connections already waiting in the accept backlog too.
                self._accept()
            elif name == "freeze":
                self._frozen = True
                for conn in list(self._conns):
                    self._update(conn)
            elif name == "restore":
                self._cut = False
                if self._frozen:
                    self._frozen = False
                    for conn in list(self._conns):
                        self._update(conn)
                        # bytes read just before the freeze are still buffered
                        self._propagate_eof(conn)
            elif name == "stop":
                self._cut = True
                stop = True
                for conn in list(self._conns):
                    self._close_conn(conn, reset=True)
            done.set()
        return stop

    def _accept(self) -> None:
        sel = self._sel
        assert sel is not None
        for _ in range(256):  # bounded so that other events are served too
            try:
                client, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # EMFILE/ENFILE/ECONNABORTED ...: don't die, try again later.
                log.debug("proxy accept failed: %s", exc)
                return
            if self._cut or self._stopped:
                self.rejected += 1
                _reset_close(client)
                continue
            self.accepted += 1
            client.setblocking(False)
            upstream = None
            try:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                upstream.setblocking(False)
                upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rc = upstream.connect_ex((self.target_host, self.target_port))
            except OSError as exc:
                log.debug("proxy upstream socket failed: %s", exc)
                _reset_close(client)
                _reset_close(upstream)
                continue
            conn = _Conn(client, upstream)
            self._conns.add(conn)
            if rc == 0:
                conn.connecting = False
            elif rc not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR):
                log.debug("proxy upstream connect failed: %s", errno.errorcode.get(rc, rc))
                self._close_conn(conn, reset=True)
                continue
            self._update(conn)

    # ------------------------------------------------------------- per-connection

    def _handle(self, conn: _Conn, sock: socket.socket, mask: int) -> None:
        if sock is conn.upstream and conn.connecting:
            err = conn.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                log.debug("proxy upstream connect failed: %s", errno.errorcode.get(err, err))
                self._close_conn(conn, reset=True)
                return
            conn.connecting = False
            self._update(conn)
            return

        if sock is conn.client:
            if mask & selectors.EVENT_READ and not conn.client_eof:
                if not self._read(conn, conn.client, conn.c2u, "client"):
                    return
            if mask & selectors.EVENT_WRITE and conn.u2c:
                if not self._write(conn, conn.client, conn.u2c):
                    return
        else:
            if mask & selectors.EVENT_READ and not conn.upstream_eof:
                if not self._read(conn, conn.upstream, conn.u2c, "upstream"):
                    return
            if mask & selectors.EVENT_WRITE and conn.c2u:
                if not self._write(conn, conn.upstream, conn.c2u):
                    return

        self._propagate_eof(conn)
        if conn.closed:
            return
        if conn.client_eof and conn.upstream_eof and not conn.c2u and not conn.u2c:
            self._close_conn(conn, reset=False)
            return
        self._update(conn)

    def _read(self, conn: _Conn, sock: socket.socket, buf: bytearray, side: str) -> bool:
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            log.debug("proxy %s recv error: %s", side, exc)
            self._close_conn(conn, reset=True)
            return False
        if data:
            buf += data
        elif side == "client":
            conn.client_eof = True
        else:
            conn.upstream_eof = True
        return True

    def _write(self, conn: _Conn, sock: socket.socket, buf: bytearray) -> bool:
        try:
            sent = sock.send(buf)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as exc:
            log.debug("proxy send error: %s", exc)
            self._close_conn(conn, reset=True)
            return False
        del buf[:sent]
        return True

    def _propagate_eof(self, conn: _Conn) -> None:
        """Forward a FIN once everything that preceded it has been delivered."""
        try:
            if (
                conn.client_eof
                and not conn.c2u
                and not conn.connecting
                and not conn.upstream_wr_shut
            ):
                conn.upstream_wr_shut = True
                conn.upstream.shutdown(socket.SHUT_WR)
            if conn.upstream_eof and not conn.u2c and not conn.client_wr_shut:
                conn.client_wr_shut = True
                conn.client.shutdown(socket.SHUT_WR)
        except OSError as exc:
            log.debug("proxy shutdown error: %s", exc)
            self._close_conn(conn, reset=True)

    def _update(self, conn: _Conn) -> None:
        """(Re)register both sockets with the event mask their state calls for."""
        if conn.closed:
            return
        if self._frozen:  # nothing moves; the kernel keeps acknowledging what is sent
            self._set_mask(conn, conn.client, 0)
            self._set_mask(conn, conn.upstream, 0)
            return
        R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
        client_mask = 0
        if not conn.client_eof and len(conn.c2u) < _BUFFER_LIMIT:
            client_mask |= R
        if conn.u2c:
            client_mask |= W
        if conn.connecting:
            upstream_mask = W
        else:
            upstream_mask = 0
            if not conn.upstream_eof and len(conn.u2c) < _BUFFER_LIMIT:
                upstream_mask |= R
            if conn.c2u:
                upstream_mask |= W
        self._set_mask(conn, conn.client, client_mask)
        self._set_mask(conn, conn.upstream, upstream_mask)

    def _set_mask(self, conn: _Conn, sock: socket.socket, mask: int) -> None:
        sel = self._sel
        assert sel is not None
        old = conn.masks[sock]
        if old == mask:
            return
        if old == 0:
            sel.register(sock, mask, conn)
        elif mask == 0:
            sel.unregister(sock)
        else:
            sel.modify(sock, mask, conn)
        conn.masks[sock] = mask

    def _close_conn(self, conn: _Conn, *, reset: bool) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._conns.discard(conn)
        sel = self._sel
        for sock in (conn.client, conn.upstream):
            if conn.masks.get(sock) and sel is not None:
                try:
                    sel.unregister(sock)
                except (KeyError, ValueError, OSError):
                    pass
            conn.masks[sock] = 0
            if reset:
                _reset_close(sock)
            else:
                _graceful_close(sock)
        conn.c2u.clear()
        conn.u2c.clear()
