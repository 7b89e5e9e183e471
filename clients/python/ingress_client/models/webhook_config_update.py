from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.webhook_config_update_callback_events_type_0_item import WebhookConfigUpdateCallbackEventsType0Item
from ..models.webhook_items_mode import WebhookItemsMode
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.flow_definition import FlowDefinition
  from ..models.webhook_auth import WebhookAuth
  from ..models.webhook_config_update_input_mapping_type_0 import WebhookConfigUpdateInputMappingType0





T = TypeVar("T", bound="WebhookConfigUpdate")



@_attrs_define
class WebhookConfigUpdate:
    """ 
        Attributes:
            flow_id (str | Unset):
            flow_version (None | str | Unset):
            flow_definition (FlowDefinition | None | Unset):
            source (str | Unset):
            auth (WebhookAuth | Unset):
            input_mapping (None | Unset | WebhookConfigUpdateInputMappingType0): Run input key → JMESPath over {payload,
                headers, query}; none: the payload is the input
            filter_ (None | str | Unset): JMESPath over `{payload, headers (lower-case names), query}`; a delivery for which
                it is falsy (null, false, empty) starts no run: 200 `{ignored: true}`, recorded as `filtered` Example:
                payload.action == 'opened'.
            items (None | Unset | WebhookItemsMode): A payload that is a list of items (n8n sends its items so): `each`
                starts one run per item (at most 100), `list` one run whose payload is always the list, however many items
                arrive. Unset: one run, and a list payload needs a mapping.
            callback_url (None | str | Unset): Where the run's events are POSTed, signed per Standard Webhooks with the
                tenant's callback secret (`GET /v1/callbacks/secret`)
            callback_events (list[WebhookConfigUpdateCallbackEventsType0Item] | None | Unset): `run.finished` (SUCCEEDED,
                FAILED, CANCELLED, TIMED_OUT) and/or `run.status_changed` (every change); default `["run.finished"]`
            require_delivery_id (bool | Unset): Refuse (400) a delivery without a delivery id (`Idempotency-Key`, `webhook-
                id` or the source's own), so a sender's retries never start a run twice
            enabled (bool | Unset):
            description (None | str | Unset):
     """

    flow_id: str | Unset = UNSET
    flow_version: None | str | Unset = UNSET
    flow_definition: FlowDefinition | None | Unset = UNSET
    source: str | Unset = UNSET
    auth: WebhookAuth | Unset = UNSET
    input_mapping: None | Unset | WebhookConfigUpdateInputMappingType0 = UNSET
    filter_: None | str | Unset = UNSET
    items: None | Unset | WebhookItemsMode = UNSET
    callback_url: None | str | Unset = UNSET
    callback_events: list[WebhookConfigUpdateCallbackEventsType0Item] | None | Unset = UNSET
    require_delivery_id: bool | Unset = UNSET
    enabled: bool | Unset = UNSET
    description: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.webhook_auth import WebhookAuth # noqa: PLC0415
        from ..models.webhook_config_update_input_mapping_type_0 import WebhookConfigUpdateInputMappingType0 # noqa: PLC0415
        flow_id = self.flow_id

        flow_version: None | str | Unset
        if isinstance(self.flow_version, Unset):
            flow_version = UNSET
        else:
            flow_version = self.flow_version

        flow_definition: dict[str, Any] | None | Unset
        if isinstance(self.flow_definition, Unset):
            flow_definition = UNSET
        elif isinstance(self.flow_definition, FlowDefinition):
            flow_definition = self.flow_definition.to_dict()
        else:
            flow_definition = self.flow_definition

        source = self.source

        auth: dict[str, Any] | Unset = UNSET
        if not isinstance(self.auth, Unset):
            auth = self.auth.to_dict()

        input_mapping: dict[str, Any] | None | Unset
        if isinstance(self.input_mapping, Unset):
            input_mapping = UNSET
        elif isinstance(self.input_mapping, WebhookConfigUpdateInputMappingType0):
            input_mapping = self.input_mapping.to_dict()
        else:
            input_mapping = self.input_mapping

        filter_: None | str | Unset
        if isinstance(self.filter_, Unset):
            filter_ = UNSET
        else:
            filter_ = self.filter_

        items: None | str | Unset
        if isinstance(self.items, Unset):
            items = UNSET
        elif isinstance(self.items, WebhookItemsMode):
            items = self.items.value
        else:
            items = self.items

        callback_url: None | str | Unset
        if isinstance(self.callback_url, Unset):
            callback_url = UNSET
        else:
            callback_url = self.callback_url

        callback_events: list[str] | None | Unset
        if isinstance(self.callback_events, Unset):
            callback_events = UNSET
        elif isinstance(self.callback_events, list):
            callback_events = []
            for callback_events_type_0_item_data in self.callback_events:
                callback_events_type_0_item = callback_events_type_0_item_data.value
                callback_events.append(callback_events_type_0_item)


        else:
            callback_events = self.callback_events

        require_delivery_id = self.require_delivery_id

        enabled = self.enabled

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if flow_id is not UNSET:
            field_dict["flow_id"] = flow_id
        if flow_version is not UNSET:
            field_dict["flow_version"] = flow_version
        if flow_definition is not UNSET:
            field_dict["flow_definition"] = flow_definition
        if source is not UNSET:
            field_dict["source"] = source
        if auth is not UNSET:
            field_dict["auth"] = auth
        if input_mapping is not UNSET:
            field_dict["input_mapping"] = input_mapping
        if filter_ is not UNSET:
            field_dict["filter"] = filter_
        if items is not UNSET:
            field_dict["items"] = items
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if callback_events is not UNSET:
            field_dict["callback_events"] = callback_events
        if require_delivery_id is not UNSET:
            field_dict["require_delivery_id"] = require_delivery_id
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.webhook_auth import WebhookAuth # noqa: PLC0415
        from ..models.webhook_config_update_input_mapping_type_0 import WebhookConfigUpdateInputMappingType0 # noqa: PLC0415
        d = dict(src_dict)
        flow_id = d.pop("flow_id", UNSET)

        def _parse_flow_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        flow_version = _parse_flow_version(d.pop("flow_version", UNSET))


        def _parse_flow_definition(data: object) -> FlowDefinition | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                flow_definition_type_0 = FlowDefinition.from_dict(data)



                return flow_definition_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FlowDefinition | None | Unset, data)

        flow_definition = _parse_flow_definition(d.pop("flow_definition", UNSET))


        source = d.pop("source", UNSET)

        _auth = d.pop("auth", UNSET)
        auth: WebhookAuth | Unset
        if isinstance(_auth,  Unset):
            auth = UNSET
        else:
            auth = WebhookAuth.from_dict(_auth)




        def _parse_input_mapping(data: object) -> None | Unset | WebhookConfigUpdateInputMappingType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                input_mapping_type_0 = WebhookConfigUpdateInputMappingType0.from_dict(data)



                return input_mapping_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookConfigUpdateInputMappingType0, data)

        input_mapping = _parse_input_mapping(d.pop("input_mapping", UNSET))


        def _parse_filter_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        filter_ = _parse_filter_(d.pop("filter", UNSET))


        def _parse_items(data: object) -> None | Unset | WebhookItemsMode:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                items_type_0 = WebhookItemsMode(data)



                return items_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookItemsMode, data)

        items = _parse_items(d.pop("items", UNSET))


        def _parse_callback_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        callback_url = _parse_callback_url(d.pop("callback_url", UNSET))


        def _parse_callback_events(data: object) -> list[WebhookConfigUpdateCallbackEventsType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                callback_events_type_0 = []
                _callback_events_type_0 = data
                for callback_events_type_0_item_data in (_callback_events_type_0):
                    callback_events_type_0_item = WebhookConfigUpdateCallbackEventsType0Item(callback_events_type_0_item_data)



                    callback_events_type_0.append(callback_events_type_0_item)

                return callback_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[WebhookConfigUpdateCallbackEventsType0Item] | None | Unset, data)

        callback_events = _parse_callback_events(d.pop("callback_events", UNSET))


        require_delivery_id = d.pop("require_delivery_id", UNSET)

        enabled = d.pop("enabled", UNSET)

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        webhook_config_update = cls(
            flow_id=flow_id,
            flow_version=flow_version,
            flow_definition=flow_definition,
            source=source,
            auth=auth,
            input_mapping=input_mapping,
            filter_=filter_,
            items=items,
            callback_url=callback_url,
            callback_events=callback_events,
            require_delivery_id=require_delivery_id,
            enabled=enabled,
            description=description,
        )

        return webhook_config_update

