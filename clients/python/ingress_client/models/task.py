from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.task_config import TaskConfig





T = TypeVar("T", bound="Task")



@_attrs_define
class Task:
    """ 
        Attributes:
            id (str): Unique within the flow
            type_ (str): What runs the task (`llm`, `tool`, ...)
            name (None | str | Unset):
            depends_on (list[str] | Unset): Ids of the tasks that must finish first
            retries (int | Unset):  Default: 0.
            timeout_seconds (int | Unset):  Default: 300.
            config (TaskConfig | Unset): The task's own settings
     """

    id: str
    type_: str
    name: None | str | Unset = UNSET
    depends_on: list[str] | Unset = UNSET
    retries: int | Unset = 0
    timeout_seconds: int | Unset = 300
    config: TaskConfig | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.task_config import TaskConfig # noqa: PLC0415
        id = self.id

        type_ = self.type_

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        depends_on: list[str] | Unset = UNSET
        if not isinstance(self.depends_on, Unset):
            depends_on = self.depends_on



        retries = self.retries

        timeout_seconds = self.timeout_seconds

        config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.config, Unset):
            config = self.config.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "type": type_,
        })
        if name is not UNSET:
            field_dict["name"] = name
        if depends_on is not UNSET:
            field_dict["depends_on"] = depends_on
        if retries is not UNSET:
            field_dict["retries"] = retries
        if timeout_seconds is not UNSET:
            field_dict["timeout_seconds"] = timeout_seconds
        if config is not UNSET:
            field_dict["config"] = config

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.task_config import TaskConfig # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        type_ = d.pop("type")

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        depends_on = cast(list[str], d.pop("depends_on", UNSET))


        retries = d.pop("retries", UNSET)

        timeout_seconds = d.pop("timeout_seconds", UNSET)

        _config = d.pop("config", UNSET)
        config: TaskConfig | Unset
        if isinstance(_config,  Unset):
            config = UNSET
        else:
            config = TaskConfig.from_dict(_config)




        task = cls(
            id=id,
            type_=type_,
            name=name,
            depends_on=depends_on,
            retries=retries,
            timeout_seconds=timeout_seconds,
            config=config,
        )


        task.additional_properties = d
        return task

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
