from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.delivery_outcome import DeliveryOutcome
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.delivery_detail_type_0 import DeliveryDetailType0





T = TypeVar("T", bound="Delivery")



@_attrs_define
class Delivery:
    """ 
        Attributes:
            received_at (datetime.datetime):
            last_received_at (datetime.datetime):
            attempts (int):
            outcome (DeliveryOutcome): What became of a delivery: accepted (a run started), replayed (a delivery id seen
                before), unauthorized (401), rejected (other 4xx), denied (a policy refused it)
            status_code (int):
            source (str):
            delivery_id (None | str | Unset):
            run_id (None | str | Unset):
            correlation_id (None | str | Unset):
            detail (DeliveryDetailType0 | None | Unset): What went wrong (the error body's `error` and `detail`), or the
                runs of a delivery of several items; null when there is nothing to add
     """

    received_at: datetime.datetime
    last_received_at: datetime.datetime
    attempts: int
    outcome: DeliveryOutcome
    status_code: int
    source: str
    delivery_id: None | str | Unset = UNSET
    run_id: None | str | Unset = UNSET
    correlation_id: None | str | Unset = UNSET
    detail: DeliveryDetailType0 | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.delivery_detail_type_0 import DeliveryDetailType0 # noqa: PLC0415
        received_at = self.received_at.isoformat()

        last_received_at = self.last_received_at.isoformat()

        attempts = self.attempts

        outcome = self.outcome.value

        status_code = self.status_code

        source = self.source

        delivery_id: None | str | Unset
        if isinstance(self.delivery_id, Unset):
            delivery_id = UNSET
        else:
            delivery_id = self.delivery_id

        run_id: None | str | Unset
        if isinstance(self.run_id, Unset):
            run_id = UNSET
        else:
            run_id = self.run_id

        correlation_id: None | str | Unset
        if isinstance(self.correlation_id, Unset):
            correlation_id = UNSET
        else:
            correlation_id = self.correlation_id

        detail: dict[str, Any] | None | Unset
        if isinstance(self.detail, Unset):
            detail = UNSET
        elif isinstance(self.detail, DeliveryDetailType0):
            detail = self.detail.to_dict()
        else:
            detail = self.detail


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "received_at": received_at,
            "last_received_at": last_received_at,
            "attempts": attempts,
            "outcome": outcome,
            "status_code": status_code,
            "source": source,
        })
        if delivery_id is not UNSET:
            field_dict["delivery_id"] = delivery_id
        if run_id is not UNSET:
            field_dict["run_id"] = run_id
        if correlation_id is not UNSET:
            field_dict["correlation_id"] = correlation_id
        if detail is not UNSET:
            field_dict["detail"] = detail

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery_detail_type_0 import DeliveryDetailType0 # noqa: PLC0415
        d = dict(src_dict)
        received_at = datetime.datetime.fromisoformat(d.pop("received_at"))




        last_received_at = datetime.datetime.fromisoformat(d.pop("last_received_at"))




        attempts = d.pop("attempts")

        outcome = DeliveryOutcome(d.pop("outcome"))




        status_code = d.pop("status_code")

        source = d.pop("source")

        def _parse_delivery_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        delivery_id = _parse_delivery_id(d.pop("delivery_id", UNSET))


        def _parse_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_id = _parse_run_id(d.pop("run_id", UNSET))


        def _parse_correlation_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        correlation_id = _parse_correlation_id(d.pop("correlation_id", UNSET))


        def _parse_detail(data: object) -> DeliveryDetailType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                detail_type_0 = DeliveryDetailType0.from_dict(data)



                return detail_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeliveryDetailType0 | None | Unset, data)

        detail = _parse_detail(d.pop("detail", UNSET))


        delivery = cls(
            received_at=received_at,
            last_received_at=last_received_at,
            attempts=attempts,
            outcome=outcome,
            status_code=status_code,
            source=source,
            delivery_id=delivery_id,
            run_id=run_id,
            correlation_id=correlation_id,
            detail=detail,
        )

        return delivery

