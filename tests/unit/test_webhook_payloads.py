"""Delivery bodies, the envelope, headers for mapping and input mapping
(ingress_app.webhooks.payloads), and the built-in source adapters."""

from __future__ import annotations

import pytest

from ingress_app.contracts import WebhookDelivery
from ingress_app.errors import BadRequest, UnsupportedMediaType, ValidationFailed
from ingress_app.plugin_manager import load_plugins
from ingress_app.webhooks.payloads import (
    clean_delivery_id,
    compile_mapping,
    map_input,
    mapping_headers,
    parse_body,
)


def test_json_body():
    assert parse_body(b'{"a": 1}', "application/json", "wh_1").payload == {"a": 1}


def test_vendor_json_body():
    assert parse_body(b"[1]", "application/vnd.acme+json", "wh_1").payload == [1]


def test_form_body_with_repeated_keys():
    parsed = parse_body(b"a=1&b=x+y&a=2&c=", "application/x-www-form-urlencoded", "wh_1")

    assert parsed.payload == {"a": ["1", "2"], "b": "x y", "c": ""}


def test_empty_body_is_an_empty_object_whatever_the_type():
    assert parse_body(b"", "", "wh_1").payload == {}


@pytest.mark.parametrize("mimetype", ["text/plain", "application/xml", "multipart/form-data", ""])
def test_other_content_types_are_415(mimetype):
    with pytest.raises(UnsupportedMediaType):
        parse_body(b"x", mimetype, "wh_1")


@pytest.mark.parametrize("raw", [b"a=%ff", b"a=%00", b"\xff=1"])
def test_bad_form_bodies_are_400(raw):
    with pytest.raises(BadRequest):
        parse_body(raw, "application/x-www-form-urlencoded", "wh_1")


def test_envelope_is_unwrapped():
    parsed = parse_body(
        b'{"webhook_id": "wh_1", "payload": {"a": 1}, "headers": {"X-A": "b"}, "source": "n8n"}',
        "application/json",
        "wh_1",
    )

    assert parsed.payload == {"a": 1}
    assert parsed.envelope_headers == {"x-a": "b"}


def test_an_object_with_other_keys_is_not_an_envelope():
    parsed = parse_body(b'{"payload": 1, "other": 2}', "application/json", "wh_1")

    assert parsed.payload == {"payload": 1, "other": 2}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"webhook_id": "wh_2", "payload": {}}',
        b'{"payload": {}, "headers": {"a": 1}}',
        b'{"payload": {}, "headers": []}',
    ],
)
def test_bad_envelopes_are_400(raw):
    with pytest.raises(ValidationFailed):
        parse_body(raw, "application/json", "wh_1")


def test_mapping_headers_hide_credentials():
    headers = mapping_headers(
        {
            "Authorization": "Basic x",
            "X-Token": "s",
            "Cookie": "c",
            "webhook-signature": "v1,x",
            "X-Trace": "t",
            "X-Nul": "a\x00b",
        },
        {"x-from-envelope": "e", "x-trace": "envelope loses"},
        {"X-Token"},
    )

    assert headers == {"x-trace": "t", "x-from-envelope": "e"}


def test_no_mapping_means_the_payload_is_the_input():
    assert map_input(None, {"payload": {"a": 1}, "headers": {}, "query": {}}) == {"a": 1}


def test_mapping_over_payload_headers_and_query():
    view = {"payload": {"a": {"b": [1, 2]}}, "headers": {"x-id": "h"}, "query": {"q": "v"}}

    result = map_input(
        {"b": "payload.a.b[-1]", "h": 'headers."x-id"', "q": "query.q", "lit": "'constant'"}, view
    )

    assert result == {"b": 2, "h": "h", "q": "v", "lit": "constant"}


def test_mapping_failures_name_every_failing_key():
    view = {"payload": {"n": 1}, "headers": {}, "query": {}}

    with pytest.raises(ValidationFailed) as failure:
        map_input({"ok": "payload.n", "missing": "payload.x", "bad": "length(payload.n)"}, view)

    paths = [p["path"] for p in failure.value.detail["problems"]]
    assert paths == ["input_mapping.missing", "input_mapping.bad"]


def test_compile_mapping_names_the_bad_expression():
    with pytest.raises(ValidationFailed) as failure:
        compile_mapping({"good": "a.b", "bad": "a.["})

    assert [p["path"] for p in failure.value.detail["problems"]] == ["input_mapping.bad"]


@pytest.mark.parametrize("value,expected", [(None, None), ("  ", None), (" d-1 ", "d-1")])
def test_clean_delivery_id(value, expected):
    assert clean_delivery_id(value, "test") == expected


@pytest.mark.parametrize("value", ["x" * 256, "a\x00b", "tab\there", "ünï"])
def test_unusable_delivery_ids_are_400(value):
    with pytest.raises(BadRequest):
        clean_delivery_id(value, "test")


# --------------------------------------------------------------------------- adapters


@pytest.fixture(scope="module")
def adapters():
    """The built-in adapters, as the plugin hook `ingress_register_source_adapters` gives them."""
    return {name: cls() for name, cls in load_plugins(load_entry_points=False).adapters.items()}


def delivery(payload, **headers) -> WebhookDelivery:
    return WebhookDelivery(
        payload=payload, headers=headers, query={}, raw_body=b"", content_type="application/json"
    )


def test_builtin_adapters_come_from_the_hook(adapters):
    assert {"generic", "standard", "n8n", "zapier"} <= set(adapters)


@pytest.mark.parametrize(
    "name,headers,expected",
    [
        ("generic", {"Idempotency-Key": "k"}, "k"),
        ("standard", {"webhook-id": "msg_1"}, "msg_1"),
        ("n8n", {"X-N8n-Execution-Id": "e-1"}, "e-1"),
        ("zapier", {"X-Zapier-Delivery-Id": "z-1"}, "z-1"),
        ("generic", {}, None),
    ],
)
def test_adapter_delivery_ids(adapters, name, headers, expected):
    assert adapters[name].delivery_id(delivery({}, **headers)) == expected


def test_n8n_unwraps_a_single_item(adapters):
    assert adapters["n8n"].normalise(delivery([{"json": {"a": 1}}])) == {"a": 1}
    assert adapters["n8n"].normalise(delivery([{"a": 1}, {"a": 2}])) == [{"a": 1}, {"a": 2}]


def test_zapier_unflattens_double_underscore_keys(adapters):
    assert adapters["zapier"].normalise(delivery({"a__b": "1", "a__c": "2", "d": "3"})) == {
        "a": {"b": "1", "c": "2"},
        "d": "3",
    }
