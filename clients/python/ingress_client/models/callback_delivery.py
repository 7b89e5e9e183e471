from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.callback_delivery_state import CallbackDeliveryState
from ..models.callback_delivery_type import CallbackDeliveryType
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.callback_attempt import CallbackAttempt





T = TypeVar("T", bound="CallbackDelivery")



@_attrs_define
class CallbackDelivery:
    """ 
        Attributes:
            webhook_id (str): `webhook-id` header
            type_ (CallbackDeliveryType):
            url (str):
            subscription_id (None | str):
            state (CallbackDeliveryState):
            created_at (datetime.datetime):
            next_attempt_at (datetime.datetime | None):
            attempts (list[CallbackAttempt]):
     """

    webhook_id: str
    type_: CallbackDeliveryType
    url: str
    subscription_id: None | str
    state: CallbackDeliveryState
    created_at: datetime.datetime
    next_attempt_at: datetime.datetime | None
    attempts: list[CallbackAttempt]





    def to_dict(self) -> dict[str, Any]:
        from ..models.callback_attempt import CallbackAttempt # noqa: PLC0415
        webhook_id = self.webhook_id

        type_ = self.type_.value

        url = self.url

        subscription_id: None | str
        subscription_id = self.subscription_id

        state = self.state.value

        created_at = self.created_at.isoformat()

        next_attempt_at: None | str
        if isinstance(self.next_attempt_at, datetime.datetime):
            next_attempt_at = self.next_attempt_at.isoformat()
        else:
            next_attempt_at = self.next_attempt_at

        attempts = []
        for attempts_item_data in self.attempts:
            attempts_item = attempts_item_data.to_dict()
            attempts.append(attempts_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "webhook_id": webhook_id,
            "type": type_,
            "url": url,
            "subscription_id": subscription_id,
            "state": state,
            "created_at": created_at,
            "next_attempt_at": next_attempt_at,
            "attempts": attempts,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.callback_attempt import CallbackAttempt # noqa: PLC0415
        d = dict(src_dict)
        webhook_id = d.pop("webhook_id")

        type_ = CallbackDeliveryType(d.pop("type"))




        url = d.pop("url")

        def _parse_subscription_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        subscription_id = _parse_subscription_id(d.pop("subscription_id"))


        state = CallbackDeliveryState(d.pop("state"))




        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        def _parse_next_attempt_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                next_attempt_at_type_0 = datetime.datetime.fromisoformat(data)



                return next_attempt_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at"))


        attempts = []
        _attempts = d.pop("attempts")
        for attempts_item_data in (_attempts):
            attempts_item = CallbackAttempt.from_dict(attempts_item_data)



            attempts.append(attempts_item)


        callback_delivery = cls(
            webhook_id=webhook_id,
            type_=type_,
            url=url,
            subscription_id=subscription_id,
            state=state,
            created_at=created_at,
            next_attempt_at=next_attempt_at,
            attempts=attempts,
        )

        return callback_delivery

