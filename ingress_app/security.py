"""Secure defaults: CORS closed unless configured (security headers: `frontdoor.py`).

`CORS_ORIGINS` (comma-separated origins) opens the `/v1/` API to those browser origins
only; without it no CORS headers are sent and browsers refuse cross-origin calls.
"""

from __future__ import annotations

from flask import Flask
from zxcvbn import zxcvbn

WEAK_SECRETS = {"secret", "changeme", "change-me", "your-secret-key", "jwt-secret", "password"}
#: Least zxcvbn guess estimate (log10) of a signing secret: 10^24 ≈ 2^80. A random
#: 32-character value scores 10^32 or more; repeats, sequences, keyboard walks and
#: dictionary words score far lower whatever their length.
MIN_SECRET_GUESSES_LOG10 = 24
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn's own bound; a strong prefix is a strong secret


def is_weak_secret(value: str) -> bool:
    """Too short, a well-known placeholder, or guessable (judged by its entropy as
    zxcvbn estimates it: `"abcdefgh" * 4` is 32 characters of about 2^7 guesses)."""
    if len(value) < 32 or value.lower() in WEAK_SECRETS:
        return True
    estimate = zxcvbn(value[:_ZXCVBN_MAX_LENGTH])["guesses_log10"]
    return estimate < MIN_SECRET_GUESSES_LOG10


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
