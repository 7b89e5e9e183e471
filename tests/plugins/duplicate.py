"""Registers a policy under a name a built-in already uses."""

from ingress_app.contracts import PreTaskPolicy
from ingress_app.hookspecs import hookimpl


class AnotherRetryLimit(PreTaskPolicy):
    name = "retry_limit"

    def evaluate(self, task, ctx):
        raise NotImplementedError


@hookimpl
def ingress_register_policies():
    return [AnotherRetryLimit]
