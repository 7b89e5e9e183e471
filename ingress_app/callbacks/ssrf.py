"""Which callback URLs may be called, and at which address.

A URL is http(s) (https only when CALLBACK_REQUIRE_HTTPS holds), names a host, and
that host resolves only to public addresses: private, loopback, link-local (cloud
metadata at 169.254.169.254 among them), multicast, reserved and unspecified ones are
refused unless the host (or `host:port`) is listed in CALLBACK_ALLOWED_HOSTS. The
sender connects to the address checked here, never resolving again (no DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config import is_production

MAX_URL_LENGTH = 2048
# getaddrinfo has no deadline of its own: it runs here, and the caller waits at most
# CALLBACK_DNS_TIMEOUT_SECONDS for it
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback-dns")


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why (fit for the client)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (`address`) and what to call it (`host`)."""

    scheme: str
    host: str
    port: int
    address: str
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def require_https(config: dict[str, Any]) -> bool:
    setting = config.get("CALLBACK_REQUIRE_HTTPS")
    return is_production(config) if setting is None else bool(setting)


def allowed_hosts(config: dict[str, Any]) -> frozenset[str]:
    raw = config.get("CALLBACK_ALLOWED_HOSTS") or ""
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_link_local
    )


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise UnsafeUrl(f"the host {host!r} did not resolve within {timeout:g} s") from None
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"the host {host!r} does not resolve") from None
    addresses = []
    for info in infos:
        address = info[4][0].split("%", 1)[0]  # an IPv6 zone index is not part of it
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeUrl(f"the host {host!r} does not resolve")
    return addresses


def check_url(url: Any, config: dict[str, Any]) -> Target:
    """Resolve and check `url`; raises UnsafeUrl saying why it may not be called."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be a URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("must be an http or https URL")
    if scheme == "http" and require_https(config):
        raise UnsafeUrl("must be an https URL (CALLBACK_REQUIRE_HTTPS)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not carry credentials (user:password@)")
    port = port or (443 if scheme == "https" else 80)
    allowed = allowed_hosts(config)
    exempt = host.lower() in allowed or f"{host.lower()}:{port}" in allowed
    addresses = _resolve(host, port, float(config.get("CALLBACK_DNS_TIMEOUT_SECONDS", 2.0)))
    if not exempt:
        for address in addresses:
            if _forbidden(ipaddress.ip_address(address)):
                raise UnsafeUrl(
                    f"the host {host!r} resolves to a private, loopback, link-local or "
                    "otherwise non-public address; such receivers must be listed in "
                    "CALLBACK_ALLOWED_HOSTS"
                )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host, port, addresses[0], path)
