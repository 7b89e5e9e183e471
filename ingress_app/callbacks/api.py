"""HTTP resources for callbacks: the tenant's secret, subscriptions, a run's deliveries."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView

from ..auth import RUNS_READ, WEBHOOKS_ADMIN, auth_required, scope_required
from ..schemas import LOCATION, documents_errors
from ..smorest import Blueprint
from . import service
from .schemas import (
    CallbackDeliveryListSchema,
    CallbackSecretSchema,
    SubscriptionCreatedSchema,
    SubscriptionCreateSchema,
    SubscriptionListArgsSchema,
    SubscriptionPageSchema,
    SubscriptionSchema,
)

callbacks_blp = Blueprint(
    "callbacks",
    __name__,
    url_prefix="/v1/callbacks",
    description="The tenant's secret for signing per-run callbacks.",
)
subscriptions_blp = Blueprint(
    "subscriptions",
    __name__,
    url_prefix="/v1/subscriptions",
    description="REST-hook subscriptions to run events (Zapier's model).",
)
run_callbacks_blp = Blueprint(
    "run_callbacks", __name__, url_prefix="/v1/runs", description="A run's callback deliveries."
)


@callbacks_blp.route("/secret")
class CallbackSecret(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @callbacks_blp.doc(operationId="getCallbackSecret")
    @callbacks_blp.response(200, CallbackSecretSchema)
    @documents_errors(callbacks_blp, 401, 503)
    def get(self):
        """Show the tenant's callback signing secret (made on first read).

        Per-run callbacks are signed with it (Standard Webhooks, `whsec_…`).
        """
        return service.get_secret(g.principal.tenant_id)


@callbacks_blp.route("/secret/rotate")
class CallbackSecretRotate(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @callbacks_blp.doc(operationId="rotateCallbackSecret")
    @callbacks_blp.response(200, CallbackSecretSchema)
    @documents_errors(callbacks_blp, 401, 503)
    def post(self):
        """Replace the tenant's callback signing secret.

        The old one signs too (a second signature) until `previous_secret_expires_at`.
        """
        return service.rotate_secret(g.principal, g.correlation_id)


@subscriptions_blp.route("")
class Subscriptions(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @subscriptions_blp.doc(operationId="listSubscriptions")
    @subscriptions_blp.arguments(SubscriptionListArgsSchema(), location="query", unknown=ma.RAISE)
    @subscriptions_blp.response(200, SubscriptionPageSchema)
    @documents_errors(subscriptions_blp, 400, 401, 503)
    def get(self, args):
        """List the tenant's subscriptions, newest first.

        Keyset pagination: pass `next_cursor` back as `cursor`. Secrets are never shown.
        """
        return service.list_subscriptions(g.principal.tenant_id, args)

    @scope_required(WEBHOOKS_ADMIN)
    @subscriptions_blp.doc(operationId="createSubscription")
    @subscriptions_blp.arguments(SubscriptionCreateSchema())
    @subscriptions_blp.response(201, SubscriptionCreatedSchema, headers=LOCATION)
    @documents_errors(subscriptions_blp, 400, 401, 413, 415, 503)
    def post(self, body):
        """Subscribe a URL to run events. The answer carries its `secret`, this once.

        A target that answers `410 Gone` is unsubscribed.
        """
        created = service.create_subscription(body, g.principal, g.correlation_id)
        return created, 201, {"Location": f"/v1/subscriptions/{created['id']}"}


@subscriptions_blp.route("/<string:subscription_id>")
class SubscriptionById(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @subscriptions_blp.doc(operationId="getSubscription")
    @subscriptions_blp.response(200, SubscriptionSchema)
    @documents_errors(subscriptions_blp, 401, 404, 503)
    def get(self, subscription_id):
        """Show a subscription.

        Its secret is shown only when it is created.
        """
        return service.get_subscription(g.principal.tenant_id, subscription_id)

    @scope_required(WEBHOOKS_ADMIN)
    @subscriptions_blp.doc(operationId="deleteSubscription")
    @subscriptions_blp.response(204)
    @documents_errors(subscriptions_blp, 401, 404, 503)
    def delete(self, subscription_id):
        """Delete a subscription.

        Events not yet sent to it are dropped.
        """
        service.delete_subscription(g.principal, subscription_id, g.correlation_id)


@run_callbacks_blp.route(
    "/<string:run_id>/callbacks",
    parameters=[{"in": "path", "name": "run_id", "required": True,
                 "schema": {"type": "string", "minLength": 1}}],
)
class RunCallbacks(MethodView):
    decorators = [auth_required]

    @scope_required(RUNS_READ)
    @run_callbacks_blp.doc(operationId="listRunCallbacks")
    @run_callbacks_blp.response(200, CallbackDeliveryListSchema)
    @documents_errors(run_callbacks_blp, 401, 404, 503)
    def get(self, run_id):
        """List a run's callback deliveries.

        Oldest first, each with its attempts (status code, error, next attempt time).
        """
        return service.run_callbacks(run_id, g.principal.tenant_id)
