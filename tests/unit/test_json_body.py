"""`body.parse_json_bytes` parses with orjson where it can: the result must always be
what the standard library parser (with our number rules) gives, or the same 400."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingress_app.body import parse_json_bytes
from ingress_app.errors import BadRequest


def no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def stdlib_outcome(data: bytes):
    """What the standard library parser gives under JSON's number rules (no NaN or
    Infinity, no float overflowing to infinity): a value or an error."""
    try:
        return "value", json.loads(data, parse_constant=no_constants, parse_float=finite_float)
    except (BadRequest, RecursionError, ValueError, UnicodeDecodeError):
        return "error", None


def outcome(data: bytes):
    try:
        return "value", parse_json_bytes(data)
    except BadRequest as exc:
        return "error", exc.detail


def same(a, b) -> bool:
    """Equal, and equal in type all the way down (1 and 1.0 are different JSON)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
        (b'{"n": -9223372036854775809}', {"n": -9223372036854775809}),
        (b'{"n": 18446744073709551616}', {"n": 18446744073709551616}),
        (b'{"n": 9007199254740993}', {"n": 9007199254740993}),
        (b'{"f": -0.0, "i": -0, "e": 1e-400}', {"f": -0.0, "i": 0, "e": 0.0}),
        (b'\xef\xbb\xbf{"bom": 1}', {"bom": 1}),
        (b'{"a": 1, "b": 2, "a": 3}', {"a": 3, "b": 2}),
        (b'{"s": "\\ud83d\\ude00"}', {"s": "\U0001f600"}),
    ],
)
def test_documents_orjson_would_get_wrong_or_refuse_parse_as_the_standard_library_does(
    data, expected
):
    kind, value = outcome(data)
    assert kind == "value" and same(value, expected)


@pytest.mark.parametrize(
    "data",
    [b'{"n": NaN}', b'{"n": Infinity}', b'{"n": 1e400}', b'{"s": "\\ud800"}',
     b'{"s": "\xed\xa0\x80"}', b"[" * 2000 + b"]" * 2000, b'{"a": 1,}', b"{'a': 1}", b""],
)
def test_refused_documents_are_refused_with_a_400(data):
    assert outcome(data)[0] == "error"


# Strings without NUL and lone surrogates: those are refused by checks of our own.
storable_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(storable_text, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_document_parses_to_what_the_standard_library_gives(value):
    for data in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        kind, parsed = outcome(data)
        assert kind == "value"
        assert same(parsed, stdlib_outcome(data)[1])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=32).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_are_accepted_or_refused_as_the_standard_library_does(data):
    kind, parsed = outcome(data)
    expected_kind, expected = stdlib_outcome(data)
    if expected_kind == "value" and b"\x00" not in data and b"\\u0000" not in data:
        assert kind == "value" and same(parsed, expected)
    elif kind == "value":  # only the extra checks (NUL, surrogates) refuse more
        assert expected_kind == "value"
