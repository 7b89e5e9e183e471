"""Request and response schemas of the webhook configuration API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..callbacks.schemas import callback_events_field, callback_url_field
from ..openapi import EnumString, NamedEnum
from ..pagination import PageArgsSchema, page_schema
from ..runs.schemas import flow_definition_field
from .verification import (
    AUTH_TYPES,
    BASIC,
    DEFAULT_HEADERS,
    DEFAULT_USERNAME,
    HEADER_TOKEN,
    HMAC_SHA256,
)

# An HTTP header name (RFC 9110 token).
_HEADER_NAME = validate.Regexp(
    r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$", error="not a valid HTTP header name"
)
# Headers the intake reads for something else: a delivery id (stored, listed and used
# as a dedupe key), the Standard Webhooks fields, the correlation id (echoed and logged).
# A credential read from one of them would be kept and shown as that something else.
RESERVED_HEADERS = frozenset(
    {
        "idempotency-key",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-request-id",
        "x-n8n-execution-id",
        "x-zapier-delivery-id",
        "x-correlation-id",
    }
)
OUTCOMES = ("accepted", "replayed", "unauthorized", "rejected", "denied", "filtered")
#: Longest `filter` expression a webhook may have.
MAX_FILTER_LENGTH = 1000


def _filter_field(**kwargs):
    return ma.fields.String(
        validate=validate.Length(min=1, max=MAX_FILTER_LENGTH),
        metadata={
            "description": "JMESPath over `{payload, headers (lower-case names), query}`; a delivery for which "
            "it is falsy (null, false, empty) starts no run: 200 `{ignored: true}`, recorded "
            "as `filtered`",
            "example": "payload.action == 'opened'",
        },
        **kwargs,
    )
#: How a delivery whose payload is a list of items starts runs.
ITEMS_MODES = ("each", "list")
MAX_ITEMS_PER_DELIVERY = 100

WEBHOOK_AUTH_TYPE = NamedEnum(
    "WebhookAuthType",
    tuple(AUTH_TYPES),
    "How senders authenticate: `standard-webhooks` (signed `webhook-*` headers), "
    "`hmac-sha256` (hex HMAC of the body in a header), `header-token` (the secret in a "
    "header), `basic` (HTTP Basic, the secret as password)",
)
DELIVERY_OUTCOME = NamedEnum(
    "DeliveryOutcome",
    OUTCOMES,
    "What became of a delivery: accepted (a run started), replayed (a delivery id seen "
    "before), unauthorized (401), rejected (other 4xx), denied (a policy refused it)",
)
WEBHOOK_ITEMS_MODE = NamedEnum(
    "WebhookItemsMode",
    ITEMS_MODES,
    "How a payload that is a list of items starts runs: `each` item its own run, or one "
    "run for the `list`",
)


def _items_field(**kwargs) -> ma.fields.String:
    return EnumString(
        WEBHOOK_ITEMS_MODE,
        error="one of {choices}",
        metadata={
            "description": "A payload that is a list of items (n8n sends its items so): "
            "`each` starts one run per item (at most "
            f"{MAX_ITEMS_PER_DELIVERY}), `list` one run whose payload is always the list, "
            "however many items arrive. Unset: one run, and a list payload needs a mapping."
        },
        **kwargs,
    )


def _require_delivery_id_field(**kwargs) -> ma.fields.Boolean:
    return ma.fields.Boolean(
        metadata={
            "description": "Refuse (400) a delivery without a delivery id (`Idempotency-Key`, "
            "`webhook-id` or the source's own), so a sender's retries never start a run twice"
        },
        **kwargs,
    )


class WebhookAuthSchema(ma.Schema):
    """How senders prove they are allowed: the method and its options."""

    class Meta:
        unknown = ma.RAISE

    type = EnumString(
        WEBHOOK_AUTH_TYPE,
        load_default="standard-webhooks",
        error="unknown auth type {input!r}; one of {choices}",
    )
    header = ma.fields.String(
        validate=_HEADER_NAME,
        metadata={
            "description": "hmac-sha256 / header-token: the header to read "
            f"(default {DEFAULT_HEADERS[HMAC_SHA256]} / {DEFAULT_HEADERS[HEADER_TOKEN]})"
        },
    )
    username = ma.fields.String(
        validate=[
            validate.Length(min=1, max=255),
            validate.Regexp(r"^[^:\x00-\x1f\x7f]+$", error="no ':' or control characters"),
        ],
        metadata={"description": f"basic: the username (default {DEFAULT_USERNAME!r})"},
    )

    @ma.validates_schema
    def _options_fit_the_type(self, data, **kwargs):
        auth_type = data.get("type")
        if "header" in data and auth_type not in DEFAULT_HEADERS:
            raise ma.ValidationError(
                f"only {' and '.join(DEFAULT_HEADERS)} take a header", "header"
            )
        if data.get("header", "").lower() in RESERVED_HEADERS:
            raise ma.ValidationError(
                f"{data['header']} carries delivery ids or tracing, not credentials; "
                "choose another header",
                "header",
            )
        if "username" in data and auth_type != BASIC:
            raise ma.ValidationError("only basic takes a username", "username")


def _mapping_field(**kwargs) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=255)),
        values=ma.fields.String(validate=validate.Length(min=1, max=1000)),
        validate=validate.Length(max=100),
        metadata={
            "description": "Run input key → JMESPath over {payload, headers, query}; "
            "none: the payload is the input",
        },
        **kwargs,
    )


class WebhookConfigCreateSchema(ma.Schema):
    """A webhook: which flow it starts, which sender it expects, how senders authenticate."""

    class Meta:
        unknown = ma.RAISE

    flow_id = ma.fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Registry flow (or give flow_definition)"},
    )
    flow_version = ma.fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Pinned registry version; default latest"},
    )
    flow_definition = flow_definition_field(metadata={"description": "Inline flow definition"})
    source = ma.fields.String(
        load_default="generic",
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Source adapter: generic, standard, n8n, zapier, …"},
    )
    auth = ma.fields.Nested(WebhookAuthSchema, load_default=lambda: {"type": "standard-webhooks"})
    input_mapping = _mapping_field(allow_none=True)
    filter = _filter_field(allow_none=True, load_default=None)
    items = _items_field(allow_none=True, load_default=None)
    callback_url = callback_url_field(allow_none=True, load_default=None)
    callback_events = callback_events_field(allow_none=True, load_default=None)
    require_delivery_id = _require_delivery_id_field(load_default=False)
    enabled = ma.fields.Boolean(load_default=True)
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=1000))


class WebhookOfRegisteredFlowSchema(WebhookConfigCreateSchema):
    """A webhook that starts a registered flow: `flow_id` (optionally `flow_version`)."""

    flow_id = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Registry flow"},
    )


class WebhookOfInlineFlowSchema(WebhookConfigCreateSchema):
    """A webhook that starts the flow given inline in `flow_definition`."""

    flow_definition = flow_definition_field(
        required=True, metadata={"description": "Inline flow definition"}
    )


#: "`flow_id` or `flow_definition`", as the document says it (the service checks it).
WEBHOOK_CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"anyOf": [WebhookOfRegisteredFlowSchema, WebhookOfInlineFlowSchema]}
        }
    },
}


class WebhookConfigUpdateSchema(ma.Schema):
    """Change a webhook; fields left out keep their value (`null` clears optional ones)."""

    class Meta:
        unknown = ma.RAISE

    flow_id = ma.fields.String(validate=validate.Length(min=1, max=255))
    flow_version = ma.fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    flow_definition = flow_definition_field(allow_none=True)
    source = ma.fields.String(validate=validate.Length(min=1, max=64))
    auth = ma.fields.Nested(WebhookAuthSchema)
    input_mapping = _mapping_field(allow_none=True)
    filter = _filter_field(allow_none=True)
    items = _items_field(allow_none=True)
    callback_url = callback_url_field(allow_none=True)
    callback_events = callback_events_field(allow_none=True)
    require_delivery_id = _require_delivery_id_field()
    enabled = ma.fields.Boolean()
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=1000))

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("give at least one field to change")


class WebhookAuthOutSchema(ma.Schema):
    """A webhook's authentication method and its options (never the secret)."""

    type = EnumString(WEBHOOK_AUTH_TYPE, required=True)
    header = ma.fields.String()
    username = ma.fields.String()


