"""HTTP resources for runs: thin views over `runs.service`.

`accept` and `read` are the whole of starting and reading a run, from parsed inputs to
status, headers and body: the views call them, and so does the front door
(`ingress_app.frontdoor`) for the requests it answers in front of Flask.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g, request
from flask.views import MethodView
from werkzeug.routing import UnicodeConverter

from ..auth import (
    RUNS_READ,
    RUNS_WRITE,
    Principal,
    auth_required,
    require_scope,
    scope_required,
)
from ..body import json_body
from ..errors import BadRequest
from ..frontdoor import ROUTE_KEY
from ..jsonutil import dumps
from ..ratelimit import tenant_limited
from ..responses import Answer, JSONBytesResponse
from ..schemas import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_RULE,
    IDEMPOTENT_REPLAYED,
    LOCATION,
    RATE_LIMIT_HEADERS,
    documents_errors,
    idempotency_key_parameter,
)
from ..smorest import Blueprint
from . import service, waiting
from .schemas import (
    RUN_REQUEST_SCHEMA,
    RunAcceptedSchema,
    RunCreateSchema,
    RunListArgsSchema,
    RunPageSchema,
    RunSchema,
    RunValidationSchema,
    parse_run_body,
)

blp = Blueprint("runs", __name__, url_prefix="/v1/runs", description="Start and follow flow runs.")


class RunIdConverter(UnicodeConverter):
    """A run id: any path segment except `validate`, which names the sibling resource.

    With a plain `<string:run_id>`, `GET /v1/runs/validate` was routed to "show run
    'validate'" (a 404) and `OPTIONS /v1/runs/validate` advertised GET, though the
    document (where a concrete path wins over a template) has only POST there: now it
    is a 405 with `Allow: POST, OPTIONS`. The `{1,}` keeps the documented `minLength: 1`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # sets `[^/]{1,}`
        self.regex = r"(?!validate\Z)" + self.regex


_SAVED_CONVERTER = "ingress_runs_string_converter"


def _run_id_converter_on(state) -> None:
    """While this blueprint's rules are added, `string` means `RunIdConverter`.

    Swapped rather than registered under a name of its own so that the rules keep
    their text, `/v1/runs/<string:run_id>`: it is the `route` label of the request
    metrics (docs/operations.md), which dashboards select on. Restored right after
    this blueprint's last rule (`_run_id_converter_off`, at the end of the module).
    """
    converters = state.app.url_map.converters
    state.app.extensions[_SAVED_CONVERTER] = converters["string"]
    converters["string"] = RunIdConverter


def _run_id_converter_off(state) -> None:
    state.app.url_map.converters["string"] = state.app.extensions.pop(_SAVED_CONVERTER)


# Deferred functions run in the order they were recorded: on, every route below, off.
blp.record_once(_run_id_converter_on)

# The document says so too: `/v1/runs/validate` is the concrete path, never a run.
RUN_ID_PARAMETER = {
    "in": "path",
    "name": "run_id",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "not": {"enum": ["validate"]}},
}

IDEMPOTENCY_HEADER = "Idempotency-Key"
# The hot path parses and answers by hand (see parse_run_body); the schema documents it.
RUN_CREATE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": RUN_REQUEST_SCHEMA}},
}


def idempotency_key(body_request_id: str | None, header: str | None) -> str | None:
    """The run's idempotency key: the body's `request_id` or the `Idempotency-Key` header."""
    if header is not None:
        header = header.strip()
        if IDEMPOTENCY_KEY.fullmatch(header) is None:
            raise BadRequest(f"{IDEMPOTENCY_HEADER} {IDEMPOTENCY_KEY_RULE}")
        if body_request_id is not None and body_request_id != header:
            raise BadRequest(f"request_id and the {IDEMPOTENCY_HEADER} header disagree")
    return body_request_id if body_request_id is not None else header


