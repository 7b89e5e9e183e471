"""Keyset (cursor) pagination shared by every list endpoint.

Items are ordered newest first by `(timestamp, id)`; the cursor is an opaque,
URL-safe token naming the last item of the page. Offsets are never used, so a page
costs the same however deep it is and concurrent inserts never shift results.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

import marshmallow as ma
from marshmallow import validate
from sqlalchemy import BigInteger, and_, or_

from .errors import BadRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = ma.fields.String(
        validate=validate.Length(max=512),
        metadata={"description": "`next_cursor` of the previous page"},
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A `{items, next_cursor}` schema for `item_schema`."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        },
        name=name,
    )


def encode_cursor(timestamp: datetime, row_id: int) -> str:
    raw = json.dumps([timestamp.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(stamp)
        if not isinstance(row_id, int) or isinstance(row_id, bool) or when.tzinfo is None:
            raise ValueError("bad cursor fields")
        return when, row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("the cursor is not valid; use next_cursor from a previous page") from None


def _max_id(id_col) -> int:
    """The largest value the id column can hold (INTEGER or BIGINT)."""
    return 2**63 - 1 if isinstance(id_col.type, BigInteger) else 2**31 - 1


def paginate(session, stmt, time_col, id_col, *, limit: int, cursor: str | None):
    """Run `stmt` newest first, one page; returns `(rows, next_cursor)`."""
    if cursor:
        when, row_id = decode_cursor(cursor)
        if not 0 <= row_id <= _max_id(id_col):
            # A forged id the column cannot hold would fail in the database (a 500).
            raise BadRequest("the cursor is not valid; use next_cursor from a previous page")
        stmt = stmt.where(or_(time_col < when, and_(time_col == when, id_col < row_id)))
    stmt = stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)
    rows = list(session.execute(stmt).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, time_col.key), getattr(last, id_col.key))
    return rows, next_cursor


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
