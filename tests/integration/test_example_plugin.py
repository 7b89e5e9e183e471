"""The example plugin package, installed for real, loads through its entry point and
takes effect only for the tenant whose policies.yaml entry enables it.

The package is pip-installed once per session into a temporary directory; each test
module that needs it puts that directory on `sys.path` (so `importlib.metadata` sees
its entry point) and takes it off again, so other tests never load it by accident.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from ingress_app.plugin_manager import ENTRY_POINT_GROUP, load_plugins
from ingress_app.policies.config import PolicyConfigError, parse_policy_text
from ingress_app.policies.engine import PolicyEngine
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCE = REPO / "plugins" / "ingress-example-policies"
PACKAGE = "ingress_example_policies"

POLICIES_YAML = """\
version: 1
policies:
  tenant_isolation: {}
  retry_limit: {max_retries: 10}
  timeout: {max_timeout_seconds: 7200}
webhook_sources: [generic, standard, n8n, zapier]
tenants:
  acme:
    policies:
      max_tasks: {max_tasks: 2}
    webhook_sources: [generic, github]
  globex: {}
"""


def _can_build_without_isolation() -> bool:
    """setuptools builds wheels by itself from 70.1; older ones need the `wheel` package."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    version = importlib.metadata.version("setuptools").split(".")
    return tuple(int(part) for part in version[:2] if part.isdigit()) >= (70, 1)


@pytest.fixture(scope="session")
def example_install_dir(tmp_path_factory) -> Path:
    """pip-install the example package (no dependencies) into a fresh directory, once."""
    work = tmp_path_factory.mktemp("example-plugin")
    # Build from a copy: an in-tree build would leave build/ and *.egg-info in the repo.
    source = work / "source"
    shutil.copytree(
        PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"),
    )
    target = work / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--target",
        str(target),
    ]
    if _can_build_without_isolation():
        command += ["--no-build-isolation", "--no-index"]  # fast and offline
    # else: pip fetches setuptools into an isolated build environment (slower, needs the index).
    result = subprocess.run(
        [*command, str(source)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if result.returncode != 0:
        pytest.fail(f"pip could not install the example plugin:\n{result.stdout}\n{result.stderr}")
    return target


def _forget_package() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="module", autouse=True)
def example_installed(example_install_dir) -> Path:
    """The installed package is importable and its entry point visible, for this module only."""
    _forget_package()  # the plugin's own tests may have imported it from src/
    sys.path.insert(0, str(example_install_dir))
    importlib.invalidate_caches()
    yield example_install_dir
    sys.path.remove(str(example_install_dir))
    _forget_package()
    importlib.invalidate_caches()


@pytest.fixture
def policies_file(tmp_path) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES_YAML)
    return path


def three_task_flow() -> dict:
    flow = sample_flow()
    flow["tasks"].append({"id": "reply", "type": "llm", "depends_on": ["route"]})
    return flow


# --------------------------------------------------------------------------- loading


def test_the_installed_distribution_declares_the_entry_point():
    [entry_point] = [
        ep
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.name == "example"
    ]
    assert entry_point.value == PACKAGE
    assert entry_point.dist.name == "ingress-example-policies"


def test_ingress_register_policies_from_the_entry_point(example_installed):
    plugins = load_plugins()

    assert plugins.origins["policy:max_tasks"] == "example"
    assert plugins.origins["policy:business_hours"] == "example"
    # Imported from the installed copy, not from the source tree.
    module = plugins.manager.get_plugin("example")
    assert Path(module.__file__).is_relative_to(example_installed)


def test_ingress_register_source_adapters_from_the_entry_point():
    plugins = load_plugins()

    assert plugins.origins["source adapter:github"] == "example"
    assert plugins.adapters["github"].name == "github"


def test_entry_points_are_not_loaded_when_turned_off():
    plugins = load_plugins(load_entry_points=False)

    assert "max_tasks" not in plugins.policies
    assert "github" not in plugins.adapters


def test_ingress_startup_receives_the_policy_configuration(caplog):
    plugins = load_plugins()
    config = parse_policy_text(POLICIES_YAML, source="policies.yaml")

    with caplog.at_level(logging.INFO, logger=PACKAGE):
        plugins.startup(Flask(__name__), config)

    assert "max_tasks enabled for acme" in caplog.messages
    assert "business_hours enabled for nobody" in caplog.messages


