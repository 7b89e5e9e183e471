"""The plugin implementing every hook, in a running app: its hook wrapper runs at
startup, its policy judges the run's `input` through every door, and
INGRESS_DISABLED_PLUGINS keeps it out.
"""

from __future__ import annotations

import pytest

from ingress_app.policies.config import PolicyConfigError
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored
from tests.integration.test_webhook_configs import create_webhook, policies_file, post_standard
from tests.plugins import everything

GATED = """\
version: 1
plugins: [tests.plugins.everything]
policies:
  tenant_isolation: {}
  everything_input_gate: {}
"""

DENIAL = {
    "policy": "everything_input_gate",
    "task_id": None,
    "message": "the run's input asks for a denial: not today",
}


@pytest.fixture(autouse=True)
def instance_path(tmp_path, monkeypatch):
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(tmp_path / "instance"))


@pytest.fixture
def calls(monkeypatch):
    monkeypatch.setattr(everything, "CALLS", [])
    return everything.CALLS


@pytest.fixture
def client(make_pg_app, tmp_path):
    return make_pg_app(POLICIES_FILE=policies_file(tmp_path, GATED)).test_client()


def post_run(client, run_input, path="/v1/runs"):
    return client.post(
        path,
        json={"flow_definition": sample_flow(), "input": run_input},
        headers=auth("acme", "alice"),
    )


def test_the_hook_wrapper_runs_around_startup_when_the_app_is_built(make_pg_app, tmp_path, calls):
    path = policies_file(tmp_path, GATED)

    make_pg_app(POLICIES_FILE=path)

    assert calls == [("wrapper", "before"), ("startup", path), ("wrapper", "after")]


def test_a_policy_sees_the_runs_input_and_denies_the_run(client, pg):
    response = post_run(client, {"deny": "not today"})

    body = assert_error(response, 403)
    assert body["detail"]["violations"] == [DENIAL]
    assert_nothing_stored(pg)


def test_a_run_whose_input_passes_the_policy_is_accepted(client):
    assert post_run(client, {"deny": False, "text": "hello"}).status_code == 202


def test_the_dry_run_sees_the_input_too(client):
    response = post_run(client, {"deny": "not today"}, path="/v1/runs/validate")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["violations"] == [DENIAL]


def test_a_webhook_delivery_is_judged_on_the_input_it_makes(client, pg):
    webhook = create_webhook(client)

    response = post_standard(client, webhook, {"deny": "not today"})

    body = assert_error(response, 403)
    assert body["detail"]["violations"] == [DENIAL]
    assert_nothing_stored(pg)


def test_a_disabled_plugin_is_not_loaded(make_pg_app, tmp_path, calls):
    text = "version: 1\nplugins: [tests.plugins.everything]\n"

    app = make_pg_app(
        POLICIES_FILE=policies_file(tmp_path, text),
        INGRESS_DISABLED_PLUGINS="tests.plugins.everything",
    )

    assert calls == []
    response = app.test_client().post(
        "/v1/runs",
        json={"flow_definition": sample_flow(), "input": {"deny": "x"}},
        headers=auth("acme", "alice"),
    )
    assert response.status_code == 202


def test_enabling_a_policy_of_a_disabled_plugin_stops_the_startup(make_pg_app, tmp_path):
    with pytest.raises(PolicyConfigError, match="unknown policy 'everything_input_gate'"):
        make_pg_app(
            POLICIES_FILE=policies_file(tmp_path, GATED),
            INGRESS_DISABLED_PLUGINS="tests.plugins.everything",
        )


def test_policies_check_names_a_disabled_plugin_as_disabled(make_pg_app, tmp_path):
    path = policies_file(tmp_path, "version: 1\nplugins: [tests.plugins.everything]\n")
    app = make_pg_app(POLICIES_FILE=path, INGRESS_DISABLED_PLUGINS="tests.plugins.everything")

    result = app.test_cli_runner().invoke(args=["policies", "check", path])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [loaded] = [line for line in lines if line.startswith("plugins: ")]
    assert "tests.plugins.everything" not in loaded
    assert "plugins disabled: tests.plugins.everything" in lines
