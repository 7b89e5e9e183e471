"""Request and response schemas of the runs API."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from marshmallow import validate

from ..callbacks.schemas import EVENT_TYPES, callback_events_field, callback_url_field
from ..pagination import PageArgsSchema, page_schema
from ..schemas import IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE
from .models import STATUSES


class RunCreateSchema(ma.Schema):
    """Ask for a flow run. Give `flow_definition` inline, or `flow_id` to use the registry."""

    class Meta:
        # Fields the server owns (run_id, status, user_id, ...) are ignored, never taken.
        unknown = ma.EXCLUDE

    flow_id = ma.fields.String(validate=validate.Length(min=1, max=255))
    flow_version = ma.fields.String(validate=validate.Length(min=1, max=64))
    flow_definition = ma.fields.Dict(
        metadata={"description": "Inline flow definition; wins over the registry"}
    )
    input = ma.fields.Dict(load_default=dict)
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


class RunAcceptedSchema(ma.Schema):
    run_id = ma.fields.String(required=True)
    correlation_id = ma.fields.String(required=True)
    replayed = ma.fields.Boolean(
        required=True,
        metadata={"description": "true: this idempotency key was seen before; its original run"},
    )


class TaskProgressSchema(ma.Schema):
    """The latest reported state of one task."""

    status = ma.fields.String(required=True)
    updated_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    output = ma.fields.Raw(allow_none=True)
    error = ma.fields.String(allow_none=True)
    policy_violations = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "PostTaskPolicy breaches found when the task finished"},
    )


class RunSchema(ma.Schema):
    """A run as the API shows it."""

    run_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    updated_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    tenant_id = ma.fields.String(required=True)
    flow_id = ma.fields.String(required=True)
    flow_version = ma.fields.String(allow_none=True)
    flow_origin = ma.fields.String(
        metadata={
            "enum": ["registry", "inline"],
            "description": "Where the flow came from: the registry (flow_version is the "
            "registry version used) or an inline flow_definition",
        }
    )
    correlation_id = ma.fields.String(required=True)
    request_id = ma.fields.String(allow_none=True)
    source = ma.fields.String()
    input = ma.fields.Raw(required=True)
    output = ma.fields.Raw(allow_none=True)
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
    output = ma.fields.Raw(allow_none=True, metadata={"description": "Only with `include=output`"})
    tasks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(TaskProgressSchema),
        metadata={"description": "Only with `include=tasks`: latest state of each task"},
    )


class RunListArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
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


class ViolationSchema(ma.Schema):
    policy = ma.fields.String(required=True)
    task_id = ma.fields.String(allow_none=True, required=True)
    message = ma.fields.String(required=True)


class ModificationSchema(ma.Schema):
    policy = ma.fields.String(required=True)
    task_id = ma.fields.String(allow_none=True)
    note = ma.fields.String(required=True)


class RunValidationSchema(ma.Schema):
    """The dry run's verdict and the flow as it would be stored and published."""

    valid = ma.fields.Boolean(required=True)
    violations = ma.fields.List(ma.fields.Nested(ViolationSchema), required=True)
    modifications = ma.fields.List(ma.fields.Nested(ModificationSchema), required=True)
    flow_definition = ma.fields.Dict(required=True)


#: What `parse_run_body` checks, read from `RunCreateSchema` (the one contract): its
#: text fields with their validators (lengths, patterns), and its object fields.
_RUN_FIELDS = RunCreateSchema().fields
_TEXT_CHECKS = {
    name: tuple(field.validators)
    for name, field in _RUN_FIELDS.items()
    if isinstance(field, ma.fields.String)
}
_OBJECT_FIELDS = tuple(
    name for name, field in _RUN_FIELDS.items() if isinstance(field, ma.fields.Dict)
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
