from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.problem import Problem
  from ..models.violation import Violation





T = TypeVar("T", bound="ErrorDetail")



@_attrs_define
class ErrorDetail:
    """ 
        Attributes:
            problems (list[Problem] | Unset):
            problem_count (int | Unset):
            violations (list[Violation] | Unset):
            violation_count (int | Unset):
            item (int | Unset): The index of the refused item of a delivery
     """

    problems: list[Problem] | Unset = UNSET
    problem_count: int | Unset = UNSET
    violations: list[Violation] | Unset = UNSET
    violation_count: int | Unset = UNSET
    item: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.problem import Problem # noqa: PLC0415
        from ..models.violation import Violation # noqa: PLC0415
        problems: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.problems, Unset):
            problems = []
            for problems_item_data in self.problems:
                problems_item = problems_item_data.to_dict()
                problems.append(problems_item)



        problem_count = self.problem_count

        violations: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.violations, Unset):
            violations = []
            for violations_item_data in self.violations:
                violations_item = violations_item_data.to_dict()
                violations.append(violations_item)



        violation_count = self.violation_count

        item = self.item


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if problems is not UNSET:
            field_dict["problems"] = problems
        if problem_count is not UNSET:
            field_dict["problem_count"] = problem_count
        if violations is not UNSET:
            field_dict["violations"] = violations
        if violation_count is not UNSET:
            field_dict["violation_count"] = violation_count
        if item is not UNSET:
            field_dict["item"] = item

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.problem import Problem # noqa: PLC0415
        from ..models.violation import Violation # noqa: PLC0415
        d = dict(src_dict)
        _problems = d.pop("problems", UNSET)
        problems: list[Problem] | Unset = UNSET
        if _problems is not UNSET:
            problems = []
            for problems_item_data in _problems:
                problems_item = Problem.from_dict(problems_item_data)



                problems.append(problems_item)


        problem_count = d.pop("problem_count", UNSET)

        _violations = d.pop("violations", UNSET)
        violations: list[Violation] | Unset = UNSET
        if _violations is not UNSET:
            violations = []
            for violations_item_data in _violations:
                violations_item = Violation.from_dict(violations_item_data)



                violations.append(violations_item)


        violation_count = d.pop("violation_count", UNSET)

        item = d.pop("item", UNSET)

        error_detail = cls(
            problems=problems,
            problem_count=problem_count,
            violations=violations,
            violation_count=violation_count,
            item=item,
        )

        return error_detail

