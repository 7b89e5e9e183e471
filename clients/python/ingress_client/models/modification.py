from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="Modification")



@_attrs_define
class Modification:
    """ 
        Attributes:
            policy (str):
            note (str):
            task_id (None | str | Unset):
     """

    policy: str
    note: str
    task_id: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        policy = self.policy

        note = self.note

        task_id: None | str | Unset
        if isinstance(self.task_id, Unset):
            task_id = UNSET
        else:
            task_id = self.task_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "policy": policy,
            "note": note,
        })
        if task_id is not UNSET:
            field_dict["task_id"] = task_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        policy = d.pop("policy")

        note = d.pop("note")

        def _parse_task_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        task_id = _parse_task_id(d.pop("task_id", UNSET))


        modification = cls(
            policy=policy,
            note=note,
            task_id=task_id,
        )

        return modification

