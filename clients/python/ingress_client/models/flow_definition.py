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
  from ..models.task import Task





T = TypeVar("T", bound="FlowDefinition")



@_attrs_define
class FlowDefinition:
    """ 
        Attributes:
            id (str):
            tasks (list[Task]):
            version (int | None | str | Unset): A string (at most 64 characters) or an integer; null or absent: none
            type_ (FlowType | Unset): The kind of flow: a DAG of tasks. Default: FlowType.DAG.
            tenant_id (None | str | Unset): If given, the caller's tenant
            name (None | str | Unset):
            description (None | str | Unset):
     """

    id: str
    tasks: list[Task]
    version: int | None | str | Unset = UNSET
    type_: FlowType | Unset = FlowType.DAG
    tenant_id: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    description: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
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

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
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


        flow_definition = cls(
            id=id,
            tasks=tasks,
            version=version,
            type_=type_,
            tenant_id=tenant_id,
            name=name,
            description=description,
        )


        flow_definition.additional_properties = d
        return flow_definition

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
