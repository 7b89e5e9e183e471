"""GET /v1/audit: the caller's tenant's audit trail."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from marshmallow import validate

from ..auth import AUDIT_READ, auth_required, scope_required
from ..extensions import db
from ..pagination import PageArgsSchema, page, page_schema, paginate
from ..schemas import documents_errors
from ..smorest import Blueprint
from .models import AuditEvent

blp = Blueprint("audit", __name__, url_prefix="/v1/audit", description="The audit trail.")


class AuditEventSchema(ma.Schema):
    """Something that happened to a tenant's resources: who, what, on which, how it ended."""

    event_id = ma.fields.String(required=True)
    occurred_at = ma.fields.AwareDateTime(required=True)
    tenant_id = ma.fields.String(required=True)
    actor = ma.fields.String(required=True)
    action = ma.fields.String(required=True)
    resource_type = ma.fields.String(required=True)
    resource_id = ma.fields.String(allow_none=True)
    correlation_id = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(required=True)
    detail = ma.fields.Raw(
        metadata={
            "type": "object",
            "nullable": True,
            "description": "What the event adds (depends on `action`); null: nothing",
        }
    )


class AuditArgsSchema(PageArgsSchema):
    run_id = ma.fields.String(validate=validate.Length(min=1, max=255))
    action = ma.fields.String(validate=validate.Length(min=1, max=64))


AuditPageSchema = page_schema(AuditEventSchema, "AuditPage")
_FIELDS = tuple(AuditEventSchema().fields)


def _as_dict(event: AuditEvent) -> dict:
    return {name: getattr(event, name) for name in _FIELDS}


@blp.route("")
class AuditEvents(MethodView):
    decorators = [auth_required]

    # unknown=RAISE: a misspelt filter (`?acton=`) is a 400, not a silently unfiltered list.
    @scope_required(AUDIT_READ)
    @blp.doc(operationId="listAuditEvents")
    @blp.arguments(AuditArgsSchema(), location="query", unknown=ma.RAISE)
    @blp.response(200, AuditPageSchema)
    @documents_errors(blp, 400, 401, 503)
    def get(self, args):
        """List the tenant's audit events, newest first; filter by `run_id` or `action`.

        Runs accepted and denied, flows registered, webhooks changed, deliveries refused:
        who did what, to which resource, with which outcome.
        """
        stmt = db.select(AuditEvent).where(AuditEvent.tenant_id == g.principal.tenant_id)
        if args.get("run_id"):
            stmt = stmt.where(AuditEvent.resource_id == args["run_id"])
        if args.get("action"):
            stmt = stmt.where(AuditEvent.action == args["action"])
        rows, next_cursor = paginate(
            db.session,
            stmt,
            AuditEvent.occurred_at,
            AuditEvent.id,
            limit=args["limit"],
            cursor=args.get("cursor"),
        )
        # Read the rows before ending the transaction: a rollback expires them, and
        # serialising afterwards would reload each one (a query per row).
        items = [_as_dict(row) for row in rows]
        db.session.rollback()
        return page(items, next_cursor)
