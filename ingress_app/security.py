"""Secure defaults: CORS closed unless configured, security headers on every response.

`CORS_ORIGINS` (comma-separated origins) opens the `/v1/` API to those browser origins
only; without it no CORS headers are sent and browsers refuse cross-origin calls.
"""

from __future__ import annotations

from flask import Flask, request

API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# Swagger UI needs its own scripts and styles (served locally) and an inline initialiser.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)
WEAK_SECRETS = {"secret", "changeme", "change-me", "your-secret-key", "jwt-secret", "password"}


_API_HEADER_ITEMS = list(API_HEADERS.items())


def _security_headers(response):
    headers = response.headers
    path = request.path
    if path.startswith("/docs"):
        headers.setdefault("Content-Security-Policy", DOCS_CSP)
    if path.startswith("/v1/") and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    # Our views never set these, so a plain extend is enough (and cheaper than setdefault).
    headers.extend([(k, v) for k, v in _API_HEADER_ITEMS if k not in headers])
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_security(app: Flask) -> None:
    app.after_request(_security_headers)
    origins = [o.strip() for o in (app.config.get("CORS_ORIGINS") or "").split(",") if o.strip()]
    if origins:
        from flask_cors import CORS

        CORS(
            app,
            resources={r"/v1/*": {"origins": origins}},
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-ID"],
            expose_headers=["X-Correlation-ID", "Retry-After", "Location", "Idempotent-Replayed"],
            methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            max_age=600,
            supports_credentials=False,
        )
