"""Request and response schemas of the flow registry API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..flows.model import MAX_ID_LENGTH, MAX_VERSION_LENGTH
from ..pagination import PageArgsSchema, page_schema
from ..runs.schemas import FlowDefinitionSchema, flow_definition_field
from .service import MAX_TAG_LENGTH, MAX_TAGS


class FlowRegisterSchema(FlowDefinitionSchema):
    """A flow version to register: a `FlowDefinition` plus `tags` and `metadata`.

    The registry checks the body itself and lists every problem in `detail.problems`
    at once, so loading only makes sure an object arrived; unknown flow fields are kept.
    """

    class Meta:
        unknown = ma.INCLUDE  # documented: `additionalProperties: true`

    id = ma.fields.String(
        required=True,
        validate=[validate.Length(min=1, max=MAX_ID_LENGTH), validate.Regexp(r"^[^/]+$")],
        metadata={"description": "The flow id (no '/': it is part of the URLs)"},
    )
    version = ma.fields.Raw(
        metadata={
            "description": "Letters, digits and . _ + - (or an integer); omitted or null: "
            "the next integer",
            "anyOf": [
                {
                    "type": "string",
                    "nullable": True,
                    "minLength": 1,
                    "maxLength": MAX_VERSION_LENGTH,
                    "pattern": r"^[A-Za-z0-9._+-]+$",
                },
                {"type": "integer"},
            ],
        },
    )
    tags = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=MAX_TAG_LENGTH)),
        allow_none=True,
        validate=validate.Length(max=MAX_TAGS),
        metadata={
            "description": "Labels for search (`GET /v1/flows?tag=`); stored as a sorted set"
        },
    )
    input_schema = ma.fields.Raw(
        metadata={
            # null or left out: none
            "type": "object",
            "nullable": True,
            "description": "JSON Schema (2020-12) every run's `input` must satisfy (400 with "
            "`detail.problems` otherwise); checked here; defaults are not injected",
        },
    )
    metadata = ma.fields.Dict(
        allow_none=True, metadata={"description": "Free metadata, stored and shown as given"}
    )

    def load(self, data, *, many=None, partial=None, unknown=None):
        if not isinstance(data, dict):
            raise ma.ValidationError({"_schema": ["Invalid input type."]})
        return dict(data)


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

    flow_definition = flow_definition_field(
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
