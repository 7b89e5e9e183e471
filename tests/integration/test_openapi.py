"""OpenAPI document and the interactive docs page (served without a CDN)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import auth


@pytest.fixture
def client(quiet_client):
    """Reading the documentation stores nothing, so one app serves the module."""
    return quiet_client


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def resolve(spec: dict, node: dict) -> dict:
    """Follow local `$ref`s until a concrete object."""
    while "$ref" in node:
        path = node["$ref"].lstrip("#/").split("/")
        node = spec
        for part in path:
            node = node[part]
    return node


def response_schema(spec: dict, operation: dict, code: str) -> dict:
    response = resolve(spec, operation["responses"][code])
    return resolve(spec, response["content"]["application/json"]["schema"])


def test_openapi_json_is_served_without_a_token(client):
    assert client.get("/openapi.json").status_code == 200


def test_spec_has_create_run(spec):
    operation = spec["paths"]["/v1/runs"]["post"]

    assert "202" in operation["responses"]
    assert "requestBody" in operation


def test_spec_has_get_run(spec):
    path_item = spec["paths"]["/v1/runs/{run_id}"]
    operation = path_item["get"]

    assert "200" in operation["responses"]
    parameters = path_item.get("parameters", []) + operation.get("parameters", [])
    assert {"name": "run_id", "in": "path"}.items() <= next(
        p for p in parameters if p["name"] == "run_id"
    ).items()


def test_spec_declares_the_bearer_security_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert {"bearerAuth": []} in spec["security"]


def test_health_is_documented_without_security(spec):
    assert spec["paths"]["/health"]["get"]["security"] == []


@pytest.mark.parametrize(
    "path,method,codes",
    [
        ("/v1/runs", "post", ["400", "401", "403", "404", "413", "415", "422", "503"]),
        ("/v1/runs/{run_id}", "get", ["401", "404", "503"]),
    ],
)
def test_error_responses_use_the_envelope_schema(spec, path, method, codes):
    operation = spec["paths"][path][method]

    for code in codes:
        schema = response_schema(spec, operation, code)
        assert {"error", "detail"} <= set(schema["properties"]), code
        assert "error" in schema.get("required", []), code


def test_create_run_request_body_documents_the_fields(spec):
    """A body names a registered flow or gives one inline: each alternative requires its own."""
    operation = spec["paths"]["/v1/runs"]["post"]

    alternatives = operation["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    bodies = [resolve(spec, alternative) for alternative in alternatives]

    for body in bodies:
        assert {"flow_id", "flow_definition", "input", "request_id", "tenant_id"} <= set(
            body["properties"]
        )
    assert [body["required"] for body in bodies] == [["flow_id"], ["flow_definition"]]


def test_accepted_response_documents_run_id_and_correlation_id(spec):
    schema = response_schema(spec, spec["paths"]["/v1/runs"]["post"], "202")

    assert {"run_id", "correlation_id"} <= set(schema["properties"])


def test_docs_page_is_html(client):
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"swagger" in response.data.lower()


def test_docs_page_loads_its_assets_locally(client):
    html = client.get("/docs").get_data(as_text=True)

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    for host in ("cdn", "unpkg", "jsdelivr", "cdnjs"):
        assert host not in html


@pytest.mark.parametrize(
    "asset", ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"]
)
def test_docs_assets_are_served_locally(client, asset):
    with client.get(f"/docs/assets/{asset}") as response:
        assert response.status_code == 200
        assert len(response.data) > 1000


def test_every_asset_the_docs_page_references_is_served(client):
    html = client.get("/docs").get_data(as_text=True)

    for source in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html):
        with client.get(source) as response:
            assert response.status_code == 200, source


def test_unknown_docs_asset_is_a_json_404(client):
    response = client.get("/docs/assets/nope.js")

    assert response.status_code == 404
    assert response.mimetype == "application/json"


def test_docs_asset_path_traversal_is_refused(client):
    response = client.get("/docs/assets/../../../../etc/passwd")

    assert response.status_code == 404
    assert b"root:" not in response.data


def test_spec_does_not_need_auth_even_with_a_bad_token(client):
    headers = auth(secret="wrong-secret-" + "w" * 40)

    assert client.get("/openapi.json", headers=headers).status_code == 200
