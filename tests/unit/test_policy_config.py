"""policies.yaml at startup: what a good file gives, and how a bad one stops the service.

Every refusal names the file, the line where YAML can tell it, the tenant and the policy.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ingress_app import create_app
from ingress_app.config import ConfigError
from ingress_app.plugin_manager import PluginError
from ingress_app.policies.config import PolicyConfigError, parse_policy_text
from ingress_app.state import ingress_state
from tests.conftest import base_config


@pytest.fixture(autouse=True)
def instance_path(tmp_path, monkeypatch):
    """A fresh instance folder: no last-good copy of anyone's policies to fall back on."""
    path = tmp_path / "instance"
    monkeypatch.setenv("INGRESS_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def policies_file(tmp_path):
    path = tmp_path / "policies.yaml"

    def write(text: str):
        path.write_text(textwrap.dedent(text))
        return path

    return write


# What Ingress itself provides; installed plugins (the example one, say) may add more, so
# the tests ask for these among what is available, never for an exact list.
BUILTIN_POLICIES = ("retry_limit", "task_types", "tenant_isolation", "timeout")
BUILTIN_SOURCES = ("generic", "n8n", "standard", "zapier")


def available(message: str) -> set[str]:
    """The names an error message lists after `(available: `."""
    listed = message.partition("(available: ")[2].partition(")")[0]
    return {name.strip() for name in listed.split(",") if name.strip()}


def start(path, **overrides):
    """create_app on SQLite with POLICIES_FILE=path (startup loads it; no database needed)."""
    return create_app(
        base_config(
            DATABASE_URL=f"sqlite:///{path.parent / 'ingress.db'}",
            POLICIES_FILE=str(path),
            **overrides,
        )
    )


def startup_error(path, error=PolicyConfigError) -> str:
    with pytest.raises(error) as raised:
        start(path)
    message = str(raised.value)
    assert message.startswith(str(path)), message  # the file comes first
    return message


GOOD = """\
    version: 1
    policies:
      tenant_isolation: {}
      retry_limit: {max_retries: 10}
      timeout: {max_timeout_seconds: 7200}
    default_rate_limit: 600/minute
    tenants:
      acme:
        policies:
          retry_limit: {max_retries: 3, on_violation: clamp}
          task_types: {deny: [shell]}
        rate_limit: 100/minute
        webhook_sources: [zapier]
    webhook_sources: [generic, standard, n8n, zapier]
    """


# ------------------------------------------------------------------- a good file


def test_a_good_file_gives_each_tenant_its_effective_policies(policies_file):
    app = start(policies_file(GOOD))

    engine = ingress_state(app).policies.engine

    assert engine.describe("acme") == {
        "tenant": "acme",
        "configured": True,
        "policies": {
            "tenant_isolation": {},
            "retry_limit": {"max_retries": 3, "on_violation": "clamp"},
            "timeout": {
                "max_timeout_seconds": 7200,
                "max_flow_timeout_seconds": None,
                "on_violation": "reject",
            },
            "task_types": {"allow": None, "deny": ["shell"]},
        },
        "rate_limit": "100/minute",
        "webhook_sources": ["zapier"],
        "max_active_runs": None,
        "max_active_runs_per_flow": None,
    }
    assert engine.describe("globex")["policies"]["retry_limit"] == {
        "max_retries": 10,
        "on_violation": "reject",
    }
    assert engine.describe("globex")["rate_limit"] == "600/minute"


def test_the_repository_policies_file_is_valid():
    app = start(Path(__file__).resolve().parents[2] / "policies.yaml")

    assert ingress_state(app).policies.error is None


def test_a_missing_file_runs_the_builtin_defaults(tmp_path):
    app = start(tmp_path / "absent.yaml")

    policies = ingress_state(app).policies.engine.describe("acme")["policies"]
    assert set(policies) == {"tenant_isolation", "retry_limit", "timeout"}
    assert policies["retry_limit"]["max_retries"] == 10


def test_a_missing_file_is_an_error_when_the_file_is_required(tmp_path):
    with pytest.raises(ConfigError, match="absent.yaml: file not found"):
        start(tmp_path / "absent.yaml", POLICIES_FILE_REQUIRED=True)


# ------------------------------------------------------------------- the file's structure


def test_an_unknown_top_level_key_stops_startup(policies_file):
    path = policies_file("""\
        version: 1
        polices:
          retry_limit: {}
        """)

    assert startup_error(path) == (
        f"{path}:2: polices: unknown key (expected one of ['default_rate_limit', "
        "'max_active_runs', 'max_active_runs_per_flow', 'plugins', "
        "'policies', 'tenants', 'version', 'webhook_sources'])"
    )


def test_an_unknown_tenant_key_names_the_tenant(policies_file):
    path = policies_file("""\
        tenants:
          acme:
            rate_limits: 10/minute
        """)

    assert startup_error(path).startswith(f"{path}:3: tenants.acme.rate_limits: unknown key")


def test_an_unsupported_version_stops_startup(policies_file):
    path = policies_file("version: 2\n")

    assert startup_error(path) == f"{path}:1: version: unsupported version 2 (expected 1)"


@pytest.mark.parametrize("text", ["", "\n\n", "# every line commented out\n# version: 1\n"])
def test_an_empty_file_stops_startup(policies_file, text):
    path = policies_file(text)

    assert "the file is empty" in startup_error(path)


def test_a_file_with_only_a_version_stops_startup(policies_file):
    path = policies_file("version: 1\n")

    assert "looks truncated" in startup_error(path)


def test_a_yaml_syntax_error_gives_the_line(policies_file):
    path = policies_file("""\
        version: 1
        policies:
          retry_limit: {max_retries: 10
          timeout: {}
        """)

    message = startup_error(path)

    assert message.startswith(f"{path}:4: invalid YAML:"), message


def test_python_object_tags_are_refused_as_invalid_yaml(policies_file):
    path = policies_file("""\
        version: 1
        policies: !!python/object/apply:os.system ["echo owned"]
        """)

    assert startup_error(path).startswith(f"{path}:2: invalid YAML:")


def test_a_file_that_is_not_utf8_text_stops_startup(tmp_path):
    path = tmp_path / "policies.yaml"
    path.write_bytes(b"version: 1\n\xff\n")

    assert startup_error(path) == f"{path}: not UTF-8 text (byte 11)"


def test_a_top_level_that_is_not_a_mapping_stops_startup(policies_file):
    path = policies_file("- retry_limit\n")

    assert startup_error(path) == f"{path}: the top level must be a mapping"


# ------------------------------------------------------------------- policies and options


def test_an_unknown_default_policy_is_named(policies_file):
    path = policies_file("""\
        policies:
          retry_limit: {}
          retry_limt: {max_retries: 3}
        """)

    message = startup_error(path)

    assert message.startswith(f"{path}:3: defaults: unknown policy 'retry_limt' (available: ")
    assert "retry_limit" in message.partition("available:")[2]


def test_an_unknown_tenant_policy_names_the_tenant(policies_file):
    path = policies_file("""\
        tenants:
          acme:
            policies:
              no_such_policy: {start: "08:00"}
        """)

    message = startup_error(path)

    assert message.startswith(
        f"{path}:4: tenant 'acme': unknown policy 'no_such_policy' (available: "
    )
    assert set(BUILTIN_POLICIES) <= available(message)


def test_an_option_of_the_wrong_type_names_the_tenant_policy_and_option(policies_file):
    path = policies_file("""\
        policies:
          retry_limit: {max_retries: 10}
        tenants:
          acme:
            policies:
              retry_limit: {max_retries: "x"}
        """)

    assert startup_error(path) == (
        f"{path}:6: tenant 'acme': policy 'retry_limit': max_retries: Not a valid integer."
    )


def test_an_unknown_option_is_refused(policies_file):
    path = policies_file("""\
        policies:
          retry_limit: {max_retry: 3}
        """)

    assert (
        startup_error(path)
        == f"{path}:2: defaults: policy 'retry_limit': max_retry: Unknown field."
    )


def test_an_option_outside_its_choices_is_refused(policies_file):
    path = policies_file("""\
        policies:
          retry_limit: {on_violation: ignore}
        """)

    assert startup_error(path).startswith(
        f"{path}:2: defaults: policy 'retry_limit': on_violation: "
    )


def test_a_negative_limit_is_refused(policies_file):
    path = policies_file("""\
        policies:
          timeout: {max_timeout_seconds: 0}
        """)

    assert startup_error(path).startswith(
        f"{path}:2: defaults: policy 'timeout': max_timeout_seconds: "
    )


def test_options_that_are_not_a_mapping_are_refused(policies_file):
    path = policies_file("""\
        policies:
          retry_limit: 10
        """)

    assert startup_error(path) == (
        f"{path}:2: policies.retry_limit: options must be a mapping (or false to disable)"
    )


def test_tenant_isolation_cannot_be_disabled_by_default(policies_file):
    path = policies_file("""\
        policies:
          tenant_isolation: false
        """)

    assert (
        startup_error(path) == f"{path}:2: defaults: policy 'tenant_isolation' cannot be disabled"
    )


def test_tenant_isolation_cannot_be_disabled_for_a_tenant(policies_file):
    path = policies_file("""\
        tenants:
          acme:
            policies:
              tenant_isolation: false
        """)

    assert startup_error(path) == (
        f"{path}:4: tenant 'acme': policy 'tenant_isolation' cannot be disabled"
    )


# ------------------------------------------------------------------- rate limits and sources


def test_a_bad_tenant_rate_limit_is_refused(policies_file):
    path = policies_file("""\
        tenants:
          acme:
            rate_limit: lots
        """)

    assert startup_error(path) == (
        f"{path}:3: tenants.acme.rate_limit: 'lots' is not a rate limit such as '100/minute'"
    )


def test_a_bad_default_rate_limit_is_refused(policies_file):
    path = policies_file("default_rate_limit: 100 per fortnight\n")

    assert startup_error(path).startswith(f"{path}:1: default_rate_limit: '100 per fortnight'")


def test_a_rate_limit_that_is_not_a_string_is_refused(policies_file):
    path = policies_file("default_rate_limit: 100\n")

    assert (
        startup_error(path)
        == f"{path}:1: default_rate_limit: must be a string such as '100/minute'"
    )


def test_an_unknown_webhook_source_is_refused(policies_file):
    path = policies_file("webhook_sources: [generic, no_such_source]\n")

    message = startup_error(path)

    assert message.startswith(
        f"{path}:1: webhook_sources: unknown webhook source 'no_such_source' (available: "
    )
    assert set(BUILTIN_SOURCES) <= available(message)


def test_an_unknown_tenant_webhook_source_names_the_tenant(policies_file):
    path = policies_file("""\
        tenants:
          acme:
            webhook_sources: [zapeir]
        """)

    assert startup_error(path).startswith(
        f"{path}:3: tenants.acme.webhook_sources: unknown webhook source 'zapeir'"
    )


# ------------------------------------------------------------------- plugins


def test_two_plugins_registering_the_same_policy_name_stop_startup(policies_file):
    path = policies_file("plugins: [tests.plugins.duplicate]\n")

    message = startup_error(path, PluginError)

    assert message.startswith(f"{path}:1: duplicate policy name 'retry_limit'")
    assert "'tests.plugins.duplicate'" in message and "'ingress_app.policies.builtin'" in message


def test_a_plugin_that_raises_at_import_stops_startup(policies_file):
    path = policies_file("""\
        version: 1
        plugins:
          - tests.plugins.raises_on_import
        """)

    assert startup_error(path, PluginError) == (
        f"{path}:2: plugin module 'tests.plugins.raises_on_import' failed to import: "
        "raises_on_import needs a library that is not installed"
    )


def test_a_plugin_module_that_does_not_exist_stops_startup(policies_file):
    path = policies_file("plugins: [acme_policies_not_installed]\n")

    assert startup_error(path, PluginError) == (
        f"{path}:1: plugin module 'acme_policies_not_installed' failed to import: "
        "No module named 'acme_policies_not_installed'"
    )


def test_plugins_that_is_not_a_list_of_names_is_refused(policies_file):
    path = policies_file("plugins: tests.plugins.exploding\n")

    assert startup_error(path) == f"{path}:1: plugins: must be a list of names"


def test_a_policy_from_a_listed_plugin_can_be_enabled_for_a_tenant(policies_file):
    path = policies_file("""\
        plugins: [tests.plugins.exploding]
        tenants:
          acme:
            policies:
              exploding: {}
        """)

    engine = ingress_state(start(path)).policies.engine

    assert "exploding" in engine.describe("acme")["policies"]
    assert "exploding" not in engine.describe("globex")["policies"]


def test_config_errors_are_config_errors():
    assert issubclass(PolicyConfigError, ConfigError)
    with pytest.raises(PolicyConfigError, match=r"^inline:1: "):
        parse_policy_text("nonsense: 1\n", source="inline")


# ------------------------------------------------------------------- operators' commands


@pytest.fixture
def runner(tmp_path):
    return start(tmp_path / "absent.yaml").test_cli_runner()


def test_policies_check_of_a_good_file_exits_0_and_prints_each_tenant(runner, policies_file):
    path = policies_file(GOOD)

    result = runner.invoke(args=["policies", "check", str(path)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}: OK"
    (policies_line,) = [line for line in lines if line.startswith("policies available: ")]
    listed = policies_line.removeprefix("policies available: ").split(", ")
    assert listed == sorted(listed)
    assert set(BUILTIN_POLICIES) <= set(listed)  # installed plugins may add their own
    (acme,) = [line for line in lines if line.startswith("tenant acme: ")]
    assert json.loads(acme.removeprefix("tenant acme: ").partition(" rate_limit=")[0]) == {
        "retry_limit": {"max_retries": 3, "on_violation": "clamp"},
        "task_types": {"allow": None, "deny": ["shell"]},
        "tenant_isolation": {},
        "timeout": {
            "max_flow_timeout_seconds": None,
            "max_timeout_seconds": 7200,
            "on_violation": "reject",
        },
    }
    assert acme.endswith(" rate_limit=100/minute sources=zapier")


def test_policies_check_of_a_bad_file_exits_1_with_the_message(runner, policies_file):
    path = policies_file("""\
        tenants:
          acme:
            policies:
              retry_limit: {max_retries: "x"}
        """)

    result = runner.invoke(args=["policies", "check", str(path)])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {path}:4: tenant 'acme': policy 'retry_limit': max_retries: Not a valid integer."
    )
    assert "OK" not in result.stdout


def test_policies_check_of_a_file_with_a_broken_plugin_exits_1(runner, policies_file):
    path = policies_file("plugins: [tests.plugins.raises_on_import]\n")

    result = runner.invoke(args=["policies", "check", str(path)])

    assert result.exit_code == 1
    assert "plugin module 'tests.plugins.raises_on_import' failed to import" in result.stderr


def test_policies_check_without_a_file_checks_policies_file(policies_file):
    path = policies_file(GOOD)
    runner = start(path).test_cli_runner()

    result = runner.invoke(args=["policies", "check"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{path}: OK")


def test_policies_show_prints_a_tenants_effective_policies(policies_file):
    runner = start(policies_file(GOOD)).test_cli_runner()

    result = runner.invoke(args=["policies", "show", "--tenant", "acme"])

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["policies"]["retry_limit"] == {"max_retries": 3, "on_violation": "clamp"}
    assert shown["rate_limit"] == "100/minute"
