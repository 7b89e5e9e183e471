"""Two `FlowPolicy` examples: a cap on the number of tasks, and business hours."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma
from marshmallow import validate

from ingress_app.contracts import Decision, FlowPolicy, PolicyContext
from ingress_app.flows import Flow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class MaxTasks(FlowPolicy):
    """A flow may have at most `max_tasks` tasks."""

    name = "max_tasks"
    description = "caps the number of tasks in a flow"

    class Options(FlowPolicy.Options):
        max_tasks = ma.fields.Integer(load_default=20, validate=validate.Range(min=1))

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> Decision:
        limit = self.options["max_tasks"]
        if len(flow.tasks) > limit:
            return Decision.deny(
                f"the flow has {len(flow.tasks)} tasks; at most {limit} are allowed"
            )
        return Decision.allow()


# Options stay plain JSON values (strings, lists): `policies show` and `policies check`
# print them. Parse them into richer objects in __init__, once per configuration load.


def _check_clock_time(value: str) -> None:
    if not _HH_MM.fullmatch(value):
        raise ma.ValidationError(f"{value!r} is not a time of day as HH:MM (00:00-23:59)")


def _check_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ma.ValidationError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
        ) from None


class _Weekday(ma.fields.String):
    """`mon` ... `sun`, any case; loaded lower-case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        day = super()._deserialize(value, attr, data, **kwargs).strip().lower()
        if day not in WEEKDAYS:
            raise ma.ValidationError(f"unknown weekday {value!r} (use {', '.join(WEEKDAYS)})")
        return day


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BusinessHours(FlowPolicy):
    """Runs are accepted on `weekdays` between `start` (inclusive) and `end` (exclusive),
    local time in `timezone`.

    The clock is injectable: `BusinessHours(clock=lambda: some_aware_datetime, **options)`,
    or replace the class attribute `clock` to affect instances Ingress builds.
    """

    name = "business_hours"
    description = "accepts runs only during business hours in a time zone"

    #: Returns "now" as an aware datetime (a naive one is taken as UTC).
    clock: Callable[[], datetime] = staticmethod(_utc_now)

    class Options(FlowPolicy.Options):
        start = ma.fields.String(load_default="08:00", validate=_check_clock_time)
        end = ma.fields.String(load_default="18:00", validate=_check_clock_time)
        timezone = ma.fields.String(load_default="UTC", validate=_check_timezone)
        weekdays = ma.fields.List(
            _Weekday(), load_default=lambda: list(WEEKDAYS[:5]), validate=validate.Length(min=1)
        )

        @ma.validates_schema
        def _start_before_end(self, data: dict[str, Any], **kwargs: Any) -> None:
            if data["start"] >= data["end"]:  # zero-padded HH:MM sorts as text
                raise ma.ValidationError(
                    f"must be later than start ({data['start']})", field_name="end"
                )

    def __init__(self, clock: Callable[[], datetime] | None = None, **options: Any):
        super().__init__(**options)
        if clock is not None:
            self.clock = clock
        self._zone = ZoneInfo(options["timezone"])
        self._start = time.fromisoformat(options["start"])
        self._end = time.fromisoformat(options["end"])

    def evaluate(self, flow: Flow, ctx: PolicyContext) -> Decision:
        now = self.clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        local = now.astimezone(self._zone)
        day = WEEKDAYS[local.weekday()]
        if day in self.options["weekdays"] and self._start <= local.time() < self._end:
            return Decision.allow()
        return Decision.deny(
            f"runs are accepted {'/'.join(self.options['weekdays'])} "
            f"{self.options['start']}-{self.options['end']} {self.options['timezone']}; "
            f"it is {day} {local:%H:%M} there"
        )
