"""Interoperability: deliveries signed by the Standard Webhooks reference library
(`standardwebhooks`, a dev dependency) with the secret Ingress issued are accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import auth
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import CONFIGS, create_webhook, intake
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

standardwebhooks = pytest.importorskip("standardwebhooks")


def signed_by_the_library(secret: str, msg_id: str, payload: dict, when: datetime):
    body = json.dumps(payload)
    signature = standardwebhooks.Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }
    return body, headers


def test_a_delivery_signed_by_the_reference_library_is_accepted(client, pg):
    webhook = create_webhook(client, source="standard")
    body, headers = signed_by_the_library(
        webhook["secret"], "msg_lib_1", {"order": 42}, datetime.now(UTC)
    )

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 202, response.get_data(as_text=True)
    assert count(pg, "flow_runs_audit") == 1


def test_the_reference_library_verifies_what_it_signed_with_our_secret(client):
    webhook = create_webhook(client)
    body, headers = signed_by_the_library(
        webhook["secret"], "msg_lib_2", {"a": 1}, datetime.now(UTC)
    )

    assert standardwebhooks.Webhook(webhook["secret"]).verify(body, headers) == {"a": 1}


def test_a_library_signature_with_an_old_timestamp_is_refused(client):
    webhook = create_webhook(client)
    body, headers = signed_by_the_library(
        webhook["secret"], "msg_lib_3", {"a": 1}, datetime.now(UTC) - timedelta(minutes=6)
    )

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    assert_error(response, 401)


def test_a_library_signature_with_the_rotated_out_secret_works_during_grace(client):
    webhook = create_webhook(client)
    client.post(f"{CONFIGS}/{webhook['webhook_id']}/rotate-secret", headers=auth())
    body, headers = signed_by_the_library(
        webhook["secret"], "msg_lib_4", {"a": 1}, datetime.now(UTC)
    )

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 202
