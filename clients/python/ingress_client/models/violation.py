from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="Violation")



@_attrs_define
class Violation:
    """ 
        Attributes:
            policy (str):
            task_id (None | str):
            message (str):
     """

    policy: str
    task_id: None | str
    message: str





    def to_dict(self) -> dict[str, Any]:
        policy = self.policy

        task_id: None | str
        task_id = self.task_id

        message = self.message


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "policy": policy,
            "task_id": task_id,
            "message": message,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        policy = d.pop("policy")

        def _parse_task_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        task_id = _parse_task_id(d.pop("task_id"))


        message = d.pop("message")

        violation = cls(
            policy=policy,
            task_id=task_id,
            message=message,
        )

        return violation

