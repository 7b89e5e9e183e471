"""`flask --app wsgi policies diff CANDIDATE` on a seeded PostgreSQL database: what a
policy change would do to recent runs, as text and JSON, with `--fail-on-deny` for CI,
while the configured file is broken; and 100,000 runs in under a minute."""

from __future__ import annotations

import json
import time

import pytest

from ingress_app.policies.config import parse_policy_text
from ingress_app.policies.preview import diff_policies, parse_since
from ingress_app.policies.runtime import build_engine
from ingress_app.state import ingress_state
from tests.conftest import JWT_SECRET, auth, sample_flow
from tests.integration.conftest import count
from tests.integration.test_operator_commands import BROKEN, flask, run

CANDIDATE = r"""
version: 1
policies:
  retry_limit: {max_retries: 1}
  input_rules:
    deny:
      - path: "notes"
        pattern: '\d{4}-\d{4}-\d{4}-\d{4}'
        message: no card numbers
tenants:
  globex:
    policies:
      retry_limit: {max_retries: 1, on_violation: clamp}
"""

STRICT = "version: 1\npolicies:\n  retry_limit: {max_retries: 0}\n"


@pytest.fixture
def seeded(make_pg_app, tmp_path, pg):
    """acme: 3 runs (one with retries 2 in a task, one with a card number in its
    input); globex: 2 runs; one acme request denied by a stricter file."""
    client = make_pg_app().test_client()
    plain = sample_flow()
    plain["tasks"][0]["retries"] = 0
    ids = {}

    def start(tenant, flow, input, name):
        response = client.post(
            "/v1/runs", json={"flow_definition": flow, "input": input}, headers=auth(tenant)
        )
        assert response.status_code == 202, response.get_data(as_text=True)
        ids[name] = response.get_json()["run_id"]

    start("acme", sample_flow(), {}, "acme_retries")  # classify: retries 2
    start("acme", plain, {"notes": "card 4111-1111-1111-1111"}, "acme_card")
    start("acme", plain, {"notes": "fine"}, "acme_fine")
    start("globex", sample_flow(), {}, "globex_retries")
    start("globex", plain, {}, "globex_plain")
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    denying = make_pg_app(POLICIES_FILE=str(strict)).test_client()
    denied = denying.post(
        "/v1/runs", json={"flow_definition": sample_flow()},
        headers={**auth("acme"), "X-Correlation-ID": "denied-once"},
    )
    assert denied.status_code == 403
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE)
    return ids, candidate


@pytest.fixture
def broken_policies(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(BROKEN)
    return path


def test_json_report_per_tenant(seeded, postgres_url, broken_policies, tmp_path, pg):
    ids, candidate = seeded
    before = {table: count(pg, table) for table in ("flow_runs_audit", "audit_events")}
    env = _clean_env(tmp_path, postgres_url, broken_policies)

    result = run(flask("policies", "diff", str(candidate), "--format", "json"), env)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "configured policies file is rejected" in result.stderr
    assert report["runs"] == 5 and report["accept_to_deny"] == 2
    acme, globex = report["tenants"]["acme"], report["tenants"]["globex"]
    assert acme["runs"] == 3 and acme["accept_to_deny"] == 2
    denied = {e["run_id"]: e["violations"][0]["policy"] for e in acme["accept_to_deny_examples"]}
    assert denied == {ids["acme_retries"]: "retry_limit", ids["acme_card"]: "input_rules"}
    assert globex["accept_to_deny"] == 0
    assert globex["modified_differently"] == 1
    assert globex["modified_examples"] == [ids["globex_retries"]]
    assert acme["denied_recorded"] == 1 and acme["possibly_accepted"] == 1
    assert acme["possibly_accepted_examples"] == ["denied-once"]
    assert {table: count(pg, table) for table in before} == before  # nothing changed


def test_text_report_and_fail_on_deny(seeded, postgres_url, broken_policies, tmp_path):
    ids, candidate = seeded
    env = _clean_env(tmp_path, postgres_url, broken_policies)

    result = run(flask("policies", "diff", str(candidate), "--fail-on-deny"), env)

    assert result.returncode == 3, result.stderr
    assert f"would be denied: {ids['acme_card']} (input_rules: no card numbers)" in result.stdout
    assert "tenant acme: 3 runs; accept->deny 2" in result.stdout
    assert result.stdout.strip().endswith("2 run(s) would flip from accepted to denied")

    only_globex = run(
        flask("policies", "diff", str(candidate), "--tenant", "globex", "--fail-on-deny"), env
    )
    assert only_globex.returncode == 0, only_globex.stderr
    assert "tenant acme" not in only_globex.stdout

    nothing_recent = run(
        flask("policies", "diff", str(candidate), "--since", "2000-01-01T00:00:00+00:00",
              "--fail-on-deny", "--tenant", "nobody"), env,
    )
    assert nothing_recent.returncode == 0


def test_a_broken_candidate_is_exit_1(postgres_url, broken_policies, tmp_path):
    env = _clean_env(tmp_path, postgres_url, broken_policies)
    result = run(flask("policies", "diff", str(broken_policies)), env)
    assert result.returncode == 1
    assert "invalid YAML" in result.stderr
    bad_since = run(flask("policies", "diff", str(broken_policies), "--since", "soon"), env)
    assert bad_since.returncode == 2


def _clean_env(tmp_path, postgres_url, broken_file):
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INGRESS_", "JWT_"))}
    for name in ("REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        clean.pop(name, None)
    clean.update(
        INGRESS_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=postgres_url,
        JWT_SECRET_KEY=JWT_SECRET,
        POLICIES_FILE=str(broken_file),
        LOG_FORMAT="json",
    )
    return clean


def test_one_hundred_thousand_runs_in_under_a_minute(make_pg_app, pg):
    app = make_pg_app()
    flow = json.dumps(sample_flow())
    pg.execute(
        "INSERT INTO flow_runs_audit (run_id, correlation_id, flow_id, tenant_id, user_id, "
        "input_data, flow_definition, status, created_at, updated_at, source) "
        "SELECT 'r' || i, 'c' || i, 'support-triage', 't' || (i %% 20), 'u', "
        "jsonb_build_object('notes', 'n' || i), %s::jsonb, 'PENDING', now(), now(), 'api' "
        "FROM generate_series(1, 100000) AS i",
        (flow,),
    )
    candidate = build_engine(app, parse_policy_text(CANDIDATE))
    with app.app_context():
        started = time.perf_counter()
        report = diff_policies(ingress_state(app).policies.engine, candidate, parse_since("1d"))
        elapsed = time.perf_counter() - started
    assert report.runs == 100_000
    assert report.flips == 100_000  # every run has a task with retries 2 > 1
    assert elapsed < 60, elapsed
    print(f"policies diff: 100,000 runs in {elapsed:.1f} s")
