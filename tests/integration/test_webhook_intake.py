"""Webhook intake: each auth method right and wrong, bodies, input mapping, policies,
disabled and deleted webhooks, and the record every delivery leaves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.integration.test_webhook_configs import (
    CONFIGS,
    audit_actions,
    create_webhook,
    intake,
    policies_file,
    post_standard,
    standard_headers,
    standard_signature,
)
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


def run_of(pg, run_id: str) -> dict:
    return pg.execute(
        "SELECT tenant_id, user_id, flow_id, source, input_data, request_id "
        "FROM flow_runs_audit WHERE run_id = %s",
        (run_id,),
    ).fetchone()


def deliveries(client, webhook: dict, tenant: str = "acme") -> list[dict]:
    response = client.get(f"{CONFIGS}/{webhook['webhook_id']}/deliveries", headers=auth(tenant))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def assert_unauthorized(response, pg, webhook: dict) -> dict:
    """401, and nothing written for it: no run, no audit event, no delivery row."""
    body = assert_error(response, 401)
    assert response.headers["WWW-Authenticate"]
    assert count(pg, "flow_runs_audit") == 0
    assert "webhook.unauthorized" not in audit_actions(pg)
    assert pg.execute(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE webhook_id = %s AND status_code = 401",
        (webhook["webhook_id"],),
    ).fetchone()["n"] == 0
    return body


# --------------------------------------------------------------------------- Standard Webhooks


def test_valid_standard_signature_starts_a_run(client, pg):
    webhook = create_webhook(client)

    response = post_standard(client, webhook, {"email": "a@example.com"})

    assert response.status_code == 202, response.get_data(as_text=True)
    accepted = response.get_json()
    assert accepted == {"run_id": accepted["run_id"], "correlation_id": accepted["correlation_id"],
                        "replayed": False}
    run = run_of(pg, accepted["run_id"])
    assert run["tenant_id"] == "acme"
    assert run["user_id"] == "alice"
    assert run["source"] == "webhook"
    assert run["input_data"] == {"email": "a@example.com"}
    assert run["flow_id"] == "support-triage"
    assert count(pg, "outbox_messages") == 1


def test_accepted_delivery_is_audited_as_the_webhook(client, pg):
    webhook = create_webhook(client)

    accepted = post_standard(client, webhook).get_json()

    row = pg.execute(
        "SELECT actor, resource_id FROM audit_events WHERE action = 'run.accepted'"
    ).fetchone()
    assert row == {"actor": f"webhook:{webhook['webhook_id']}", "resource_id": accepted["run_id"]}


def test_tampered_body_is_401(client, pg):
    webhook = create_webhook(client)
    body = b'{"email": "a@example.com"}'
    headers = standard_headers(webhook["secret"], body)

    response = client.post(
        intake(webhook),
        data=b'{"email": "evil@example.com"}',
        content_type="application/json",
        headers=headers,
    )

    assert_unauthorized(response, pg, webhook)


@pytest.mark.parametrize("offset", [-301, 301], ids=["expired", "future"])
def test_timestamp_outside_five_minutes_is_401(client, pg, offset):
    webhook = create_webhook(client)
    body = b"{}"
    headers = standard_headers(webhook["secret"], body, timestamp=int(time.time()) + offset)

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    detail = assert_unauthorized(response, pg, webhook)["detail"]
    assert "timestamp" in detail


@pytest.mark.parametrize("offset", [-290, 290], ids=["past", "future"])
def test_timestamp_within_five_minutes_is_accepted(client, offset):
    webhook = create_webhook(client)
    body = b"{}"
    headers = standard_headers(webhook["secret"], body, timestamp=int(time.time()) + offset)

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 202


def test_any_of_several_signatures_may_match(client):
    webhook = create_webhook(client)
    body = b'{"a": 1}'
    headers = standard_headers(webhook["secret"], body)
    other = standard_signature(
        "whsec_" + base64.b64encode(b"o" * 32).decode(),
        headers["webhook-id"],
        headers["webhook-timestamp"],
        body,
    )
    headers["webhook-signature"] = f"v1a,c2lnbmF0dXJl {other} {headers['webhook-signature']}"

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 202


def test_rotated_secret_old_and_new_both_work_during_grace(client):
    webhook = create_webhook(client)
    rotated = client.post(
        f"{CONFIGS}/{webhook['webhook_id']}/rotate-secret", headers=auth()
    ).get_json()

    with_new = post_standard(client, webhook, {"n": 1}, secret=rotated["secret"])
    with_old = post_standard(client, webhook, {"n": 2}, secret=webhook["secret"])

    assert with_new.status_code == 202
    assert with_old.status_code == 202


def test_rotated_secret_without_grace_refuses_the_old_one(client, pg):
    webhook = create_webhook(client)
    rotated = client.post(
        f"{CONFIGS}/{webhook['webhook_id']}/rotate-secret",
        json={"grace_seconds": 0},
        headers=auth(),
    ).get_json()

    with_old = post_standard(client, webhook, secret=webhook["secret"])

    assert_unauthorized(with_old, pg, webhook)
    assert post_standard(client, webhook, {"n": 2}, secret=rotated["secret"]).status_code == 202


def test_old_secret_stops_working_when_the_grace_period_ends(client, pg):
    webhook = create_webhook(client)
    client.post(f"{CONFIGS}/{webhook['webhook_id']}/rotate-secret", headers=auth())
    pg.execute(
        "UPDATE webhook_configs SET previous_secret_expires_at = now() - interval '1 second'"
    )

    response = post_standard(client, webhook, secret=webhook["secret"])

    assert_unauthorized(response, pg, webhook)


MALFORMED_STANDARD = {
    "missing-id": {"webhook-id": None},
    "missing-timestamp": {"webhook-timestamp": None},
    "missing-signature": {"webhook-signature": None},
    "text-timestamp": {"webhook-timestamp": "yesterday"},
    "float-timestamp": {"webhook-timestamp": "1700000000.5"},
    "negative-timestamp": {"webhook-timestamp": "-1"},
    "huge-timestamp": {"webhook-timestamp": "9" * 400},
    "no-version": {"webhook-signature": "c2lnbmF0dXJl"},
    "bad-base64": {"webhook-signature": "v1,!!!not-base64!!!"},
    "empty-v1": {"webhook-signature": "v1,"},
    "many-commas": {"webhook-signature": "v1,a,b,c"},
    "only-spaces": {"webhook-signature": "     "},
    "unicode": {"webhook-signature": "v1,ünïcödé"},
    "overlong": {"webhook-signature": "v1," + "A" * 20_000},
}


@pytest.mark.parametrize("changes", MALFORMED_STANDARD.values(), ids=MALFORMED_STANDARD.keys())
def test_malformed_standard_headers_are_401_never_500(client, pg, changes):
    webhook = create_webhook(client)
    body = b"{}"
    headers = standard_headers(webhook["secret"], body)
    for name, value in changes.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value

    response = client.post(
        intake(webhook), data=body, content_type="application/json", headers=headers
    )

    assert_unauthorized(response, pg, webhook)


def test_another_tenants_secret_on_this_url_is_401(client, pg):
    mine = create_webhook(client, tenant="acme")
    theirs = create_webhook(client, tenant="globex")

    response = post_standard(client, mine, secret=theirs["secret"])

    assert_unauthorized(response, pg, mine)
    assert count(pg, "flow_runs_audit") == 0


def test_a_valid_signature_for_another_webhook_id_is_401(client, pg):
    first = create_webhook(client)
    second = create_webhook(client)
    body = b"{}"
    headers = standard_headers(first["secret"], body)

    response = client.post(
        intake(second), data=body, content_type="application/json", headers=headers
    )

    assert_unauthorized(response, pg, second)


# --------------------------------------------------------------------------- HMAC-SHA256


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("prefix", ["", "sha256="], ids=["bare", "prefixed"])
def test_hmac_sha256_in_the_configured_header_starts_a_run(client, prefix):
    webhook = create_webhook(client, source="n8n", auth={"type": "hmac-sha256", "header": "X-Sig"})
    body = b'{"order": 7}'

    response = client.post(
        intake(webhook),
        data=body,
        content_type="application/json",
        headers={"X-Sig": prefix + hex_hmac(webhook["secret"], body).upper()},
    )

    assert response.status_code == 202


def test_hmac_sha256_default_header(client):
    webhook = create_webhook(client, auth={"type": "hmac-sha256"})
    body = b'{"order": 7}'

    response = client.post(
        intake(webhook),
        data=body,
        content_type="application/json",
        headers={"X-Webhook-Signature": hex_hmac(webhook["secret"], body)},
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    "value",
    ["", "zz", "sha256=", "deadbeef", "g" * 64, "sha512=" + "a" * 64, "ä" * 64, None],
    ids=[
        "empty",
        "short",
        "prefix-only",
        "short-hex",
        "not-hex",
        "other-algo",
        "unicode",
        "missing",
    ],
)
def test_malformed_hmac_header_is_401(client, pg, value):
    webhook = create_webhook(client, auth={"type": "hmac-sha256"})
    headers = {} if value is None else {"X-Webhook-Signature": value}

    response = client.post(intake(webhook), json={"a": 1}, headers=headers)

    assert_unauthorized(response, pg, webhook)


def test_hmac_over_another_body_is_401(client, pg):
    webhook = create_webhook(client, auth={"type": "hmac-sha256"})

    response = client.post(
        intake(webhook),
        data=b'{"a": 2}',
        content_type="application/json",
        headers={"X-Webhook-Signature": hex_hmac(webhook["secret"], b'{"a": 1}')},
    )

    assert_unauthorized(response, pg, webhook)


# --------------------------------------------------------------------------- header token


def test_header_token_right_and_wrong(client, pg):
    webhook = create_webhook(
        client, source="zapier", auth={"type": "header-token", "header": "X-Zap-Token"}
    )

    right = client.post(intake(webhook), json={"a": 1}, headers={"X-Zap-Token": webhook["secret"]})
    wrong = client.post(
        intake(webhook), json={"a": 1}, headers={"X-Zap-Token": webhook["secret"][:-2] + "xx"}
    )

    assert right.status_code == 202
    assert_error(wrong, 401)
    assert "webhook.unauthorized" not in audit_actions(pg)
    assert count(pg, "webhook_deliveries") == 1  # the right one only


def test_header_token_in_the_wrong_header_is_401(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})

    response = client.post(intake(webhook), json={"a": 1}, headers={"X-Other": webhook["secret"]})

    assert_unauthorized(response, pg, webhook)


def test_header_token_is_not_visible_to_the_input_mapping(client, pg):
    webhook = create_webhook(
        client, auth={"type": "header-token"}, input_mapping={"all_headers": "headers"}
    )

    response = client.post(
        intake(webhook),
        json={"a": 1},
        headers={"X-Webhook-Token": webhook["secret"], "X-Trace": "t-1"},
    )

    assert response.status_code == 202
    run = run_of(pg, response.get_json()["run_id"])
    assert run["input_data"]["all_headers"]["x-trace"] == "t-1"
    assert webhook["secret"] not in json.dumps(run["input_data"])


# --------------------------------------------------------------------------- Basic


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_right(client):
    webhook = create_webhook(client, source="zapier", auth={"type": "basic", "username": "zapier"})

    response = client.post(
        intake(webhook), json={"a": 1}, headers=basic("zapier", webhook["secret"])
    )

    assert response.status_code == 202


def test_basic_auth_default_username_is_ingress(client):
    webhook = create_webhook(client, auth={"type": "basic"})

    response = client.post(
        intake(webhook), json={"a": 1}, headers=basic("ingress", webhook["secret"])
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode()},
    ],
    ids=["missing", "bearer", "no-credentials", "bad-base64", "no-colon", "binary"],
)
def test_malformed_basic_auth_is_401_with_a_basic_challenge(client, pg, headers):
    webhook = create_webhook(client, auth={"type": "basic"})

    response = client.post(intake(webhook), json={"a": 1}, headers=headers)

    assert_unauthorized(response, pg, webhook)
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    "user,use_secret", [("ingress", False), ("someone", True)], ids=["wrong-password", "wrong-user"]
)
def test_wrong_basic_credentials_are_401(client, pg, user, use_secret):
    webhook = create_webhook(client, auth={"type": "basic"})
    password = webhook["secret"] if use_secret else "guess"

    response = client.post(intake(webhook), json={"a": 1}, headers=basic(user, password))

    assert_unauthorized(response, pg, webhook)


# --------------------------------------------------------------------------- unknown / disabled / deleted


def test_unknown_disabled_and_deleted_webhooks_are_the_same_404(client, pg):
    disabled = create_webhook(client, enabled=False)
    deleted = create_webhook(client)
    client.delete(f"{CONFIGS}/{deleted['webhook_id']}", headers=auth())

    bodies = []
    for webhook, secret in (
        (disabled, disabled["secret"]),
        (deleted, deleted["secret"]),
        ("wh_never_existed", disabled["secret"]),
    ):
        response = post_standard(
            client,
            {
                "webhook_id": webhook if isinstance(webhook, str) else webhook["webhook_id"],
                "secret": secret,
            },
        )
        error = assert_error(response, 404)
        webhook_id = webhook if isinstance(webhook, str) else webhook["webhook_id"]
        bodies.append(json.dumps(error).replace(webhook_id, "ID"))

    assert len(set(bodies)) == 1
    assert count(pg, "flow_runs_audit") == 0
    assert count(pg, "webhook_deliveries") == 0


def test_re_enabled_webhook_accepts_again(client):
    webhook = create_webhook(client, enabled=False)
    client.patch(f"{CONFIGS}/{webhook['webhook_id']}", json={"enabled": True}, headers=auth())

    assert post_standard(client, webhook).status_code == 202


def test_overlong_webhook_id_is_404(client):
    assert_error(client.post(intake("w" * 1000), json={}), 404)


def test_intake_ignores_a_jwt(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})

    response = client.post(intake(webhook), json={"a": 1}, headers=auth("acme"))

    assert_unauthorized(response, pg, webhook)


# --------------------------------------------------------------------------- bodies


def token_webhook(client, **body) -> dict:
    return create_webhook(client, auth={"type": "header-token"}, **body)


def post_token(client, webhook: dict, **kwargs):
    headers = {"X-Webhook-Token": webhook["secret"], **kwargs.pop("headers", {})}
    return client.post(intake(webhook), headers=headers, **kwargs)


def test_form_body_is_the_payload(client, pg):
    webhook = token_webhook(client)

    response = post_token(
        client,
        webhook,
        data=urlencode([("email", "a@example.com"), ("tag", "x"), ("tag", "y"), ("empty", "")]),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 202, response.get_data(as_text=True)
    assert run_of(pg, response.get_json()["run_id"])["input_data"] == {
        "email": "a@example.com",
        "tag": ["x", "y"],
        "empty": "",
    }


def test_zapier_form_keys_are_unflattened(client, pg):
    webhook = token_webhook(client, source="zapier")

    response = post_token(
        client,
        webhook,
        data="customer__email=a%40example.com&customer__name=Ann",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 202
    assert run_of(pg, response.get_json()["run_id"])["input_data"] == {
        "customer": {"email": "a@example.com", "name": "Ann"}
    }


def test_n8n_single_item_array_is_unwrapped(client, pg):
    webhook = token_webhook(client, source="n8n")

    response = post_token(client, webhook, json=[{"json": {"order": 7}}])

    assert response.status_code == 202
    assert run_of(pg, response.get_json()["run_id"])["input_data"] == {"order": 7}


def test_seed_envelope_payload_is_used(client, pg):
    webhook = token_webhook(
        client, input_mapping={"email": "payload.email", "origin": 'headers."x-origin"'}
    )

    response = post_token(
        client,
        webhook,
        json={
            "webhook_id": webhook["webhook_id"],
            "payload": {"email": "a@example.com"},
            "headers": {"X-Origin": "crm"},
            "source": "generic",
        },
    )

    assert response.status_code == 202, response.get_data(as_text=True)
    assert run_of(pg, response.get_json()["run_id"])["input_data"] == {
        "email": "a@example.com",
        "origin": "crm",
    }


def test_envelope_for_another_webhook_is_400(client, pg):
    webhook = token_webhook(client)

    response = post_token(client, webhook, json={"webhook_id": "wh_other", "payload": {}})

    assert_error(response, 400)
    assert count(pg, "flow_runs_audit") == 0


def test_empty_body_is_an_empty_payload(client, pg):
    webhook = token_webhook(client)

    response = post_token(client, webhook)

    assert response.status_code == 202
    assert run_of(pg, response.get_json()["run_id"])["input_data"] == {}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"]
)
def test_other_content_types_are_415(client, pg, content_type):
    webhook = token_webhook(client)

    response = post_token(client, webhook, data=b"a=1", content_type=content_type)

    assert_error(response, 415)
    assert count(pg, "flow_runs_audit") == 0


@pytest.mark.parametrize(
    "data,content_type",
    [
        (b'{"a": ', "application/json"),
        (b'{"a": "\\u0000"}', "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"a=%ff%fe", "application/x-www-form-urlencoded"),
        (b"a=%00", "application/x-www-form-urlencoded"),
    ],
    ids=["truncated-json", "nul-json", "deep-json", "bad-utf8-form", "nul-form"],
)
def test_malformed_bodies_are_400(client, pg, data, content_type):
    webhook = token_webhook(client)

    response = post_token(client, webhook, data=data, content_type=content_type)

    assert_error(response, 400)
    assert count(pg, "flow_runs_audit") == 0


def test_body_over_the_size_limit_is_413(make_pg_app, pg):
    client = make_pg_app(MAX_CONTENT_LENGTH=1000).test_client()
    webhook = token_webhook(client)

    response = post_token(client, webhook, json={"big": "x" * 2000})

    assert_error(response, 413)


def test_non_object_payload_without_mapping_is_400(client, pg):
    webhook = token_webhook(client)

    response = post_token(client, webhook, json=[1, 2, 3])

    error = assert_error(response, 400)
    assert error["detail"]["problems"][0]["path"] == "payload"


# --------------------------------------------------------------------------- input mapping


def test_input_mapping_reads_payload_headers_and_query(client, pg):
    webhook = token_webhook(
        client,
        input_mapping={
            "email": "payload.customer.email",
            "first_item": "payload.items[0].sku",
            "trace": 'headers."x-trace-id"',
            "campaign": "query.utm",
            "count": "length(payload.items)",
        },
    )

    response = post_token(
        client,
        webhook,
        json={"customer": {"email": "a@example.com"}, "items": [{"sku": "A1"}, {"sku": "B2"}]},
        query_string={"utm": "spring"},
        headers={"X-Trace-Id": "t-9"},
    )

    assert response.status_code == 202, response.get_data(as_text=True)
    assert run_of(pg, response.get_json()["run_id"])["input_data"] == {
        "email": "a@example.com",
        "first_item": "A1",
        "trace": "t-9",
        "campaign": "spring",
        "count": 2,
    }


def test_mapping_that_matches_nothing_is_400_naming_the_key(client, pg):
    webhook = token_webhook(
        client, input_mapping={"email": "payload.email", "name": "payload.name"}
    )

    response = post_token(client, webhook, json={"email": "a@example.com"})

    error = assert_error(response, 400)
    assert [p["path"] for p in error["detail"]["problems"]] == ["input_mapping.name"]
    assert count(pg, "flow_runs_audit") == 0


def test_mapping_that_fails_at_runtime_is_400_naming_the_key(client, pg):
    webhook = token_webhook(client, input_mapping={"n": "length(payload.count)"})

    response = post_token(client, webhook, json={"count": 5})

    error = assert_error(response, 400)
    assert error["detail"]["problems"][0]["path"] == "input_mapping.n"


def test_rejected_delivery_is_recorded_and_audited(client, pg):
    webhook = token_webhook(client, input_mapping={"name": "payload.name"})

    post_token(client, webhook, json={}, headers={"Idempotency-Key": "d-1"})

    [delivery] = deliveries(client, webhook)
    assert delivery["delivery_id"] == "d-1"
    assert delivery["outcome"] == "rejected"
    assert delivery["status_code"] == 400
    assert delivery["run_id"] is None
    assert "webhook.rejected" in audit_actions(pg)


# --------------------------------------------------------------------------- policies


def test_policy_denial_is_403_and_audited(client, pg):
    flow = sample_flow()
    flow["tasks"][0]["retries"] = 50
    webhook = token_webhook(client, flow_definition=flow)

    response = post_token(client, webhook, json={"a": 1})

    error = assert_error(response, 403)
    assert error["detail"]["violations"][0]["policy"] == "retry_limit"
    assert count(pg, "flow_runs_audit") == 0
    denied = pg.execute("SELECT actor FROM audit_events WHERE action = 'run.denied'").fetchone()
    assert denied["actor"] == f"webhook:{webhook['webhook_id']}"
    assert deliveries(client, webhook)[0]["outcome"] == "denied"


def test_source_disabled_in_policies_after_creation_is_403(make_pg_app, tmp_path, pg):
    path = policies_file(tmp_path, "version: 1\nwebhook_sources: [generic, zapier]\n")
    webhook = create_webhook(
        make_pg_app(POLICIES_FILE=path).test_client(),
        source="zapier",
        auth={"type": "header-token"},
    )
    restricted = policies_file(tmp_path, "version: 1\nwebhook_sources: [generic]\n")
    client = make_pg_app(POLICIES_FILE=restricted).test_client()

    response = post_token(client, webhook, json={"a": 1})

    error = assert_error(response, 403)
    assert "zapier" in error["detail"]
    assert count(pg, "flow_runs_audit") == 0


def test_intake_counts_against_the_tenants_rate_limit(make_pg_app, tmp_path):
    path = policies_file(tmp_path, "version: 1\ntenants:\n  acme:\n    rate_limit: 2/minute\n")
    client = make_pg_app(POLICIES_FILE=path).test_client()
    webhook = token_webhook(client)

    statuses = [post_token(client, webhook, json={"n": i}).status_code for i in range(3)]

    assert statuses == [202, 202, 429]


# --------------------------------------------------------------------------- registry flows


def test_registry_flow_reference_starts_the_registered_flow(client, pg):
    registered = client.post("/v1/flows", json=sample_flow("registered-flow"), headers=auth())
    if registered.status_code == 404:
        pytest.skip("the flow registry API is not available")
    assert registered.status_code == 201, registered.get_data(as_text=True)
    webhook = create_webhook(client, flow_id="registered-flow", auth={"type": "header-token"})

    response = post_token(client, webhook, json={"a": 1})

    assert response.status_code == 202, response.get_data(as_text=True)
    assert run_of(pg, response.get_json()["run_id"])["flow_id"] == "registered-flow"


# --------------------------------------------------------------------------- deliveries


def test_deliveries_list_shows_outcomes_newest_first(client):
    webhook = token_webhook(client)
    accepted = post_token(
        client, webhook, json={"a": 1}, headers={"Idempotency-Key": "one"}
    ).get_json()
    client.post(intake(webhook), json={"a": 1}, headers={"X-Webhook-Token": "wrong"})
    post_token(client, webhook, json={"a": 1}, headers={"Idempotency-Key": "\u00e9"})

    items = deliveries(client, webhook)

    # the unauthenticated one is not recorded
    assert [item["outcome"] for item in items] == ["rejected", "accepted"]
    assert items[1]["run_id"] == accepted["run_id"]
    assert items[1]["correlation_id"] == accepted["correlation_id"]
    assert items[1]["delivery_id"] == "one"
    assert items[1]["status_code"] == 202
    assert items[0]["status_code"] == 400 and items[0]["delivery_id"] is None


def test_deliveries_filter_by_outcome_and_paginate(client):
    webhook = token_webhook(client)
    for i in range(3):
        post_token(client, webhook, json={"a": i})
    path = f"{CONFIGS}/{webhook['webhook_id']}/deliveries"

    first = client.get(f"{path}?limit=2&outcome=accepted", headers=auth()).get_json()
    second = client.get(
        f"{path}?limit=2&outcome=accepted&cursor={first['next_cursor']}", headers=auth()
    ).get_json()

    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert second["next_cursor"] is None


def test_another_tenants_deliveries_are_404(client):
    webhook = token_webhook(client)

    response = client.get(f"{CONFIGS}/{webhook['webhook_id']}/deliveries", headers=auth("globex"))

    assert_error(response, 404)


def app_with_an_old_and_a_new_delivery(make_pg_app, pg):
    """Retention 1 h; delivery "old" last seen 2 h ago, "new" just now."""
    app = make_pg_app(WEBHOOK_DELIVERY_RETENTION_HOURS=1)
    client = app.test_client()
    webhook = token_webhook(client)
    post_token(client, webhook, json={"a": 1}, headers={"Idempotency-Key": "old"})
    post_token(client, webhook, json={"a": 2}, headers={"Idempotency-Key": "new"})
    pg.execute(
        "UPDATE webhook_deliveries SET last_received_at = now() - interval '2 hours' "
        "WHERE delivery_id = 'old'"
    )
    return app


def test_prune_forgets_old_deliveries(make_pg_app, pg):
    app = app_with_an_old_and_a_new_delivery(make_pg_app, pg)

    result = app.test_cli_runner().invoke(args=["webhooks", "prune"])

    assert result.exit_code == 0, result.output
    assert "deleted: 1" in result.output
    assert [
        row["delivery_id"] for row in pg.execute("SELECT delivery_id FROM webhook_deliveries")
    ] == ["new"]


def test_the_relays_periodic_prune_forgets_old_deliveries_too(make_pg_app, pg):
    from ingress_app.outbox.relay import OutboxRelay

    app = app_with_an_old_and_a_new_delivery(make_pg_app, pg)

    OutboxRelay(app).prune()

    assert [
        row["delivery_id"] for row in pg.execute("SELECT delivery_id FROM webhook_deliveries")
    ] == ["new"]
