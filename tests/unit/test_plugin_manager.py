"""The plugin manager: what plugins register, how it is gathered, and what is refused."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import pytest

from ingress_app import hookspecs, plugin_manager
from ingress_app.contracts import FlowPolicy, PreTaskPolicy, SourceAdapter
from ingress_app.hookspecs import hookimpl
from ingress_app.plugin_manager import PluginError, load_plugins
from ingress_app.policies.builtin import BUILTIN_POLICIES
from ingress_app.webhooks.adapters import GenericAdapter
from tests.plugins import everything


class MaxTasks(FlowPolicy):
    name = "max_tasks"


class GitHub(SourceAdapter):
    name = "github"


class Nameless(FlowPolicy):
    pass


class NotAPolicy:
    name = "not_a_policy"


def plugin_module(monkeypatch, name: str, *, policies=None, adapters=None, **hooks):
    """An importable module `name` whose hooks return `policies` / `adapters`."""
    module = types.ModuleType(name)
    if policies is not None:
        module.ingress_register_policies = hookimpl(lambda: policies)
    if adapters is not None:
        module.ingress_register_source_adapters = hookimpl(lambda: adapters)
    for hook_name, func in hooks.items():
        setattr(module, hook_name, hookimpl(func))
    monkeypatch.setitem(sys.modules, name, module)
    return module


class FakeEntryPoint:
    """What `importlib.metadata.entry_points(group=...)` yields, as far as we use it."""

    def __init__(self, name: str, value: str, load):
        self.name, self.value, self._load = name, value, load

    def load(self):
        return self._load()


def installed(monkeypatch, *entry_points: FakeEntryPoint) -> None:
    def fake_entry_points(*, group):
        assert group == "ingress_app.plugins"
        return list(entry_points)

    monkeypatch.setattr(plugin_manager, "entry_points", fake_entry_points)


@pytest.fixture(autouse=True)
def no_installed_plugins(monkeypatch):
    """Tests see only the plugins they install (not whatever the machine has)."""
    installed(monkeypatch)


def test_builtin_policies_are_registered_through_the_hook():
    plugins = load_plugins()

    assert {name: plugins.policies[name] for name in plugins.policies} == {
        cls.name: cls for cls in BUILTIN_POLICIES
    }
    assert plugins.origins["policy:retry_limit"] == "ingress_app.policies.builtin"


def test_builtin_source_adapters_are_registered_through_the_hook():
    plugins = load_plugins()

    assert set(plugins.adapters) == {"generic", "standard", "n8n", "zapier"}
    assert plugins.adapters["generic"] is GenericAdapter
    assert plugins.origins["source adapter:generic"] == "ingress_app.webhooks.adapters"


def test_a_module_named_in_the_file_adds_its_policies_and_adapters(monkeypatch):
    plugin_module(monkeypatch, "acme_policies", policies=[MaxTasks], adapters=[GitHub])

    plugins = load_plugins(["acme_policies"])

    assert plugins.policies["max_tasks"] is MaxTasks
    assert plugins.adapters["github"] is GitHub
    assert plugins.origins["policy:max_tasks"] == "acme_policies"
    assert "retry_limit" in plugins.policies  # the built-ins are still there


def test_results_of_several_plugins_are_flattened_and_none_dropped(monkeypatch):
    plugin_module(monkeypatch, "plugin_a", policies=[MaxTasks, None])
    plugin_module(monkeypatch, "plugin_b", policies=None, adapters=[None, GitHub])
    plugin_module(monkeypatch, "plugin_c", ingress_register_policies=lambda: None)

    plugins = load_plugins(["plugin_a", "plugin_b", "plugin_c"])

    assert set(plugins.policies) == {cls.name for cls in BUILTIN_POLICIES} | {"max_tasks"}
    assert set(plugins.adapters) == {"generic", "standard", "n8n", "zapier", "github"}


def test_registering_an_instance_instead_of_a_class_is_rejected(monkeypatch):
    plugin_module(monkeypatch, "instance_plugin", policies=[MaxTasks()])

    with pytest.raises(
        PluginError, match=r"plugin 'instance_plugin' registered .* not a policy class"
    ):
        load_plugins(["instance_plugin"])


def test_registering_a_class_without_a_policy_base_is_rejected(monkeypatch):
    plugin_module(monkeypatch, "wrong_base", policies=[NotAPolicy])

    with pytest.raises(
        PluginError, match=r"plugin 'wrong_base' registered .*NotAPolicy.* not a policy class"
    ):
        load_plugins(["wrong_base"])


def test_registering_a_policy_as_a_source_adapter_is_rejected(monkeypatch):
    plugin_module(monkeypatch, "mixed_up", adapters=[MaxTasks])

    with pytest.raises(PluginError, match=r"plugin 'mixed_up' .* not a source adapter class"):
        load_plugins(["mixed_up"])


def test_a_class_without_a_name_is_rejected(monkeypatch):
    plugin_module(monkeypatch, "nameless", policies=[Nameless])

    with pytest.raises(PluginError, match=r"plugin 'nameless': Nameless has no name"):
        load_plugins(["nameless"])


def test_a_hook_returning_a_single_class_instead_of_a_list_is_rejected(monkeypatch):
    plugin_module(monkeypatch, "not_a_list", policies=MaxTasks)

    with pytest.raises(PluginError, match=r"plugin 'not_a_list': .* must return a list"):
        load_plugins(["not_a_list"])


def test_a_name_registered_twice_is_rejected_naming_both_plugins(monkeypatch):
    class OtherRetryLimit(PreTaskPolicy):
        name = "retry_limit"

    plugin_module(monkeypatch, "copycat", policies=[OtherRetryLimit])

    with pytest.raises(PluginError, match="duplicate policy name 'retry_limit'") as raised:
        load_plugins(["copycat"])
    assert "'copycat'" in str(raised.value)
    assert "'ingress_app.policies.builtin'" in str(raised.value)


def test_a_hook_that_raises_is_reported_with_the_plugin_name(monkeypatch):
    def broken():
        raise RuntimeError("no licence file")

    plugin_module(monkeypatch, "unlicensed", ingress_register_policies=broken)

    with pytest.raises(
        PluginError,
        match=r"plugin 'unlicensed' failed in ingress_register_policies: no licence file",
    ):
        load_plugins(["unlicensed"])


def test_an_implementation_of_an_unknown_hook_is_rejected_naming_the_plugin(monkeypatch):
    plugin_module(monkeypatch, "typo_plugin", ingress_register_policy=lambda: [MaxTasks])

    with pytest.raises(
        PluginError, match=r"plugin 'typo_plugin' is invalid: .*ingress_register_policy"
    ):
        load_plugins(["typo_plugin"])


def test_a_module_that_fails_to_import_is_reported_with_its_origin():
    with pytest.raises(
        PluginError,
        match=r"^policies.yaml: plugin module 'tests.plugins.raises_on_import' failed to import: .*not installed",
    ):
        load_plugins(["tests.plugins.raises_on_import"], origin="policies.yaml")


def test_a_module_that_does_not_exist_is_reported_with_its_origin():
    with pytest.raises(
        PluginError, match=r"^/etc/p.yaml: plugin module 'no_such_plugin_module' failed to import"
    ):
        load_plugins(["no_such_plugin_module"], origin="/etc/p.yaml")


def test_an_installed_entry_point_is_loaded_and_named_after_the_entry_point(monkeypatch):
    module = plugin_module(monkeypatch, "acme_pkg.plugin", policies=[MaxTasks])
    installed(monkeypatch, FakeEntryPoint("acme", "acme_pkg.plugin", lambda: module))

    plugins = load_plugins()

    assert plugins.policies["max_tasks"] is MaxTasks
    assert plugins.origins["policy:max_tasks"] == "acme"


def test_entry_points_are_not_loaded_when_disabled(monkeypatch):
    module = plugin_module(monkeypatch, "acme_pkg.plugin", policies=[MaxTasks])
    installed(monkeypatch, FakeEntryPoint("acme", "acme_pkg.plugin", lambda: module))

    plugins = load_plugins(load_entry_points=False)

    assert "max_tasks" not in plugins.policies


def test_an_entry_point_that_fails_to_load_is_reported_with_its_name(monkeypatch):
    def fail():
        raise ModuleNotFoundError("No module named 'acme_pkg'")

    installed(monkeypatch, FakeEntryPoint("acme", "acme_pkg.plugin", fail))

    with pytest.raises(
        PluginError,
        match=r"installed plugin 'acme' \(acme_pkg.plugin\) failed to import: No module named 'acme_pkg'",
    ):
        load_plugins()


def test_an_installed_plugin_also_listed_in_the_file_is_registered_once(monkeypatch):
    module = plugin_module(monkeypatch, "acme_pkg.plugin", policies=[MaxTasks])
    installed(monkeypatch, FakeEntryPoint("acme", "acme_pkg.plugin", lambda: module))

    plugins = load_plugins(["acme_pkg.plugin"])

    assert plugins.policies["max_tasks"] is MaxTasks


def test_startup_hook_receives_the_app_and_policies_it_asks_for(monkeypatch):
    seen = []
    plugin_module(monkeypatch, "starter", ingress_startup=lambda policies: seen.append(policies))

    load_plugins(["starter"]).startup(app="the-app", policies="the-config")

    assert seen == ["the-config"]


def test_startup_hook_that_raises_stops_startup_naming_the_plugin(monkeypatch):
    def refuse(app):
        raise RuntimeError("ACME_API_KEY is not set")

    plugin_module(monkeypatch, "needs_key", ingress_startup=refuse)

    with pytest.raises(
        PluginError, match=r"plugin 'needs_key' failed at startup: ACME_API_KEY is not set"
    ):
        load_plugins(["needs_key"]).startup(app=object(), policies=object())


def test_plugin_error_is_a_config_error():
    from ingress_app.config import ConfigError

    assert issubclass(PluginError, ConfigError)


# ------------------------------------------------------------------- the contract stays honest

HOOK_NAMES = sorted(
    name
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, "ingress_spec")
)


def test_no_hook_was_removed():
    assert {
        "ingress_register_policies",
        "ingress_register_source_adapters",
        "ingress_startup",
    } <= set(HOOK_NAMES)


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hook_has_the_project_prefix_and_a_docstring(hook_name):
    assert hook_name.startswith("ingress_")
    assert getattr(hookspecs, hook_name).__doc__


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hook_is_exercised_by_these_tests(hook_name):
    """A test implements the hook (an identifier, not just this list's strings)."""
    assert hook_name in Path(__file__).read_text().replace(f'"{hook_name}"', "")


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hook_is_documented_for_plugin_authors(hook_name):
    docs = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
    assert hook_name in docs.read_text()


# ------------------------------------------------------------------- pluggy's own calling conventions


def test_the_everything_plugin_registers_a_class_of_each_kind():
    plugins = load_plugins(["tests.plugins.everything"])

    assert {
        "everything_input_gate",
        "everything_task_noop",
        "everything_after_task_noop",
    } <= set(plugins.policies)
    assert plugins.adapters["everything"] is everything.EverythingSource
    assert plugins.origins["policy:everything_input_gate"] == "tests.plugins.everything"


def test_a_hook_wrapper_runs_around_the_startup_hook(monkeypatch):
    monkeypatch.setattr(everything, "CALLS", [])
    config = types.SimpleNamespace(source="the-file")

    load_plugins(["tests.plugins.everything"]).startup(app=object(), policies=config)

    assert everything.CALLS == [("wrapper", "before"), ("startup", "the-file"), ("wrapper", "after")]


def test_hook_calls_can_be_monitored(monkeypatch):
    plugins = load_plugins(["tests.plugins.everything"])
    monkeypatch.setattr(everything, "CALLS", [])
    seen = []
    plugins.manager.add_hookcall_monitoring(
        lambda name, impls, kwargs: seen.append(("before", name, sorted(kwargs))),
        lambda outcome, name, impls, kwargs: seen.append(("after", name, outcome.exception)),
    )

    plugins.startup(app="app", policies=types.SimpleNamespace(source="f"))

    assert seen == [
        ("before", "ingress_startup", ["app", "policies"]),
        ("after", "ingress_startup", None),
    ]


def test_tracing_logs_every_hook_call(caplog):
    with caplog.at_level(logging.INFO, logger="ingress_app.plugins"):
        load_plugins(["tests.plugins.everything"], trace=True)

    traced = "\n".join(r.getMessage() for r in caplog.records if r.name == "ingress_app.plugins")
    assert "ingress_register_policies" in traced
    assert "ingress_register_source_adapters" in traced


def test_no_hook_call_is_logged_without_tracing(caplog):
    with caplog.at_level(logging.DEBUG, logger="ingress_app.plugins"):
        load_plugins(["tests.plugins.everything"])

    assert [r for r in caplog.records if r.name == "ingress_app.plugins"] == []


def test_a_failure_is_blamed_on_the_plugin_that_raised_not_its_neighbour(monkeypatch):
    def refuse(app):
        raise RuntimeError("no licence")

    plugin_module(monkeypatch, "fine_before", ingress_startup=lambda app: None)
    plugin_module(monkeypatch, "refuses", ingress_startup=refuse)
    plugin_module(monkeypatch, "fine_after", ingress_startup=lambda app: None)

    plugins = load_plugins(["fine_before", "refuses", "fine_after"])
    with pytest.raises(PluginError, match=r"plugin 'refuses' failed at startup: no licence"):
        plugins.startup(app=object(), policies=object())


def test_a_failing_hook_wrapper_is_blamed_on_its_plugin(monkeypatch):
    module = types.ModuleType("bad_wrapper")

    def around(app):
        yield
        raise RuntimeError("wrapper broke")

    module.ingress_startup = hookimpl(wrapper=True)(around)
    monkeypatch.setitem(sys.modules, "bad_wrapper", module)

    plugins = load_plugins(["tests.plugins.everything", "bad_wrapper"])
    with pytest.raises(PluginError, match=r"plugin 'bad_wrapper' failed at startup: wrapper broke"):
        plugins.startup(app=object(), policies=types.SimpleNamespace(source="f"))


def test_a_disabled_plugin_named_in_the_file_is_not_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "tests.plugins.raises_on_import", raising=False)

    plugins = load_plugins(
        ["tests.plugins.raises_on_import", "tests.plugins.everything"],
        disabled=["tests.plugins.raises_on_import", "tests.plugins.everything"],
    )

    assert "everything_input_gate" not in plugins.policies
    assert "retry_limit" in plugins.policies


def test_a_disabled_installed_plugin_is_not_loaded(monkeypatch):
    def must_not_load():
        raise AssertionError("a disabled entry point was loaded")

    installed(monkeypatch, FakeEntryPoint("acme", "acme_pkg.plugin", must_not_load))

    plugins = load_plugins(disabled=["acme"])

    assert plugins.manager.is_blocked("acme")


def test_disabled_plugins_are_read_from_a_comma_separated_setting():
    assert plugin_manager.disabled_plugins(" acme, ,example ") == ["acme", "example"]
    assert plugin_manager.disabled_plugins("") == []
