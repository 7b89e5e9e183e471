from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="RunAccepted")



@_attrs_define
class RunAccepted:
    """ 
        Attributes:
            run_id (str):
            correlation_id (str):
            replayed (bool): true: this idempotency key was seen before; its original run
     """

    run_id: str
    correlation_id: str
    replayed: bool





    def to_dict(self) -> dict[str, Any]:
        run_id = self.run_id

        correlation_id = self.correlation_id

        replayed = self.replayed


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "run_id": run_id,
            "correlation_id": correlation_id,
            "replayed": replayed,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        run_id = d.pop("run_id")

        correlation_id = d.pop("correlation_id")

        replayed = d.pop("replayed")

        run_accepted = cls(
            run_id=run_id,
            correlation_id=correlation_id,
            replayed=replayed,
        )

        return run_accepted

