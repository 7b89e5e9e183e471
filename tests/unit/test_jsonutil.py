"""jsonutil: orjson output, the standard library behind it for what orjson refuses."""

from __future__ import annotations

import json

from ingress_app.ids import new_id
from ingress_app.jsonutil import canonical_dumps, dumps, dumps_str


def test_compact_utf8_output_parses_back_to_the_same_value():
    value = {"b": [1, 2.5, None, True], "a": "é ✓ \n", "nested": {"z": 1, "y": {}}}

    assert json.loads(dumps(value)) == value
    assert json.loads(dumps_str(value)) == value
    assert "é ✓" in dumps_str(value)  # UTF-8, not \u escapes
    assert b" " not in dumps({"a": [1, 2]})


def test_integers_beyond_64_bits_fall_back_to_the_standard_library():
    value = {"n": 2**70, "m": -(2**80)}

    assert json.loads(dumps(value)) == value
    assert json.loads(dumps_str(value)) == value
    assert json.loads(canonical_dumps(value)) == value


def test_canonical_form_sorts_keys_at_every_level():
    one = canonical_dumps({"b": 1, "a": {"d": 2, "c": 3}})
    two = canonical_dumps({"a": {"c": 3, "d": 2}, "b": 1})

    assert one == two == b'{"a":{"c":3,"d":2},"b":1}'


def test_new_ids_are_distinct_version_4_uuids():
    import uuid

    ids = {new_id() for _ in range(2000)}

    assert len(ids) == 2000
    for value in list(ids)[:200]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
