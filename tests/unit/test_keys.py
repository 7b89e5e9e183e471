"""Keys built from caller-controlled strings never collide, whatever the strings hold."""

from __future__ import annotations

import itertools

from ingress_app import keys
from ingress_app.ids import is_id, new_id
from ingress_app.runs.service import run_cache_key

AWKWARD = [
    "",
    "acme",
    "acme:eu",
    "eu",
    "eu:x",
    "x",
    "a/b",
    "a%3Ab",
    "~",
    "a b",
    "é",
    ":",
    "%",
    None,
]


def test_distinct_parts_never_give_the_same_key():
    seen: dict[str, tuple] = {}
    for parts in itertools.product(AWKWARD, repeat=2):
        key = keys.compose("run", *parts)
        assert seen.setdefault(key, parts) == parts, f"{parts} and {seen[key]} share {key!r}"


def test_a_tenant_with_a_colon_does_not_share_keys_with_its_prefix():
    run_id = new_id()
    assert run_cache_key("acme:eu", run_id) != run_cache_key("acme", f"eu:{run_id}")


def test_ordinary_ids_stay_readable():
    run_id = new_id()
    assert run_cache_key("acme", run_id) == f"run:acme:{run_id}"


def test_parts_never_contain_a_separator():
    for value in AWKWARD:
        encoded = keys.part(value)
        assert not {":", "/", " "} & set(encoded), encoded


def test_webhook_delivery_keys_are_outside_the_api_alphabet_and_bounded():
    key = keys.webhook_delivery_key("wh_" + "x" * 300, "d" * 1000)
    assert key.startswith(keys.WEBHOOK_DELIVERY_PREFIX)
    assert " " in key and len(key) <= 255
    # the delivery id is hashed with the webhook id, not joined to it
    assert keys.webhook_delivery_key("wh_a", "b:c") != keys.webhook_delivery_key("wh_a:b", "c")


def test_only_ids_of_the_generated_form_are_ids():
    assert is_id(new_id())
    for value in ["", "eu:" + new_id(), new_id().upper(), new_id() + "x", "validate", "x" * 36]:
        assert not is_id(value), value
