"""Meta-tests that keep the plugin contract honest (after Datasette's test_plugins.py).

A hook without documentation or without a test, a public contract class missing from
docs/plugins.md, or a built-in that bypasses the hooks fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import marshmallow as ma
import pytest

from ingress_app import contracts, hookspecs
from ingress_app.plugin_manager import DEFAULT_PLUGINS, load_plugins

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"
TESTS = ROOT / "tests"

HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if callable(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")
)
CONTRACT_CLASSES = sorted(contracts.__all__)


@pytest.fixture(scope="module")
def docs() -> str:
    return DOCS.read_text()


@pytest.fixture(scope="module")
def headings(docs) -> list[str]:
    """Markdown headings, outside fenced code blocks (where `#` starts a comment)."""
    found, fenced = [], False
    for line in docs.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            found.append(line.lstrip("#").strip())
    return found


@pytest.fixture(scope="module")
def code_names(docs) -> set[str]:
    """Names written as code: `Name`, `Name(...)`, `Name.attr`."""
    return {m.group(1) for m in re.finditer(r"`([A-Za-z_][A-Za-z0-9_]*)[`(.]", docs)}


@pytest.fixture(scope="module")
def test_sources() -> dict[Path, str]:
    """Every test module's source, except this file (which names every hook)."""
    this = Path(__file__).resolve()
    return {p: p.read_text() for p in TESTS.rglob("test_*.py") if p.resolve() != this}


def _signature(hook: str) -> str:
    params = inspect.signature(getattr(hookspecs, hook)).parameters
    return f"{hook}({', '.join(params)})"


def test_there_are_hooks_to_check():
    assert {
        "ingress_register_policies",
        "ingress_register_source_adapters",
        "ingress_startup",
    } <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_names_carry_the_project_prefix(hook):
    assert hook.startswith(f"{hookspecs.PROJECT}_")


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_describing_its_parameters(hook):
    spec = getattr(hookspecs, hook)
    doc = inspect.getdoc(spec)
    assert doc, f"hookspec {hook} has no docstring"
    for param in inspect.signature(spec).parameters:
        assert f":param {param}:" in doc, f"hookspec {hook} does not describe {param!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook, headings, code_names):
    in_heading = any(re.search(rf"\b{hook}\b", h) for h in headings)
    assert in_heading or hook in code_names, f"{hook} is not documented in docs/plugins.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_documented_hook_signature_is_current(hook, headings):
    """A heading that names a hook shows its full, current signature."""
    for heading in headings:
        if re.search(rf"\b{hook}\(", heading):
            assert _signature(hook) in heading, (
                f"docs show {heading!r}, the hook is {_signature(hook)}"
            )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook, test_sources):
    users = [p.relative_to(ROOT) for p, source in test_sources.items() if hook in source]
    assert users, f"no test under tests/ mentions the hook {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_the_everything_plugin_implements_the_hook(hook):
    """`tests/plugins/everything.py` implements every hook, so each one is called for real."""
    plugins = load_plugins(["tests.plugins.everything"], load_entry_points=False)

    implementers = {impl.plugin_name for impl in getattr(plugins.manager.hook, hook).get_hookimpls()}
    assert "tests.plugins.everything" in implementers, f"tests/plugins/everything.py lacks {hook}"


@pytest.mark.parametrize("name", CONTRACT_CLASSES)
def test_contract_class_is_documented(name, headings, code_names):
    in_heading = any(re.search(rf"\b{name}\b", h) for h in headings)
    assert in_heading or name in code_names, (
        f"contracts.{name} is not documented in docs/plugins.md"
    )


def test_every_public_class_of_contracts_is_exported():
    public = {
        name
        for name, obj in vars(contracts).items()
        if inspect.isclass(obj)
        and obj.__module__ == contracts.__name__
        and not name.startswith("_")
    }
    assert public <= set(contracts.__all__), (
        f"not in contracts.__all__: {public - set(contracts.__all__)}"
    )


def test_builtins_are_registered_through_the_hooks():
    plugins = load_plugins(load_entry_points=False)

    assert set(plugins.origins.values()) == set(DEFAULT_PLUGINS)
    assert {
        "tenant_isolation": "ingress_app.policies.builtin",
        "retry_limit": "ingress_app.policies.builtin",
        "timeout": "ingress_app.policies.builtin",
    }.items() <= {name: plugins.origins[f"policy:{name}"] for name in plugins.policies}.items()
    assert {
        name: plugins.origins[f"source adapter:{name}"]
        for name in ("generic", "standard", "n8n", "zapier")
    } == dict.fromkeys(("generic", "standard", "n8n", "zapier"), "ingress_app.webhooks.adapters")


def _registered_classes() -> list[type]:
    plugins = load_plugins(load_entry_points=False)
    return [*plugins.policies.values(), *plugins.adapters.values()]


@pytest.mark.parametrize("cls", _registered_classes(), ids=lambda cls: cls.name)
def test_builtin_classes_follow_the_contract(cls):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", cls.name), f"{cls.name!r} is not a lower-case name"
    assert cls.description, f"{cls.name} has no description"
    assert issubclass(cls.Options, ma.Schema)
