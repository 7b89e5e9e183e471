"""Check a delivery's credentials against a webhook's secrets (current, and the
previous one during a rotation's grace period).

Four methods, named by a config's `auth.type`:

- `standard-webhooks`: the Standard Webhooks spec. Headers `webhook-id`,
  `webhook-timestamp` (integer seconds, within the tolerance either way) and
  `webhook-signature` (space-separated `v1,<base64>` entries, any match passes) over
  `{id}.{timestamp}.{raw body}`, keyed with the base64-decoded `whsec_` secret.
- `hmac-sha256`: hex HMAC-SHA256 of the raw body, keyed with the secret string (UTF-8),
  in a configurable header (optionally prefixed `sha256=`).
- `header-token`: the secret itself in a configurable header.
- `basic`: HTTP Basic with the configured username and the secret as password.

Comparisons are constant-time (`hmac.compare_digest`; tokens are compared through
their SHA-256 so their length does not show either). Failures raise `AuthFailure` with
a reason fit for the client (it never contains a secret).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .crypto import signing_key

STANDARD_WEBHOOKS = "standard-webhooks"
HMAC_SHA256 = "hmac-sha256"
HEADER_TOKEN = "header-token"
BASIC = "basic"
AUTH_TYPES = (STANDARD_WEBHOOKS, HMAC_SHA256, HEADER_TOKEN, BASIC)
#: The header each header-based method reads when the config names none.
DEFAULT_HEADERS = {HMAC_SHA256: "X-Webhook-Signature", HEADER_TOKEN: "X-Webhook-Token"}
DEFAULT_USERNAME = "ingress"
REALM = "ingress-webhooks"

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
MAX_SIGNATURE_HEADER = 8192


class AuthFailure(Exception):
    """The delivery's credentials are missing, malformed or wrong."""

    def __init__(self, reason: str, *, challenge: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.challenge = challenge or f'Webhook realm="{REALM}"'


def _raw(value: str) -> bytes:
    """The header's bytes as sent (WSGI hands headers over decoded as latin-1)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _same(given: bytes, expected: bytes) -> bool:
    """Constant-time equality that does not reveal the expected length."""
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


def header_name(auth_type: str, options: Mapping[str, Any]) -> str | None:
    """The header a header-based method reads (None for the others)."""
    if auth_type not in DEFAULT_HEADERS:
        return None
    return options.get("header") or DEFAULT_HEADERS[auth_type]


def verify_standard_webhooks(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: float, tolerance: int
) -> None:
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if not (msg_id and timestamp and signature):
        raise AuthFailure(
            "webhook-id, webhook-timestamp and webhook-signature headers are required"
        )
    if not _TIMESTAMP.fullmatch(timestamp):
        raise AuthFailure("webhook-timestamp must be an integer number of seconds")
    if abs(now - int(timestamp)) > tolerance:
        raise AuthFailure(
            f"webhook-timestamp is more than {tolerance} seconds from the server's clock"
        )
    if len(signature) > MAX_SIGNATURE_HEADER:
        raise AuthFailure("webhook-signature is too long")
    signed = _raw(msg_id) + b"." + timestamp.encode() + b"." + body
    expected = [
        hmac.new(signing_key(secret), signed, hashlib.sha256).digest() for secret in secrets
    ]
    for entry in signature.split(" "):
        version, comma, value = entry.partition(",")
        if not comma or version != "v1":
            continue  # other versions (v1a: asymmetric) are not ours to check
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(digest, given) for digest in expected):
            return
    raise AuthFailure("no webhook-signature matches")


def verify_hmac_sha256(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, header: str
) -> None:
    value = (headers.get(header) or "").strip()
    if not value:
        raise AuthFailure(f"the {header} header is required")
    if value[:7].lower() == "sha256=":
        value = value[7:]
    if not _HEX_DIGEST.fullmatch(value):
        raise AuthFailure(f"the {header} header must be the hex HMAC-SHA256 of the request body")
    given = bytes.fromhex(value)
    if not any(
        hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).digest(), given)
        for secret in secrets
    ):
        raise AuthFailure(f"the {header} signature does not match")


def verify_header_token(headers: Mapping[str, str], secrets: Sequence[str], *, header: str) -> None:
    value = headers.get(header)
    if not value:
        raise AuthFailure(f"the {header} header is required")
    given = _raw(value.strip())
    # evaluate every secret: how many were tried must not depend on which one matched
    matches = [_same(given, secret.encode()) for secret in secrets]
    if not any(matches):
        raise AuthFailure(f"the {header} token is not valid")


def verify_basic(headers: Mapping[str, str], secrets: Sequence[str], *, username: str) -> None:
    challenge = f'Basic realm="{REALM}", charset="UTF-8"'
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        raise AuthFailure(
            "Basic credentials are required in the Authorization header", challenge=challenge
        )
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthFailure(
            "the Basic credentials are not valid base64", challenge=challenge
        ) from None
    user, colon, password = decoded.partition(b":")
    if not colon:
        raise AuthFailure("the Basic credentials must be username:password", challenge=challenge)
    user_ok = _same(user, username.encode())
    password_ok = [_same(password, secret.encode()) for secret in secrets]
    if not (user_ok and any(password_ok)):
        raise AuthFailure("the username or password is not valid", challenge=challenge)


def verify_credentials(
    auth_type: str,
    options: Mapping[str, Any],
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: int,
) -> None:
    """Raise `AuthFailure` unless the request carries valid credentials for one of `secrets`."""
    if not secrets:
        raise AuthFailure("the webhook has no usable secret")
    if auth_type == STANDARD_WEBHOOKS:
        verify_standard_webhooks(headers, body, secrets, now=now, tolerance=tolerance)
    elif auth_type == HMAC_SHA256:
        verify_hmac_sha256(headers, body, secrets, header=header_name(auth_type, options))
    elif auth_type == HEADER_TOKEN:
        verify_header_token(headers, secrets, header=header_name(auth_type, options))
    elif auth_type == BASIC:
        verify_basic(headers, secrets, username=options.get("username") or DEFAULT_USERNAME)
    else:  # a row written by hand or by a newer version
        raise AuthFailure(f"auth type {auth_type!r} is not supported")
