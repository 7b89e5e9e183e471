"""Built-in webhook source adapters (registered as an ordinary plugin).

`generic` takes the body as it is; `standard` reads the Standard Webhooks
`webhook-id`; `n8n` and `zapier` know those senders' habits.
"""

from __future__ import annotations

from typing import Any

from ..contracts import SourceAdapter, WebhookDelivery
from ..hookspecs import hookimpl


def _header(delivery: WebhookDelivery, name: str) -> str | None:
    lowered = name.lower()
    for key, value in delivery.headers.items():
        if key.lower() == lowered:
            return value
    return None


class GenericAdapter(SourceAdapter):
    name = "generic"
    description = "any sender: the JSON or form body is the payload"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "Idempotency-Key") or _header(delivery, "X-Request-ID")


class StandardWebhooksAdapter(SourceAdapter):
    name = "standard"
    description = "Standard Webhooks senders (webhook-id / webhook-timestamp / webhook-signature)"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "webhook-id")


class N8nAdapter(SourceAdapter):
    """n8n's HTTP Request node: JSON bodies, often a one-item array of items."""

    name = "n8n"
    description = "n8n HTTP Request node"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "Idempotency-Key") or _header(delivery, "X-N8n-Execution-Id")

    def normalise(self, delivery: WebhookDelivery) -> Any:
        payload = delivery.payload
        if isinstance(payload, list) and len(payload) == 1:
            payload = payload[0]
        if (
            isinstance(payload, dict)
            and set(payload) == {"json"}
            and isinstance(payload["json"], dict)
        ):
            payload = payload["json"]  # an n8n item: {"json": {...}}
        return payload


class ZapierAdapter(SourceAdapter):
    """Zapier's Webhooks action: form-encoded by default, nested keys flattened with '__'."""

    name = "zapier"
    description = "Zapier Webhooks by Zapier (POST, form or JSON)"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "Idempotency-Key") or _header(delivery, "X-Zapier-Delivery-Id")

    def normalise(self, delivery: WebhookDelivery) -> Any:
        payload = delivery.payload
        if not isinstance(payload, dict):
            return payload
        nested: dict[str, Any] = {}
        for key, value in payload.items():
            target = nested
            parts = key.split("__") if isinstance(key, str) else [key]
            for part in parts[:-1]:
                existing = target.get(part)
                if not isinstance(existing, dict):
                    existing = target[part] = {}
                target = existing
            target[parts[-1]] = value
        return nested


BUILTIN_ADAPTERS = [GenericAdapter, StandardWebhooksAdapter, N8nAdapter, ZapierAdapter]


@hookimpl
def ingress_register_source_adapters():
    return BUILTIN_ADAPTERS
