from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.flow_definition import FlowDefinition
  from ..models.modification import Modification
  from ..models.violation import Violation





T = TypeVar("T", bound="RunValidation")



@_attrs_define
class RunValidation:
    """ 
        Attributes:
            valid (bool):
            violations (list[Violation]):
            modifications (list[Modification]):
            flow_definition (FlowDefinition):
     """

    valid: bool
    violations: list[Violation]
    modifications: list[Modification]
    flow_definition: FlowDefinition





    def to_dict(self) -> dict[str, Any]:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.modification import Modification # noqa: PLC0415
        from ..models.violation import Violation # noqa: PLC0415
        valid = self.valid

        violations = []
        for violations_item_data in self.violations:
            violations_item = violations_item_data.to_dict()
            violations.append(violations_item)



        modifications = []
        for modifications_item_data in self.modifications:
            modifications_item = modifications_item_data.to_dict()
            modifications.append(modifications_item)



        flow_definition = self.flow_definition.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "valid": valid,
            "violations": violations,
            "modifications": modifications,
            "flow_definition": flow_definition,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flow_definition import FlowDefinition # noqa: PLC0415
        from ..models.modification import Modification # noqa: PLC0415
        from ..models.violation import Violation # noqa: PLC0415
        d = dict(src_dict)
        valid = d.pop("valid")

        violations = []
        _violations = d.pop("violations")
        for violations_item_data in (_violations):
            violations_item = Violation.from_dict(violations_item_data)



            violations.append(violations_item)


        modifications = []
        _modifications = d.pop("modifications")
        for modifications_item_data in (_modifications):
            modifications_item = Modification.from_dict(modifications_item_data)



            modifications.append(modifications_item)


        flow_definition = FlowDefinition.from_dict(d.pop("flow_definition"))




        run_validation = cls(
            valid=valid,
            violations=violations,
            modifications=modifications,
            flow_definition=flow_definition,
        )

        return run_validation

