"""Webhook configurations: create, read, change, delete, rotate; secrets shown once,
sealed at rest, never logged; tenant-scoped; every change audited.

The helpers at the top are shared by the other webhook test modules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

CONFIGS = "/v1/webhook-configs"


# --------------------------------------------------------------------------- helpers


def create_webhook(client, tenant: str = "acme", user: str = "alice", **body: Any) -> dict:
    """POST a webhook config (inline sample flow unless told) and return the 201 body."""
    if "flow_id" not in body:
        body.setdefault("flow_definition", sample_flow())
    response = client.post(CONFIGS, json=body, headers=auth(tenant, user))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def intake(webhook: dict | str) -> str:
    webhook_id = webhook if isinstance(webhook, str) else webhook["webhook_id"]
    return f"/v1/webhooks/{webhook_id}"


def standard_signature(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """`v1,<base64>` per the Standard Webhooks spec, written out independently."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }


def post_standard(
    client, webhook: dict, payload: Any = None, *, secret: str | None = None, **headers: str
):
    """POST a JSON body signed the Standard Webhooks way with the webhook's secret."""
    body = json.dumps({"email": "a@example.com"} if payload is None else payload).encode()
    signed = standard_headers(secret or webhook["secret"], body)
    signed.update(headers)
    return client.post(intake(webhook), data=body, content_type="application/json", headers=signed)


def audit_actions(pg, tenant: str = "acme") -> list[str]:
    rows = pg.execute(
        "SELECT action FROM audit_events WHERE tenant_id = %s ORDER BY id", (tenant,)
    ).fetchall()
    return [row["action"] for row in rows]


def policies_file(tmp_path, text: str) -> str:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    return str(path)


# --------------------------------------------------------------------------- create


def test_create_returns_201_with_id_url_and_secret(client):
    created = create_webhook(
        client,
        source="zapier",
        auth={"type": "header-token"},
        input_mapping={"email": "payload.email"},
        description="orders",
    )

    assert created["webhook_id"].startswith("wh_")
    assert created["url"].endswith(f"/v1/webhooks/{created['webhook_id']}")
    assert created["source"] == "zapier"
    assert created["auth"] == {"type": "header-token"}
    assert created["input_mapping"] == {"email": "payload.email"}
    assert created["enabled"] is True
    assert created["description"] == "orders"
    assert created["flow_id"] == "support-triage"
    assert created["created_by"] == "alice"


def test_secret_is_a_standard_webhooks_secret_with_32_random_bytes(client):
    first = create_webhook(client)["secret"]
    second = create_webhook(client)["secret"]

    assert first.startswith("whsec_") and second.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_defaults_are_generic_source_and_standard_webhooks_auth(client):
    created = create_webhook(client)

    assert created["source"] == "generic"
    assert created["auth"] == {"type": "standard-webhooks"}
    assert created["input_mapping"] is None


def test_secret_is_never_returned_after_creation(client):
    created = create_webhook(client)
    secret = created["secret"]

    shown = client.get(f"{CONFIGS}/{created['webhook_id']}", headers=auth())
    listed = client.get(CONFIGS, headers=auth())
    patched = client.patch(
        f"{CONFIGS}/{created['webhook_id']}", json={"description": "x"}, headers=auth()
    )

    for response in (shown, listed, patched):
        assert response.status_code == 200
        assert secret not in response.get_data(as_text=True)
        assert "secret" not in json.dumps(response.get_json()).replace(
            "previous_secret_expires_at", ""
        )


def test_secret_is_stored_in_plain_form_only_without_a_key(client, pg):
    created = create_webhook(client)

    row = pg.execute("SELECT secret FROM webhook_configs").fetchone()
    assert row["secret"] == "plain:" + created["secret"]


def test_secret_is_encrypted_at_rest_when_the_key_is_set(make_pg_app, pg):
    app = make_pg_app(WEBHOOK_SECRET_KEY="k" * 40)
    client = app.test_client()
    created = create_webhook(client)

    row = pg.execute("SELECT secret, webhook_config FROM webhook_configs").fetchone()
    assert row["secret"].startswith("fernet:")
    assert created["secret"] not in json.dumps(row, default=str)
    assert created["secret"].removeprefix("whsec_") not in row["secret"]
    # and the intake still opens it
    assert post_standard(client, created).status_code == 202


