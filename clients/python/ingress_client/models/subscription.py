from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime






T = TypeVar("T", bound="Subscription")



@_attrs_define
class Subscription:
    """ 
        Attributes:
            id (str):
            target_url (str):
            events (list[str]):
            flow_id (None | str):
            created_at (datetime.datetime):
     """

    id: str
    target_url: str
    events: list[str]
    flow_id: None | str
    created_at: datetime.datetime





    def to_dict(self) -> dict[str, Any]:
        id = self.id

        target_url = self.target_url

        events = self.events



        flow_id: None | str
        flow_id = self.flow_id

        created_at = self.created_at.isoformat()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "id": id,
            "target_url": target_url,
            "events": events,
            "flow_id": flow_id,
            "created_at": created_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        target_url = d.pop("target_url")

        events = cast(list[str], d.pop("events"))


        def _parse_flow_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        flow_id = _parse_flow_id(d.pop("flow_id"))


        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        subscription = cls(
            id=id,
            target_url=target_url,
            events=events,
            flow_id=flow_id,
            created_at=created_at,
        )

        return subscription

