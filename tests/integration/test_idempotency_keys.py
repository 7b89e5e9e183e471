"""Idempotency keys are visible ASCII of bounded length, and a webhook delivery's key
cannot be claimed in advance through the API."""

from __future__ import annotations

import hashlib

import pytest

from ingress_app.keys import webhook_delivery_key
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored, count
from tests.integration.test_webhook_configs import CONFIGS, create_webhook, intake
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

BAD_KEYS = ["has space", "tab\there", "é-accent", "x" * 256, "del\x7f"]


def run_body(**extra) -> dict:
    return {"flow_definition": sample_flow(), "input": {"a": 1}, **extra}


@pytest.mark.parametrize("key", BAD_KEYS, ids=range(len(BAD_KEYS)))
def test_a_request_id_outside_visible_ascii_is_400_and_stores_nothing(client, pg, key):
    response = client.post("/v1/runs", json=run_body(request_id=key), headers=auth())

    body = assert_error(response, 400)
    assert any(p["path"] == "request_id" for p in body["detail"]["problems"]), body
    assert_nothing_stored(pg)


@pytest.mark.parametrize("key", ["has space", "tab\there", "x" * 256, "del\x7f", "\u00e9"])
def test_an_idempotency_key_header_outside_visible_ascii_is_400(client, pg, key):
    header = key.encode("utf-8").decode("latin-1")  # as a client's raw bytes reach WSGI
    response = client.post(
        "/v1/runs", json=run_body(), headers={**auth(), "Idempotency-Key": header}
    )

    body = assert_error(response, 400)
    assert "visible ASCII" in body["detail"]
    assert_nothing_stored(pg)


def test_validate_applies_the_same_rule(client):
    response = client.post("/v1/runs/validate", json=run_body(request_id="a b"), headers=auth())
    assert_error(response, 400)


def test_every_visible_ascii_character_is_a_usable_key(client, pg):
    key = "".join(chr(c) for c in range(0x21, 0x7F))
    first = client.post("/v1/runs", json=run_body(request_id=key), headers=auth())
    again = client.post("/v1/runs", json=run_body(), headers={**auth(), "Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert again.get_json() == {**first.get_json(), "replayed": True}
    assert count(pg, "flow_runs_audit") == 1


def test_an_api_client_cannot_pre_claim_a_webhook_delivery(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})
    delivery_id = "delivery-7"
    # the key such a delivery used to get, and the one it gets now
    digest = hashlib.sha256(f"{webhook['webhook_id']}\n{delivery_id}".encode()).hexdigest()
    legacy = f"webhook:{webhook['webhook_id']}:{digest[:48]}"
    current = webhook_delivery_key(webhook["webhook_id"], delivery_id)

    assert_error(client.post("/v1/runs", json=run_body(request_id=current), headers=auth()), 400)
    claimed = client.post("/v1/runs", json=run_body(request_id=legacy), headers=auth())
    assert claimed.status_code == 202

    delivered = client.post(
        intake(webhook),
        json={"email": "a@example.com"},
        headers={"X-Webhook-Token": webhook["secret"], "Idempotency-Key": delivery_id},
    )

    assert delivered.status_code == 202, delivered.get_data(as_text=True)
    assert delivered.get_json()["run_id"] != claimed.get_json()["run_id"]
    assert "Idempotent-Replayed" not in delivered.headers
    row = pg.execute(
        "SELECT input_data, source FROM flow_runs_audit WHERE run_id = %s",
        (delivered.get_json()["run_id"],),
    ).fetchone()
    assert row == {"input_data": {"email": "a@example.com"}, "source": "webhook"}


@pytest.mark.parametrize(
    "header",
    [
        "Idempotency-Key",
        "idempotency-key",
        "webhook-id",
        "X-Correlation-ID",
        "X-Zapier-Delivery-Id",
    ],
)
@pytest.mark.parametrize("auth_type", ["header-token", "hmac-sha256"])
def test_a_credential_header_that_carries_delivery_ids_is_refused(client, pg, header, auth_type):
    response = client.post(
        CONFIGS,
        json={"flow_definition": sample_flow(), "auth": {"type": auth_type, "header": header}},
        headers=auth(),
    )

    body = assert_error(response, 400)
    assert "header" in str(body["detail"])
    assert count(pg, "webhook_configs") == 0


def test_patching_a_webhook_to_a_delivery_id_header_is_refused(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token", "header": "X-Token"})
    response = client.patch(
        f"{CONFIGS}/{webhook['webhook_id']}",
        json={"auth": {"type": "header-token", "header": "Idempotency-Key"}},
        headers=auth(),
    )
    assert_error(response, 400)
    shown = client.get(f"{CONFIGS}/{webhook['webhook_id']}", headers=auth()).get_json()
    assert shown["auth"]["header"] == "X-Token"
