"""A `SourceAdapter` for GitHub webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ingress_app.contracts import SourceAdapter, WebhookDelivery


def _header(delivery: WebhookDelivery, name: str) -> str | None:
    """Header lookup, case-insensitive (HTTP header names are)."""
    wanted = name.lower()
    for key, value in delivery.headers.items():
        if key.lower() == wanted:
            return value
    return None


class GitHubAdapter(SourceAdapter):
    """GitHub's repository and organisation webhooks.

    - Delivery id: `X-GitHub-Delivery` (a GUID per delivery; redeliveries reuse it).
    - Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
      with the webhook's secret; compared in constant time.
    - Body: JSON, or form-encoded with the JSON in a `payload` field (the "Content type:
      application/x-www-form-urlencoded" setting on GitHub); both give the same payload.
    """

    name = "github"
    description = "GitHub webhooks (X-GitHub-Delivery, X-Hub-Signature-256)"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "X-GitHub-Delivery") or None

    def normalise(self, delivery: WebhookDelivery) -> Any:
        payload = delivery.payload
        if (
            isinstance(payload, dict)
            and set(payload) == {"payload"}
            and isinstance(payload["payload"], str)
        ):
            try:
                return json.loads(payload["payload"])
            except ValueError:
                return payload
        return payload

    def verify(self, delivery: WebhookDelivery, secret: str) -> bool:
        """True only for a well-formed signature that matches; never None (no fallback)."""
        signature = _header(delivery, "X-Hub-Signature-256")
        if not signature or not secret:
            return False
        scheme, _, digest = signature.strip().partition("=")
        if scheme != "sha256" or not digest:
            return False
        expected = hmac.new(secret.encode(), delivery.raw_body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), digest.lower().encode("utf-8", "replace"))
