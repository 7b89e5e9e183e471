"""Build the plugin manager and gather what plugins register.

Loading order: the built-ins (`DEFAULT_PLUGINS`, written as ordinary plugins through
the same hooks third parties use), then installed packages' entry points in the group
`ingress_app.plugins`, then the modules listed under `plugins:` in `policies.yaml`.
Hooks are called through `pm.hook.<name>(...)`, so pluggy's wrappers, `firstresult`,
tracing and call monitoring apply; which plugin failed is worked out only on failure.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .config import ConfigError
from .contracts import FlowPolicy, PostTaskPolicy, PreTaskPolicy, SourceAdapter

ENTRY_POINT_GROUP = "ingress_app.plugins"
DEFAULT_PLUGINS = ("ingress_app.policies.builtin", "ingress_app.webhooks.adapters")
POLICY_BASES = (FlowPolicy, PreTaskPolicy, PostTaskPolicy)

log = logging.getLogger("ingress_app.plugins")


class PluginError(ConfigError):
    """A plugin could not be loaded or registered something invalid."""


#: What each registration hook gathers: (attribute on `Plugins`, accepted bases, kind).
REGISTRATIONS = {
    "ingress_register_policies": ("policies", POLICY_BASES, "policy"),
    "ingress_register_source_adapters": ("adapters", (SourceAdapter,), "source adapter"),
}


@dataclass
class Plugins:
    """What the loaded plugins provide, by name."""

    manager: pluggy.PluginManager
    policies: dict[str, type] = field(default_factory=dict)
    adapters: dict[str, type] = field(default_factory=dict)
    #: The file (and line) that asked for these plugins, for error messages.
    origin: str = "policies.yaml"

    def startup(self, app: Any, policies: Any) -> None:
        try:
            self.manager.hook.ingress_startup(app=app, policies=policies)
        except Exception as exc:
            name = _raised_in(self.manager, "ingress_startup", exc)
            raise PluginError(f"{self.origin}: plugin {name!r} failed at startup: {exc}") from exc

    @cached_property
    def origins(self) -> dict[str, str]:
        """`"<kind>:<name>"` → the plugin that registered it (for `policies check` and
        messages; asks each implementation again, so never on a request)."""
        found: dict[str, str] = {}
        for hook_name, (_, _, kind) in REGISTRATIONS.items():
            for plugin_name, result in _each_result(self.manager, hook_name):
                for cls in result if isinstance(result, (list, tuple)) else ():
                    if isinstance(cls, type):
                        found.setdefault(f"{kind}:{getattr(cls, 'name', '')}", plugin_name)
        return found


def _each_result(pm: pluggy.PluginManager, hook_name: str) -> Iterable[tuple[str, Any]]:
    """Call each implementation of a registration hook on its own, in pluggy's order.

    Only to say which plugin returned what; registration hooks return classes and
    have no side effects, so calling one again is safe.
    """
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            yield impl.plugin_name, impl.function()
        except Exception:  # noqa: BLE001 - the failing call is reported by the caller
            continue


def _raised_in(pm: pluggy.PluginManager, hook_name: str, exc: BaseException) -> str:
    """The plugin whose implementation of `hook_name` raised `exc` (from its traceback)."""
    owners = {
        impl.function.__code__: impl.plugin_name
        for impl in getattr(pm.hook, hook_name).get_hookimpls()
        if hasattr(impl.function, "__code__")
    }
    name, tb = "?", exc.__traceback__
    while tb is not None:  # the innermost implementation frame is where it went wrong
        name = owners.get(tb.tb_frame.f_code, name)
        tb = tb.tb_next
    return name


def _returned(pm: pluggy.PluginManager, hook_name: str, match: Callable[[Any], bool]) -> str:
    """The first plugin whose implementation returned something `match` accepts."""
    for plugin_name, result in _each_result(pm, hook_name):
        if match(result):
            return plugin_name
    return "?"


def _registrant(pm: pluggy.PluginManager, hook_name: str, cls: Any) -> str:
    """The plugin whose implementation of `hook_name` returned `cls` in its list."""
    return _returned(
        pm, hook_name, lambda r: isinstance(r, (list, tuple)) and any(c is cls for c in r)
    )


def _register(pm: pluggy.PluginManager, plugin: Any, name: str, origin: str) -> None:
    """Register once (an installed plugin may also be listed in the file)."""
    if pm.has_plugin(name) or pm.is_registered(plugin):
        return
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{origin}: plugin {name!r} is invalid: {exc}") from exc


def _register_module(pm: pluggy.PluginManager, module_name: str, origin: str) -> None:
    if pm.has_plugin(module_name) or pm.is_blocked(module_name):
        return
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(
            f"{origin}: plugin module {module_name!r} failed to import: {exc}"
        ) from exc
    _register(pm, module, module_name, origin)


def _trace_writer(message: str) -> None:
    log.info("plugin hook: %s", message.rstrip("\n"))


def build_plugin_manager(
    extra_modules: list[str] | tuple[str, ...] = (),
    *,
    origin: str = "policies.yaml",
    load_entry_points: bool = True,
    disabled: Iterable[str] = (),
    trace: bool = False,
) -> pluggy.PluginManager:
    """Register every plugin not `disabled` (by plugin name); `trace` logs each hook call."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    if trace:
        pm.trace.root.setwriter(_trace_writer)
        pm.enable_tracing()
    for module_name in DEFAULT_PLUGINS:
        _register_module(pm, module_name, "built-in")
    if load_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"{origin}: installed plugin {ep.name!r} ({ep.value}) failed to import: {exc}"
                ) from exc
            _register(pm, plugin, ep.name, f"{origin}: entry point {ep.value}")
    for module_name in extra_modules:
        _register_module(pm, module_name, origin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{origin}: plugin {pm.get_name(exc.plugin)!r} is invalid: {exc}"
        ) from exc
    return pm


