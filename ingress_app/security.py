"""Secure defaults: CORS closed unless configured (security headers: `edge.py`).

`CORS_ORIGINS` (comma-separated origins) opens the `/v1/` API to those browser origins
only; without it no CORS headers are sent and browsers refuse cross-origin calls.
"""

from __future__ import annotations

from flask import Flask

WEAK_SECRETS = {"secret", "changeme", "change-me", "your-secret-key", "jwt-secret", "password"}


def is_weak_secret(value: str) -> bool:
    """Too short, too few distinct characters, or a well-known placeholder."""
    return len(value) < 32 or len(set(value)) < 8 or value.lower() in WEAK_SECRETS


def cors_origins(config) -> list[str]:
    """The browser origins `CORS_ORIGINS` lists (empty: CORS closed)."""
    return [o.strip() for o in (config.get("CORS_ORIGINS") or "").split(",") if o.strip()]


def init_security(app: Flask) -> None:
    origins = cors_origins(app.config)
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
