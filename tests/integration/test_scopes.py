"""Scopes within a tenant: every JWT operation of the OpenAPI document names the scope it
requires and refuses a token without it (403 `detail.required_scope`), before anything is
read or stored."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from ingress_app.auth import ALL_SCOPES
from tests.conftest import auth, make_token, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored, count

SAMPLE_ID = "0" * 26


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "patch", "delete", "put"}:
                yield path, method, operation


def _jwt_operations(document):
    """The operations that take a Bearer token (not webhook intake, health, metrics)."""
    default = document.get("security", [])
    for path, method, operation in _operations(document):
        if {"bearerAuth"} <= {name for req in operation.get("security", default) for name in req}:
            if path.startswith("/v1/"):
                yield path, method, operation


@pytest.fixture(scope="module")
def document(shared_app):
    return shared_app.test_client().get("/openapi.json").get_json()


def test_every_bearer_operation_documents_its_scope(document):
    operations = list(_jwt_operations(document))
    assert len(operations) >= 25
    for path, method, operation in operations:
        scope = operation.get("x-required-scope")
        assert scope in ALL_SCOPES, (method, path)
        assert operation["security"] == [{"bearerAuth": [scope]}], (method, path)
        assert scope in operation["responses"]["403"]["description"], (method, path)


EXPECTED = {
    ("post", "/v1/runs"): "runs:write",
    ("get", "/v1/runs"): "runs:read",
    ("get", "/v1/runs/{run_id}"): "runs:read",
    ("post", "/v1/runs/{run_id}/cancel"): "runs:write",
    ("post", "/v1/runs/validate"): "runs:write",
    ("post", "/v1/flows"): "flows:write",
    ("get", "/v1/flows"): "flows:read",
    ("delete", "/v1/flows/{flow_id}/versions/{version}"): "flows:write",
    ("post", "/v1/webhook-configs"): "webhooks:admin",
    ("get", "/v1/webhook-configs/{webhook_id}/deliveries"): "webhooks:admin",
    ("post", "/v1/subscriptions"): "webhooks:admin",
    ("get", "/v1/callbacks/secret"): "webhooks:admin",
    ("get", "/v1/audit"): "audit:read",
}


def test_the_scopes_of_the_sensitive_operations(document):
    found = {(m, p): op["x-required-scope"] for p, m, op in _jwt_operations(document)}
    for key, scope in EXPECTED.items():
        assert found[key] == scope, key


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", SAMPLE_ID, path)


def test_each_operation_refuses_a_token_lacking_its_scope(document, quiet_client, pg):
    for path, method, operation in _jwt_operations(document):
        scope = operation["x-required-scope"]
        others = " ".join(sorted(ALL_SCOPES - {scope}))
        headers = {"Authorization": f"Bearer {make_token(scope=others)}"}
        body = {"flow_definition": sample_flow()} if method in {"post", "patch"} else None
        response = quiet_client.open(_url(path), method=method.upper(), json=body, headers=headers)
        problem = assert_error(response, 403, "Forbidden")
        assert problem["detail"] == {"required_scope": scope}, (method, path)
    assert_nothing_stored(pg)
    assert count(pg, "audit_events") == 0


@pytest.mark.parametrize(
    "claims",
    [{"scope": "runs:write"}, {"scp": ["runs:write"]}, {"scp": "runs:write runs:read"}, {}],
    ids=["scope", "scp-list", "scp-string", "no-claim"],
)
def test_a_token_with_the_scope_starts_a_run(quiet_client, claims):
    response = quiet_client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth(**claims)
    )
    assert response.status_code == 202, response.get_data(as_text=True)


def test_the_fast_paths_keep_the_scope(quiet_client):
    """The same token twice: the second request is verified from the process's cache
    (the accept/read paths in front of Flask), and still refused."""
    read_only = auth(scope="runs:read")
    for _ in range(2):
        response = quiet_client.post(
            "/v1/runs", json={"flow_definition": sample_flow()}, headers=read_only
        )
        assert assert_error(response, 403)["detail"] == {"required_scope": "runs:write"}
    run_id = quiet_client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth()
    ).get_json()["run_id"]
    write_only = auth(scope="runs:write")
    quiet_client.get(f"/v1/runs/{run_id}", headers=auth())  # cached now
    for _ in range(2):
        response = quiet_client.get(f"/v1/runs/{run_id}", headers=write_only)
        assert assert_error(response, 403)["detail"] == {"required_scope": "runs:read"}


@pytest.mark.parametrize("claims", [{"scope": ["runs:write"]}, {"scp": 5}])
def test_a_malformed_scope_claim_is_401(quiet_client, claims):
    response = quiet_client.get("/v1/runs", headers=auth(**claims))
    assert_error(response, 401)


def test_default_scopes_apply_to_tokens_without_a_claim(make_pg_app):
    client = make_pg_app(JWT_DEFAULT_SCOPES="runs:read").test_client()
    assert client.get("/v1/runs", headers=auth()).status_code == 200
    response = client.post("/v1/runs", json={"flow_definition": sample_flow()}, headers=auth())
    assert assert_error(response, 403)["detail"] == {"required_scope": "runs:write"}
    assert client.get("/v1/runs", headers=auth(scope="audit:read")).status_code == 403


def test_tokens_issue_with_scopes(shared_app):
    runner = CliRunner()
    cli = shared_app.cli
    result = runner.invoke(
        cli, ["tokens", "issue", "--tenant", "acme", "--user", "ops", "--scope", "runs:read",
              "--scope", "audit:read"], obj=_script_info(shared_app),
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    client = shared_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/audit", headers=headers).status_code == 200
    assert client.get("/v1/flows", headers=headers).status_code == 403
    result = runner.invoke(
        cli, ["tokens", "issue", "--tenant", "acme", "--user", "ops", "--scope", "runs:own"],
        obj=_script_info(shared_app),
    )
    assert result.exit_code == 2 and "unknown scope 'runs:own'" in result.output


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)
