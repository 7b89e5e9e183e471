"""Request and response schemas of the callbacks API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..pagination import PageArgsSchema, page_schema
from .ssrf import MAX_URL_LENGTH

EVENT_TYPES = ("run.finished", "run.status_changed")
EVENTS_DESCRIPTION = (
    "`run.finished` (SUCCEEDED, FAILED, CANCELLED, TIMED_OUT) and/or `run.status_changed` "
    "(every change)"
)


def callback_url_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={
            "format": "uri",
            "description": "Where the run's events are POSTed, signed per Standard Webhooks "
            "with the tenant's callback secret (`GET /v1/callbacks/secret`)",
        },
        **kwargs,
    )


def callback_events_field(**kwargs) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=validate.OneOf(EVENT_TYPES)),
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": f"{EVENTS_DESCRIPTION}; default `[\"run.finished\"]`"},
        **kwargs,
    )


class CallbackSecretSchema(ma.Schema):
    secret = ma.fields.String(
        required=True, metadata={"description": "`whsec_` + base64: the Standard Webhooks key"}
    )
    previous_secret_expires_at = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={
            "format": "date-time",
            "description": "Until then callbacks carry a second signature, by the old secret",
        },
    )


class SubscriptionCreateSchema(ma.Schema):
    """Subscribe a URL to the tenant's run events (a REST hook, as Zapier uses them)."""

    class Meta:
        unknown = ma.RAISE

    target_url = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={"format": "uri", "description": "Where events are POSTed"},
    )
    events = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(EVENT_TYPES)),
        load_default=lambda: ["run.finished"],
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": EVENTS_DESCRIPTION},
    )
    flow_id = ma.fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Only runs of this flow (default: every run of the tenant)"},
    )


class SubscriptionSchema(ma.Schema):
    id = ma.fields.String(required=True)
    target_url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(), required=True)
    flow_id = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})


class SubscriptionCreatedSchema(SubscriptionSchema):
    secret = ma.fields.String(
        required=True,
        metadata={"description": "This subscription's signing secret: shown this once"},
    )


SubscriptionPageSchema = page_schema(SubscriptionSchema, "SubscriptionPage")


class SubscriptionListArgsSchema(PageArgsSchema):
    pass


class CallbackAttemptSchema(ma.Schema):
    attempt = ma.fields.Integer(required=True)
    at = ma.fields.String(required=True, metadata={"format": "date-time"})
    status_code = ma.fields.Integer(allow_none=True, required=True)
    error = ma.fields.String(allow_none=True, required=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    next_attempt_at = ma.fields.String(
        allow_none=True, required=True, metadata={"format": "date-time"}
    )


class CallbackDeliverySchema(ma.Schema):
    webhook_id = ma.fields.String(required=True, metadata={"description": "`webhook-id` header"})
    type = ma.fields.String(required=True, metadata={"enum": list(EVENT_TYPES)})
    url = ma.fields.String(required=True)
    subscription_id = ma.fields.String(allow_none=True, required=True)
    state = ma.fields.String(
        required=True, metadata={"enum": ["pending", "delivered", "failed", "gone"]}
    )
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    next_attempt_at = ma.fields.String(allow_none=True, required=True,
                                       metadata={"format": "date-time"})
    attempts = ma.fields.List(ma.fields.Nested(CallbackAttemptSchema), required=True)


class CallbackDeliveryListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CallbackDeliverySchema), required=True)
