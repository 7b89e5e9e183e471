import hashlib
import hmac
import json

import pytest
from ingress_example_policies import GitHubAdapter

from ingress_app.contracts import WebhookDelivery

SECRET = "It's a Secret to Everybody"
BODY = b'{"action":"opened","number":1}'


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(headers=None, body: bytes = BODY, payload=None, content_type="application/json"):
    return WebhookDelivery(
        payload=json.loads(body) if payload is None else payload,
        headers=headers or {},
        query={},
        raw_body=body,
        content_type=content_type,
    )


def test_githubs_documented_example_signature_verifies():
    # The test vector from GitHub's "Validating webhook deliveries" page.
    signed = delivery(
        {
            "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        },
        body=b"Hello, World!",
        payload={},
    )
    assert GitHubAdapter().verify(signed, SECRET) is True


def test_a_correct_signature_verifies_whatever_the_header_case():
    assert GitHubAdapter().verify(delivery({"x-hub-signature-256": sign(BODY)}), SECRET) is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": sign(BODY, "another secret")},
        {"X-Hub-Signature-256": sign(BODY + b" ")},
        {"X-Hub-Signature-256": sign(BODY).replace("sha256=", "sha1=")},
        {"X-Hub-Signature-256": sign(BODY).removeprefix("sha256=")},
        {"X-Hub-Signature-256": "sha256="},
        {"X-Hub-Signature-256": "sha256=zzzz"},
        {"X-Hub-Signature-256": "sha256=\u00e9\u00e9"},
        {"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()},
    ],
    ids=[
        "missing",
        "empty",
        "wrong-secret",
        "other-body",
        "wrong-scheme",
        "no-scheme",
        "no-digest",
        "not-hex",
        "non-ascii",
        "sha1-only",
    ],
)
def test_anything_else_fails_verification(headers):
    assert GitHubAdapter().verify(delivery(headers), SECRET) is False


def test_an_empty_secret_never_verifies():
    assert GitHubAdapter().verify(delivery({"X-Hub-Signature-256": sign(BODY, "")}), "") is False


def test_the_delivery_id_is_x_github_delivery():
    guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert GitHubAdapter().delivery_id(delivery({"x-github-delivery": guid})) == guid
    assert GitHubAdapter().delivery_id(delivery({})) is None


def test_a_json_body_is_the_payload():
    assert GitHubAdapter().normalise(delivery()) == {"action": "opened", "number": 1}


def test_a_form_encoded_body_is_unwrapped_from_its_payload_field():
    form = delivery(
        payload={"payload": BODY.decode()}, content_type="application/x-www-form-urlencoded"
    )
    assert GitHubAdapter().normalise(form) == {"action": "opened", "number": 1}


def test_options_are_none():
    assert GitHubAdapter.load_options({}) == {}
