from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.audit_event_detail_type_0 import AuditEventDetailType0





T = TypeVar("T", bound="AuditEvent")



@_attrs_define
class AuditEvent:
    """ 
        Attributes:
            event_id (str):
            occurred_at (datetime.datetime):
            tenant_id (str):
            actor (str):
            action (str):
            resource_type (str):
            outcome (str):
            resource_id (None | str | Unset):
            correlation_id (None | str | Unset):
            detail (AuditEventDetailType0 | None | Unset): What the event adds (depends on `action`); null: nothing
     """

    event_id: str
    occurred_at: datetime.datetime
    tenant_id: str
    actor: str
    action: str
    resource_type: str
    outcome: str
    resource_id: None | str | Unset = UNSET
    correlation_id: None | str | Unset = UNSET
    detail: AuditEventDetailType0 | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.audit_event_detail_type_0 import AuditEventDetailType0 # noqa: PLC0415
        event_id = self.event_id

        occurred_at = self.occurred_at.isoformat()

        tenant_id = self.tenant_id

        actor = self.actor

        action = self.action

        resource_type = self.resource_type

        outcome = self.outcome

        resource_id: None | str | Unset
        if isinstance(self.resource_id, Unset):
            resource_id = UNSET
        else:
            resource_id = self.resource_id

        correlation_id: None | str | Unset
        if isinstance(self.correlation_id, Unset):
            correlation_id = UNSET
        else:
            correlation_id = self.correlation_id

        detail: dict[str, Any] | None | Unset
        if isinstance(self.detail, Unset):
            detail = UNSET
        elif isinstance(self.detail, AuditEventDetailType0):
            detail = self.detail.to_dict()
        else:
            detail = self.detail


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "event_id": event_id,
            "occurred_at": occurred_at,
            "tenant_id": tenant_id,
            "actor": actor,
            "action": action,
            "resource_type": resource_type,
            "outcome": outcome,
        })
        if resource_id is not UNSET:
            field_dict["resource_id"] = resource_id
        if correlation_id is not UNSET:
            field_dict["correlation_id"] = correlation_id
        if detail is not UNSET:
            field_dict["detail"] = detail

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_event_detail_type_0 import AuditEventDetailType0 # noqa: PLC0415
        d = dict(src_dict)
        event_id = d.pop("event_id")

        occurred_at = datetime.datetime.fromisoformat(d.pop("occurred_at"))




        tenant_id = d.pop("tenant_id")

        actor = d.pop("actor")

        action = d.pop("action")

        resource_type = d.pop("resource_type")

        outcome = d.pop("outcome")

        def _parse_resource_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource_id = _parse_resource_id(d.pop("resource_id", UNSET))


        def _parse_correlation_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        correlation_id = _parse_correlation_id(d.pop("correlation_id", UNSET))


        def _parse_detail(data: object) -> AuditEventDetailType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                detail_type_0 = AuditEventDetailType0.from_dict(data)



                return detail_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuditEventDetailType0 | None | Unset, data)

        detail = _parse_detail(d.pop("detail", UNSET))


        audit_event = cls(
            event_id=event_id,
            occurred_at=occurred_at,
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            resource_type=resource_type,
            outcome=outcome,
            resource_id=resource_id,
            correlation_id=correlation_id,
            detail=detail,
        )

        return audit_event

