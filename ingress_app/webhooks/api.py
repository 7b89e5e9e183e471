"""HTTP resources for webhooks: configurations (JWT) and the intake (webhook secret)."""

from __future__ import annotations

import marshmallow as ma
from flask import g, request
from flask.views import MethodView

from ..auth import WEBHOOKS_ADMIN, auth_required, scope_required
from ..body import _read_body as read_body
from ..jsonutil import dumps
from ..ratelimit import tenant_limited
from ..responses import JSONBytesResponse
from ..schemas import (
    IDEMPOTENT_REPLAYED,
    LOCATION,
    RATE_LIMIT_HEADERS,
    documents_errors,
    optional_header,
)
from ..smorest import Blueprint
from . import intake, service
from .schemas import (
    WEBHOOK_CREATE_BODY,
    WEBHOOK_SECURITY_SCHEMES,
    DeliveryListArgsSchema,
    DeliveryPageSchema,
    RotatedSecretSchema,
    RotateSecretSchema,
    WebhookAcceptedSchema,
    WebhookConfigCreatedSchema,
    WebhookConfigCreateSchema,
    WebhookConfigListArgsSchema,
    WebhookConfigPageSchema,
    WebhookConfigSchema,
    WebhookConfigUpdateSchema,
    WebhookIgnoredSchema,
)

configs_blp = Blueprint(
    "webhook_configs",
    __name__,
    url_prefix="/v1/webhook-configs",
    description="Webhooks: which flow a sender starts, and how it authenticates.",
)
intake_blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Webhook intake: n8n, Zapier, Standard Webhooks senders start runs.",
)


@configs_blp.route("")
class WebhookConfigs(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="listWebhookConfigs")
    @configs_blp.arguments(WebhookConfigListArgsSchema(), location="query", unknown=ma.RAISE)
    @configs_blp.response(200, WebhookConfigPageSchema)
    @documents_errors(configs_blp, 400, 401, 503)
    def get(self, args):
        """List the tenant's webhooks, newest first.

        Filter by `source` or `enabled`; secrets are never shown.
        """
        return service.list_configs(g.principal.tenant_id, args)

    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="createWebhookConfig", requestBody=WEBHOOK_CREATE_BODY)
    @configs_blp.arguments(WebhookConfigCreateSchema())
    @configs_blp.response(201, WebhookConfigCreatedSchema, headers=LOCATION)
    @documents_errors(configs_blp, 400, 401, 404, 413, 415, 503)
    def post(self, body):
        """Create a webhook. The response carries its `secret`: this once, never again.

        The webhook starts a registered flow (`flow_id`, optionally `flow_version`) or an
        inline `flow_definition`; senders POST to its `url` and authenticate by `auth`.
        """
        created = service.create_config(body, g.principal, g.correlation_id)
        return created, 201, {"Location": f"/v1/webhook-configs/{created['webhook_id']}"}


@configs_blp.route("/<string:webhook_id>")
class WebhookConfigById(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="getWebhookConfig")
    @configs_blp.response(200, WebhookConfigSchema)
    @documents_errors(configs_blp, 401, 404, 503)
    def get(self, webhook_id):
        """Show a webhook of the tenant (without its secret).

        Another tenant's webhook is a 404, as an unknown one.
        """
        return service.get_config(g.principal.tenant_id, webhook_id)

    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="updateWebhookConfig")
    @configs_blp.arguments(WebhookConfigUpdateSchema())
    @configs_blp.response(200, WebhookConfigSchema)
    @documents_errors(configs_blp, 400, 401, 404, 413, 415, 503)
    def patch(self, body, webhook_id):
        """Change a webhook; fields left out keep their value.

        `null` clears an optional field; the secret is changed by `rotateWebhookSecret`.
        """
        return service.update_config(webhook_id, body, g.principal, g.correlation_id)

    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="deleteWebhookConfig")
    @configs_blp.response(204)
    @documents_errors(configs_blp, 401, 404, 503)
    def delete(self, webhook_id):
        """Delete a webhook: its URL answers 404 from now on.

        The runs it started are kept, and so is its audit trail.
        """
        service.delete_config(webhook_id, g.principal, g.correlation_id)


