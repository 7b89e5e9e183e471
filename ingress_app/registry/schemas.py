"""Request and response schemas of the flow registry API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..pagination import PageArgsSchema, page_schema


class FlowRegisterSchema(ma.Schema):
    """A flow version to register: the flow model plus `tags` and `metadata`.

    The fields are documented here and validated by the registry (every problem is
    listed in `detail.problems`); unknown flow fields are kept and passed through.
    """

    class Meta:
        unknown = ma.INCLUDE

    id = ma.fields.Raw(
        allow_none=True,
        metadata={"type": "string", "description": "The flow id (required; no '/')"},
    )
    version = ma.fields.Raw(
        allow_none=True,
        metadata={
            "type": "string",
            "description": "Letters, digits and . _ + - ; omitted: the next integer",
        },
    )
    type = ma.fields.Raw(allow_none=True, metadata={"type": "string", "enum": ["DAG"]})
    tenant_id = ma.fields.Raw(
        allow_none=True,
        metadata={"type": "string", "description": "If given, the caller's tenant"},
    )
    name = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    description = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    tasks = ma.fields.Raw(
        allow_none=True,
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "Required: the tasks (id, type, depends_on, retries, "
            "timeout_seconds, config, name; other fields are passed through)",
        },
    )
    input_schema = ma.fields.Raw(
        allow_none=True,
        metadata={
            "type": "object",
            "description": "JSON Schema (2020-12) every run's `input` must satisfy (400 with "
            "`detail.problems` otherwise); checked here; defaults are not injected",
        },
    )
    tags = ma.fields.Raw(
        allow_none=True,
        metadata={
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
            "maxItems": 50,
            "description": "Labels for search (`GET /v1/flows?tag=`); stored as a sorted set",
        },
    )
    metadata = ma.fields.Raw(
        allow_none=True,
        metadata={"type": "object", "description": "Free metadata, stored and shown as given"},
    )


class FlowVersionSummarySchema(ma.Schema):
    """A registered flow version, without its definition."""

    flow_id = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    tenant_id = ma.fields.String(required=True)
    name = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    metadata = ma.fields.Dict(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    created_by = ma.fields.String(required=True)
    deprecated = ma.fields.Boolean(required=True)
    deprecated_at = ma.fields.AwareDateTime(allow_none=True)
    deprecated_by = ma.fields.String(allow_none=True)


class FlowVersionSchema(FlowVersionSummarySchema):
    """A registered flow version with its stored (normalised) definition."""

    flow_definition = ma.fields.Dict(
        required=True,
        metadata={"description": "The validated flow with defaults filled in; `version` is set"},
    )


class FlowListArgsSchema(PageArgsSchema):
    q = ma.fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Case-insensitive search in flow id, name and description"},
    )
    tag = ma.fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Only flows with this tag"},
    )


FlowPageSchema = page_schema(FlowVersionSummarySchema, "FlowPage")
FlowVersionPageSchema = page_schema(FlowVersionSummarySchema, "FlowVersionPage")
