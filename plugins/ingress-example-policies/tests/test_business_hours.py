from datetime import UTC, datetime

import marshmallow as ma
import pytest
from ingress_example_policies import BusinessHours

from ingress_app.contracts import PolicyContext
from ingress_app.flows import parse_flow

CTX = PolicyContext(tenant_id="acme", user_id="alice")
FLOW = parse_flow({"id": "f", "tasks": [{"id": "a", "type": "llm"}]})


def at(iso: str):
    """A clock stuck at `iso` (an aware ISO timestamp)."""
    moment = datetime.fromisoformat(iso)
    return lambda: moment


def policy(now: str, **options) -> BusinessHours:
    return BusinessHours(clock=at(now), **BusinessHours.load_options(options))


def test_defaults_are_weekdays_eight_to_six_utc():
    assert BusinessHours.load_options({}) == {
        "start": "08:00",
        "end": "18:00",
        "timezone": "UTC",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
    }


@pytest.mark.parametrize(
    "now, kind",
    [
        ("2025-03-03T07:59:59+00:00", "deny"),  # Monday, before start
        ("2025-03-03T08:00:00+00:00", "allow"),  # start is inclusive
        ("2025-03-03T17:59:59+00:00", "allow"),
        ("2025-03-03T18:00:00+00:00", "deny"),  # end is exclusive
        ("2025-03-08T10:00:00+00:00", "deny"),  # Saturday
    ],
)
def test_boundaries_in_utc(now, kind):
    assert policy(now).evaluate(FLOW, CTX).kind == kind


def test_the_time_zone_decides_the_local_time():
    # 07:30 UTC on a Monday is 08:30 in Berlin (CET, UTC+1): open there, closed in UTC.
    assert policy("2025-03-03T07:30:00+00:00", timezone="Europe/Berlin").evaluate(FLOW, CTX).allowed
    assert not policy("2025-03-03T07:30:00+00:00").evaluate(FLOW, CTX).allowed


def test_the_time_zone_decides_the_local_weekday():
    # Friday 23:30 UTC is already Saturday in Tokyo.
    tokyo = policy("2025-03-07T23:30:00+00:00", timezone="Asia/Tokyo", start="00:00", end="23:59")

    decision = tokyo.evaluate(FLOW, CTX)
    assert decision.kind == "deny"
    assert "it is sat 08:30 there" in decision.violations[0].message


def test_weekdays_can_include_the_weekend_in_any_case():
    options = {"weekdays": ["Sat", "SUN"]}
    assert BusinessHours.load_options(options)["weekdays"] == ["sat", "sun"]
    assert policy("2025-03-08T10:00:00+00:00", **options).evaluate(FLOW, CTX).allowed
    assert not policy("2025-03-03T10:00:00+00:00", **options).evaluate(FLOW, CTX).allowed


def test_the_denial_says_when_runs_are_accepted():
    decision = policy("2025-03-08T10:15:00+00:00", timezone="Europe/Berlin").evaluate(FLOW, CTX)

    [violation] = decision.violations
    assert violation.message == (
        "runs are accepted mon/tue/wed/thu/fri 08:00-18:00 Europe/Berlin; it is sat 11:15 there"
    )
    assert violation.task_id is None


def test_a_naive_clock_is_taken_as_utc():
    naive = datetime(2025, 3, 3, 9, 0)
    assert (
        BusinessHours(clock=lambda: naive, **BusinessHours.load_options({}))
        .evaluate(FLOW, CTX)
        .allowed
    )


def test_the_class_clock_can_be_replaced(monkeypatch):
    monkeypatch.setattr(
        BusinessHours, "clock", staticmethod(lambda: datetime(2025, 3, 8, 10, tzinfo=UTC))
    )
    instance = BusinessHours(**BusinessHours.load_options({}))

    assert instance.evaluate(FLOW, CTX).kind == "deny"


@pytest.mark.parametrize("bad", ["8:00", "24:00", "08:60", "0800", "noon", ""])
def test_times_must_be_hh_mm(bad):
    with pytest.raises(ma.ValidationError) as exc:
        BusinessHours.load_options({"start": bad})
    assert exc.value.messages == {"start": [f"{bad!r} is not a time of day as HH:MM (00:00-23:59)"]}


@pytest.mark.parametrize("bad", ["Mars/Olympus", "Europe", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_rejected(bad):
    with pytest.raises(ma.ValidationError) as exc:
        BusinessHours.load_options({"timezone": bad})
    assert list(exc.value.messages) == ["timezone"]
    assert "unknown time zone" in exc.value.messages["timezone"][0]


def test_start_must_be_before_end():
    with pytest.raises(ma.ValidationError) as exc:
        BusinessHours.load_options({"start": "18:00", "end": "08:00"})
    assert exc.value.messages == {"end": ["must be later than start (18:00)"]}


@pytest.mark.parametrize("bad", [["funday"], [], "mon"])
def test_weekdays_must_be_a_non_empty_list_of_day_names(bad):
    with pytest.raises(ma.ValidationError) as exc:
        BusinessHours.load_options({"weekdays": bad})
    assert list(exc.value.messages) == ["weekdays"]
