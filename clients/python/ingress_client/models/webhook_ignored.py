from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="WebhookIgnored")



@_attrs_define
class WebhookIgnored:
    """ 
        Attributes:
            ignored (bool):
            delivery_id (None | str):
     """

    ignored: bool
    delivery_id: None | str





    def to_dict(self) -> dict[str, Any]:
        ignored = self.ignored

        delivery_id: None | str
        delivery_id = self.delivery_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "ignored": ignored,
            "delivery_id": delivery_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ignored = d.pop("ignored")

        def _parse_delivery_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        delivery_id = _parse_delivery_id(d.pop("delivery_id"))


        webhook_ignored = cls(
            ignored=ignored,
            delivery_id=delivery_id,
        )

        return webhook_ignored

