"""Build the plugin manager and gather what plugins register.

Loading order: the built-ins (`DEFAULT_PLUGINS`, written as ordinary plugins through
the same hooks third parties use), then installed packages' entry points in the group
`ingress_app.plugins`, then the modules listed under `plugins:` in `policies.yaml`.
`Plugins` is the typed façade the rest of the code uses; nothing else touches pluggy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .config import ConfigError
from .contracts import FlowPolicy, PostTaskPolicy, PreTaskPolicy, SourceAdapter

ENTRY_POINT_GROUP = "ingress_app.plugins"
DEFAULT_PLUGINS = ("ingress_app.policies.builtin", "ingress_app.webhooks.adapters")
POLICY_BASES = (FlowPolicy, PreTaskPolicy, PostTaskPolicy)


class PluginError(ConfigError):
    """A plugin could not be loaded or registered something invalid."""


@dataclass
class Plugins:
    """What the loaded plugins provide, by name, with where each came from."""

    manager: pluggy.PluginManager
    policies: dict[str, type] = field(default_factory=dict)
    adapters: dict[str, type] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    #: The file (and line) that asked for these plugins, for error messages.
    origin: str = "policies.yaml"

    def startup(self, app: Any, policies: Any) -> None:
        for impl in self.manager.hook.ingress_startup.get_hookimpls():
            try:
                impl.function(**_accepted_kwargs(impl, app=app, policies=policies))
            except Exception as exc:
                raise PluginError(
                    f"{self.origin}: plugin {impl.plugin_name!r} failed at startup: {exc}"
                ) from exc


def _accepted_kwargs(impl: pluggy.HookImpl, **kwargs: Any) -> dict[str, Any]:
    return {name: kwargs[name] for name in impl.argnames if name in kwargs}


def _register(pm: pluggy.PluginManager, plugin: Any, name: str, origin: str) -> None:
    """Register once (an installed plugin may also be listed in the file)."""
    if pm.has_plugin(name) or pm.is_registered(plugin):
        return
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{origin}: plugin {name!r} is invalid: {exc}") from exc


def _register_module(pm: pluggy.PluginManager, module_name: str, origin: str) -> None:
    if pm.has_plugin(module_name):
        return
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(
            f"{origin}: plugin module {module_name!r} failed to import: {exc}"
        ) from exc
    _register(pm, module, module_name, origin)


def build_plugin_manager(
    extra_modules: list[str] | tuple[str, ...] = (),
    *,
    origin: str = "policies.yaml",
    load_entry_points: bool = True,
) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        _register_module(pm, module_name, "built-in")
    if load_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if pm.has_plugin(ep.name):
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


def _gather(
    pm: pluggy.PluginManager,
    hook_name: str,
    bases: tuple[type, ...],
    kind: str,
    into: dict[str, type],
    origins: dict[str, str],
) -> None:
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        try:
            result = impl.function(**_accepted_kwargs(impl))
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc}") from exc
        if result is None:
            continue
        if not isinstance(result, (list, tuple)):
            raise PluginError(
                f"plugin {impl.plugin_name!r}: {hook_name} must return a list of classes, "
                f"not {type(result).__name__}"
            )
        for cls in result:
            if cls is None:
                continue
            if not (isinstance(cls, type) and issubclass(cls, bases)):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} registered {cls!r}, which is not a {kind} class"
                )
            name = getattr(cls, "name", "")
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {impl.plugin_name!r}: {cls.__qualname__} has no name")
            if name in into:
                raise PluginError(
                    f"duplicate {kind} name {name!r}: registered by plugin {origins[kind + ':' + name]!r} "
                    f"and by plugin {impl.plugin_name!r}"
                )
            into[name] = cls
            origins[kind + ":" + name] = impl.plugin_name


def load_plugins(
    extra_modules: list[str] | tuple[str, ...] = (),
    *,
    origin: str = "policies.yaml",
    load_entry_points: bool = True,
) -> Plugins:
    """Load every plugin and collect the classes they register (duplicates are errors)."""
    pm = build_plugin_manager(extra_modules, origin=origin, load_entry_points=load_entry_points)
    plugins = Plugins(manager=pm, origin=origin)
    try:
        _gather(
            pm,
            "ingress_register_policies",
            POLICY_BASES,
            "policy",
            plugins.policies,
            plugins.origins,
        )
        _gather(
            pm,
            "ingress_register_source_adapters",
            (SourceAdapter,),
            "source adapter",
            plugins.adapters,
            plugins.origins,
        )
    except PluginError as exc:
        raise PluginError(f"{origin}: {exc}") from exc.__cause__
    return plugins
