from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.flow_origin import FlowOrigin
from ..models.run_status import RunStatus
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.run_tasks import RunTasks





T = TypeVar("T", bound="Run")



@_attrs_define
class Run:
    """ 
        Attributes:
            run_id (str):
            status (RunStatus): A run's status. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are final.
            created_at (datetime.datetime):
            updated_at (datetime.datetime):
            tenant_id (str):
            flow_id (str):
            correlation_id (str):
            input_ (Any): The run's input (an object for API runs)
            flow_version (None | str | Unset):
            flow_origin (FlowOrigin | Unset): Where a run's flow came from: the registry (`flow_version` is the version
                used) or an inline `flow_definition`
            request_id (None | str | Unset):
            source (str | Unset):
            output (Any | Unset): The orchestrator's output (any JSON value; null until then)
            error (None | str | Unset):
            tasks (RunTasks | Unset): Latest reported state of each task, by task id
     """

    run_id: str
    status: RunStatus
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tenant_id: str
    flow_id: str
    correlation_id: str
    input_: Any
    flow_version: None | str | Unset = UNSET
    flow_origin: FlowOrigin | Unset = UNSET
    request_id: None | str | Unset = UNSET
    source: str | Unset = UNSET
    output: Any | Unset = UNSET
    error: None | str | Unset = UNSET
    tasks: RunTasks | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.run_tasks import RunTasks # noqa: PLC0415
        run_id = self.run_id

        status = self.status.value

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        tenant_id = self.tenant_id

        flow_id = self.flow_id

        correlation_id = self.correlation_id

        input_ = self.input_

        flow_version: None | str | Unset
        if isinstance(self.flow_version, Unset):
            flow_version = UNSET
        else:
            flow_version = self.flow_version

        flow_origin: str | Unset = UNSET
        if not isinstance(self.flow_origin, Unset):
            flow_origin = self.flow_origin.value


        request_id: None | str | Unset
        if isinstance(self.request_id, Unset):
            request_id = UNSET
        else:
            request_id = self.request_id

        source = self.source

        output = self.output

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        tasks: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tasks, Unset):
            tasks = self.tasks.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "run_id": run_id,
            "status": status,
            "created_at": created_at,
            "updated_at": updated_at,
            "tenant_id": tenant_id,
            "flow_id": flow_id,
            "correlation_id": correlation_id,
            "input": input_,
        })
        if flow_version is not UNSET:
            field_dict["flow_version"] = flow_version
        if flow_origin is not UNSET:
            field_dict["flow_origin"] = flow_origin
        if request_id is not UNSET:
            field_dict["request_id"] = request_id
        if source is not UNSET:
            field_dict["source"] = source
        if output is not UNSET:
            field_dict["output"] = output
        if error is not UNSET:
            field_dict["error"] = error
        if tasks is not UNSET:
            field_dict["tasks"] = tasks

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.run_tasks import RunTasks # noqa: PLC0415
        d = dict(src_dict)
        run_id = d.pop("run_id")

        status = RunStatus(d.pop("status"))




        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))




        tenant_id = d.pop("tenant_id")

        flow_id = d.pop("flow_id")

        correlation_id = d.pop("correlation_id")

        input_ = d.pop("input")

        def _parse_flow_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        flow_version = _parse_flow_version(d.pop("flow_version", UNSET))


        _flow_origin = d.pop("flow_origin", UNSET)
        flow_origin: FlowOrigin | Unset
        if isinstance(_flow_origin,  Unset):
            flow_origin = UNSET
        else:
            flow_origin = FlowOrigin(_flow_origin)




        def _parse_request_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        request_id = _parse_request_id(d.pop("request_id", UNSET))


        source = d.pop("source", UNSET)

        output = d.pop("output", UNSET)

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        _tasks = d.pop("tasks", UNSET)
        tasks: RunTasks | Unset
        if isinstance(_tasks,  Unset):
            tasks = UNSET
        else:
            tasks = RunTasks.from_dict(_tasks)




        run = cls(
            run_id=run_id,
            status=status,
            created_at=created_at,
            updated_at=updated_at,
            tenant_id=tenant_id,
            flow_id=flow_id,
            correlation_id=correlation_id,
            input_=input_,
            flow_version=flow_version,
            flow_origin=flow_origin,
            request_id=request_id,
            source=source,
            output=output,
            error=error,
            tasks=tasks,
        )

        return run

