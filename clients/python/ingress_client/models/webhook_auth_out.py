from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.webhook_auth_type import WebhookAuthType
from ..types import UNSET, Unset






T = TypeVar("T", bound="WebhookAuthOut")



@_attrs_define
class WebhookAuthOut:
    """ 
        Attributes:
            type_ (WebhookAuthType): How senders authenticate: `standard-webhooks` (signed `webhook-*` headers), `hmac-
                sha256` (hex HMAC of the body in a header), `header-token` (the secret in a header), `basic` (HTTP Basic, the
                secret as password)
            header (str | Unset):
            username (str | Unset):
     """

    type_: WebhookAuthType
    header: str | Unset = UNSET
    username: str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_.value

        header = self.header

        username = self.username


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
        })
        if header is not UNSET:
            field_dict["header"] = header
        if username is not UNSET:
            field_dict["username"] = username

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = WebhookAuthType(d.pop("type"))




        header = d.pop("header", UNSET)

        username = d.pop("username", UNSET)

        webhook_auth_out = cls(
            type_=type_,
            header=header,
            username=username,
        )

        return webhook_auth_out

