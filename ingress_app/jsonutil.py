"""Compact JSON encoding on the hot paths: orjson, with the standard library behind it.

orjson is several times faster than `json` for the documents a run carries (flow
definition, input, outbox envelope). It refuses a few values the standard library
accepts — integers beyond 64 bits, above all, which a client's JSON may contain — and
those documents are encoded by `json` instead, with the same compact separators and
UTF-8 (not `\\u` escapes) output. Floats may be spelt differently (`1e16` vs `1e+16`):
both are the same JSON number.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_stdlib = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _stdlib(value).encode()


#: Sorted-key compact JSON by the standard library: the form digests stored before orjson
#: (and the registry's content digests) were computed over.
stdlib_canonical = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":")
).encode


def canonical_dumps(value: Any) -> bytes:
    """Compact JSON with every object's keys sorted (for hashing), as UTF-8 bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return stdlib_canonical(value).encode()


def dumps_str(value: Any) -> str:
    """Compact JSON as text (for JSONB and text parameters)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _stdlib(value)
