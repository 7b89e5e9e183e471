"""Webhook secrets: generation and sealing at rest (ingress_app.webhooks.crypto)."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from ingress_app.config import ConfigError
from ingress_app.errors import ServiceUnavailable
from ingress_app.webhooks.crypto import SecretBox, fernet_key, generate_secret, signing_key


def test_secret_is_whsec_and_32_bytes_of_randomness(monkeypatch):
    import secrets as stdlib_secrets

    asked = []
    real = stdlib_secrets.token_bytes
    monkeypatch.setattr(stdlib_secrets, "token_bytes", lambda n: asked.append(n) or real(n))

    secret = generate_secret()

    assert asked == [32]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


def test_secrets_differ():
    assert len({generate_secret() for _ in range(100)}) == 100


def test_signing_key_is_the_decoded_secret():
    raw = bytes(range(32))
    assert signing_key("whsec_" + base64.b64encode(raw).decode()) == raw


def test_without_a_key_secrets_are_stored_marked_plain():
    box = SecretBox("")

    assert not box.encrypts
    assert box.seal("whsec_abc") == "plain:whsec_abc"
    assert box.open("plain:whsec_abc") == "whsec_abc"


def test_with_a_passphrase_secrets_are_fernet_encrypted():
    box = SecretBox("p" * 32)
    secret = generate_secret()

    sealed = box.seal(secret)

    assert sealed.startswith("fernet:")
    assert secret not in sealed
    assert box.open(sealed) == secret
    assert box.seal(secret) != sealed  # a fresh IV every time


def test_a_fernet_key_is_used_as_it_is():
    key = Fernet.generate_key()
    sealed = SecretBox(key.decode()).seal("whsec_x")

    assert Fernet(key).decrypt(sealed.removeprefix("fernet:").encode()) == b"whsec_x"


def test_a_passphrase_is_stretched_into_a_valid_fernet_key():
    Fernet(fernet_key("correct horse battery staple, and then some"))


def test_a_short_passphrase_is_a_config_error():
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_KEY"):
        SecretBox("short")


def test_several_keys_decrypt_and_the_first_encrypts():
    old, new = "o" * 32, "n" * 32
    sealed_with_old = SecretBox(old).seal("whsec_x")
    rotated = SecretBox(f"{new},{old}")

    assert rotated.open(sealed_with_old) == "whsec_x"
    assert rotated.needs_reseal(sealed_with_old)
    assert not rotated.needs_reseal(rotated.seal("whsec_x"))
    assert rotated.needs_reseal("plain:whsec_x")


@pytest.mark.parametrize(
    "box,stored",
    [
        (SecretBox(""), SecretBox("k" * 32).seal("whsec_x")),
        (SecretBox("a" * 32), SecretBox("b" * 32).seal("whsec_x")),
        (SecretBox(""), "garbage"),
    ],
)
def test_a_secret_that_cannot_be_opened_is_503(box, stored):
    with pytest.raises(ServiceUnavailable):
        box.open(stored)
