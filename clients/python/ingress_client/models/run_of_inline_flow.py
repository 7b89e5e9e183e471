from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.run_of_inline_flow_callback_events_item import RunOfInlineFlowCallbackEventsItem
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.flow_definition import FlowDefinition
  from ..models.run_of_inline_flow_input import RunOfInlineFlowInput





T = TypeVar("T", bound="RunOfInlineFlow")



@_attrs_define
class RunOfInlineFlow:
    """ 
        Attributes:
            flow_definition (FlowDefinition):
            flow_id (str | Unset):
            flow_version (str | Unset):
            input_ (RunOfInlineFlowInput | Unset): The run's input
            tenant_id (str | Unset):
            request_id (str | Unset): Idempotency key (or send the Idempotency-Key header): visible ASCII, no spaces
            callback_url (str | Unset): Where the run's events are POSTed, signed per Standard Webhooks with the tenant's
                callback secret (`GET /v1/callbacks/secret`)
            callback_events (list[RunOfInlineFlowCallbackEventsItem] | Unset): `run.finished` (SUCCEEDED, FAILED, CANCELLED,
                TIMED_OUT) and/or `run.status_changed` (every change); default `["run.finished"]`
     """

    flow_definition: FlowDefinition
    flow_id: str | Unset = UNSET
    flow_version: str | Unset = UNSET
    input_: RunOfInlineFlowInput | Unset = UNSET
    tenant_id: str | Unset = UNSET
    request_id: str | Unset = UNSET
    callback_url: str | Unset = UNSET
    callback_events: list[RunOfInlineFlowCallbackEventsItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.run_of_inline_flow_input import RunOfInlineFlowInput # noqa: PLC0415
        flow_definition = self.flow_definition.to_dict()

        flow_id = self.flow_id

        flow_version = self.flow_version

        input_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.input_, Unset):
            input_ = self.input_.to_dict()

        tenant_id = self.tenant_id

        request_id = self.request_id

        callback_url = self.callback_url

        callback_events: list[str] | Unset = UNSET
        if not isinstance(self.callback_events, Unset):
            callback_events = []
            for callback_events_item_data in self.callback_events:
                callback_events_item = callback_events_item_data.value
                callback_events.append(callback_events_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "flow_definition": flow_definition,
        })
        if flow_id is not UNSET:
            field_dict["flow_id"] = flow_id
        if flow_version is not UNSET:
            field_dict["flow_version"] = flow_version
        if input_ is not UNSET:
            field_dict["input"] = input_
        if tenant_id is not UNSET:
            field_dict["tenant_id"] = tenant_id
        if request_id is not UNSET:
            field_dict["request_id"] = request_id
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if callback_events is not UNSET:
            field_dict["callback_events"] = callback_events

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.run_of_inline_flow_input import RunOfInlineFlowInput # noqa: PLC0415
        d = dict(src_dict)
        flow_definition = FlowDefinition.from_dict(d.pop("flow_definition"))




        flow_id = d.pop("flow_id", UNSET)

        flow_version = d.pop("flow_version", UNSET)

        _input_ = d.pop("input", UNSET)
        input_: RunOfInlineFlowInput | Unset
        if isinstance(_input_,  Unset):
            input_ = UNSET
        else:
            input_ = RunOfInlineFlowInput.from_dict(_input_)




        tenant_id = d.pop("tenant_id", UNSET)

        request_id = d.pop("request_id", UNSET)

        callback_url = d.pop("callback_url", UNSET)

        _callback_events = d.pop("callback_events", UNSET)
        callback_events: list[RunOfInlineFlowCallbackEventsItem] | Unset = UNSET
        if _callback_events is not UNSET:
            callback_events = []
            for callback_events_item_data in _callback_events:
                callback_events_item = RunOfInlineFlowCallbackEventsItem(callback_events_item_data)



                callback_events.append(callback_events_item)


        run_of_inline_flow = cls(
            flow_definition=flow_definition,
            flow_id=flow_id,
            flow_version=flow_version,
            input_=input_,
            tenant_id=tenant_id,
            request_id=request_id,
            callback_url=callback_url,
            callback_events=callback_events,
        )


        run_of_inline_flow.additional_properties = d
        return run_of_inline_flow

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
