from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.accepted_run import AcceptedRun





T = TypeVar("T", bound="WebhookAccepted")



@_attrs_define
class WebhookAccepted:
    """ 
        Attributes:
            replayed (bool): true when every run of this delivery existed already
            run_id (str | Unset):
            correlation_id (str | Unset):
            runs (list[AcceptedRun] | Unset): `items: each`: the runs, in the order of the items
     """

    replayed: bool
    run_id: str | Unset = UNSET
    correlation_id: str | Unset = UNSET
    runs: list[AcceptedRun] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.accepted_run import AcceptedRun # noqa: PLC0415
        replayed = self.replayed

        run_id = self.run_id

        correlation_id = self.correlation_id

        runs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.runs, Unset):
            runs = []
            for runs_item_data in self.runs:
                runs_item = runs_item_data.to_dict()
                runs.append(runs_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "replayed": replayed,
        })
        if run_id is not UNSET:
            field_dict["run_id"] = run_id
        if correlation_id is not UNSET:
            field_dict["correlation_id"] = correlation_id
        if runs is not UNSET:
            field_dict["runs"] = runs

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.accepted_run import AcceptedRun # noqa: PLC0415
        d = dict(src_dict)
        replayed = d.pop("replayed")

        run_id = d.pop("run_id", UNSET)

        correlation_id = d.pop("correlation_id", UNSET)

        _runs = d.pop("runs", UNSET)
        runs: list[AcceptedRun] | Unset = UNSET
        if _runs is not UNSET:
            runs = []
            for runs_item_data in _runs:
                runs_item = AcceptedRun.from_dict(runs_item_data)



                runs.append(runs_item)


        webhook_accepted = cls(
            replayed=replayed,
            run_id=run_id,
            correlation_id=correlation_id,
            runs=runs,
        )

        return webhook_accepted

