"""Domain errors and the one JSON error envelope every layer answers with.

Services raise `ApiError` subclasses; `register_error_handlers` maps them, werkzeug's
HTTP exceptions, webargs validation, database outages and anything unexpected to
`{"error": "...", "detail": ...}` with `application/json`. Never HTML, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An outcome the API reports as an error, with its status and envelope."""

    status = 500
    error = "Internal server error"

    def __init__(
        self,
        detail: Any = None,
        *,
        error: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(error or self.error)
        self.detail = detail
        if error is not None:
            self.error = error
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadRequest(ApiError):
    status, error = 400, "Bad request"


#: Most problems (or policy violations) an error body lists; `problem_count` (or
#: `violation_count`) gives the total. A 1,000-task flow with 60 unknown dependencies
#: each would otherwise answer with megabytes.
MAX_LISTED_PROBLEMS = 100


def problems_detail(problems: list[Any], key: str = "problems") -> dict[str, Any]:
    """`{"problems": the first 100, "problem_count": all}` (or `violations`)."""
    count_key = "problem_count" if key == "problems" else f"{key.rstrip('s')}_count"
    return {key: problems[:MAX_LISTED_PROBLEMS], count_key: len(problems)}


class ValidationFailed(ApiError):
    status, error = 400, "Validation failed"

    def __init__(self, problems: list[dict[str, str]], **kwargs: Any):
        super().__init__(problems_detail(problems), **kwargs)


class Unauthorized(ApiError):
    status, error = 401, "Unauthorized"

    def __init__(self, detail: Any = None, **kwargs: Any):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="ingress"'})
        super().__init__(detail, **kwargs)


class Forbidden(ApiError):
    status, error = 403, "Forbidden"


class NotFound(ApiError):
    status, error = 404, "Not found"


class Conflict(ApiError):
    status, error = 409, "Conflict"


class PayloadTooLarge(ApiError):
    status, error = 413, "Request Entity Too Large"


class UnsupportedMediaType(ApiError):
    status, error = 415, "Unsupported media type"


class IdempotencyMismatch(ApiError):
    status, error = 422, "Idempotency key reused with a different payload"


class ServiceUnavailable(ApiError):
    status, error = 503, "Service unavailable"

    def __init__(self, detail: Any = None, *, retry_after: int = 2, **kwargs: Any):
        kwargs.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(detail, **kwargs)


#: Refusals whose `error` text also names the first reason: integration tools (n8n,
#: Zapier) show a response's `error` and bury `detail`.
_EXPLAINED_STATUSES = frozenset({400, 403, 413, 422})
_MAX_ERROR_TEXT = 300


def _reason(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("message"), str):
        return None
    where = item.get("path") or item.get("task_id") or item.get("policy")
    return f"{where} {item['message']}" if where else item["message"]


def readable_error(status: int, error: str, detail: Any) -> str:
    """`error`, followed for refusals by the first problem or violation and how many
    more there are: "Validation failed: input.email is required (and 2 more)"."""
    if status not in _EXPLAINED_STATUSES:
        return error
    first, total = None, 0
    if isinstance(detail, str):
        first, total = detail, 1
    elif isinstance(detail, dict):
        for name in ("problems", "violations"):
            items = detail.get(name)
            if isinstance(items, list) and items:
                first = _reason(items[0])
                total = detail.get("problem_count") if name == "problems" else None
                total = total if isinstance(total, int) else len(items)
                break
    if not first:
        return error
    text = f"{error}: {first}"
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 1] + "…"
    return text + (f" (and {total - 1} more)" if total > 1 else "")


def error_response(status: int, error: str, detail: Any = None, headers: dict | None = None):
    response = jsonify({"error": readable_error(status, error, detail), "detail": detail})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problems_from_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten marshmallow/webargs messages into `[{"path", "message"}]`."""
    problems: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            # webargs nests by location ("json", "query"); the location is not a field
            if not prefix and key in ("json", "query", "querystring", "path", "headers", "form"):
                problems.extend(problems_from_messages(value, ""))
                continue
            if key == "_schema":
                problems.extend(problems_from_messages(value, prefix))
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            problems.extend(problems_from_messages(value, path))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                problems.extend(problems_from_messages(item, prefix))
            else:
                problems.append({"path": prefix or "body", "message": str(item)})
    else:
        problems.append({"path": prefix or "body", "message": str(messages)})
    return problems


def handle_http_exception(exc: HTTPException):
    """Render werkzeug and webargs errors in the envelope (keeps `Allow`, `Retry-After`)."""
    status = exc.code or 500
    headers = {
        k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")
    }
    data = getattr(exc, "data", None) or {}
    headers.update(data.get("headers") or {})
    if "messages" in data:  # webargs validation failure
        return error_response(
            400,
            "Validation failed",
            problems_detail(problems_from_messages(data["messages"])),
            headers,
        )
    if status >= 500:
        return error_response(status, exc.name, None, headers)
    detail = data.get("message") or exc.description
    if status == 413:
        detail = "the request body is larger than the allowed maximum"
    return error_response(status, exc.name, detail, headers)


def handle_api_error(exc: ApiError):
    return error_response(exc.status, exc.error, exc.detail, exc.headers)


def handle_database_unavailable(exc: Exception):
    log.error("database unavailable: %s", type(exc).__name__, extra={"error": str(exc)[:500]})
    return error_response(
        503, "Service unavailable", "the database is unavailable; retry later", {"Retry-After": "2"}
    )


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    original = getattr(exc, "original_exception", None) or exc
    if isinstance(original, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return handle_database_unavailable(original)
    if isinstance(original, sa_exc.DBAPIError) and original.connection_invalidated:
        return handle_database_unavailable(original)
    if isinstance(original, ApiError):
        return handle_api_error(original)
    log.exception("unhandled error", exc_info=original)
    return error_response(500, "Internal server error", "an unexpected error occurred")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa_exc.OperationalError, handle_database_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, handle_database_unavailable)
    app.register_error_handler(sa_exc.TimeoutError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
