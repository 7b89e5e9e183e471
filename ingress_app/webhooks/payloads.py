"""What a delivery carries: its body (JSON, form or the seed's envelope), the headers
and query an input mapping may read, and the run input the mapping makes.

Bodies: `application/json` (and `+json`) through `parse_json_bytes` (NUL, depth and
number rules as for runs); `application/x-www-form-urlencoded` (Zapier's default),
repeated keys becoming lists; an empty body is an empty payload. Anything else is 415.
A JSON object made only of the seed's envelope keys `{webhook_id, payload, headers,
source}` (with `payload`) is unwrapped: its `payload` is the payload and its `headers`
are visible to the mapping (below the real request headers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import jmespath
from jmespath.exceptions import JMESPathError

from ..body import is_json_mimetype, parse_json_bytes
from ..errors import BadRequest, UnsupportedMediaType, ValidationFailed

FORM = "application/x-www-form-urlencoded"
ENVELOPE_KEYS = frozenset({"webhook_id", "payload", "headers", "source"})
MAX_DELIVERY_ID_LENGTH = 255
#: Headers a mapping never sees: credentials must not be copied into a run's input.
HIDDEN_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "webhook-signature"})
_PRINTABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


@dataclass(slots=True)
class ParsedBody:
    payload: Any
    envelope_headers: dict[str, str]


def parse_body(raw: bytes, mimetype: str, webhook_id: str) -> ParsedBody:
    """The payload of a delivery body; 415 for other content types, 400 when malformed."""
    if not raw:
        return ParsedBody({}, {})
    if is_json_mimetype(mimetype):
        value = parse_json_bytes(raw)
        return _unwrap_envelope(value, webhook_id)
    if mimetype == FORM:
        return ParsedBody(parse_form(raw), {})
    raise UnsupportedMediaType(
        f"expected Content-Type application/json or {FORM}, got {mimetype or 'none'!r}"
    )


def parse_form(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=10_000)
    except UnicodeDecodeError:
        raise BadRequest("the form body is not valid UTF-8", error="Invalid form body") from None
    except ValueError as exc:
        raise BadRequest(f"the form body is not valid: {exc}", error="Invalid form body") from None
    form: dict[str, Any] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise BadRequest(
                "NUL characters are not allowed in the request body", error="Invalid form body"
            )
        if key in form:
            existing = form[key]
            form[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            form[key] = value
    return form


def _unwrap_envelope(value: Any, webhook_id: str) -> ParsedBody:
    if not (isinstance(value, dict) and "payload" in value and set(value) <= ENVELOPE_KEYS):
        return ParsedBody(value, {})
    if "webhook_id" in value and value["webhook_id"] != webhook_id:
        raise ValidationFailed(
            [{"path": "webhook_id", "message": "does not match the webhook in the URL"}]
        )
    headers = value.get("headers")
    headers = {} if headers is None else headers
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ValidationFailed(
            [{"path": "headers", "message": "must be an object of string values"}]
        )
    return ParsedBody(value["payload"], {str(k).lower(): v for k, v in headers.items()})


def mapping_headers(
    request_headers: Mapping[str, str], envelope_headers: Mapping[str, str], hidden: set[str]
) -> dict[str, str]:
    """Headers as an input mapping sees them: lower-case names, credentials left out."""
    hidden = HIDDEN_HEADERS | {name.lower() for name in hidden}
    merged = {k: v for k, v in envelope_headers.items() if k not in hidden}
    merged.update((key.lower(), value) for key, value in request_headers.items())
    # a NUL could never be stored in a run's input (PostgreSQL refuses it)
    return {k: v for k, v in merged.items() if k not in hidden and "\x00" not in v}


def clean_delivery_id(value: str | None, origin: str) -> str | None:
    """A usable delivery id (printable ASCII, at most 255 characters) or a 400."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_DELIVERY_ID_LENGTH or not _PRINTABLE.fullmatch(value):
        raise BadRequest(
            f"the delivery id ({origin}) must be 1 to {MAX_DELIVERY_ID_LENGTH} printable ASCII characters"
        )
    return value


def compile_mapping(mapping: Mapping[str, str]) -> dict[str, Any]:
    """Compile every expression; a bad one is a 400 naming its key."""
    compiled: dict[str, Any] = {}
    problems = []
    for key, expression in mapping.items():
        try:
            compiled[key] = jmespath.compile(expression)
        except JMESPathError as exc:
            problems.append(
                {
                    "path": f"input_mapping.{key}",
                    "message": f"not a valid JMESPath expression: {_first_line(exc)}",
                }
            )
        except RecursionError:  # e.g. "[[[[…" or "!!!!…": jmespath's parser recurses
            problems.append(
                {"path": f"input_mapping.{key}", "message": "the expression is nested too deeply"}
            )
    if problems:
        raise ValidationFailed(problems)
    return compiled


def compile_filter(expression: str) -> Any:
    """A webhook's `filter`, compiled; a bad one is a 400 on `filter`."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        message = f"not a valid JMESPath expression: {_first_line(exc)}"
    except RecursionError:
        message = "the expression is nested too deeply"
    raise ValidationFailed([{"path": "filter", "message": message}])


def passes_filter(expression: str, view: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a delivery passes the filter (a truthy result, as JMESPath defines
    truth), and why not when evaluating it failed on this data (then it does not)."""
    try:
        result = jmespath.compile(expression).search(view)
    except Exception as exc:  # type errors on odd data: the delivery is left out
        return False, f"the filter failed: {_first_line(exc)}"[:300]
    return _truthy(result), None


def _truthy(value: Any) -> bool:
    """JMESPath's truth: null, false and empty strings, lists and objects are false;
    numbers (0 too) are true."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def map_input(mapping: Mapping[str, str] | None, view: dict[str, Any]) -> dict[str, Any]:
    """The run input: the payload itself, or `{key: JMESPath over {payload, headers, query}}`."""
    if not mapping:
        payload = view["payload"]
        if not isinstance(payload, dict):
            raise ValidationFailed(
                [
                    {
                        "path": "payload",
                        "message": f"is a JSON {_json_type(payload)}; without an input_mapping the "
                        'payload must be an object (map it, e.g. {"items": "payload"})',
                    }
                ],
                error="Input mapping failed",
            )
        return payload
    result: dict[str, Any] = {}
    problems = []
    for key, expression in compile_mapping(mapping).items():
        try:
            value = expression.search(view)
        except Exception as exc:  # JMESPath type errors, and anything odd data provokes
            problems.append(
                {
                    "path": f"input_mapping.{key}",
                    "message": f"{mapping[key]!r} failed: {_first_line(exc)}",
                }
            )
            continue
        if value is None:
            problems.append(
                {
                    "path": f"input_mapping.{key}",
                    "message": f"{mapping[key]!r} matched nothing in the delivery",
                }
            )
            continue
        result[key] = value
    if problems:
        raise ValidationFailed(problems, error="Input mapping failed")
    return result


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
