"""Input contracts: a flow's `input_schema` (JSON Schema 2020-12) and the run input
checked against it.

The schema is checked when a flow is registered, given inline, or bound to a webhook
(`schema_problems`); every run's input is checked before policies see it
(`input_problems`). Defaults in the schema are not injected: the input the
orchestrator gets is the input the caller sent. Compiled validators are kept per
schema text (a bounded cache), so a busy flow's schema is compiled once per process.
Remote `$ref`s are never fetched: a reference the schema does not hold is a problem.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from threading import Lock
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable

from ..jsonutil import canonical_dumps

SCHEMA_KEY = "input_schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Longest message a problem carries (messages quote the offending value).
MAX_MESSAGE = 300
_CACHE_SIZE = 512

_NO_REMOTE: Registry = Registry()
_validators: OrderedDict[bytes, Draft202012Validator] = OrderedDict()
_lock = Lock()


def _path(prefix: str, parts: Iterable[Any]) -> str:
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def schema_problems(schema: Any, path: str) -> list[dict[str, str]]:
    """Why `schema` is not a JSON Schema 2020-12 document (empty: it is one).

    A schema with a compiled validator in the cache was checked before: inline flows
    send the same schema with every run, and checking it against the meta-schema costs
    more than the rest of an accept."""
    if isinstance(schema, dict):
        key = canonical_dumps(schema)
        with _lock:
            if key in _validators:
                return []
    if not isinstance(schema, dict):  # (a boolean schema is of no use as a contract)
        return [{"path": path, "message": "must be a JSON Schema (an object)"}]
    if schema.get("$schema", DIALECT) != DIALECT:
        return [{"path": f"{path}.$schema", "message": f"only {DIALECT} is supported"}]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [{"path": _path(path, exc.path), "message": _message(exc.message)}]
    _validator(schema)  # remembered as checked
    return []


def _validator(schema: Any) -> Draft202012Validator:
    key = canonical_dumps(schema)
    with _lock:
        validator = _validators.get(key)
        if validator is not None:
            _validators.move_to_end(key)
            return validator
    # an explicit (empty) registry: without one jsonschema fetches unknown remote
    # `$ref`s over the network, which would let a caller make us call any URL
    validator = Draft202012Validator(schema, registry=_NO_REMOTE)
    with _lock:
        _validators[key] = validator
        while len(_validators) > _CACHE_SIZE:
            _validators.popitem(last=False)
    return validator


def input_problems(schema: Any, value: Any, path: str = "input") -> list[dict[str, str]]:
    """Every way `value` breaks `schema`, as `{path, message}` (empty: it conforms)."""
    try:
        errors = list(_validator(schema).iter_errors(value))
    except Unresolvable as exc:
        return [{"path": SCHEMA_KEY, "message": _message(f"cannot resolve a reference: {exc}")}]
    errors.sort(key=lambda e: [str(p) for p in e.absolute_path])
    return [
        {"path": _path(path, error.absolute_path), "message": _message(error.message)}
        for error in errors
    ]
