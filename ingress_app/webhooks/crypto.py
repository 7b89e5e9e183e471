"""Webhook secrets: generated with full entropy, sealed at rest.

Every secret is `whsec_` + base64 of 32 random bytes (the Standard Webhooks format),
whatever the auth method: the same value is a Standard Webhooks key, an HMAC key, a
header token or a Basic password, so changing a config's auth method never needs a
new secret.

Stored values carry their scheme: `fernet:<token>` when `WEBHOOK_SECRET_KEY` is set
(Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`), `plain:<secret>` otherwise.
`WEBHOOK_SECRET_KEY` is one or more comma-separated keys; the first encrypts, all
decrypt (add a new key in front to rotate, then `flask webhooks reseal`). A key is a
Fernet key (`Fernet.generate_key()`) or any passphrase of at least 32 characters, from
which a Fernet key is derived with HKDF-SHA256.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask

from ..config import ConfigError, is_production
from ..errors import ServiceUnavailable
from ..state import ingress_state

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_PASSPHRASE_LENGTH = 32
_FERNET = "fernet:"
_PLAIN = "plain:"
_HKDF_INFO = b"ingress webhook secrets v1"


def generate_secret() -> str:
    """A new secret: `whsec_` + base64 of 32 bytes from the OS's CSPRNG."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (`whsec_` stripped, base64-decoded)."""
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def fernet_key(value: str) -> bytes:
    """`value` itself when it is a Fernet key, else one derived from the passphrase."""
    value = value.strip()
    try:
        if len(base64.urlsafe_b64decode(value.encode())) == 32:
            Fernet(value.encode())
            return value.encode()
    except (binascii.Error, ValueError):
        pass
    if len(value) < MIN_PASSPHRASE_LENGTH:
        raise ConfigError(
            "WEBHOOK_SECRET_KEY: each key must be a Fernet key (Fernet.generate_key()) or a "
            f"passphrase of at least {MIN_PASSPHRASE_LENGTH} characters"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        value.encode()
    )
    return base64.urlsafe_b64encode(derived)


class SecretUnavailable(ServiceUnavailable):
    """A stored secret cannot be opened (missing or wrong WEBHOOK_SECRET_KEY)."""

    error = "Service unavailable"


class SecretBox:
    """Seals secrets for storage and opens them again."""

    def __init__(self, keys: str = ""):
        fernets = [Fernet(fernet_key(part)) for part in (keys or "").split(",") if part.strip()]
        self._current = fernets[0] if fernets else None
        self._fernet = MultiFernet(fernets) if fernets else None

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return _PLAIN + secret
        return _FERNET + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if stored.startswith(_PLAIN):
            return stored[len(_PLAIN) :]
        if stored.startswith(_FERNET):
            if self._fernet is None:
                log.error("a webhook secret is encrypted but WEBHOOK_SECRET_KEY is not set")
                raise SecretUnavailable("the webhook's secret cannot be read; retry later")
            try:
                return self._fernet.decrypt(stored[len(_FERNET) :].encode()).decode()
            except InvalidToken:
                log.error("a webhook secret does not decrypt with WEBHOOK_SECRET_KEY")
                raise SecretUnavailable(
                    "the webhook's secret cannot be read; retry later"
                ) from None
        raise SecretUnavailable("the webhook's secret cannot be read; retry later")

    def needs_reseal(self, stored: str) -> bool:
        """True when `stored` is not sealed with the first (current) key."""
        if self._current is None:
            return False
        if not stored.startswith(_FERNET):
            return True
        try:
            self._current.decrypt(stored[len(_FERNET) :].encode())
        except InvalidToken:
            return True
        return False


def secret_box() -> SecretBox:
    return ingress_state().webhook_secrets


def init_secret_box(app: Flask) -> None:
    """Build the app's SecretBox; a malformed WEBHOOK_SECRET_KEY stops the startup."""
    box = SecretBox(app.config.get("WEBHOOK_SECRET_KEY", ""))
    if not box.encrypts and is_production(app.config):
        log.warning("WEBHOOK_SECRET_KEY is not set: webhook secrets are stored unencrypted")
    ingress_state(app).webhook_secrets = box
