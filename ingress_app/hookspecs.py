"""The plugin contract: hooks an Ingress plugin may implement.

Implement them with `@hookimpl` (from this module) in a module or package that is
either installed with an entry point in the group `ingress_app.plugins` or named
under `plugins:` in `policies.yaml`. Hooks are called with keyword arguments only;
an implementation may accept any subset of the documented arguments. Hooks evolve
by adding arguments, never by removing or renaming them.
"""

from __future__ import annotations

import pluggy

PROJECT = "ingress"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ingress_register_policies():
    """Return a list of policy classes this plugin provides.

    Each class subclasses `FlowPolicy`, `PreTaskPolicy` or `PostTaskPolicy` from
    `ingress_app.contracts` and has a unique `name`. Registering makes a policy
    *available*; `policies.yaml` enables it for everyone or for a tenant.

    :return: list of classes (or None)
    """


@hookspec
def ingress_register_source_adapters():
    """Return a list of webhook source adapter classes this plugin provides.

    Each class subclasses `ingress_app.contracts.SourceAdapter` and has a unique
    `name`; `webhook_sources` in `policies.yaml` enables it.

    :return: list of classes (or None)
    """


@hookspec
def ingress_startup(app, policies):
    """Called each time a policy configuration has been loaded and resolved.

    That is at process startup, on every reload of `policies.yaml`, and by
    `policies check`, so keep it idempotent. Use it to check your own configuration or
    open long-lived clients. Raising fails that load with your message: at startup the
    service does not start; on a reload the previous configuration stays in force.

    :param app: the Flask application
    :param policies: the loaded `PolicyConfig`
    """