class WebhookConfigSchema(ma.Schema):
    """A webhook as the API shows it (never its secret)."""

    webhook_id = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "Where senders POST"})
    flow_id = ma.fields.String(required=True)
    flow_version = ma.fields.String(allow_none=True)
    flow_definition = flow_definition_field(allow_none=True)
    source = ma.fields.String(required=True)
    auth = ma.fields.Nested(WebhookAuthOutSchema, required=True)
    input_mapping = ma.fields.Dict(allow_none=True)
    filter = ma.fields.String(allow_none=True)
    items = EnumString(WEBHOOK_ITEMS_MODE, allow_none=True)
    callback_url = ma.fields.String(allow_none=True)
    callback_events = ma.fields.List(ma.fields.String(), allow_none=True)
    require_delivery_id = ma.fields.Boolean(required=True)
    enabled = ma.fields.Boolean(required=True)
    description = ma.fields.String(allow_none=True)
    created_by = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    updated_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    previous_secret_expires_at = ma.fields.String(
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "Until when the secret replaced by the last rotation still works",
        },
    )


class WebhookConfigCreatedSchema(WebhookConfigSchema):
    """The new webhook, with its secret: shown this once."""

    secret = ma.fields.String(
        required=True, metadata={"description": "Shown only in this response"}
    )


class RotateSecretSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    grace_seconds = ma.fields.Integer(
        validate=validate.Range(min=0, max=30 * 86_400),
        metadata={
            "description": "How long the old secret keeps working "
            "(default WEBHOOK_SECRET_GRACE_SECONDS)"
        },
    )


class RotatedSecretSchema(ma.Schema):
    webhook_id = ma.fields.String(required=True)
    secret = ma.fields.String(
        required=True, metadata={"description": "Shown only in this response"}
    )
    previous_secret_expires_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})


class WebhookConfigListArgsSchema(PageArgsSchema):
    source = ma.fields.String(validate=validate.Length(min=1, max=64))
    enabled = ma.fields.Boolean()


class DeliverySchema(ma.Schema):
    """One delivery (or one delivery id and its attempts)."""

    delivery_id = ma.fields.String(allow_none=True)
    received_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    last_received_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    attempts = ma.fields.Integer(required=True)
    outcome = EnumString(DELIVERY_OUTCOME, required=True)
    status_code = ma.fields.Integer(required=True)
    run_id = ma.fields.String(allow_none=True)
    correlation_id = ma.fields.String(allow_none=True)
    source = ma.fields.String(required=True)
    detail = ma.fields.Raw(
        metadata={
            "description": "What went wrong (the error body's `error` and `detail`), or the "
            "runs of a delivery of several items; null when there is nothing to add",
            "type": "object",
            "nullable": True,
        }
    )


class DeliveryListArgsSchema(PageArgsSchema):
    outcome = EnumString(DELIVERY_OUTCOME)


class AcceptedRunSchema(ma.Schema):
    run_id = ma.fields.String(required=True)
    correlation_id = ma.fields.String(required=True)
    replayed = ma.fields.Boolean(
        required=True, metadata={"description": "true: a delivery id seen before; its run"}
    )


class WebhookAcceptedSchema(ma.Schema):
    """One run (`run_id`, `correlation_id`), or with `items: each` every item's run (`runs`)."""

    run_id = ma.fields.String()
    correlation_id = ma.fields.String()
    replayed = ma.fields.Boolean(
        required=True,
        metadata={"description": "true when every run of this delivery existed already"},
    )
    runs = ma.fields.List(
        ma.fields.Nested(AcceptedRunSchema),
        metadata={"description": "`items: each`: the runs, in the order of the items"},
    )


#: How senders authenticate at the intake, one security scheme per `auth.type`.
WEBHOOK_SECURITY_SCHEMES: dict[str, dict] = {
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "`auth.type: standard-webhooks`: the headers `webhook-id`, "
        "`webhook-timestamp` (Unix time, within 5 minutes) and `webhook-signature: "
        'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed by the `whsec_` '
        "secret. `webhook-id` is also the delivery id.",
    },
    "webhookHmac": {
        "type": "apiKey",
        "in": "header",
        "name": DEFAULT_HEADERS[HMAC_SHA256],
        "description": "`auth.type: hmac-sha256`: the hex HMAC-SHA256 of the raw body "
        "keyed by the secret (optionally `sha256=`-prefixed), in this header or the "
        "webhook's `auth.header`",
    },
    "webhookToken": {
        "type": "apiKey",
        "in": "header",
        "name": DEFAULT_HEADERS[HEADER_TOKEN],
        "description": "`auth.type: header-token`: the secret itself, in this header or "
        "the webhook's `auth.header`",
    },
    "webhookBasic": {
        "type": "http",
        "scheme": "basic",
        "description": f"`auth.type: basic`: the webhook's `auth.username` (default "
        f"{DEFAULT_USERNAME!r}) and the secret as the password",
    },
}

#: A delivery's JSON body: any JSON value. Without an `input_mapping` it must be an
#: object (a list too with `items`); scalars reach the run only through a mapping.
WEBHOOK_PAYLOAD = {
    "description": "Any JSON value: an object (the run input), a list of items (n8n), or "
    "with an `input_mapping` anything the mapping reads; the envelope "
    "`{webhook_id, payload, headers, source}` is unwrapped",
    "anyOf": [
        {"type": "object", "additionalProperties": True},
        {"type": "array", "items": {}},
        {"type": "string", "nullable": True},
        {"type": "number"},
        {"type": "boolean"},
    ],
}


class WebhookIgnoredSchema(ma.Schema):
    """A delivery the webhook's `filter` left out: no run was started."""

    ignored = ma.fields.Boolean(required=True, metadata={"enum": [True]})
    delivery_id = ma.fields.String(allow_none=True, required=True)


WebhookConfigPageSchema = page_schema(WebhookConfigSchema, "WebhookConfigPage")
DeliveryPageSchema = page_schema(DeliverySchema, "WebhookDeliveryPage")
