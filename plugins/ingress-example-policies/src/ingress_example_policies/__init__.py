"""An example Ingress plugin: two flow policies and a GitHub webhook source adapter.

Installing the package is enough for Ingress to find it (entry point group
`ingress_app.plugins`); the policies then exist, and `policies.yaml` decides which
tenants get them. The hook implementations below are the whole plugin surface.
"""

from __future__ import annotations

import logging

from ingress_app.hookspecs import hookimpl

from .github import GitHubAdapter
from .policies import BusinessHours, MaxTasks

__version__ = "0.1.0"
__all__ = ["BusinessHours", "GitHubAdapter", "MaxTasks"]

log = logging.getLogger(__name__)

POLICIES = [MaxTasks, BusinessHours]
SOURCE_ADAPTERS = [GitHubAdapter]


@hookimpl
def ingress_register_policies():
    """Make `max_tasks` and `business_hours` available to policies.yaml."""
    return POLICIES


@hookimpl
def ingress_register_source_adapters():
    """Make the `github` webhook source available to `webhook_sources`."""
    return SOURCE_ADAPTERS


@hookimpl
def ingress_startup(policies):
    """Log who uses this package's policies (a plugin may accept a subset of the arguments)."""
    for name, scopes in enabled_scopes(policies).items():
        log.info("%s enabled for %s", name, ", ".join(scopes) or "nobody")


def enabled_scopes(policies) -> dict[str, list[str]]:
    """Map each of our policy names to where it is on: "defaults" and/or tenant ids."""
    result: dict[str, list[str]] = {}
    for cls in POLICIES:
        in_defaults = policies.policies.get(cls.name) is not None
        scopes = ["defaults"] if in_defaults else []
        for tenant, settings in sorted(policies.tenants.items()):
            if cls.name not in settings.policies:
                continue  # inherits the defaults, already listed
            if settings.policies[cls.name] is not None:
                scopes.append(tenant)
            elif in_defaults:
                scopes.append(f"not {tenant}")  # `name: false` turns a default off
        result[cls.name] = scopes
    return result
