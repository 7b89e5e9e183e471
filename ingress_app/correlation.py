"""`X-Correlation-ID`: honoured when sane, generated otherwise, echoed on every response."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

HEADER = "X-Correlation-ID"
_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def _assign_correlation_id() -> None:
    supplied = request.headers.get(HEADER)
    # An unusable value (too long, odd characters) is replaced rather than refused,
    # so that a caller's tracing quirk never blocks a run; the new id is echoed back.
    g.correlation_id = supplied if supplied and _SANE.fullmatch(supplied) else str(uuid.uuid4())


def _echo_correlation_id(response):
    cid = g.get("correlation_id")
    if cid:
        response.headers[HEADER] = cid
    return response


def init_correlation(app: Flask) -> None:
    app.before_request(_assign_correlation_id)
    app.after_request(_echo_correlation_id)