def _gather(pm: pluggy.PluginManager, hook_name: str, into: dict[str, type]) -> None:
    _, bases, kind = REGISTRATIONS[hook_name]
    try:
        results = getattr(pm.hook, hook_name)()
    except Exception as exc:
        name = _raised_in(pm, hook_name, exc)
        raise PluginError(f"plugin {name!r} failed in {hook_name}: {exc}") from exc
    for result in results:
        if not isinstance(result, (list, tuple)):
            name = _returned(pm, hook_name, lambda r, result=result: r is result or r == result)
            raise PluginError(
                f"plugin {name!r}: {hook_name} must return a list of classes, "
                f"not {type(result).__name__}"
            )
        for cls in result:
            if cls is None:
                continue
            if not (isinstance(cls, type) and issubclass(cls, bases)):
                name = _registrant(pm, hook_name, cls)
                raise PluginError(f"plugin {name!r} registered {cls!r}, which is not a {kind} class")
            cls_name = getattr(cls, "name", "")
            if not isinstance(cls_name, str) or not cls_name:
                name = _registrant(pm, hook_name, cls)
                raise PluginError(f"plugin {name!r}: {cls.__qualname__} has no name")
            if cls_name in into:
                raise PluginError(
                    f"duplicate {kind} name {cls_name!r}: registered by plugin "
                    f"{_registrant(pm, hook_name, into[cls_name])!r} "
                    f"and by plugin {_registrant(pm, hook_name, cls)!r}"
                )
            into[cls_name] = cls


def load_plugins(
    extra_modules: list[str] | tuple[str, ...] = (),
    *,
    origin: str = "policies.yaml",
    load_entry_points: bool = True,
    disabled: Iterable[str] = (),
    trace: bool = False,
) -> Plugins:
    """Load every plugin and collect the classes they register (duplicates are errors)."""
    pm = build_plugin_manager(
        extra_modules,
        origin=origin,
        load_entry_points=load_entry_points,
        disabled=disabled,
        trace=trace,
    )
    plugins = Plugins(manager=pm, origin=origin)
    try:
        for hook_name, (attribute, _, _) in REGISTRATIONS.items():
            _gather(pm, hook_name, getattr(plugins, attribute))
    except PluginError as exc:
        raise PluginError(f"{origin}: {exc}") from exc.__cause__
    return plugins


def disabled_plugins(value: str) -> list[str]:
    """The plugin names in `INGRESS_DISABLED_PLUGINS` (comma-separated)."""
    return [name.strip() for name in value.split(",") if name.strip()]
