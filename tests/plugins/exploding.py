"""A flow policy that raises while judging a request (request-time plugin failure)."""

from ingress_app.contracts import FlowPolicy
from ingress_app.hookspecs import hookimpl

SECRET = "internal-detail-that-must-not-leak"


class Exploding(FlowPolicy):
    name = "exploding"
    description = "raises on every flow"

    def evaluate(self, flow, ctx):
        raise RuntimeError(SECRET)


@hookimpl
def ingress_register_policies():
    return [Exploding]
