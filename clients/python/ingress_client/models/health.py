from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.health_status import HealthStatus
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.health_checks import HealthChecks





T = TypeVar("T", bound="Health")



@_attrs_define
class Health:
    """ 
        Attributes:
            status (HealthStatus): pass: healthy; warn: degraded but serving; fail: not ready
            version (str | Unset):
            service_id (str | Unset):
            time (datetime.datetime | Unset):
            checks (HealthChecks | Unset):
     """

    status: HealthStatus
    version: str | Unset = UNSET
    service_id: str | Unset = UNSET
    time: datetime.datetime | Unset = UNSET
    checks: HealthChecks | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.health_checks import HealthChecks # noqa: PLC0415
        status = self.status.value

        version = self.version

        service_id = self.service_id

        time: str | Unset = UNSET
        if not isinstance(self.time, Unset):
            time = self.time.isoformat()

        checks: dict[str, Any] | Unset = UNSET
        if not isinstance(self.checks, Unset):
            checks = self.checks.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "status": status,
        })
        if version is not UNSET:
            field_dict["version"] = version
        if service_id is not UNSET:
            field_dict["serviceId"] = service_id
        if time is not UNSET:
            field_dict["time"] = time
        if checks is not UNSET:
            field_dict["checks"] = checks

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.health_checks import HealthChecks # noqa: PLC0415
        d = dict(src_dict)
        status = HealthStatus(d.pop("status"))




        version = d.pop("version", UNSET)

        service_id = d.pop("serviceId", UNSET)

        _time = d.pop("time", UNSET)
        time: datetime.datetime | Unset
        if isinstance(_time,  Unset):
            time = UNSET
        else:
            time = datetime.datetime.fromisoformat(_time)




        _checks = d.pop("checks", UNSET)
        checks: HealthChecks | Unset
        if isinstance(_checks,  Unset):
            checks = UNSET
        else:
            checks = HealthChecks.from_dict(_checks)




        health = cls(
            status=status,
            version=version,
            service_id=service_id,
            time=time,
            checks=checks,
        )

        return health