def test_a_fernet_key_is_accepted_as_is(make_pg_app, pg):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    client = make_pg_app(WEBHOOK_SECRET_KEY=key.decode()).test_client()
    created = create_webhook(client)

    stored = pg.execute("SELECT secret FROM webhook_configs").fetchone()["secret"]
    assert (
        Fernet(key).decrypt(stored.removeprefix("fernet:").encode()).decode() == created["secret"]
    )


def test_an_encrypted_secret_without_the_key_is_503_not_500(make_pg_app):
    webhook = create_webhook(make_pg_app(WEBHOOK_SECRET_KEY="k" * 40).test_client())
    keyless = make_pg_app().test_client()

    response = post_standard(keyless, webhook)

    assert_error(response, 503)


def test_a_short_secret_key_stops_the_startup(make_pg_app):
    from ingress_app import ConfigError

    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_KEY"):
        make_pg_app(WEBHOOK_SECRET_KEY="too-short")


@pytest.mark.parametrize(
    "body,path",
    [
        ({"source": "smoke-signals"}, "source"),
        ({"auth": {"type": "carrier-pigeon"}}, "auth.type"),
        ({"auth": {"type": "basic", "header": "X-Token"}}, "auth.header"),
        ({"auth": {"type": "standard-webhooks", "username": "bob"}}, "auth.username"),
        ({"auth": {"type": "header-token", "header": "Bad Header"}}, "auth.header"),
        ({"input_mapping": {"email": "payload.["}}, "input_mapping.email"),
        ({"flow_definition": {"id": "f", "tasks": []}}, "flow_definition.tasks"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
    ids=[
        "source",
        "auth-type",
        "header-for-basic",
        "username-for-standard",
        "header-name",
        "mapping-syntax",
        "flow",
        "enabled",
        "unknown-field",
    ],
)
def test_invalid_config_is_400_naming_the_field(client, pg, body, path):
    payload = {"flow_definition": sample_flow(), **body}

    response = client.post(CONFIGS, json=payload, headers=auth())

    error = assert_error(response, 400)
    paths = [p["path"] for p in error["detail"]["problems"]]
    assert any(p.startswith(path.split(".")[0]) for p in paths), paths
    assert count(pg, "webhook_configs") == 0


def test_config_without_a_flow_is_400(client):
    response = client.post(CONFIGS, json={"source": "generic"}, headers=auth())

    error = assert_error(response, 400)
    assert error["detail"]["problems"][0]["path"] == "flow_id"


def test_unknown_source_names_the_available_ones(client):
    response = client.post(
        CONFIGS, json={"flow_definition": sample_flow(), "source": "github"}, headers=auth()
    )

    error = assert_error(response, 400)
    assert "zapier" in error["detail"]["problems"][0]["message"]


def test_source_not_enabled_for_the_tenant_is_400(make_pg_app, tmp_path, pg):
    path = policies_file(
        tmp_path,
        """\
version: 1
webhook_sources: [generic, standard, n8n, zapier]
tenants:
  acme:
    webhook_sources: [zapier]
""",
    )
    client = make_pg_app(POLICIES_FILE=path).test_client()

    refused = client.post(
        CONFIGS, json={"flow_definition": sample_flow(), "source": "n8n"}, headers=auth("acme")
    )
    allowed = client.post(
        CONFIGS, json={"flow_definition": sample_flow(), "source": "zapier"}, headers=auth("acme")
    )
    elsewhere = client.post(
        CONFIGS, json={"flow_definition": sample_flow(), "source": "n8n"}, headers=auth("globex")
    )

    error = assert_error(refused, 400)
    assert "not enabled" in error["detail"]["problems"][0]["message"]
    assert allowed.status_code == 201
    assert elsewhere.status_code == 201


def test_unregistered_flow_reference_is_404(client, pg):
    response = client.post(CONFIGS, json={"flow_id": f"nope-{uuid.uuid4().hex}"}, headers=auth())

    assert_error(response, 404)
    assert count(pg, "webhook_configs") == 0


def test_flow_version_with_an_inline_flow_is_400(client):
    response = client.post(
        CONFIGS, json={"flow_definition": sample_flow(), "flow_version": "2"}, headers=auth()
    )

    assert_error(response, 400)


def test_create_needs_a_token(client):
    response = client.post(CONFIGS, json={"flow_definition": sample_flow()})

    assert_error(response, 401)


def test_create_is_audited_without_the_secret(client, pg):
    created = create_webhook(client)

    row = pg.execute(
        "SELECT actor, action, resource_type, resource_id, detail FROM audit_events"
    ).fetchone()
    assert row["actor"] == "alice"
    assert row["action"] == "webhook_config.created"
    assert row["resource_type"] == "webhook_config"
    assert row["resource_id"] == created["webhook_id"]
    assert created["secret"] not in json.dumps(row["detail"])


# --------------------------------------------------------------------------- read


def test_get_shows_the_config(client):
    created = create_webhook(client, source="n8n", auth={"type": "hmac-sha256", "header": "X-Sig"})

    response = client.get(f"{CONFIGS}/{created['webhook_id']}", headers=auth())

    assert response.status_code == 200
    shown = response.get_json()
    assert {k: v for k, v in created.items() if k != "secret"} == shown


def test_another_tenants_config_is_404_like_an_unknown_one(client):
    created = create_webhook(client, tenant="acme")

    foreign = client.get(f"{CONFIGS}/{created['webhook_id']}", headers=auth("globex"))
    unknown = client.get(f"{CONFIGS}/wh_unknown", headers=auth("globex"))

    assert_error(foreign, 404)
    assert foreign.get_json()["detail"].replace(created["webhook_id"], "X") == unknown.get_json()[
        "detail"
    ].replace("wh_unknown", "X")


def test_list_is_the_tenants_newest_first_and_paginated(client):
    ids = [create_webhook(client, description=str(i))["webhook_id"] for i in range(3)]
    create_webhook(client, tenant="globex")

    first = client.get(f"{CONFIGS}?limit=2", headers=auth()).get_json()
    second = client.get(
        f"{CONFIGS}?limit=2&cursor={first['next_cursor']}", headers=auth()
    ).get_json()

    assert [item["webhook_id"] for item in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


def test_list_filters_by_source_and_enabled(client):
    zapier = create_webhook(client, source="zapier")
    create_webhook(client, source="n8n", enabled=False)

    by_source = client.get(f"{CONFIGS}?source=zapier", headers=auth()).get_json()
    disabled = client.get(f"{CONFIGS}?enabled=false", headers=auth()).get_json()

    assert [item["webhook_id"] for item in by_source["items"]] == [zapier["webhook_id"]]
    assert [item["source"] for item in disabled["items"]] == ["n8n"]


def test_unknown_list_filter_is_400(client):
    assert_error(client.get(f"{CONFIGS}?sauce=zapier", headers=auth()), 400)


# --------------------------------------------------------------------------- change


def test_patch_changes_only_the_given_fields(client, pg):
    created = create_webhook(client, description="before", input_mapping={"e": "payload.e"})

    response = client.patch(
        f"{CONFIGS}/{created['webhook_id']}",
        json={"description": "after", "input_mapping": None, "source": "n8n"},
        headers=auth(),
    )

    assert response.status_code == 200
    changed = response.get_json()
    assert changed["description"] == "after"
    assert changed["input_mapping"] is None
    assert changed["source"] == "n8n"
    assert changed["flow_definition"] == created["flow_definition"]
    assert changed["auth"] == created["auth"]
    assert audit_actions(pg)[-1] == "webhook_config.updated"


def test_patch_with_a_bad_value_is_400_and_changes_nothing(client):
    created = create_webhook(client, description="before")

    response = client.patch(
        f"{CONFIGS}/{created['webhook_id']}",
        json={"description": "after", "input_mapping": {"x": "a[?"}},
        headers=auth(),
    )

    assert_error(response, 400)
    shown = client.get(f"{CONFIGS}/{created['webhook_id']}", headers=auth()).get_json()
    assert shown["description"] == "before"


def test_empty_patch_is_400(client):
    created = create_webhook(client)

    assert_error(client.patch(f"{CONFIGS}/{created['webhook_id']}", json={}, headers=auth()), 400)


def test_patch_keeps_the_secret(client):
    created = create_webhook(client)
    client.patch(
        f"{CONFIGS}/{created['webhook_id']}",
        json={"auth": {"type": "header-token"}},
        headers=auth(),
    )

    response = client.post(
        intake(created), json={"a": 1}, headers={"X-Webhook-Token": created["secret"]}
    )

    assert response.status_code == 202


def test_patch_of_another_tenants_config_is_404(client):
    created = create_webhook(client, tenant="acme")

    response = client.patch(
        f"{CONFIGS}/{created['webhook_id']}", json={"enabled": False}, headers=auth("globex")
    )

    assert_error(response, 404)


# --------------------------------------------------------------------------- delete


def test_delete_is_204_then_404_everywhere(client, pg):
    created = create_webhook(client)
    path = f"{CONFIGS}/{created['webhook_id']}"

    deleted = client.delete(path, headers=auth())

    assert deleted.status_code == 204
    assert_error(client.get(path, headers=auth()), 404)
    assert_error(client.delete(path, headers=auth()), 404)
    assert_error(client.get(f"{path}/deliveries", headers=auth()), 404)
    assert client.get(CONFIGS, headers=auth()).get_json()["items"] == []
    row = pg.execute("SELECT secret, previous_secret, enabled FROM webhook_configs").fetchone()
    assert row == {"secret": None, "previous_secret": None, "enabled": False}
    assert audit_actions(pg)[-1] == "webhook_config.deleted"


# --------------------------------------------------------------------------- rotate


def test_rotate_returns_a_new_secret_once(client, pg):
    created = create_webhook(client)

    response = client.post(f"{CONFIGS}/{created['webhook_id']}/rotate-secret", headers=auth())

    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["webhook_id"] == created["webhook_id"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"]
    shown = client.get(f"{CONFIGS}/{created['webhook_id']}", headers=auth())
    assert rotated["secret"] not in shown.get_data(as_text=True)
    assert shown.get_json()["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    assert audit_actions(pg)[-1] == "webhook_config.secret_rotated"


def test_rotate_grace_defaults_to_the_setting(make_pg_app):
    client = make_pg_app(WEBHOOK_SECRET_GRACE_SECONDS=120).test_client()
    created = create_webhook(client)

    rotated = client.post(
        f"{CONFIGS}/{created['webhook_id']}/rotate-secret", headers=auth()
    ).get_json()

    from datetime import UTC, datetime

    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert 100 < (expires - datetime.now(UTC)).total_seconds() <= 120


def test_rotate_of_another_tenants_config_is_404(client):
    created = create_webhook(client, tenant="acme")

    response = client.post(
        f"{CONFIGS}/{created['webhook_id']}/rotate-secret", headers=auth("globex")
    )

    assert_error(response, 404)


def test_rotate_with_an_unknown_field_is_400(client):
    created = create_webhook(client)

    response = client.post(
        f"{CONFIGS}/{created['webhook_id']}/rotate-secret", json={"grace": 5}, headers=auth()
    )

    assert_error(response, 400)


# --------------------------------------------------------------------------- logs


def test_secrets_are_never_logged(client, caplog):
    caplog.set_level(logging.DEBUG)
    created = create_webhook(client, auth={"type": "header-token"})
    rotated = client.post(
        f"{CONFIGS}/{created['webhook_id']}/rotate-secret", headers=auth()
    ).get_json()
    client.post(intake(created), json={"a": 1}, headers={"X-Webhook-Token": rotated["secret"]})
    client.post(
        intake(created), json={"a": 1}, headers={"X-Webhook-Token": "wrong" + rotated["secret"]}
    )
    client.post(intake(created), json={"a": 1}, headers={"X-Webhook-Token": created["secret"]})

    assert caplog.records, "expected some log records to check"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__}"
        for secret in (created["secret"], rotated["secret"]):
            assert secret not in text
            assert secret.removeprefix("whsec_") not in text


def test_reseal_encrypts_secrets_stored_before_the_key_was_set(make_pg_app, pg):
    created = create_webhook(make_pg_app().test_client())
    app = make_pg_app(WEBHOOK_SECRET_KEY="n" * 40)

    result = app.test_cli_runner().invoke(args=["webhooks", "reseal"])

    assert result.exit_code == 0, result.output
    assert "resealed: 1" in result.output
    assert (
        pg.execute("SELECT secret FROM webhook_configs").fetchone()["secret"].startswith("fernet:")
    )
    assert post_standard(app.test_client(), created).status_code == 202


def test_reseal_moves_secrets_to_the_new_first_key(make_pg_app, pg):
    created = create_webhook(make_pg_app(WEBHOOK_SECRET_KEY="o" * 40).test_client())
    rotated_app = make_pg_app(WEBHOOK_SECRET_KEY=f"{'n' * 40},{'o' * 40}")

    rotated_app.test_cli_runner().invoke(args=["webhooks", "reseal"])

    assert (
        post_standard(make_pg_app(WEBHOOK_SECRET_KEY="n" * 40).test_client(), created).status_code
        == 202
    )
