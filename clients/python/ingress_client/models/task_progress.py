from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.task_status import TaskStatus
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.violation import Violation





T = TypeVar("T", bound="TaskProgress")



@_attrs_define
class TaskProgress:
    """ 
        Attributes:
            status (TaskStatus): A task's latest reported status (the run statuses, SKIPPED and RETRYING).
            updated_at (datetime.datetime):
            output (Any | Unset): The task's output (any JSON value)
            error (None | str | Unset):
            policy_violations (list[Violation] | Unset): PostTaskPolicy breaches found when the task finished
     """

    status: TaskStatus
    updated_at: datetime.datetime
    output: Any | Unset = UNSET
    error: None | str | Unset = UNSET
    policy_violations: list[Violation] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.violation import Violation # noqa: PLC0415
        status = self.status.value

        updated_at = self.updated_at.isoformat()

        output = self.output

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        policy_violations: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.policy_violations, Unset):
            policy_violations = []
            for policy_violations_item_data in self.policy_violations:
                policy_violations_item = policy_violations_item_data.to_dict()
                policy_violations.append(policy_violations_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "status": status,
            "updated_at": updated_at,
        })
        if output is not UNSET:
            field_dict["output"] = output
        if error is not UNSET:
            field_dict["error"] = error
        if policy_violations is not UNSET:
            field_dict["policy_violations"] = policy_violations

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.violation import Violation # noqa: PLC0415
        d = dict(src_dict)
        status = TaskStatus(d.pop("status"))




        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))




        output = d.pop("output", UNSET)

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        _policy_violations = d.pop("policy_violations", UNSET)
        policy_violations: list[Violation] | Unset = UNSET
        if _policy_violations is not UNSET:
            policy_violations = []
            for policy_violations_item_data in _policy_violations:
                policy_violations_item = Violation.from_dict(policy_violations_item_data)



                policy_violations.append(policy_violations_item)


        task_progress = cls(
            status=status,
            updated_at=updated_at,
            output=output,
            error=error,
            policy_violations=policy_violations,
        )

        return task_progress