def run_request(
    body: dict, idempotency_header: str | None, source: str = "api"
) -> service.RunRequest:
    """A checked run request body (`parse_run_body`) and the `Idempotency-Key` header."""
    return service.RunRequest(
        flow_id=body.get("flow_id"),
        flow_version=body.get("flow_version"),
        flow_definition=body.get("flow_definition"),
        input=body.get("input") or {},
        tenant_id=body.get("tenant_id"),
        request_id=idempotency_key(body.get("request_id"), idempotency_header),
        source=source,
        callback_url=body.get("callback_url"),
        callback_events=body.get("callback_events"),
    )


def _run_request(body: dict, source: str = "api") -> service.RunRequest:
    return run_request(body, request.headers.get(IDEMPOTENCY_HEADER), source)


def accept(
    body: Any, idempotency_header: str | None, principal: Principal, correlation_id: str
) -> Answer:
    """Start a run from a parsed JSON body: the 202 (or the original answer of a retry)."""
    req = run_request(parse_run_body(body), idempotency_header)
    accepted = service.accept_run(req, principal, correlation_id)
    location = ("Location", f"/v1/runs/{accepted.run_id}")
    headers = (location, ("Idempotent-Replayed", "true")) if accepted.replayed else (location,)
    return Answer(202, dumps(accepted.body()), headers)


def read(run_id: str, principal: Principal) -> Answer:
    """One of the caller's tenant's runs (from the cache when it holds it)."""
    require_scope(principal, RUNS_READ)  # here too: the front door calls this directly
    return Answer(200, service.get_run_json(run_id, principal.tenant_id))


@blp.route("")
class Runs(MethodView):
    decorators = [auth_required]

    @scope_required(RUNS_READ)
    @blp.doc(operationId="listRuns")
    @blp.arguments(RunListArgsSchema(), location="query", unknown=ma.RAISE)
    @blp.response(200, RunPageSchema)
    @documents_errors(blp, 400, 401, 503)
    def get(self, args):
        """List the caller's tenant's runs, newest first (keyset pagination).

        Filter by `status`, `flow_id` and creation time; the next page is `cursor=` the
        `next_cursor` of this one. `input`, `output` and `tasks` only with `include=`.
        """
        return service.list_runs(g.principal.tenant_id, args)

    @scope_required(RUNS_WRITE)
    @tenant_limited
    @blp.doc(
        operationId="createRun",
        requestBody=RUN_CREATE_BODY,
        parameters=[
            idempotency_key_parameter(
                "Idempotency key, if the body has no `request_id` (both given: they must be equal)"
            )
        ],
    )
    @blp.response(
        202,
        RunAcceptedSchema,
        headers={**LOCATION, **IDEMPOTENT_REPLAYED, **RATE_LIMIT_HEADERS},
    )
    @documents_errors(blp, 400, 401, 403, 404, 413, 415, 422, 429, 503)
    def post(self):
        """Start a flow run.

        The run and its message to the orchestrator are durable when this answers 202.
        A repeated `request_id` (or `Idempotency-Key`) with the same payload answers with
        the original run; with a different payload, 422.
        """
        return accept(
            json_body(), request.headers.get(IDEMPOTENCY_HEADER), g.principal, g.correlation_id
        ).response()


class RunWaitArgsSchema(ma.Schema):
    wait = ma.fields.Integer(
        validate=ma.validate.Range(waiting.WAIT_MIN, waiting.WAIT_MAX),
        metadata={"description": "Long poll: hold the request up to this many seconds "
                  "until the run's status changes (at once if it has ended)"},
    )


@blp.route("/<string:run_id>", parameters=[RUN_ID_PARAMETER])
class RunById(MethodView):
    decorators = [auth_required]

    @scope_required(RUNS_READ)
    @blp.doc(operationId="getRun")
    @blp.arguments(RunWaitArgsSchema(), location="query", unknown=ma.RAISE)
    @blp.response(200, RunSchema)
    @documents_errors(blp, 400, 401, 404, 503)
    def get(self, args, run_id):
        """Show a run of the caller's tenant; with `wait`, once its status changes.

        Its status, each task's latest state and, once finished, its output or error.
        Another tenant's run is a 404, as an unknown one. `wait=S` (1-60) holds the
        answer until the run's status differs from the one it had when the request came,
        or S seconds have passed (then: the run as it is); a run that has ended answers
        at once. Over the server's limit of waiting requests: 503 with `Retry-After`.
        """
        wait = args.get("wait")
        if wait is None:
            return read(run_id, g.principal).response()
        request.environ[ROUTE_KEY] = WAIT_ROUTE  # its own latency series
        return JSONBytesResponse(waiting.long_poll(run_id, g.principal.tenant_id, wait), 200)


