from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.error_detail import ErrorDetail





T = TypeVar("T", bound="Error")



@_attrs_define
class Error:
    """ 
        Attributes:
            error (str): Short error message; refusals add the first reason
            detail (ErrorDetail | None | str): More about the error: a sentence, an `ErrorDetail` or null
     """

    error: str
    detail: ErrorDetail | None | str





    def to_dict(self) -> dict[str, Any]:
        from ..models.error_detail import ErrorDetail # noqa: PLC0415
        error = self.error

        detail: dict[str, Any] | None | str
        if isinstance(self.detail, ErrorDetail):
            detail = self.detail.to_dict()
        else:
            detail = self.detail


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "error": error,
            "detail": detail,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_detail import ErrorDetail # noqa: PLC0415
        d = dict(src_dict)
        error = d.pop("error")

        def _parse_detail(data: object) -> ErrorDetail | None | str:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                detail_type_1 = ErrorDetail.from_dict(data)



                return detail_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ErrorDetail | None | str, data)

        detail = _parse_detail(d.pop("detail"))


        error = cls(
            error=error,
            detail=detail,
        )

        return error