@configs_blp.route("/<string:webhook_id>/rotate-secret")
class WebhookSecretRotation(MethodView):
    decorators = [auth_required]

    # The body is optional (no body: the default grace period), as the view always took it.
    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="rotateWebhookSecret")
    @configs_blp.arguments(RotateSecretSchema(), required=False)
    @configs_blp.response(200, RotatedSecretSchema)
    @documents_errors(configs_blp, 400, 401, 404, 415, 503)
    def post(self, body, webhook_id):
        """Issue a new secret (shown this once); the old one works for a grace period.

        No body: the default grace period; `grace_seconds: 0` ends the old secret now.
        """
        return service.rotate_secret(
            webhook_id, g.principal, g.correlation_id, body.get("grace_seconds")
        )


@configs_blp.route("/<string:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    decorators = [auth_required]

    @scope_required(WEBHOOKS_ADMIN)
    @configs_blp.doc(operationId="listWebhookDeliveries")
    @configs_blp.arguments(DeliveryListArgsSchema(), location="query", unknown=ma.RAISE)
    @configs_blp.response(200, DeliveryPageSchema)
    @documents_errors(configs_blp, 400, 401, 404, 503)
    def get(self, args, webhook_id):
        """List the webhook's recent deliveries, newest first, with outcome and run.

        Repeated deliveries of one delivery id are one entry with their `attempts`;
        filter by `outcome`.
        """
        return service.list_deliveries(g.principal.tenant_id, webhook_id, args)


@tenant_limited
def _accept_limited(authenticated: intake.AuthenticatedDelivery) -> list[intake.Accepted]:
    return intake.accept_delivery(authenticated, g.correlation_id)


# The intake's credentials depend on the webhook's `auth.type` (header names are
# configurable): each method is a security scheme (`WEBHOOK_SECURITY_SCHEMES`), any one
# of which the operation accepts; a missing or wrong one is a 401 whose
# `WWW-Authenticate` names the webhook's scheme. The Standard Webhooks headers are
# credentials too (`standardWebhooks`), so they are not parameters: `webhook-id` would
# otherwise collide with the `webhook_id` path parameter in generated clients.
INTAKE_PARAMETERS = [
    # (No length in the schema: it is read only without `webhook-id`, and blank is none.)
    optional_header(
        "Idempotency-Key",
        "The delivery id when there is no `webhook-id`: 1 to 255 printable ASCII "
        "characters (blank: none)",
    ),
]
INTAKE_SECURITY = [{name: []} for name in WEBHOOK_SECURITY_SCHEMES]
# Form-encoded deliveries are accepted too (the operation's description says so), but
# not listed: a body of two media types makes openapi-python-client choose between them
# with an `isinstance` check that fails on the JSON alternatives (`list[Any]`).
INTAKE_BODY = {
    "required": False,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/WebhookPayload"}},
    },
}


@intake_blp.route("/<string:webhook_id>", endpoint="intake")
class WebhookIntake(MethodView):
    @intake_blp.doc(
        operationId="receiveWebhook",
        security=INTAKE_SECURITY,
        parameters=INTAKE_PARAMETERS,
        requestBody=INTAKE_BODY,
    )
    @intake_blp.response(
        202, WebhookAcceptedSchema, headers={**IDEMPOTENT_REPLAYED, **RATE_LIMIT_HEADERS}
    )
    @intake_blp.alt_response(
        200,
        schema=WebhookIgnoredSchema,
        description="The webhook's `filter` left this delivery out: no run",
        success=True,
    )
    @documents_errors(intake_blp, 400, 401, 403, 404, 413, 415, 429, 503)
    def post(self, webhook_id):
        """Start the webhook's flow with this delivery (no JWT: the webhook's auth decides).

        JSON, form-encoded (`application/x-www-form-urlencoded`, Zapier's `a__b` keys
        nest), or the envelope `{webhook_id, payload, headers, source}`.
        A delivery id seen before (`webhook-id`, `Idempotency-Key` or the source's own)
        answers with the run it made.
        """
        incoming = intake.Incoming(
            raw_body=read_body(),
            mimetype=request.mimetype,
            headers=request.headers,
            query=request.args.to_dict(),
            remote_addr=request.remote_addr,
        )
        authenticated = intake.authenticate_delivery(webhook_id, incoming)
        ignored = intake.ignore_if_filtered(authenticated)  # before the rate limit
        if ignored is not None:  # a response object: not dumped with the 202 schema
            return JSONBytesResponse(dumps(ignored), 200)
        g.principal = authenticated.principal  # the rate limit counts against its tenant
        runs = _accept_limited(authenticated)
        replayed = all(run.replayed for run in runs)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        if authenticated.webhook.items == "each":
            return {"runs": [run.body() for run in runs], "replayed": replayed}, 202, headers
        return runs[0].body(), 202, headers
