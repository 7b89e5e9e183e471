"""Credential checks of the four auth methods, without HTTP (ingress_app.webhooks.verification)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from werkzeug.datastructures import Headers

from ingress_app.webhooks.crypto import generate_secret
from ingress_app.webhooks.verification import (
    AuthFailure,
    verify_basic,
    verify_credentials,
    verify_header_token,
    verify_hmac_sha256,
    verify_standard_webhooks,
)

SECRET = generate_secret()
OTHER = generate_secret()
BODY = b'{"type": "order.created", "id": 7}'
NOW = 1_750_000_000


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard(
    secret: str = SECRET,
    *,
    msg_id: str = "msg_1",
    timestamp: int = NOW,
    body: bytes = BODY,
    **override: str,
) -> Headers:
    headers = Headers(
        {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        }
    )
    for name, value in override.items():
        headers[name.replace("_", "-")] = value
    return headers


def check_standard(headers: Headers, body: bytes = BODY, secrets=(SECRET,), now: int = NOW) -> None:
    verify_standard_webhooks(headers, body, secrets, now=now, tolerance=300)


def test_standard_valid_signature_passes():
    check_standard(standard())


def test_standard_header_names_are_case_insensitive():
    headers = standard()
    upper = Headers({name.upper(): value for name, value in headers.items()})

    check_standard(upper)


def test_standard_tampered_body_fails():
    with pytest.raises(AuthFailure, match="no webhook-signature matches"):
        check_standard(standard(), body=BODY + b" ")


def test_standard_signature_covers_the_id_and_the_timestamp():
    headers = standard()
    headers["webhook-id"] = "msg_2"
    with pytest.raises(AuthFailure):
        check_standard(headers)


@pytest.mark.parametrize("offset,ok", [(-300, True), (300, True), (-301, False), (301, False)])
def test_standard_tolerance_is_five_minutes_both_ways(offset, ok):
    headers = standard(timestamp=NOW + offset)
    if ok:
        check_standard(headers)
    else:
        with pytest.raises(AuthFailure, match="timestamp"):
            check_standard(headers)


def test_standard_any_v1_signature_may_match():
    good = standard()["webhook-signature"]
    headers = standard(webhook_signature=f"v1,{base64.b64encode(b'x' * 32).decode()} v2,abc {good}")

    check_standard(headers)


def test_standard_ignores_other_versions():
    good = standard()["webhook-signature"].removeprefix("v1,")
    with pytest.raises(AuthFailure):
        check_standard(standard(webhook_signature=f"v1a,{good}"))


def test_standard_previous_secret_passes_when_given():
    check_standard(standard(OTHER), secrets=(SECRET, OTHER))


@pytest.mark.parametrize(
    "override",
    [
        {"webhook_id": ""},
        {"webhook_timestamp": ""},
        {"webhook_signature": ""},
        {"webhook_timestamp": "1.5e9"},
        {"webhook_timestamp": " 1750000000"},
        {"webhook_timestamp": "0x10"},
        {"webhook_timestamp": "9" * 100},
        {"webhook_signature": "v1"},
        {"webhook_signature": "v1,***"},
        {"webhook_signature": "," * 50},
        {"webhook_signature": "v1," + "A" * 9000},
    ],
)
def test_standard_malformed_headers_raise_auth_failure_only(override):
    with pytest.raises(AuthFailure):
        check_standard(standard(**override))


def test_standard_works_with_any_body_bytes():
    body = b"\xff\xfe not utf-8"
    check_standard(standard(body=body), body=body)


def hex_sig(secret: str, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "value", [hex_sig(SECRET), hex_sig(SECRET).upper(), "sha256=" + hex_sig(SECRET)]
)
def test_hmac_sha256_accepts_hex_with_or_without_prefix(value):
    verify_hmac_sha256(Headers({"X-Sig": value}), BODY, [SECRET], header="X-Sig")


@pytest.mark.parametrize(
    "value", ["", "x", hex_sig(OTHER), hex_sig(SECRET)[:-1], "sha1=" + hex_sig(SECRET)]
)
def test_hmac_sha256_refuses_bad_values(value):
    with pytest.raises(AuthFailure):
        verify_hmac_sha256(Headers({"X-Sig": value}), BODY, [SECRET], header="X-Sig")


def test_header_token_right_wrong_and_rotated():
    verify_header_token(Headers({"X-T": SECRET}), [SECRET], header="X-T")
    verify_header_token(Headers({"X-T": OTHER}), [SECRET, OTHER], header="X-T")
    with pytest.raises(AuthFailure):
        verify_header_token(Headers({"X-T": OTHER}), [SECRET], header="X-T")
    with pytest.raises(AuthFailure):
        verify_header_token(Headers({}), [SECRET], header="X-T")


def basic(user: bytes, password: bytes) -> Headers:
    return Headers({"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()})


def test_basic_right_and_wrong():
    verify_basic(basic(b"zap", SECRET.encode()), [SECRET], username="zap")
    with pytest.raises(AuthFailure):
        verify_basic(basic(b"zap", b"nope"), [SECRET], username="zap")
    with pytest.raises(AuthFailure):
        verify_basic(basic(b"other", SECRET.encode()), [SECRET], username="zap")


def test_basic_failure_carries_a_basic_challenge():
    with pytest.raises(AuthFailure) as failure:
        verify_basic(Headers({}), [SECRET], username="zap")
    assert failure.value.challenge.startswith("Basic ")


def test_verify_credentials_without_secrets_fails():
    with pytest.raises(AuthFailure):
        verify_credentials(
            "header-token",
            {},
            Headers({"X-Webhook-Token": ""}),
            BODY,
            [],
            now=time.time(),
            tolerance=300,
        )


def test_verify_credentials_with_an_unknown_type_fails():
    with pytest.raises(AuthFailure):
        verify_credentials(
            "telepathy", {}, Headers({}), BODY, [SECRET], now=time.time(), tolerance=300
        )


def test_failure_reasons_never_contain_the_secret():
    for attempt in (
        lambda: verify_header_token(Headers({"X-T": SECRET[:-1]}), [SECRET], header="X-T"),
        lambda: verify_basic(basic(b"u", SECRET[:-1].encode()), [SECRET], username="u"),
        lambda: verify_hmac_sha256(Headers({"X-S": hex_sig(OTHER)}), BODY, [SECRET], header="X-S"),
        lambda: check_standard(standard(OTHER)),
    ):
        with pytest.raises(AuthFailure) as failure:
            attempt()
        assert SECRET not in failure.value.reason
        assert SECRET.removeprefix("whsec_")[:12] not in failure.value.reason


@pytest.mark.parametrize(
    "check",
    [
        lambda: check_standard(standard()),
        lambda: verify_hmac_sha256(Headers({"X-S": hex_sig(SECRET)}), BODY, [SECRET], header="X-S"),
        lambda: verify_header_token(Headers({"X-T": SECRET}), [SECRET], header="X-T"),
        lambda: verify_basic(basic(b"u", SECRET.encode()), [SECRET], username="u"),
    ],
    ids=["standard-webhooks", "hmac-sha256", "header-token", "basic"],
)
def test_every_method_compares_with_hmac_compare_digest(monkeypatch, check):
    from ingress_app.webhooks import verification

    calls = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(verification.hmac, "compare_digest", counting)
    check()

    assert calls
