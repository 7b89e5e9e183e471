from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.flow_version_summary_metadata import FlowVersionSummaryMetadata





T = TypeVar("T", bound="FlowVersionSummary")



@_attrs_define
class FlowVersionSummary:
    """ 
        Attributes:
            flow_id (str):
            version (str):
            tenant_id (str):
            tags (list[str]):
            metadata (FlowVersionSummaryMetadata):
            created_at (datetime.datetime):
            created_by (str):
            deprecated (bool):
            name (None | str | Unset):
            description (None | str | Unset):
            deprecated_at (datetime.datetime | None | Unset):
            deprecated_by (None | str | Unset):
     """

    flow_id: str
    version: str
    tenant_id: str
    tags: list[str]
    metadata: FlowVersionSummaryMetadata
    created_at: datetime.datetime
    created_by: str
    deprecated: bool
    name: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    deprecated_at: datetime.datetime | None | Unset = UNSET
    deprecated_by: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.flow_version_summary_metadata import FlowVersionSummaryMetadata # noqa: PLC0415
        flow_id = self.flow_id

        version = self.version

        tenant_id = self.tenant_id

        tags = self.tags



        metadata = self.metadata.to_dict()

        created_at = self.created_at.isoformat()

        created_by = self.created_by

        deprecated = self.deprecated

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        deprecated_at: None | str | Unset
        if isinstance(self.deprecated_at, Unset):
            deprecated_at = UNSET
        elif isinstance(self.deprecated_at, datetime.datetime):
            deprecated_at = self.deprecated_at.isoformat()
        else:
            deprecated_at = self.deprecated_at

        deprecated_by: None | str | Unset
        if isinstance(self.deprecated_by, Unset):
            deprecated_by = UNSET
        else:
            deprecated_by = self.deprecated_by


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "flow_id": flow_id,
            "version": version,
            "tenant_id": tenant_id,
            "tags": tags,
            "metadata": metadata,
            "created_at": created_at,
            "created_by": created_by,
            "deprecated": deprecated,
        })
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if deprecated_at is not UNSET:
            field_dict["deprecated_at"] = deprecated_at
        if deprecated_by is not UNSET:
            field_dict["deprecated_by"] = deprecated_by

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_version_summary_metadata import FlowVersionSummaryMetadata # noqa: PLC0415
        d = dict(src_dict)
        flow_id = d.pop("flow_id")

        version = d.pop("version")

        tenant_id = d.pop("tenant_id")

        tags = cast(list[str], d.pop("tags"))


        metadata = FlowVersionSummaryMetadata.from_dict(d.pop("metadata"))




        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        created_by = d.pop("created_by")

        deprecated = d.pop("deprecated")

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_deprecated_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                deprecated_at_type_0 = datetime.datetime.fromisoformat(data)



                return deprecated_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        deprecated_at = _parse_deprecated_at(d.pop("deprecated_at", UNSET))


        def _parse_deprecated_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        deprecated_by = _parse_deprecated_by(d.pop("deprecated_by", UNSET))


        flow_version_summary = cls(
            flow_id=flow_id,
            version=version,
            tenant_id=tenant_id,
            tags=tags,
            metadata=metadata,
            created_at=created_at,
            created_by=created_by,
            deprecated=deprecated,
            name=name,
            description=description,
            deprecated_at=deprecated_at,
            deprecated_by=deprecated_by,
        )

        return flow_version_summary

