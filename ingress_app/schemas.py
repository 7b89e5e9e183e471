"""Schemas shared by every resource (the error envelope, pagination)."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma


class ProblemSchema(ma.Schema):
    """One reason a request was refused: where (`path`, e.g. `tasks[1].id`) and what."""

    path = ma.fields.String(required=True, metadata={"description": "Where: a field path"})
    message = ma.fields.String(required=True)


class ViolationSchema(ma.Schema):
    """A policy's objection: which policy, which task (null: the whole flow), why."""

    policy = ma.fields.String(required=True)
    task_id = ma.fields.String(allow_none=True, required=True)
    message = ma.fields.String(required=True)


class ErrorDetailSchema(ma.Schema):
    """The structured detail of an error. Validation failures list `problems`, policy
    denials `violations`; at most 100 are listed, the count is the total. A webhook
    delivery of several items (`items: each`) names the refused one in `item`."""

    problems = ma.fields.List(ma.fields.Nested(ProblemSchema))
    problem_count = ma.fields.Integer(metadata={"minimum": 0})
    violations = ma.fields.List(ma.fields.Nested(ViolationSchema))
    violation_count = ma.fields.Integer(metadata={"minimum": 0})
    item = ma.fields.Integer(
        metadata={"minimum": 0, "description": "The index of the refused item of a delivery"}
    )


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    error = ma.fields.String(
        required=True,
        metadata={"description": "Short error message; refusals add the first reason"},
    )
    detail = ma.fields.Raw(
        required=True,
        metadata={
            "description": "More about the error: a sentence, an `ErrorDetail` or null",
            "anyOf": [
                {"type": "string", "nullable": True},
                {"$ref": "#/components/schemas/ErrorDetail"},
            ],
        },
    )


CORRELATION_ID = {
    "X-Correlation-ID": {
        "description": "The request's correlation id (its own `X-Correlation-ID`, or one "
        "made for it): in the logs, the run and its messages",
        "schema": {"type": "string", "minLength": 1},
    }
}
#: Sent by the operations that start runs when the tenant has a rate limit.
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the current window (tenants with a rate limit)",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Unix time at which the window resets",
        "schema": {"type": "integer", "minimum": 0},
    },
}

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
# Headers an error always carries, beside the envelope: documented so that clients (and
# the schemathesis fuzz test, tests/integration/test_fuzz_openapi.py) can rely on them.
ERROR_HEADERS: dict[int, dict[str, dict]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The challenge: `Bearer` for tokens; for webhook intake, the "
            "webhook's scheme (`Basic` or `Webhook`)",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
    },
    429: {"Retry-After": _RETRY_AFTER, **RATE_LIMIT_HEADERS},
    503: {"Retry-After": _RETRY_AFTER},
}


LOCATION = {
    "Location": {
        "description": "Where the resource can be read",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    }
}
IDEMPOTENT_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "Present when the key was seen before: this is the original outcome",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def optional_header(name: str, description: str, **schema: Any) -> dict:
    """An optional request header, as an OpenAPI parameter (a string, `schema` added)."""
    return {
        "in": "header",
        "name": name,
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


#: An idempotency key (`request_id` or `Idempotency-Key`): visible ASCII, 1 to 255
#: characters. Keys made for webhook deliveries contain a space, so none collides.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
IDEMPOTENCY_KEY_RULE = "must be 1 to 255 visible ASCII characters (no spaces)"


def idempotency_key_parameter(description: str) -> dict:
    """The optional `Idempotency-Key` request header, as an OpenAPI parameter."""
    return optional_header(
        "Idempotency-Key",
        description,
        minLength=1,
        maxLength=255,
        pattern=IDEMPOTENCY_KEY_PATTERN,
    )


def documents_errors(blp, *codes: int):
    """Document the error responses a view can give (all use the error envelope)."""
    from http import HTTPStatus

    def decorator(func):
        for code in codes:
            func = blp.alt_response(
                code,
                schema=ErrorSchema,
                description=HTTPStatus(code).phrase,
                headers=ERROR_HEADERS.get(code, {}),
            )(func)
        return func

    return decorator
