from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.flow_type import FlowType
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.flow_register_input_schema_type_0 import FlowRegisterInputSchemaType0
  from ..models.flow_register_metadata_type_0 import FlowRegisterMetadataType0
  from ..models.task import Task





T = TypeVar("T", bound="FlowRegister")



@_attrs_define
class FlowRegister:
    """ 
        Attributes:
            id (str): The flow id (no '/': it is part of the URLs)
            tasks (list[Task]):
            version (int | None | str | Unset): Letters, digits and . _ + - (or an integer); omitted or null: the next
                integer
            type_ (FlowType | Unset): The kind of flow: a DAG of tasks. Default: FlowType.DAG.
            tenant_id (None | str | Unset): If given, the caller's tenant
            name (None | str | Unset):
            description (None | str | Unset):
            tags (list[str] | None | Unset): Labels for search (`GET /v1/flows?tag=`); stored as a sorted set
            input_schema (FlowRegisterInputSchemaType0 | None | Unset): JSON Schema (2020-12) every run's `input` must
                satisfy (400 with `detail.problems` otherwise); checked here; defaults are not injected
            metadata (FlowRegisterMetadataType0 | None | Unset): Free metadata, stored and shown as given
     """

    id: str
    tasks: list[Task]
    version: int | None | str | Unset = UNSET
    type_: FlowType | Unset = FlowType.DAG
    tenant_id: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    tags: list[str] | None | Unset = UNSET
    input_schema: FlowRegisterInputSchemaType0 | None | Unset = UNSET
    metadata: FlowRegisterMetadataType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.flow_register_input_schema_type_0 import FlowRegisterInputSchemaType0 # noqa: PLC0415
        from ..models.flow_register_metadata_type_0 import FlowRegisterMetadataType0 # noqa: PLC0415
        from ..models.task import Task # noqa: PLC0415
        id = self.id

        tasks = []
        for tasks_item_data in self.tasks:
            tasks_item = tasks_item_data.to_dict()
            tasks.append(tasks_item)



        version: int | None | str | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.value


        tenant_id: None | str | Unset
        if isinstance(self.tenant_id, Unset):
            tenant_id = UNSET
        else:
            tenant_id = self.tenant_id

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

        tags: list[str] | None | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        elif isinstance(self.tags, list):
            tags = self.tags


        else:
            tags = self.tags

        input_schema: dict[str, Any] | None | Unset
        if isinstance(self.input_schema, Unset):
            input_schema = UNSET
        elif isinstance(self.input_schema, FlowRegisterInputSchemaType0):
            input_schema = self.input_schema.to_dict()
        else:
            input_schema = self.input_schema

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, FlowRegisterMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "tasks": tasks,
        })
        if version is not UNSET:
            field_dict["version"] = version
        if type_ is not UNSET:
            field_dict["type"] = type_
        if tenant_id is not UNSET:
            field_dict["tenant_id"] = tenant_id
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if tags is not UNSET:
            field_dict["tags"] = tags
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_register_input_schema_type_0 import FlowRegisterInputSchemaType0 # noqa: PLC0415
        from ..models.flow_register_metadata_type_0 import FlowRegisterMetadataType0 # noqa: PLC0415
        from ..models.task import Task # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        tasks = []
        _tasks = d.pop("tasks")
        for tasks_item_data in (_tasks):
            tasks_item = Task.from_dict(tasks_item_data)



            tasks.append(tasks_item)


        def _parse_version(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        version = _parse_version(d.pop("version", UNSET))


        _type_ = d.pop("type", UNSET)
        type_: FlowType | Unset
        if isinstance(_type_,  Unset):
            type_ = UNSET
        else:
            type_ = FlowType(_type_)




        def _parse_tenant_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tenant_id = _parse_tenant_id(d.pop("tenant_id", UNSET))


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


        def _parse_tags(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                tags_type_0 = cast(list[str], data)

                return tags_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        tags = _parse_tags(d.pop("tags", UNSET))


        def _parse_input_schema(data: object) -> FlowRegisterInputSchemaType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                input_schema_type_0 = FlowRegisterInputSchemaType0.from_dict(data)



                return input_schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FlowRegisterInputSchemaType0 | None | Unset, data)

        input_schema = _parse_input_schema(d.pop("input_schema", UNSET))


        def _parse_metadata(data: object) -> FlowRegisterMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = FlowRegisterMetadataType0.from_dict(data)



                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FlowRegisterMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))


        flow_register = cls(
            id=id,
            tasks=tasks,
            version=version,
            type_=type_,
            tenant_id=tenant_id,
            name=name,
            description=description,
            tags=tags,
            input_schema=input_schema,
            metadata=metadata,
        )


        flow_register.additional_properties = d
        return flow_register

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
