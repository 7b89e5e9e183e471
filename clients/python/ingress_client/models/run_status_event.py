from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.run_status_event_event import RunStatusEventEvent
from ..types import UNSET, Unset






T = TypeVar("T", bound="RunStatusEvent")



@_attrs_define
class RunStatusEvent:
    """ 
        Attributes:
            event (RunStatusEventEvent):
            id (str): The change's sequence; send it back as `Last-Event-ID`
            data (str): The run as `GET /v1/runs/{run_id}` returns it, as JSON
            retry (int | Unset): Reconnection delay the client should use, in ms
     """

    event: RunStatusEventEvent
    id: str
    data: str
    retry: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        event = self.event.value

        id = self.id

        data = self.data

        retry = self.retry


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "event": event,
            "id": id,
            "data": data,
        })
        if retry is not UNSET:
            field_dict["retry"] = retry

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        event = RunStatusEventEvent(d.pop("event"))




        id = d.pop("id")

        data = d.pop("data")

        retry = d.pop("retry", UNSET)

        run_status_event = cls(
            event=event,
            id=id,
            data=data,
            retry=retry,
        )

        return run_status_event