def test_bad_options_fail_at_startup_naming_file_tenant_and_policy():
    text = POLICIES_YAML.replace("max_tasks: {max_tasks: 2}", "max_tasks: {max_tasks: many}")

    with pytest.raises(PolicyConfigError) as exc:
        PolicyEngine(parse_policy_text(text, source="policies.yaml"), load_plugins())

    assert str(exc.value) == (
        "policies.yaml:10: tenant 'acme': policy 'max_tasks': max_tasks: Not a valid integer."
    )


def test_an_unknown_time_zone_fails_at_startup():
    text = POLICIES_YAML.replace(
        "max_tasks: {max_tasks: 2}", "business_hours: {timezone: Mars/Olympus}"
    )

    with pytest.raises(PolicyConfigError) as exc:
        PolicyEngine(parse_policy_text(text, source="policies.yaml"), load_plugins())

    assert (
        "tenant 'acme': policy 'business_hours': timezone: unknown time zone 'Mars/Olympus'"
        in str(exc.value)
    )


# --------------------------------------------------------------------------- in the pipeline


def test_max_tasks_denies_the_tenant_that_enables_it(make_pg_app, policies_file, pg):
    client = make_pg_app(POLICIES_FILE=str(policies_file)).test_client()

    response = client.post(
        "/v1/runs", json={"flow_definition": three_task_flow()}, headers=auth("acme")
    )

    body = assert_error(response, 403)
    assert body["detail"]["violations"] == [
        {
            "policy": "max_tasks",
            "task_id": None,
            "message": "the flow has 3 tasks; at most 2 are allowed",
        }
    ]
    assert_nothing_stored(pg)


def test_max_tasks_allows_the_same_tenant_at_its_limit(make_pg_app, policies_file):
    client = make_pg_app(POLICIES_FILE=str(policies_file)).test_client()

    response = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth("acme")
    )

    assert response.status_code == 202, response.get_data(as_text=True)


def test_other_tenants_are_not_affected(make_pg_app, policies_file):
    client = make_pg_app(POLICIES_FILE=str(policies_file)).test_client()

    response = client.post(
        "/v1/runs", json={"flow_definition": three_task_flow()}, headers=auth("globex")
    )

    assert response.status_code == 202, response.get_data(as_text=True)


def test_business_hours_uses_the_injected_clock(make_pg_app, tmp_path, monkeypatch):
    path = tmp_path / "policies.yaml"
    path.write_text(
        POLICIES_YAML.replace(
            "max_tasks: {max_tasks: 2}", "business_hours: {timezone: Europe/Berlin}"
        )
    )
    business_hours = load_plugins().policies["business_hours"]
    saturday = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(business_hours, "clock", staticmethod(lambda: saturday))
    client = make_pg_app(POLICIES_FILE=str(path)).test_client()

    denied = client.post("/v1/runs", json={"flow_definition": sample_flow()}, headers=auth("acme"))
    allowed = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth("globex")
    )

    assert [v["policy"] for v in assert_error(denied, 403)["detail"]["violations"]] == [
        "business_hours"
    ]
    assert allowed.status_code == 202, allowed.get_data(as_text=True)


# --------------------------------------------------------------------------- operators


def test_policies_check_lists_the_plugin(make_pg_app, policies_file):
    app = make_pg_app(POLICIES_FILE=str(policies_file))

    result = app.test_cli_runner().invoke(args=["policies", "check", str(policies_file)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{policies_file}: OK"
    assert "example" in _listed(lines, "plugins: ")
    assert {"max_tasks", "business_hours"} <= _listed(lines, "policies available: ")
    assert "github" in _listed(lines, "webhook sources available: ")
    [acme] = [line for line in lines if line.startswith("tenant acme: ")]
    assert '"max_tasks": {"max_tasks": 2}' in acme
    assert acme.endswith("sources=generic,github")
    [globex] = [line for line in lines if line.startswith("tenant globex: ")]
    assert "max_tasks" not in globex


def _listed(lines: list[str], prefix: str) -> set[str]:
    [line] = [line for line in lines if line.startswith(prefix)]
    return set(line.removeprefix(prefix).split(", "))
