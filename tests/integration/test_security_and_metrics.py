"""Secure defaults (headers, CORS, production refusals) and the /metrics endpoint."""

from __future__ import annotations

import pytest

from ingress_app import ConfigError, create_app
from ingress_app.outbox.kafka import client_config
from tests.conftest import auth, base_config, sample_flow


def test_security_headers_on_every_response(client):
    for response in (
        client.get("/health/live"),
        client.get("/v1/runs/nope", headers=auth()),
        client.get("/no-such-route"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_api_responses_are_not_cacheable(client):
    response = client.get("/v1/runs", headers=auth())
    assert response.headers["Cache-Control"] == "no-store"


def test_docs_page_gets_a_csp_that_allows_its_own_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_cors_is_closed_by_default(client):
    response = client.options(
        "/v1/runs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_preflight_allowed_only_for_configured_origins(make_pg_app):
    client = make_pg_app(CORS_ORIGINS="https://console.example.com").test_client()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    }

    allowed = client.options("/v1/runs", headers={"Origin": "https://console.example.com", **preflight})
    denied = client.options("/v1/runs", headers={"Origin": "https://evil.example", **preflight})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://console.example.com"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in denied.headers


@pytest.mark.parametrize("secret", ["", "short", "x" * 40, "change-me"])
def test_production_refuses_missing_or_weak_jwt_secret(tmp_path, secret):
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app(base_config(INGRESS_ENV="production", JWT_SECRET_KEY=secret,
                               DATABASE_URL=f"sqlite:///{tmp_path}/x.db"))


def test_production_refuses_debug_mode(tmp_path):
    with pytest.raises(ConfigError, match="debug"):
        create_app(base_config(INGRESS_ENV="production", DEBUG=True,
                               DATABASE_URL=f"sqlite:///{tmp_path}/x.db"))


def test_kafka_security_settings_pass_through_to_librdkafka():
    config = {
        "KAFKA_BOOTSTRAP_SERVERS": "k1:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ingress",
        "KAFKA_SASL_PASSWORD": "s3cret",
        "KAFKA_SSL_CA_LOCATION": "/etc/ssl/ca.pem",
    }
    settings = client_config(config, environ={"KAFKA_RDKAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "none"})
    assert settings == {
        "bootstrap.servers": "k1:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ingress",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/ssl/ca.pem",
        "ssl.endpoint.identification.algorithm": "none",
    }


def test_metrics_count_requests_by_route_template_and_runs_accepted(client):
    run_id = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth()
    ).get_json()["run_id"]
    client.get(f"/v1/runs/{run_id}", headers=auth())

    response = client.get("/metrics")

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'ingress_http_requests_total{method="GET",route="/v1/runs/<string:run_id>",status="200"}' in text
    assert 'ingress_runs_accepted_total{source="api"}' in text
    assert "ingress_outbox_pending 1.0" in text
    assert run_id not in text  # never a per-run label


def test_metric_labels_take_no_caller_strings(client):
    client.open("/v1/runs/eu:x", method="FROBNICATE-7f3a", headers=auth())
    client.get("/no/such/path/caller-chosen-9c1e", headers=auth())

    text = client.get("/metrics").get_data(as_text=True)

    assert "FROBNICATE" not in text and "caller-chosen" not in text and "eu:x" not in text
    assert 'method="OTHER",route="unmatched",status="405"' in text
    assert 'method="GET",route="unmatched",status="404"' in text


def test_metrics_count_policy_denials(client):
    flow = sample_flow()
    flow["tasks"][0]["retries"] = 11
    client.post("/v1/runs", json={"flow_definition": flow}, headers=auth())

    text = client.get("/metrics").get_data(as_text=True)

    assert 'ingress_runs_denied_total{reason="policy"}' in text


def test_production_without_database_url_is_a_startup_error(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(ConfigError) as info:
        create_app(base_config(INGRESS_ENV="production", DATABASE_URL=""))

    assert str(info.value).startswith("DATABASE_URL is required in production")
    assert not (tmp_path / "instance" / "ingress.db").exists()


def test_development_without_database_url_still_uses_the_embedded_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(base_config(DATABASE_URL=""))

    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/ingress.db")
