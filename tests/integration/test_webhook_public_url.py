"""A webhook's intake `url` comes from PUBLIC_BASE_URL, never from a caller's Host header
(except in development without it)."""

from __future__ import annotations

import pytest

from ingress_app import create_app
from ingress_app.config import ConfigError
from tests.conftest import JWT_SECRET, auth, base_config, sample_flow
from tests.integration.test_webhook_configs import CONFIGS
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def create(client, **headers):
    response = client.post(
        CONFIGS,
        json={"flow_definition": sample_flow(), "auth": {"type": "header-token"}},
        headers={**auth(), **headers},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_the_url_is_built_on_the_public_base_url_whatever_the_host(make_pg_app):
    client = make_pg_app(PUBLIC_BASE_URL="https://ingress.example.com/").test_client()

    created = create(client, **EVIL)

    expected = f"https://ingress.example.com/v1/webhooks/{created['webhook_id']}"
    assert created["url"] == expected
    shown = client.get(f"{CONFIGS}/{created['webhook_id']}", headers={**auth(), **EVIL})
    assert shown.get_json()["url"] == expected
    listed = client.get(CONFIGS, headers={**auth(), **EVIL}).get_json()["items"]
    assert [w["url"] for w in listed] == [expected]


def test_a_base_url_with_a_path_prefix_keeps_it(make_pg_app):
    client = make_pg_app(PUBLIC_BASE_URL="https://api.example.com/ingress").test_client()

    created = create(client)

    assert created["url"] == f"https://api.example.com/ingress/v1/webhooks/{created['webhook_id']}"


def test_production_without_a_base_url_gives_the_path_only(make_pg_app):
    client = make_pg_app(
        INGRESS_ENV="production", JWT_AUDIENCE="ingress", JWT_ISSUER="idp"
    ).test_client()
    token = {"Authorization": auth(aud="ingress", iss="idp")["Authorization"]}
    response = client.post(
        CONFIGS,
        json={"flow_definition": sample_flow(), "auth": {"type": "header-token"}},
        headers={**token, **EVIL},
    )

    created = response.get_json()
    assert response.status_code == 201, created
    assert created["url"] == f"/v1/webhooks/{created['webhook_id']}"
    assert "evil" not in response.get_data(as_text=True)


def test_development_without_a_base_url_uses_the_host_header(make_pg_app):
    created = create(make_pg_app().test_client(), Host="localhost:8000")

    assert created["url"] == f"http://localhost:8000/v1/webhooks/{created['webhook_id']}"


@pytest.mark.parametrize(
    "value", ["ingress.example.com", "ftp://ingress.example.com", "https://", "https://x/?a=1"]
)
def test_a_malformed_base_url_stops_the_start(tmp_path, value):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(
            base_config(
                DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
                JWT_SECRET_KEY=JWT_SECRET,
                PUBLIC_BASE_URL=value,
            )
        )
