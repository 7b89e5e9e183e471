"""Source adapters from plugins: registered through `ingress_register_source_adapters`,
enabled per tenant by `policies.yaml`, and used by the intake (verify, delivery id,
normalise).

This module is itself the plugin: `policies.yaml` names it under `plugins:`.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from ingress_app.contracts import SourceAdapter, WebhookDelivery
from ingress_app.hookspecs import hookimpl
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import CONFIGS, create_webhook, intake, policies_file
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


def _header(delivery: WebhookDelivery, name: str) -> str | None:
    return next((v for k, v in delivery.headers.items() if k.lower() == name.lower()), None)


class AcmeSignedAdapter(SourceAdapter):
    """A sender that signs with `X-Acme-Signature` and wraps its data in `{"data": ...}`."""

    name = "acme_signed"
    description = "test sender with its own signature header"

    def delivery_id(self, delivery):
        return _header(delivery, "X-Acme-Delivery")

    def normalise(self, delivery):
        payload = delivery.payload
        return payload["data"] if isinstance(payload, dict) and "data" in payload else payload

    def verify(self, delivery, secret):
        signature = _header(delivery, "X-Acme-Signature") or ""
        if signature == "explode":
            raise RuntimeError("a buggy adapter")
        expected = hmac.new(secret.encode(), delivery.raw_body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


@hookimpl
def ingress_register_source_adapters():
    return [AcmeSignedAdapter]


POLICIES = f"""\
version: 1
plugins: [{__name__}]
webhook_sources: [generic]
tenants:
  acme:
    webhook_sources: [generic, acme_signed]
"""


@pytest.fixture
def client(make_pg_app, tmp_path):
    return make_pg_app(POLICIES_FILE=policies_file(tmp_path, POLICIES)).test_client()


def acme_post(client, webhook: dict, payload: dict, *, signature: str | None = None, **headers):
    body = json.dumps(payload).encode()
    if signature is None:
        signature = hmac.new(webhook["secret"].encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        intake(webhook),
        data=body,
        content_type="application/json",
        headers={"X-Acme-Signature": signature, **headers},
    )


def test_plugin_adapter_is_available_to_the_tenant_that_enables_it(client):
    allowed = client.post(
        CONFIGS,
        json={"flow_definition": sample_flow(), "source": "acme_signed"},
        headers=auth("acme"),
    )
    refused = client.post(
        CONFIGS,
        json={"flow_definition": sample_flow(), "source": "acme_signed"},
        headers=auth("globex"),
    )

    assert allowed.status_code == 201
    error = assert_error(refused, 400)
    assert "not enabled" in error["detail"]["problems"][0]["message"]


def test_plugin_adapter_verifies_normalises_and_names_the_delivery(client, pg):
    webhook = create_webhook(client, source="acme_signed", auth={"type": "header-token"})

    first = acme_post(client, webhook, {"data": {"order": 1}}, **{"X-Acme-Delivery": "d-1"})
    again = acme_post(client, webhook, {"data": {"order": 1}}, **{"X-Acme-Delivery": "d-1"})

    assert first.status_code == 202, first.get_data(as_text=True)
    assert again.get_json() == {**first.get_json(), "replayed": True}
    run = pg.execute("SELECT input_data FROM flow_runs_audit").fetchone()
    assert run["input_data"] == {"order": 1}
    assert (
        pg.execute("SELECT delivery_id FROM webhook_deliveries").fetchone()["delivery_id"] == "d-1"
    )


def test_plugin_adapter_refusal_wins_over_the_configs_auth(client, pg):
    webhook = create_webhook(client, source="acme_signed", auth={"type": "header-token"})

    response = acme_post(
        client, webhook, {"a": 1}, signature="0" * 64, **{"X-Webhook-Token": webhook["secret"]}
    )

    assert_error(response, 401)
    assert count(pg, "flow_runs_audit") == 0


def test_a_plugin_adapter_that_raises_is_a_401_not_a_500(client, pg):
    webhook = create_webhook(client, source="acme_signed")

    response = acme_post(client, webhook, {"a": 1}, signature="explode")

    assert_error(response, 401)
    assert count(pg, "flow_runs_audit") == 0
