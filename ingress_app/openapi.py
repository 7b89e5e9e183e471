"""How the OpenAPI document names what clients share: enums and nullable references.

Generated clients (openapi-python-client, openapi-typescript) make one type per schema
component. An enum written inline in two places becomes two incompatible types, so
each shared set of values is a named component (`RunStatus`, `WebhookAuthType`, ...)
referenced wherever it is used. A nullable reference is written as
`anyOf: [{$ref}, {null}]` (OpenAPI 3.0 has no null type; `nullable` on a bare `$ref`
is ignored by the specification and refused by linters), which both generators read
as "that type or null".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter, resolver
from flask_smorest.pagination import PaginationMetadataSchema
from marshmallow import validate

#: The OpenAPI 3.0 schema that admits only `null`.
NULL_SCHEMA = {"type": "string", "nullable": True, "enum": [None]}


@dataclass(frozen=True)
class NamedEnum:
    """A set of string values documented once, as the schema component `name`."""

    name: str
    values: tuple[str, ...]
    description: str

    def component(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values), "description": self.description}


class EnumString(ma.fields.String):
    """A string from a `NamedEnum`: validated against its values, documented by reference."""

    def __init__(self, named: NamedEnum, **kwargs: Any):
        error = kwargs.pop("error", "Must be one of: {choices}.")
        validators = [validate.OneOf(named.values, error=error), *kwargs.pop("validate", [])]
        super().__init__(validate=validators, **kwargs)
        self.named = named


class Embedded(ma.fields.Nested):
    """An object documented by a named schema but passed through as given.

    Flows are checked by `ingress_app.flows` (every problem listed at once, unknown
    fields kept): marshmallow only makes sure an object arrived, and dumps it unchanged.
    """

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        if not isinstance(value, dict):
            raise ma.ValidationError("Not a valid mapping type.")
        return value

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        return nested_obj


class IngressConverter(OpenAPIConverter):
    """Named enums become `$ref`s; nullable references become `anyOf: [ref, null]`;
    lengths of objects count their keys."""

    def field2property(self, field: ma.fields.Field) -> dict:
        if isinstance(field, EnumString):
            return self._enum_property(field)
        prop = super().field2property(field)
        return _nullable_reference(prop)

    def field2length(self, field: ma.fields.Field, **kwargs: Any) -> dict:
        """A `Length` on an object bounds its number of keys (apispec writes `maxLength`,
        which applies to strings only)."""
        attributes = super().field2length(field, **kwargs)
        if isinstance(field, ma.fields.Dict):
            names = {"minLength": "minProperties", "maxLength": "maxProperties"}
            attributes = {names.get(key, key): value for key, value in attributes.items()}
        return attributes

    def _enum_property(self, field: EnumString) -> dict:
        named = field.named
        if named.name not in self.spec.components.schemas:
            self.spec.components.schema(named.name, named.component())
        ref = self.spec.components.get_ref("schema", named.name)
        extra = {
            key: value
            for key, value in field.metadata.items()
            if key in ("description", "example", "default")
        }
        default = field.load_default
        if default is not ma.missing and default is not None and not callable(default):
            extra.setdefault("default", default)
        if field.allow_none:
            return {"anyOf": [ref, NULL_SCHEMA], **extra}
        if extra:
            return {"allOf": [ref], **extra}
        return ref


def _nullable_reference(prop: dict) -> dict:
    """apispec writes a nullable reference as `anyOf: [{type: object, nullable}, ref]`,
    which generated clients turn into an empty class of its own; `null` says it."""
    any_of = prop.get("anyOf")
    if not any_of:
        return prop
    loose = {"type": "object", "nullable": True}
    if loose in any_of:
        prop["anyOf"] = [schema for schema in any_of if schema != loose] + [NULL_SCHEMA]
    return prop


def _schema_name(schema: Any) -> str | None:
    """Component names as flask-smorest makes them (`RunSchema` → `Run`); flask-smorest's
    own page-number pagination schema, which this cursor API never uses, stays out."""
    schema_class = schema if isinstance(schema, type) else type(schema)
    if issubclass(schema_class, PaginationMetadataSchema):
        return None
    return resolver(schema)


class IngressMarshmallowPlugin(MarshmallowPlugin):
    Converter = IngressConverter

    def __init__(self) -> None:
        super().__init__(schema_name_resolver=_schema_name)


def nullable_ref(name: str) -> dict:
    """`anyOf: [the component, null]`, for a schema written by hand."""
    return {"anyOf": [{"$ref": f"#/components/schemas/{name}"}, NULL_SCHEMA]}
