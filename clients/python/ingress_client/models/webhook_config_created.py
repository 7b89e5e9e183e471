from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.webhook_items_mode import WebhookItemsMode
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.flow_definition import FlowDefinition
  from ..models.webhook_auth_out import WebhookAuthOut
  from ..models.webhook_config_created_input_mapping_type_0 import WebhookConfigCreatedInputMappingType0





T = TypeVar("T", bound="WebhookConfigCreated")



@_attrs_define
class WebhookConfigCreated:
    """ 
        Attributes:
            webhook_id (str):
            url (str): Where senders POST
            flow_id (str):
            source (str):
            auth (WebhookAuthOut):
            require_delivery_id (bool):
            enabled (bool):
            created_by (str):
            created_at (datetime.datetime):
            updated_at (datetime.datetime):
            secret (str): Shown only in this response
            flow_version (None | str | Unset):
            flow_definition (FlowDefinition | None | Unset):
            input_mapping (None | Unset | WebhookConfigCreatedInputMappingType0):
            filter_ (None | str | Unset):
            items (None | Unset | WebhookItemsMode):
            callback_url (None | str | Unset):
            callback_events (list[str] | None | Unset):
            description (None | str | Unset):
            previous_secret_expires_at (datetime.datetime | None | Unset): Until when the secret replaced by the last
                rotation still works
     """

    webhook_id: str
    url: str
    flow_id: str
    source: str
    auth: WebhookAuthOut
    require_delivery_id: bool
    enabled: bool
    created_by: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    secret: str
    flow_version: None | str | Unset = UNSET
    flow_definition: FlowDefinition | None | Unset = UNSET
    input_mapping: None | Unset | WebhookConfigCreatedInputMappingType0 = UNSET
    filter_: None | str | Unset = UNSET
    items: None | Unset | WebhookItemsMode = UNSET
    callback_url: None | str | Unset = UNSET
    callback_events: list[str] | None | Unset = UNSET
    description: None | str | Unset = UNSET
    previous_secret_expires_at: datetime.datetime | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.webhook_auth_out import WebhookAuthOut # noqa: PLC0415
        from ..models.webhook_config_created_input_mapping_type_0 import WebhookConfigCreatedInputMappingType0 # noqa: PLC0415
        webhook_id = self.webhook_id

        url = self.url

        flow_id = self.flow_id

        source = self.source

        auth = self.auth.to_dict()

        require_delivery_id = self.require_delivery_id

        enabled = self.enabled

        created_by = self.created_by

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        secret = self.secret

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

        input_mapping: dict[str, Any] | None | Unset
        if isinstance(self.input_mapping, Unset):
            input_mapping = UNSET
        elif isinstance(self.input_mapping, WebhookConfigCreatedInputMappingType0):
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
            callback_events = self.callback_events


        else:
            callback_events = self.callback_events

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        previous_secret_expires_at: None | str | Unset
        if isinstance(self.previous_secret_expires_at, Unset):
            previous_secret_expires_at = UNSET
        elif isinstance(self.previous_secret_expires_at, datetime.datetime):
            previous_secret_expires_at = self.previous_secret_expires_at.isoformat()
        else:
            previous_secret_expires_at = self.previous_secret_expires_at


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "webhook_id": webhook_id,
            "url": url,
            "flow_id": flow_id,
            "source": source,
            "auth": auth,
            "require_delivery_id": require_delivery_id,
            "enabled": enabled,
            "created_by": created_by,
            "created_at": created_at,
            "updated_at": updated_at,
            "secret": secret,
        })
        if flow_version is not UNSET:
            field_dict["flow_version"] = flow_version
        if flow_definition is not UNSET:
            field_dict["flow_definition"] = flow_definition
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
        if description is not UNSET:
            field_dict["description"] = description
        if previous_secret_expires_at is not UNSET:
            field_dict["previous_secret_expires_at"] = previous_secret_expires_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.webhook_auth_out import WebhookAuthOut # noqa: PLC0415
        from ..models.webhook_config_created_input_mapping_type_0 import WebhookConfigCreatedInputMappingType0 # noqa: PLC0415
        d = dict(src_dict)
        webhook_id = d.pop("webhook_id")

        url = d.pop("url")

        flow_id = d.pop("flow_id")

        source = d.pop("source")

        auth = WebhookAuthOut.from_dict(d.pop("auth"))




        require_delivery_id = d.pop("require_delivery_id")

        enabled = d.pop("enabled")

        created_by = d.pop("created_by")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))




        secret = d.pop("secret")

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


        def _parse_input_mapping(data: object) -> None | Unset | WebhookConfigCreatedInputMappingType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                input_mapping_type_0 = WebhookConfigCreatedInputMappingType0.from_dict(data)



                return input_mapping_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WebhookConfigCreatedInputMappingType0, data)

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


        def _parse_callback_events(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                callback_events_type_0 = cast(list[str], data)

                return callback_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        callback_events = _parse_callback_events(d.pop("callback_events", UNSET))


        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_previous_secret_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                previous_secret_expires_at_type_0 = datetime.datetime.fromisoformat(data)



                return previous_secret_expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        previous_secret_expires_at = _parse_previous_secret_expires_at(d.pop("previous_secret_expires_at", UNSET))


        webhook_config_created = cls(
            webhook_id=webhook_id,
            url=url,
            flow_id=flow_id,
            source=source,
            auth=auth,
            require_delivery_id=require_delivery_id,
            enabled=enabled,
            created_by=created_by,
            created_at=created_at,
            updated_at=updated_at,
            secret=secret,
            flow_version=flow_version,
            flow_definition=flow_definition,
            input_mapping=input_mapping,
            filter_=filter_,
            items=items,
            callback_url=callback_url,
            callback_events=callback_events,
            description=description,
            previous_secret_expires_at=previous_secret_expires_at,
        )

        return webhook_config_created