WAIT_ROUTE = "/v1/runs/<string:run_id>?wait"
EVENT_STREAM = (
    "Server-Sent Events, each described by `RunStatusEvent`: `event: status`, `id:` the "
    "change's sequence, `data:` the run as `GET /v1/runs/{run_id}` returns it (`Run`, as "
    "JSON); `: heartbeat` comment lines while idle; the stream ends after a terminal status"
)


class RunStatusEventSchema(ma.Schema):
    """One Server-Sent Event of a run's stream (as an SSE parser reads it)."""

    event = ma.fields.String(required=True, validate=ma.validate.OneOf(["status"]))
    id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={"description": "The change's sequence; send it back as `Last-Event-ID`"},
    )
    data = ma.fields.String(
        required=True,
        metadata={"description": "The run as `GET /v1/runs/{run_id}` returns it, as JSON",
                  "contentMediaType": "application/json"},
    )
    retry = ma.fields.Integer(
        metadata={"description": "Reconnection delay the client should use, in ms"}
    )
LAST_EVENT_ID = {
    "in": "header",
    "name": "Last-Event-ID",
    "required": False,
    "description": "Resume after this event: every status change since is sent first "
    "(empty: as if not sent)",
    "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
}


@blp.route("/<string:run_id>/events", parameters=[RUN_ID_PARAMETER])
class RunEventStream(MethodView):
    decorators = [auth_required]

    @scope_required(RUNS_READ)
    @blp.doc(operationId="streamRunEvents", parameters=[LAST_EVENT_ID])
    @blp.response(200, RunStatusEventSchema, content_type="text/event-stream",
                  description=EVENT_STREAM)
    @documents_errors(blp, 400, 401, 404, 503)
    def get(self, run_id):
        """Stream a run's status changes (Server-Sent Events) until it ends.

        Opens with the run as it is now (or, with `Last-Event-ID`, replays every change
        after that event), then one `status` event per change; a terminal status
        ends the stream.
        """
        last = waiting.parse_last_event_id(request.headers.get("Last-Event-ID"))
        return waiting.event_stream(run_id, g.principal.tenant_id, last)


@blp.route("/<string:run_id>/cancel", parameters=[RUN_ID_PARAMETER])
class RunCancel(MethodView):
    decorators = [auth_required]

    @scope_required(RUNS_WRITE)
    @blp.doc(operationId="cancelRun")
    @blp.response(202, RunSchema)
    @documents_errors(blp, 401, 404, 409, 503)
    def post(self, run_id):
        """Ask the orchestrator to cancel a run (status becomes CANCEL_REQUESTED).

        Repeating it is harmless; a run that already ended answers 409.
        """
        return service.cancel_run(run_id, g.principal, g.correlation_id)


@blp.route("/validate")
class RunValidate(MethodView):
    decorators = [auth_required]

    @scope_required(RUNS_WRITE)
    @blp.doc(operationId="validateRun", requestBody=RUN_CREATE_BODY)
    @blp.arguments(RunCreateSchema())
    @blp.response(200, RunValidationSchema)
    @documents_errors(blp, 400, 401, 403, 404, 413, 415, 503)
    def post(self, body):
        """Dry-run the accept pipeline: validation and policies, nothing stored or published.

        Policy violations answer 200 with `valid: false`; a malformed flow is 400, a
        foreign tenant 403 and a run too large to publish 413, exactly as
        `POST /v1/runs` would answer.
        """
        req = _run_request(body, source="validate")
        prepared = service.validate_run(req, g.principal, g.correlation_id)
        return {
            "valid": not prepared.violations,
            "violations": prepared.violations,
            "modifications": prepared.modifications,
            "flow_definition": prepared.flow.to_dict(),
        }


blp.record_once(_run_id_converter_off)  # after the last route (see _run_id_converter_on)
