"""Keys built from caller-controlled strings (cache, rate limits, idempotency).

Tenant ids, flow ids and request ids may contain any character, so a key that joins
them with `:` is ambiguous: tenant `acme` asking for run `eu:<id>` would read the key of
tenant `acme:eu`'s run `<id>`. `compose` percent-encodes every part (and spells `None`
as `~`, which no encoded string contains), so distinct parts always give distinct keys;
ordinary ids (letters, digits, `.`, `_`, `-`) stay readable and unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

_PLAIN = re.compile(r"[A-Za-z0-9._-]+")

#: Prefix of the idempotency keys made for webhook deliveries. The space is outside
#: the alphabet an API client may use for `request_id`/`Idempotency-Key` (visible
#: ASCII), so no API request can claim a future delivery's key.
WEBHOOK_DELIVERY_PREFIX = "webhook "


def part(value: str | None) -> str:
    """One key part, encoded so that it can contain no separator (`:`, `/`, space)."""
    if value is None:
        return "~"
    if _PLAIN.fullmatch(value):
        return value
    return quote(value, safe="").replace("~", "%7E")


def compose(namespace: str, *parts: str | None) -> str:
    """`namespace:part:part…` with every part encoded (`part`)."""
    return ":".join([namespace, *map(part, parts)])


def webhook_delivery_key(webhook_id: str, delivery_id: str, *, item: int | None = None) -> str:
    """The run idempotency key of a webhook delivery (or of its item number `item`):
    bounded length, and in a key space of its own (`WEBHOOK_DELIVERY_PREFIX`)."""
    material = [webhook_id, delivery_id] + ([] if item is None else [item])
    digest = hashlib.sha256(json.dumps(material).encode()).hexdigest()
    return f"{WEBHOOK_DELIVERY_PREFIX}{part(webhook_id)[:160]} {digest}"
