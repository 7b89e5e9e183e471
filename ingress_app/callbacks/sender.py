"""POST one signed callback to a checked address, with deadlines and no redirects.

Connections go to the address `ssrf.check_url` approved, with the URL's host in the
`Host` header and in TLS (SNI and certificate check): a DNS answer that changes after
the check cannot redirect the call. Pools are kept per (address, host), so repeated
callbacks to one receiver reuse their connections.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import urllib3

from ..webhooks.crypto import signing_key
from .ssrf import Target

USER_AGENT = "Ingress-Callbacks/1"
_MAX_POOLS = 256
_ERROR_BODY_CHARS = 300


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """A Standard Webhooks signature, `v1,<base64 HMAC-SHA256 of id.timestamp.body>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets: list[str], message_id: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers; one signature per secret (two during a rotation)."""
    timestamp = int(time.time())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets),
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """Pooled HTTP client for callbacks (thread-safe)."""

    def __init__(self, connect_timeout: float, read_timeout: float, per_host: int):
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.per_host = per_host
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            common = {"timeout": self.timeout, "maxsize": self.per_host, "retries": False}
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    target.address, target.port, server_hostname=target.host,
                    assert_hostname=target.host, cert_reqs="CERT_REQUIRED", **common,
                )
            else:
                pool = urllib3.HTTPConnectionPool(target.address, target.port, **common)
            self._pools[key] = pool
            while len(self._pools) > _MAX_POOLS:
                self._pools.popitem(last=False)[1].close()
            return pool

    def post(self, target: Target, headers: dict[str, str], body: bytes) -> Outcome:
        started = time.monotonic()
        try:
            response = self._pool(target).urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "host": target.host_header},
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            return Outcome(None, _describe(exc), time.monotonic() - started)
        try:
            excerpt = response.read(_ERROR_BODY_CHARS, decode_content=False) or b""
        except urllib3.exceptions.HTTPError:
            excerpt = b""
        finally:
            response.close()  # the rest of a long answer is not wanted
            response.release_conn()
        status = response.status
        error = None
        if not 200 <= status < 300:
            text = excerpt.decode("utf-8", "replace").strip()
            error = f"HTTP {status}" + (f": {text}" if text else "")
        return Outcome(status, error, time.monotonic() - started)

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "connect timeout"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return "read timeout (the receiver did not answer in time)"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection refused or unreachable"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"TLS error: {exc}"[:_ERROR_BODY_CHARS]
    return f"{type(exc).__name__}: {exc}"[:_ERROR_BODY_CHARS]
