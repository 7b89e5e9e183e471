"""`flask --app wsgi flows register FILE… --tenant T`: operators and CI pipelines."""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import count

YAML_FLOW = """\
id: nightly-report
name: Nightly report
description: Summarise the day's tickets
tags: [reports, nightly]
metadata:
  repo: git@example.com:flows.git
  reviewed: 2025-06-01
tasks:
  - id: fetch
    type: tool
  - id: summarise
    type: llm
    depends_on: [fetch]
    retries: 1
"""


@pytest.fixture
def runner(pg_app):
    return pg_app.test_cli_runner()


def register(runner, *files, tenant: str = "acme", user: str | None = None):
    args = ["flows", "register", *map(str, files), "--tenant", tenant]
    if user:
        args += ["--user", user]
    return runner.invoke(args=args)


def test_registers_a_json_file(runner, tmp_path, client):
    path = tmp_path / "triage.json"
    path.write_text(json.dumps(sample_flow()))

    result = register(runner, path, user="ci-bot")

    assert result.exit_code == 0, result.output
    assert "support-triage version 3 registered" in result.output
    stored = client.get("/v1/flows/support-triage", headers=auth("acme")).get_json()
    assert stored["created_by"] == "ci-bot" and stored["version"] == "3"


def test_registers_a_yaml_file_with_the_next_version(runner, tmp_path, client):
    path = tmp_path / "nightly.yaml"
    path.write_text(YAML_FLOW)

    result = register(runner, path)

    assert result.exit_code == 0, result.output
    stored = client.get("/v1/flows/nightly-report", headers=auth("acme")).get_json()
    assert stored["version"] == "1" and stored["created_by"] == "cli"
    assert stored["tags"] == ["nightly", "reports"]
    assert stored["metadata"]["reviewed"] == "2025-06-01"  # a YAML date, stored as text
    assert stored["flow_definition"]["tasks"][1]["depends_on"] == ["fetch"]


def test_an_unchanged_file_registers_nothing_new(runner, tmp_path, pg):
    path = tmp_path / "nightly.yml"
    path.write_text(YAML_FLOW)
    register(runner, path)

    result = register(runner, path)

    assert result.exit_code == 0, result.output
    assert "nightly-report version 1 unchanged" in result.output
    assert count(pg, "flows") == 1


def test_registers_several_files_and_fails_if_one_fails(runner, tmp_path, pg):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(sample_flow()))
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"id": "bad", "tasks": [{"id": "a", "type": "llm", "depends_on": ["a"]}]})
    )

    result = register(runner, good, bad)

    assert result.exit_code == 1
    assert "tasks[0].depends_on[0]: task cannot depend on itself" in result.output
    assert count(pg, "flows") == 1


def test_a_policy_violation_fails_with_the_violations(runner, tmp_path, pg):
    path = tmp_path / "greedy.json"
    body = sample_flow()
    body["tasks"][0]["retries"] = 99
    path.write_text(json.dumps(body))

    result = register(runner, path)

    assert result.exit_code == 1
    assert "retry_limit (task classify)" in result.output
    assert count(pg, "flows") == 0


def test_a_changed_file_with_the_same_version_fails_with_a_conflict(runner, tmp_path):
    path = tmp_path / "triage.json"
    path.write_text(json.dumps(sample_flow()))
    register(runner, path)
    path.write_text(json.dumps(sample_flow(description="changed")))

    result = register(runner, path)

    assert result.exit_code == 1
    assert "immutable" in result.output


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("broken.json", "{not json", "not valid json"),
        ("broken.yaml", "id: [unclosed", "not valid yaml"),
        ("list.yaml", "- a\n- b\n", "must hold one flow"),
    ],
)
def test_an_unreadable_file_fails_clearly(runner, tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)

    result = register(runner, path)

    assert result.exit_code == 1
    assert message in result.output


def test_the_tenant_is_required(runner, tmp_path):
    path = tmp_path / "triage.json"
    path.write_text(json.dumps(sample_flow()))

    result = runner.invoke(args=["flows", "register", str(path)])

    assert result.exit_code != 0
    assert "--tenant" in result.output


def test_registered_flows_belong_to_the_named_tenant_only(runner, tmp_path, client):
    path = tmp_path / "triage.json"
    path.write_text(json.dumps(sample_flow()))

    register(runner, path, tenant="globex")

    assert client.get("/v1/flows/support-triage", headers=auth("globex")).status_code == 200
    assert client.get("/v1/flows/support-triage", headers=auth("acme")).status_code == 404
