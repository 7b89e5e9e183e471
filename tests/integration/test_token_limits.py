"""Token lifetime ceiling, numeric dates on every path, secrets judged by entropy, and the
production warning for tokens not bound to an audience and issuer."""

from __future__ import annotations

import logging
import time

import pytest

from ingress_app import create_app
from ingress_app.config import ConfigError
from tests.conftest import JWT_SECRET, auth, base_config, make_token, sample_flow
from tests.integration.conftest import assert_error, create_run

RUN = {"flow_definition": sample_flow()}
LONG_LIVED = {"expires_in": 3 * 86_400}


def test_a_token_beyond_the_ceiling_is_refused_on_the_fast_paths_too(make_pg_app, pg):
    client = make_pg_app().test_client()
    run_id = create_run(client)["run_id"]
    assert client.get(f"/v1/runs/{run_id}", headers=auth()).status_code == 200  # now cached

    read = client.get(f"/v1/runs/{run_id}", headers=auth(**LONG_LIVED))
    accept = client.post("/v1/runs", json=RUN, headers=auth(**LONG_LIVED))

    assert "JWT_MAX_TOKEN_LIFETIME" in assert_error(read, 401)["detail"]
    assert_error(accept, 401)
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 1


def test_the_ceiling_is_a_setting(make_pg_app):
    client = make_pg_app(JWT_MAX_TOKEN_LIFETIME=3600).test_client()

    assert client.post("/v1/runs", json=RUN, headers=auth(expires_in=3000)).status_code == 202
    assert_error(client.post("/v1/runs", json=RUN, headers=auth(expires_in=7200)), 401)


def test_zero_turns_the_ceiling_off_but_not_the_date_checks(make_pg_app):
    client = make_pg_app(JWT_MAX_TOKEN_LIFETIME=0).test_client()
    ten_years = auth(expires_in=None, exp=int(time.time()) + 10 * 365 * 86_400)

    assert client.post("/v1/runs", json=RUN, headers=ten_years).status_code == 202
    beyond = {"Authorization": f"Bearer {make_token(expires_in=None, exp=10**400)}"}
    assert_error(client.post("/v1/runs", json=RUN, headers=beyond), 401)


@pytest.mark.parametrize(
    "secret",
    ["abcdefgh" * 4, "0123456789abcdef" * 2, "qwertyuiopasdfghjklzxcvbnm123456", "ab" * 40],
)
def test_production_refuses_a_long_but_guessable_secret(tmp_path, secret):
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app(
            base_config(
                INGRESS_ENV="production",
                JWT_SECRET_KEY=secret,
                DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
            )
        )


def test_production_accepts_a_random_secret(tmp_path):
    app = create_app(
        base_config(
            INGRESS_ENV="production",
            JWT_SECRET_KEY=JWT_SECRET,
            JWT_AUDIENCE="ingress",
            JWT_ISSUER="https://idp.example.com",
            DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
        )
    )
    assert app.config["JWT_SECRET_KEY"] == JWT_SECRET


def test_production_without_audience_and_issuer_warns_at_startup_and_in_health(make_pg_app, caplog):
    with caplog.at_level(logging.WARNING, logger="ingress_app.auth"):
        app = make_pg_app(INGRESS_ENV="production")

    assert "JWT_AUDIENCE and JWT_ISSUER not set" in caplog.text
    body = app.test_client().get("/health", headers=auth()).get_json()
    assert body["status"] == "warn"
    assert body["checks"]["token_claims"]["status"] == "warn"


def test_production_with_audience_and_issuer_does_not_warn(make_pg_app):
    app = make_pg_app(
        INGRESS_ENV="production", JWT_AUDIENCE="ingress", JWT_ISSUER="https://idp.example.com"
    )
    assert "token_claims" not in app.test_client().get("/health").get_json()["checks"]


def test_the_cli_refuses_to_issue_a_token_the_service_would_refuse(make_pg_app):
    app = make_pg_app()
    runner = app.test_cli_runner()

    refused = runner.invoke(
        args=["tokens", "issue", "--tenant", "t", "--user", "u", "--minutes", str(60 * 48)]
    )
    issued = runner.invoke(
        args=["tokens", "issue", "--tenant", "t", "--user", "u", "--minutes", str(60 * 24)]
    )

    assert refused.exit_code != 0 and "JWT_MAX_TOKEN_LIFETIME" in refused.output
    assert issued.exit_code == 0
    token = {"Authorization": f"Bearer {issued.output.strip()}"}
    assert app.test_client().post("/v1/runs", json=RUN, headers=token).status_code == 202
