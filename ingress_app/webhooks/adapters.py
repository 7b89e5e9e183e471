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


#: Keys n8n puts beside an item's `json` (its bookkeeping, never the item's data).
N8N_ITEM_KEYS = frozenset(
    {"json", "binary", "pairedItem", "index", "error", "metadata", "evaluationData", "redaction"}
)


def unwrap_n8n_item(item: Any) -> Any:
    """An n8n item `{"json": {...}, "pairedItem": ...}` is its `json`; anything else as is."""
    if (
        isinstance(item, dict)
        and isinstance(item.get("json"), dict)
        and N8N_ITEM_KEYS.issuperset(item)
    ):
        return item["json"]
    return item


class N8nAdapter(SourceAdapter):
    """n8n's HTTP Request node: JSON bodies, often an array of items.

    Items are unwrapped whatever bookkeeping they carry (`pairedItem`, `binary`, ...).
    A one-item array is that item, unless the webhook's `items` setting asks for a list
    or a run per item (then the intake keeps the list, whatever its length).
    """

    name = "n8n"
    description = "n8n HTTP Request node"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "Idempotency-Key") or _header(delivery, "X-N8n-Execution-Id")

    def normalise(self, delivery: WebhookDelivery) -> Any:
        payload = delivery.payload
        if isinstance(payload, list):
            items = [unwrap_n8n_item(item) for item in payload]
            return items[0] if len(items) == 1 and not delivery.extra.get("items") else items
        return unwrap_n8n_item(payload)


def _unflatten(payload: Any) -> Any:
    """`{"customer__email": x}` → `{"customer": {"email": x}}` (Zapier's nesting)."""
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


class ZapierAdapter(SourceAdapter):
    """Zapier's Webhooks action: form-encoded by default, nested keys flattened with '__'.

    "Wrap Request In Array" sends a one-item array: that item is the payload (unless
    the webhook's `items` setting asks for a list or a run per item).
    """

    name = "zapier"
    description = "Zapier Webhooks by Zapier (POST, form or JSON)"

    def delivery_id(self, delivery: WebhookDelivery) -> str | None:
        return _header(delivery, "Idempotency-Key") or _header(delivery, "X-Zapier-Delivery-Id")

    def normalise(self, delivery: WebhookDelivery) -> Any:
        payload = delivery.payload
        if isinstance(payload, list):
            items = [_unflatten(item) for item in payload]
            return items[0] if len(items) == 1 and not delivery.extra.get("items") else items
        return _unflatten(payload)


BUILTIN_ADAPTERS = [GenericAdapter, StandardWebhooksAdapter, N8nAdapter, ZapierAdapter]


@hookimpl
def ingress_register_source_adapters():
    return BUILTIN_ADAPTERS
