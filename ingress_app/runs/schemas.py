"""Request and response schemas of the runs API."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from marshmallow import validate

from ..callbacks.schemas import EVENT_TYPES, callback_events_field, callback_url_field
from ..flows.model import MAX_DEPENDENCIES, MAX_ID_LENGTH, MAX_TASKS, MAX_VERSION_LENGTH
from ..openapi import Embedded, EnumString, NamedEnum
from ..pagination import PageArgsSchema, page_schema
from ..schemas import IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE
from ..schemas import ViolationSchema as ViolationSchema
from .events import TASK_STATUSES
from .models import STATUSES

RUN_STATUS = NamedEnum(
    "RunStatus",
    tuple(STATUSES),
    "A run's status. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are final.",
)
TASK_STATUS = NamedEnum(
    "TaskStatus",
    tuple(STATUSES) + tuple(sorted(TASK_STATUSES - set(STATUSES))),
    "A task's latest reported status (the run statuses, SKIPPED and RETRYING).",
)
FLOW_TYPE = NamedEnum("FlowType", ("DAG",), "The kind of flow: a DAG of tasks.")
FLOW_ORIGIN = NamedEnum(
    "FlowOrigin",
    ("registry", "inline"),
    "Where a run's flow came from: the registry (`flow_version` is the version used) "
    "or an inline `flow_definition`",
)

# What `ingress_app.flows` accepts, documented: `null` is "absent" for the optional
# strings; unknown fields are kept and passed through. (No `additionalProperties`: `true`
# would make generated types accept a typo such as `retires`, `false` would be untrue.
# apispec writes `false` for marshmallow's default RAISE, `true` for INCLUDE.)
_NULLABLE_TEXT = {"type": "string", "nullable": True}


class TaskSchema(ma.Schema):
    """A task of a flow. Fields not listed here are kept and passed to the orchestrator."""

    class Meta:
        unknown = ma.EXCLUDE  # documented without `additionalProperties`

    id = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_ID_LENGTH),
        metadata={"description": "Unique within the flow"},
    )
    type = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_ID_LENGTH),
        metadata={"description": "What runs the task (`llm`, `tool`, ...)"},
    )
    name = ma.fields.String(allow_none=True)
    depends_on = ma.fields.List(
        ma.fields.String(),
        validate=validate.Length(max=MAX_DEPENDENCIES),
        metadata={"description": "Ids of the tasks that must finish first", "default": []},
    )
    retries = ma.fields.Integer(metadata={"minimum": 0, "default": 0})
    timeout_seconds = ma.fields.Integer(metadata={"minimum": 1, "default": 300})
    config = ma.fields.Dict(metadata={"description": "The task's own settings", "default": {}})


class FlowDefinitionSchema(ma.Schema):
    """A flow: a DAG of agent tasks. Fields not listed here are kept and passed on."""

    class Meta:
        unknown = ma.EXCLUDE  # documented without `additionalProperties`

    id = ma.fields.String(required=True, validate=validate.Length(min=1, max=MAX_ID_LENGTH))
    version = ma.fields.Raw(
        metadata={
            "description": f"A string (at most {MAX_VERSION_LENGTH} characters) or an "
            "integer; null or absent: none",
            "anyOf": [{**_NULLABLE_TEXT, "maxLength": MAX_VERSION_LENGTH}, {"type": "integer"}],
        },
    )
    type = EnumString(FLOW_TYPE, load_default="DAG")
    tenant_id = ma.fields.String(
        allow_none=True, metadata={"description": "If given, the caller's tenant"}
    )
    name = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    tasks = ma.fields.List(
        ma.fields.Nested(TaskSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_TASKS),
    )


def flow_definition_field(**kwargs) -> Embedded:
    """A `FlowDefinition` in a body, checked by `ingress_app.flows` (not marshmallow)."""
    return Embedded(FlowDefinitionSchema, **kwargs)


class RunCreateSchema(ma.Schema):
    """Ask for a flow run. Give `flow_definition` inline, or `flow_id` to use the registry."""

    class Meta:
        # Fields the server owns (run_id, status, user_id, ...) are ignored, never taken.
        unknown = ma.EXCLUDE

    flow_id = ma.fields.String(validate=validate.Length(min=1, max=255))
    flow_version = ma.fields.String(validate=validate.Length(min=1, max=64))
    flow_definition = flow_definition_field(
        metadata={"description": "Inline flow definition; wins over the registry"}
    )
    input = ma.fields.Dict(load_default=dict, metadata={"description": "The run's input"})
    tenant_id = ma.fields.String(validate=validate.Length(min=1, max=255))
    request_id = ma.fields.String(
        validate=[
            validate.Length(min=1, max=255),
            validate.Regexp(IDEMPOTENCY_KEY_PATTERN, error=IDEMPOTENCY_KEY_RULE),
        ],
        metadata={
            "description": "Idempotency key (or send the Idempotency-Key header): "
            "visible ASCII, no spaces"
        },
    )
    callback_url = callback_url_field()
    callback_events = callback_events_field()


class RunOfRegisteredFlowSchema(RunCreateSchema):
    """A run of a registered flow: `flow_id` (and optionally `flow_version`)."""

    flow_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=255))


class RunOfInlineFlowSchema(RunCreateSchema):
    """A run of the flow given inline in `flow_definition`."""

    flow_definition = flow_definition_field(
        required=True, metadata={"description": "Inline flow definition; wins over the registry"}
    )


#: "`flow_id` or `flow_definition`", as the document says it: a body is one of the two
#: (both given: the inline flow wins). Documentation only, for the views that parse by hand.
RUN_REQUEST_SCHEMA = {"anyOf": [RunOfRegisteredFlowSchema, RunOfInlineFlowSchema]}


class RunAcceptedSchema(ma.Schema):
    """The accepted run: read it at `Location` (`GET /v1/runs/{run_id}`)."""

    run_id = ma.fields.String(required=True)
    correlation_id = ma.fields.String(required=True)
    replayed = ma.fields.Boolean(
        required=True,
        metadata={"description": "true: this idempotency key was seen before; its original run"},
    )


class TaskProgressSchema(ma.Schema):
    """The latest reported state of one task."""

    status = EnumString(TASK_STATUS, required=True)
    updated_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    output = ma.fields.Raw(metadata={"description": "The task's output (any JSON value)"})
    error = ma.fields.String(allow_none=True)
    policy_violations = ma.fields.List(
        ma.fields.Nested(ViolationSchema),
        metadata={"description": "PostTaskPolicy breaches found when the task finished"},
    )


class RunSchema(ma.Schema):
    """A run as the API shows it."""

    run_id = ma.fields.String(required=True)
    status = EnumString(RUN_STATUS, required=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    updated_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    tenant_id = ma.fields.String(required=True)
    flow_id = ma.fields.String(required=True)
    flow_version = ma.fields.String(allow_none=True)
    flow_origin = EnumString(FLOW_ORIGIN)
    correlation_id = ma.fields.String(required=True)
    request_id = ma.fields.String(allow_none=True)
    source = ma.fields.String()
    input = ma.fields.Raw(
        required=True, metadata={"description": "The run's input (an object for API runs)"}
    )
    output = ma.fields.Raw(
        metadata={"description": "The orchestrator's output (any JSON value; null until then)"}
    )
    error = ma.fields.String(allow_none=True)
    tasks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(TaskProgressSchema),
        metadata={"description": "Latest reported state of each task, by task id"},
    )


#: Fields of a run whose size the caller controls (or the orchestrator's output): a list
#: leaves them out unless asked for with `?include=`.
LIST_OPTIONAL_FIELDS = ("input", "output", "tasks")
_ONE_FIELD = "|".join(LIST_OPTIONAL_FIELDS)
_INCLUDE_PATTERN = rf"^({_ONE_FIELD})(,({_ONE_FIELD}))*$"


class RunListItemSchema(RunSchema):
    """A run in a list: `input`, `output` and `tasks` only when `include` names them."""

    input = ma.fields.Raw(metadata={"description": "Only with `include=input`"})
    output = ma.fields.Raw(metadata={"description": "Only with `include=output` (any JSON value)"})
    tasks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(TaskProgressSchema),
        metadata={"description": "Only with `include=tasks`: latest state of each task"},
    )


class RunListArgsSchema(PageArgsSchema):
    status = EnumString(RUN_STATUS, error="Must be one of: {choices}.")
    flow_id = ma.fields.String(validate=validate.Length(min=1, max=255))
    created_after = ma.fields.AwareDateTime(default_timezone=UTC)
    created_before = ma.fields.AwareDateTime(default_timezone=UTC)
    # a comma-separated string, not an array parameter: generated clients and
    # schemathesis handle `style: form, explode: false` arrays unevenly
    include = ma.fields.String(
        validate=validate.Regexp(
            _INCLUDE_PATTERN,
            error=f"a comma-separated list of {', '.join(LIST_OPTIONAL_FIELDS)}",
        ),
        metadata={
            "description": "Comma-separated fields to add to each item: "
            f"{', '.join(LIST_OPTIONAL_FIELDS)} (left out by default: their size is unbounded)",
            "example": "input,output",
        },
    )


RunPageSchema = page_schema(RunListItemSchema, "RunPage")


class ModificationSchema(ma.Schema):
    """A change a policy made to the flow (a default filled in, a limit applied)."""

    policy = ma.fields.String(required=True)
    task_id = ma.fields.String(allow_none=True)
    note = ma.fields.String(required=True)


class RunValidationSchema(ma.Schema):
    """The dry run's verdict and the flow as it would be stored and published."""

    valid = ma.fields.Boolean(required=True)
    violations = ma.fields.List(ma.fields.Nested(ViolationSchema), required=True)
    modifications = ma.fields.List(ma.fields.Nested(ModificationSchema), required=True)
    flow_definition = flow_definition_field(
        required=True, metadata={"description": "The flow as it would be stored and published"}
    )


