"""Schemas shared by every resource (the error envelope, pagination)."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    error = ma.fields.String(required=True, metadata={"description": "Short error message"})
    detail = ma.fields.Raw(
        allow_none=True,
        metadata={
            "description": "More about the error: a string, an object or null. Validation "
            "errors: `{problems: [{path, message}], problem_count}`, policy denials: "
            "`{violations: [...], violation_count}`; at most 100 listed, the count is the total"
        },
    )


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
    429: {"Retry-After": _RETRY_AFTER},
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
            if code in ERROR_HEADERS:
                func = blp.alt_response(
                    code,
                    schema=ErrorSchema,
                    description=HTTPStatus(code).phrase,
                    headers=ERROR_HEADERS[code],
                )(func)
            else:
                func = blp.alt_response(code, response=HTTPStatus(code).name)(func)
        return func

    return decorator
