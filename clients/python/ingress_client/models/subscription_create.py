from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.subscription_create_events_item import SubscriptionCreateEventsItem
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="SubscriptionCreate")



@_attrs_define
class SubscriptionCreate:
    """ 
        Attributes:
            target_url (str): Where events are POSTed
            events (list[SubscriptionCreateEventsItem] | Unset): `run.finished` (SUCCEEDED, FAILED, CANCELLED, TIMED_OUT)
                and/or `run.status_changed` (every change)
            flow_id (str | Unset): Only runs of this flow (default: every run of the tenant)
     """

    target_url: str
    events: list[SubscriptionCreateEventsItem] | Unset = UNSET
    flow_id: str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        target_url = self.target_url

        events: list[str] | Unset = UNSET
        if not isinstance(self.events, Unset):
            events = []
            for events_item_data in self.events:
                events_item = events_item_data.value
                events.append(events_item)



        flow_id = self.flow_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "target_url": target_url,
        })
        if events is not UNSET:
            field_dict["events"] = events
        if flow_id is not UNSET:
            field_dict["flow_id"] = flow_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        target_url = d.pop("target_url")

        _events = d.pop("events", UNSET)
        events: list[SubscriptionCreateEventsItem] | Unset = UNSET
        if _events is not UNSET:
            events = []
            for events_item_data in _events:
                events_item = SubscriptionCreateEventsItem(events_item_data)



                events.append(events_item)


        flow_id = d.pop("flow_id", UNSET)

        subscription_create = cls(
            target_url=target_url,
            events=events,
            flow_id=flow_id,
        )

        return subscription_create

