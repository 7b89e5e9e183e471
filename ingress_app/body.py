"""Read a request's JSON body once, safely.

Every JSON endpoint goes through `json_body()`: it refuses non-JSON content types
(415), malformed JSON or JSON nested more than `MAX_JSON_DEPTH` levels (a bound well
inside the interpreter's recursion limit, so that storing and serialising the value
later can never fail), and what PostgreSQL could not store anyway (400):
NUL characters, lone UTF-16 surrogates, and the non-standard `NaN`/`Infinity` (or a
number too large for a double). It caches the parsed value on `flask.g` so that webargs
and the views share one parse.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import orjson
from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header

from .errors import BadRequest, UnsupportedMediaType, ValidationFailed

# A JSON-escaped NUL (\u0000) that is not itself an escaped backslash followed by "u0000".
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Where a lone surrogate could come from: a \uD800-\uDFFF escape, or its raw UTF-8 form
# (which `json.loads` decodes with "surrogatepass"). Only then is the value walked.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_MISSING = object()
# Arrays and objects inside one another. Generous for any real flow or payload, and far
# from Python's recursion limit: a document nested ~900 levels used to parse, then fail
# while being encoded for storage (a 500).
MAX_JSON_DEPTH = 100


# Digits mapped to "0", everything else to " ": a run of 19 zeros in the translation is
# a run of 19 digits in the document, i.e. possibly an integer beyond 64 bits.
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGIT_RUN = b"0" * 19


def _invalid(detail: str) -> BadRequest:
    return BadRequest(detail, error="Invalid JSON")


def _reject_constant(name: str) -> Any:
    raise _invalid(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _invalid(f"the number {text[:40]} is out of range")
    return value


def iter_strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included (iteratively, any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _has_lone_surrogate(value: Any) -> bool:
    for item in iter_strings(value):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


def nesting_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects are nested more than `limit` levels (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _too_deep() -> BadRequest:
    return BadRequest("the JSON document is nested too deeply", error="Invalid JSON")


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def parse_json_bytes(data: bytes) -> Any:
    """Decode a JSON document, mapping every failure to a 400 with a clear detail."""
    # `in` is a fast C scan; the regular expressions only run when an escape or a
    # UTF-8 lead byte of the surrogate range is present at all.
    has_escape = b"\\u" in data
    if b"\x00" in data or (has_escape and _ESCAPED_NUL.search(data)):
        raise _invalid("NUL characters are not allowed in the request body")
    value = _MISSING
    if _LONG_DIGIT_RUN not in data.translate(_DIGITS):
        # orjson parses in a fraction of the time and, for every document it accepts,
        # gives what `json` would; integers beyond 64 bits (which it turns into floats)
        # cannot occur without 19 digits in a row. Everything it refuses (NaN, infinite
        # numbers, lone surrogates, a BOM, other encodings, deep nesting) is left to
        # `json`, which decides and words the error.
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        if value is _MISSING:
            value = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"the request body is not valid JSON: {exc}", error="Invalid JSON"
        ) from None
    if (
        (has_escape or b"\xed" in data)
        and _MAYBE_SURROGATE.search(data)
        and _has_lone_surrogate(value)
    ):
        raise _invalid("unpaired UTF-16 surrogates are not allowed in the request body")
    # Only a document with more openers than the limit can be too deep (cheap C counts
    # keep the walk off the hot path).
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and nesting_exceeds(value):
        raise _too_deep()
    return value


def declared_length(environ: dict[str, Any], limit: int | None) -> int | None:
    """The body's `Content-Length` when it is given and within `limit`, else None
    (absent, chunked, malformed or too long: werkzeug's reader decides those)."""
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit() and (limit is None or int(length) <= limit):
        return int(length)
    return None


def read_declared_body(environ: dict[str, Any], length: int) -> bytes:
    """Read a body of a known length straight from the WSGI stream; a body that ends
    early is a 400 (the client sent less than it said)."""
    data = environ["wsgi.input"].read(length)
    if len(data) < length:
        raise BadRequest("the request body ended before its Content-Length")
    return data


def is_json_content_type(header: str | None) -> bool:
    """A `Content-Type` naming JSON (`application/json`, `application/*+json`, any
    parameters), judged as werkzeug's `Request.mimetype` would."""
    if header == "application/json":
        return True
    return is_json_mimetype(parse_options_header(header or "")[0].lower())


def _read_body() -> bytes:
    """The raw body; a streamed (chunked) body longer than the limit is a 413.

    werkzeug stops reading a stream without Content-Length at `MAX_CONTENT_LENGTH` and
    returns what it has, so an over-long chunked body would otherwise be parsed truncated.
    """
    req = request._get_current_object()
    limit = req.max_content_length
    length = declared_length(req.environ, limit)
    if (
        length is not None
        and "stream" not in req.__dict__  # nothing has read the body yet
        and getattr(req, "_cached_data", None) is None
    ):
        # The common case, read without werkzeug's stream wrappers; cached where
        # `get_data()` looks, so later readers (webhook signatures) see the same bytes.
        data = req._cached_data = read_declared_body(req.environ, length)
        return data
    data = req.get_data(cache=True)
    if (
        limit is not None
        and req.content_length is None
        and len(data) >= limit
        and req.environ.get("wsgi.input_terminated")
        and req.environ["wsgi.input"].read(1)
    ):
        raise RequestEntityTooLarge()
    return data


def json_body(*, required: bool = True) -> Any:
    """Return the request's parsed JSON body (None when empty and not required)."""
    ctx_g = g._get_current_object()
    cached = getattr(ctx_g, "_json_body", _MISSING)
    if cached is not _MISSING:
        return cached
    data = _read_body()
    if not data:
        if required:
            raise BadRequest("a JSON request body is required", error="Invalid JSON")
        ctx_g._json_body = None
        return None
    if not is_json_content_type(request.environ.get("CONTENT_TYPE")):
        raise UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.mimetype or 'none'!r}"
        )
    value = parse_json_bytes(data)
    if value is None and not required:
        # None means "no body" to the callers that allow one (webargs); a literal `null`
        # must not pass for it (a body is an object, as for any other non-object).
        raise ValidationFailed([{"path": "body", "message": "Invalid input type."}])
    ctx_g._json_body = value
    return value