#: What `parse_run_body` checks, read from `RunCreateSchema` (the one contract): its
#: text fields with their validators (lengths, patterns), and its object fields.
_RUN_FIELDS = RunCreateSchema().fields
_TEXT_CHECKS = {
    name: tuple(field.validators)
    for name, field in _RUN_FIELDS.items()
    if isinstance(field, ma.fields.String)
}
_OBJECT_FIELDS = tuple(
    name for name, field in _RUN_FIELDS.items()
    if isinstance(field, ma.fields.Dict | Embedded)
)


def _failed_check(checks: tuple, value: str) -> str | None:
    """The first message of the schema's own validators that `value` fails, if any."""
    for check in checks:
        try:
            check(value)
        except ma.ValidationError as exc:
            return exc.messages[0]
    return None


def parse_run_body(body: object) -> dict:
    """Check a run request body exactly as `RunCreateSchema` does, without marshmallow.

    `POST /v1/runs` is the hot path: this plain check costs a few microseconds where a
    schema load costs a few hundred. The fields, limits and validators come from
    `RunCreateSchema`, and a test keeps the two verdicts equal. Returns the recognised
    fields; others are ignored. Raises `ValidationFailed` listing every problem.
    """
    from ..errors import ValidationFailed

    if not isinstance(body, dict):
        raise ValidationFailed([{"path": "body", "message": "Invalid input type."}])
    parsed: dict = {}
    problems: list[dict[str, str]] = []
    for name, checks in _TEXT_CHECKS.items():
        if name not in body:
            continue
        value = body[name]
        if value is None:
            problems.append({"path": name, "message": "Field may not be null."})
        elif not isinstance(value, str):
            problems.append({"path": name, "message": "Not a valid string."})
        elif message := _failed_check(checks, value):
            problems.append({"path": name, "message": message})
        else:
            parsed[name] = value
    for name in _OBJECT_FIELDS:
        if name not in body:
            continue
        value = body[name]
        if value is None:
            problems.append({"path": name, "message": "Field may not be null."})
        elif not isinstance(value, dict):
            problems.append({"path": name, "message": "Not a valid mapping type."})
        else:
            parsed[name] = value
    if "callback_events" in body:
        events = body["callback_events"]
        if events is None:
            problems.append({"path": "callback_events", "message": "Field may not be null."})
        elif not isinstance(events, list):
            problems.append({"path": "callback_events", "message": "Not a valid list."})
        elif any(not isinstance(e, str) or e not in EVENT_TYPES for e in events):
            problems.append(
                {"path": "callback_events", "message": f"Must be one of: {', '.join(EVENT_TYPES)}."}
            )
        elif not 1 <= len(events) <= len(EVENT_TYPES):
            problems.append(
                {"path": "callback_events",
                 "message": f"Length must be between 1 and {len(EVENT_TYPES)}."}
            )
        else:
            parsed["callback_events"] = sorted(set(events))
    if problems:
        raise ValidationFailed(problems)
    parsed.setdefault("input", {})
    return parsed
