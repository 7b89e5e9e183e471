"""Schemas shared by every resource (the error envelope, pagination)."""

from __future__ import annotations

import marshmallow as ma


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    error = ma.fields.String(required=True, metadata={"description": "Short error message"})
    detail = ma.fields.Raw(
        allow_none=True,
        metadata={"description": "More about the error: a string, an object or null"},
    )


def documents_errors(blp, *codes: int):
    """Document the error responses a view can give (all use the error envelope)."""
    from http import HTTPStatus

    def decorator(func):
        for code in codes:
            func = blp.alt_response(code, response=HTTPStatus(code).name)(func)
        return func

    return decorator
