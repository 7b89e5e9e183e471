"""HTTP resources of the flow registry: thin views over `registry.service`."""

from __future__ import annotations

from urllib.parse import quote

import marshmallow as ma
from flask import g
from flask.views import MethodView

from ..auth import FLOWS_READ, FLOWS_WRITE, auth_required, scope_required
from ..pagination import PageArgsSchema
from ..schemas import LOCATION, documents_errors
from ..smorest import Blueprint
from . import service
from .schemas import (
    FlowListArgsSchema,
    FlowPageSchema,
    FlowRegisterSchema,
    FlowVersionPageSchema,
    FlowVersionSchema,
)

blp = Blueprint(
    "flows",
    __name__,
    url_prefix="/v1/flows",
    description="Register, find and version the tenant's flow definitions.",
)


def version_url(flow_id: str, version: str) -> str:
    return f"/v1/flows/{quote(flow_id, safe='')}/versions/{quote(version, safe='')}"


@blp.route("")
class Flows(MethodView):
    decorators = [auth_required]

    @scope_required(FLOWS_READ)
    @blp.doc(operationId="listFlows")
    @blp.arguments(FlowListArgsSchema(), location="query", unknown=ma.RAISE)
    @blp.response(200, FlowPageSchema)
    @documents_errors(blp, 400, 401, 503)
    def get(self, args):
        """List the tenant's flows (each as its latest version), most recently registered first.

        `q` searches flow id, name and description (case-insensitive); `tag` filters.
        Flows whose every version is deprecated are not listed.
        """
        return service.list_flows(g.principal.tenant_id, args)

    @scope_required(FLOWS_WRITE)
    @blp.doc(operationId="registerFlow")
    @blp.arguments(FlowRegisterSchema())
    @blp.response(201, FlowVersionSchema, headers=LOCATION)
    @blp.alt_response(
        200,
        schema=FlowVersionSchema,
        description="The same content is already registered: the stored version",
        headers=LOCATION,
        success=True,
    )
    @documents_errors(blp, 400, 401, 403, 409, 413, 415, 503)
    def post(self, body):
        """Register a version of a flow (validated and policy-checked for the tenant).

        Versions are immutable: the same version with the same content answers 200 with
        the stored version, with other content 409. Without `version` the next integer is
        assigned (or, when the content equals the latest version's, that version: 200).
        """
        outcome = service.register_flow(body, g.principal, g.correlation_id)
        stored = outcome.version
        headers = {"Location": version_url(stored["flow_id"], stored["version"])}
        return stored, 201 if outcome.created else 200, headers


@blp.route("/<string:flow_id>")
class FlowLatest(MethodView):
    decorators = [auth_required]

    @scope_required(FLOWS_READ)
    @blp.doc(operationId="getFlow")
    @blp.response(200, FlowVersionSchema)
    @documents_errors(blp, 401, 404, 503)
    def get(self, flow_id):
        """Show the latest version of a flow (deprecated versions are skipped).

        The latest is the most recently registered version that is not deprecated; a
        flow whose every version is deprecated is a 404 here.
        """
        return service.get_latest(g.principal.tenant_id, flow_id)


@blp.route("/<string:flow_id>/versions")
class FlowVersions(MethodView):
    decorators = [auth_required]

    @scope_required(FLOWS_READ)
    @blp.doc(operationId="listFlowVersions")
    @blp.arguments(PageArgsSchema(), location="query", unknown=ma.RAISE)
    @blp.response(200, FlowVersionPageSchema)
    @documents_errors(blp, 400, 401, 404, 503)
    def get(self, args, flow_id):
        """List every version of a flow, newest first, deprecated ones included.

        Summaries only (no definition): read one with `getFlowVersion`.
        """
        return service.list_versions(g.principal.tenant_id, flow_id, args)


@blp.route("/<string:flow_id>/versions/<string:version>")
class FlowVersionById(MethodView):
    decorators = [auth_required]

    @scope_required(FLOWS_READ)
    @blp.doc(operationId="getFlowVersion")
    @blp.response(200, FlowVersionSchema)
    @documents_errors(blp, 401, 404, 503)
    def get(self, flow_id, version):
        """Show one version of a flow, deprecated or not.

        With its stored definition: normalised, defaults filled in, `version` set.
        """
        return service.get_version(g.principal.tenant_id, flow_id, version)

    @scope_required(FLOWS_WRITE)
    @blp.doc(operationId="deprecateFlowVersion")
    @blp.response(200, FlowVersionSchema)
    @documents_errors(blp, 401, 404, 503)
    def delete(self, flow_id, version):
        """Deprecate a version: latest lookups skip it; runs naming it explicitly still run.

        The version is kept (never deleted); repeating the call changes nothing.
        """
        return service.deprecate_version(flow_id, version, g.principal, g.correlation_id)
