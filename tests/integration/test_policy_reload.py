"""A changed policies.yaml is picked up by a running app; a broken one never replaces a good one."""

from __future__ import annotations

import os
import time

import pytest

from ingress_app.policies.config import PolicyConfigError
from ingress_app.state import ingress_state
from tests.conftest import auth, sample_flow

LIMIT_10 = "version: 1\npolicies:\n  retry_limit: {max_retries: 10}\n"
LIMIT_20 = "version: 1\npolicies:\n  retry_limit: {max_retries: 20}\n"
LIMIT_5 = "version: 1\npolicies:\n  retry_limit: {max_retries: 5}\n"
BROKEN = "version: 1\npolicies:\n  retry_limit: {max_retries: ten}\n"


@pytest.fixture
def instance_path(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def policies_path(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_text(LIMIT_10)
    return path


def rewrite(path, text: str) -> None:
    """Change the file and move its mtime clearly forward (as an editor's save would)."""
    stamp = path.stat().st_mtime + 5
    path.write_text(text)
    os.utime(path, (stamp, stamp))
    time.sleep(0.02)  # past POLICIES_RELOAD_INTERVAL_SECONDS


@pytest.fixture
def make_app(make_pg_app, instance_path, policies_path):
    return lambda: make_pg_app(
        POLICIES_FILE=str(policies_path), POLICIES_RELOAD_INTERVAL_SECONDS=0.01
    )


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def status_with_retries(client, retries: int) -> int:
    flow = sample_flow()
    flow["tasks"][0]["retries"] = retries
    return client.post("/v1/runs", json={"flow_definition": flow}, headers=auth()).status_code


def policies_check(client) -> dict:
    return client.get("/health", headers=auth()).get_json()["checks"]["policies"]


def runtime(app):
    return ingress_state(app).policies


# ------------------------------------------------------------------- reloading


def test_a_valid_change_applies_without_a_restart(client, policies_path):
    assert status_with_retries(client, 15) == 403

    rewrite(policies_path, LIMIT_20)

    assert status_with_retries(client, 15) == 202


def test_a_broken_file_keeps_the_previous_policies(client, policies_path):
    rewrite(policies_path, BROKEN)

    assert status_with_retries(client, 11) == 403
    assert status_with_retries(client, 10) == 202


def test_a_file_that_is_not_text_keeps_the_previous_policies(client, policies_path):
    rewrite(policies_path, LIMIT_20)
    assert status_with_retries(client, 15) == 202
    policies_path.write_bytes(b"version: 1\n\xff\xfe policies: {}\n")
    os.utime(policies_path, (policies_path.stat().st_mtime + 5,) * 2)
    time.sleep(0.02)

    assert status_with_retries(client, 15) == 202
    assert "not UTF-8 text" in policies_check(client)["output"]


@pytest.mark.parametrize("text", ["", "version: 1\n", "# truncated\n"])
def test_an_emptied_file_keeps_the_previous_policies_and_warns(app, client, policies_path, text):
    rewrite(policies_path, LIMIT_5)
    assert status_with_retries(client, 6) == 403

    rewrite(policies_path, text)

    assert status_with_retries(client, 6) == 403
    assert status_with_retries(client, 1_000_000) == 403
    assert client.get("/health").get_json()["checks"]["policies"]["status"] == "warn"
    assert runtime(app).error is not None


def test_a_file_that_omits_the_limits_still_applies_them(client, policies_path):
    rewrite(policies_path, "version: 1\ntenants: {}\n")
    flow = sample_flow()
    flow["tasks"][0]["timeout_seconds"] = 10**9

    assert status_with_retries(client, 1_000_000) == 403
    assert (
        client.post("/v1/runs", json={"flow_definition": flow}, headers=auth()).status_code == 403
    )
    assert status_with_retries(client, 10) == 202
    assert policies_check(client)["status"] == "pass"


def test_a_broken_file_is_reported_in_health_as_a_warning(client, policies_path):
    rewrite(policies_path, BROKEN)

    response = client.get("/health", headers=auth())

    assert response.status_code == 200
    body = response.get_json()
    check = body["checks"]["policies"]
    assert check["status"] == "warn"
    assert check["output"].startswith("rejected policies file, previous policies kept: ")
    assert (
        f"{policies_path}:3: defaults: policy 'retry_limit': max_retries: Not a valid integer."
        in check["output"]
    )
    assert body["status"] == "warn"


def test_a_broken_file_sets_the_runtime_error(app, client, policies_path):
    rewrite(policies_path, BROKEN)
    client.get("/health")

    assert "max_retries: Not a valid integer." in runtime(app).error


def test_a_broken_file_is_logged(client, policies_path, caplog):
    rewrite(policies_path, BROKEN)
    client.get("/health")

    assert "policies file rejected; keeping the previous policies" in caplog.text
    assert "max_retries: Not a valid integer." in caplog.text


def test_fixing_the_file_clears_the_warning_and_applies_it(app, client, policies_path):
    rewrite(policies_path, BROKEN)
    assert policies_check(client)["status"] == "warn"

    rewrite(policies_path, LIMIT_5)

    assert policies_check(client)["status"] == "pass"
    assert runtime(app).error is None
    assert status_with_retries(client, 6) == 403


def test_health_passes_with_a_good_file(client, policies_path):
    check = policies_check(client)

    assert check["status"] == "pass"
    assert check["source"] == str(policies_path)
    assert "output" not in check


def test_an_explicit_reload_reports_whether_it_swapped(app, policies_path):
    policies_path.write_text(BROKEN)
    assert runtime(app).reload() is False

    policies_path.write_text(LIMIT_20)
    assert runtime(app).reload() is True


# ------------------------------------------------------------------- the last good copy


def test_every_good_load_keeps_a_last_good_copy_in_the_instance_folder(app, instance_path):
    snapshot = (instance_path / "policies.last-good.yaml").read_text()

    assert snapshot.endswith(LIMIT_10)


def test_a_rejected_file_does_not_replace_the_last_good_copy(client, instance_path, policies_path):
    rewrite(policies_path, BROKEN)
    client.get("/health")

    assert (instance_path / "policies.last-good.yaml").read_text().endswith(LIMIT_10)


def test_startup_with_a_broken_file_serves_the_last_good_copy(make_app, policies_path):
    make_app()  # a good start leaves a last-good copy
    policies_path.write_text(BROKEN)

    client = make_app().test_client()

    assert status_with_retries(client, 10) == 202
    assert status_with_retries(client, 11) == 403


def test_startup_with_a_broken_file_and_a_last_good_copy_reports_a_warning(
    make_app, policies_path, instance_path
):
    make_app()
    policies_path.write_text(BROKEN)

    app = make_app()

    check = policies_check(app.test_client())
    assert check["status"] == "warn"
    assert "max_retries: Not a valid integer." in check["output"]
    assert check["source"] == str(instance_path / "policies.last-good.yaml")
    assert "max_retries: Not a valid integer." in runtime(app).error


def test_startup_with_a_broken_file_and_no_last_good_copy_fails(make_app, policies_path):
    policies_path.write_text(BROKEN)

    with pytest.raises(PolicyConfigError, match="max_retries: Not a valid integer."):
        make_app()


def test_a_last_good_copy_of_another_file_is_no_fallback(make_pg_app, make_app, tmp_path):
    make_app()  # leaves a last-good copy of policies.yaml
    other = tmp_path / "other.yaml"
    other.write_text(BROKEN)

    with pytest.raises(PolicyConfigError, match="other.yaml:3: "):
        make_pg_app(POLICIES_FILE=str(other))


# ------------------------------------------------------------------- who sees what


def test_health_without_a_token_shows_statuses_only(client, policies_path):
    rewrite(policies_path, BROKEN)

    response = client.get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "warn"
    assert body["checks"]["policies"] == {"status": "warn"}
    assert all(set(check) == {"status"} for check in body["checks"].values()), body
    text = response.get_data(as_text=True)
    assert str(policies_path.parent) not in text
    assert "Not a valid integer" not in text


def test_health_with_a_bad_token_shows_statuses_only(client, policies_path):
    rewrite(policies_path, BROKEN)

    response = client.get("/health", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 200
    assert response.get_json()["checks"]["policies"] == {"status": "warn"}


def test_health_with_a_valid_token_shows_the_details(client, policies_path):
    rewrite(policies_path, BROKEN)

    check = client.get("/health", headers=auth("any-tenant")).get_json()["checks"]["policies"]

    assert check["source"] == str(policies_path)
    assert "max_retries: Not a valid integer." in check["output"]
