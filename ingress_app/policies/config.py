"""Read and validate `policies.yaml` (only `yaml.safe_load`-level constructs).

Errors name the file, the line where YAML can tell it, the tenant and the policy:
`policies.yaml:14: tenants.acme.policies.retry_limit: max_retries: Not a valid integer.`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml
from limits import parse_many

from ..config import ConfigError

TOP_LEVEL_KEYS = {
    "version",
    "plugins",
    "policies",
    "tenants",
    "default_rate_limit",
    "webhook_sources",
    "max_active_runs",
    "max_active_runs_per_flow",
}
TENANT_KEYS = {
    "policies", "rate_limit", "webhook_sources", "max_active_runs", "max_active_runs_per_flow",
}
#: Marks a limit a tenant's settings do not set (null there means "no limit").
UNSET: Any = object()


class PolicyConfigError(ConfigError):
    """policies.yaml is unreadable or invalid; the message says where and why."""


@dataclass
class TenantSettings:
    policies: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    rate_limit: str | None = None
    webhook_sources: list[str] | None = None
    #: runs in flight (PENDING, RUNNING, CANCEL_REQUESTED); UNSET: the default applies
    max_active_runs: Any = UNSET
    max_active_runs_per_flow: Any = UNSET


@dataclass
class PolicyConfig:
    """The validated file, before policies are resolved against the loaded plugins."""

    source: str
    version: int = 1
    plugins: list[str] = field(default_factory=list)
    policies: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    tenants: dict[str, TenantSettings] = field(default_factory=dict)
    default_rate_limit: str | None = None
    webhook_sources: list[str] = field(
        default_factory=lambda: ["generic", "standard", "n8n", "zapier"]
    )
    max_active_runs: int | None = None
    max_active_runs_per_flow: int | None = None
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)
    #: The text that was validated (the last-good snapshot copies exactly this).
    text: str = field(default="", repr=False)

    def line_of(self, *path: Any) -> str:
        """`file:line` for a key path, as precisely as the YAML allows."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return f"{self.source}:{line}"
        return self.source


def _index_lines(node: yaml.Node, prefix: tuple, out: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, key_node.value)
            out[key] = key_node.start_mark.line + 1
            _index_lines(value_node, key, out)


def _fail(config: PolicyConfig, path: tuple, message: str) -> PolicyConfigError:
    where = config.line_of(*path)
    dotted = ".".join(str(p) for p in path)
    return PolicyConfigError(f"{where}: {dotted + ': ' if dotted else ''}{message}")


def _check_rate_limit(config: PolicyConfig, path: tuple, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(config, path, "must be a string such as '100/minute'")
    try:
        parse_many(value)
    except ValueError:
        raise _fail(config, path, f"{value!r} is not a rate limit such as '100/minute'") from None
    return value


def _check_run_limit(config: PolicyConfig, path: tuple, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(config, path, "must be a whole number of at least 1 (or null: no limit)")
    return value


def _policy_map(config: PolicyConfig, path: tuple, value: Any) -> dict[str, dict[str, Any] | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(config, path, "must be a mapping of policy name to options")
    result: dict[str, dict[str, Any] | None] = {}
    for name, options in value.items():
        if not isinstance(name, str):
            raise _fail(config, path, f"policy name {name!r} must be a string")
        if options is False:
            result[name] = None  # disabled for this scope
        elif options is None or options is True:
            result[name] = {}
        elif isinstance(options, dict):
            result[name] = options
        else:
            raise _fail(config, (*path, name), "options must be a mapping (or false to disable)")
    return result


def _name_list(config: PolicyConfig, path: tuple, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(config, path, "must be a list of names")
    return list(value)


def parse_policy_text(text: str, source: str = "policies.yaml") -> PolicyConfig:
    """Validate the file's structure (policy options are checked when resolved)."""
    config = PolicyConfig(source=source, text=text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyConfigError(f"{where}: invalid YAML: {problem}") from None
    if node is not None:
        _index_lines(node, (), config.lines)
    if raw is None:
        raise _fail(
            config,
            (),
            "the file is empty (an empty or truncated file is refused; "
            "write at least `version: 1` and `policies: {}`)",
        )
    if not isinstance(raw, dict):
        raise _fail(config, (), "the top level must be a mapping")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise _fail(config, (key,), f"unknown key (expected one of {sorted(TOP_LEVEL_KEYS)})")
    version = raw.get("version", 1)
    if version != 1:
        raise _fail(config, ("version",), f"unsupported version {version!r} (expected 1)")
    if set(raw) <= {"version"}:
        raise _fail(
            config,
            (),
            "the file sets nothing but `version` (it looks truncated; "
            "add `policies: {}` to serve the defaults)",
        )
    if "plugins" in raw and raw["plugins"] is not None:
        config.plugins = _name_list(config, ("plugins",), raw["plugins"])
    config.policies = _policy_map(config, ("policies",), raw.get("policies"))
    config.default_rate_limit = _check_rate_limit(
        config, ("default_rate_limit",), raw.get("default_rate_limit")
    )
    for key in ("max_active_runs", "max_active_runs_per_flow"):
        setattr(config, key, _check_run_limit(config, (key,), raw.get(key)))
    if raw.get("webhook_sources") is not None:
        config.webhook_sources = _name_list(config, ("webhook_sources",), raw["webhook_sources"])
    tenants = raw.get("tenants") or {}
    if not isinstance(tenants, dict):
        raise _fail(config, ("tenants",), "must be a mapping of tenant id to settings")
    for tenant, settings in tenants.items():
        path = ("tenants", tenant)
        if not isinstance(tenant, str) or not tenant:
            raise _fail(config, ("tenants",), f"tenant id {tenant!r} must be a string")
        settings = settings or {}
        if not isinstance(settings, dict):
            raise _fail(config, path, "must be a mapping")
        unknown = set(settings) - TENANT_KEYS
        if unknown:
            key = sorted(map(str, unknown))[0]
            raise _fail(
                config, (*path, key), f"unknown key (expected one of {sorted(TENANT_KEYS)})"
            )
        config.tenants[tenant] = TenantSettings(
            policies=_policy_map(config, (*path, "policies"), settings.get("policies")),
            rate_limit=_check_rate_limit(config, (*path, "rate_limit"), settings.get("rate_limit")),
            webhook_sources=(
                _name_list(config, (*path, "webhook_sources"), settings["webhook_sources"])
                if settings.get("webhook_sources") is not None
                else None
            ),
            **{
                key: _check_run_limit(config, (*path, key), settings[key])
                for key in ("max_active_runs", "max_active_runs_per_flow")
                if key in settings
            },
        )
    return config


def load_policy_file(path: str | Path) -> PolicyConfig:
    """Read and validate a policies file; a missing file means built-in defaults only."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PolicyConfigError(f"{path}: file not found (set POLICIES_FILE)") from None
    except OSError as exc:
        raise PolicyConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PolicyConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_policy_text(text, source=str(path))


def format_options_error(error: ma.ValidationError) -> str:
    messages = error.messages
    if isinstance(messages, dict):
        return "; ".join(
            f"{key}: {' '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in messages.items()
        )
    return " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
