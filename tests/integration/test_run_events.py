"""Status events from the orchestrator, applied on PostgreSQL + Redis (no Kafka needed).

`apply_run_event` is what `flask --app wsgi events consume` calls for every message;
these tests call it directly inside an app context and look at the rows and at GET.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingress_app.runs.events import InvalidEvent, apply_run_event
from tests.conftest import auth, sample_flow

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def create_run(client, tenant: str = "acme") -> str:
    response = client.post(
        "/v1/runs", json={"flow_definition": sample_flow()}, headers=auth(tenant)
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["run_id"]


def make_event(run_id: str, status: str, *, at: datetime = T0, **fields) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "run_id": run_id,
        "tenant_id": "acme",
        "status": status,
        "occurred_at": at.isoformat(),
    }
    event.update(fields)
    return event


def apply(app, event) -> str:
    with app.app_context():
        return apply_run_event(event)


def run_row(pg, run_id: str) -> dict:
    return pg.execute("SELECT * FROM flow_runs_audit WHERE run_id = %s", (run_id,)).fetchone()


def event_rows(pg, run_id: str | None = None) -> list[dict]:
    if run_id is None:
        return pg.execute("SELECT * FROM run_events ORDER BY id").fetchall()
    return pg.execute(
        "SELECT * FROM run_events WHERE run_id = %s ORDER BY id", (run_id,)
    ).fetchall()


def get_run(client, run_id: str) -> dict:
    response = client.get(f"/v1/runs/{run_id}", headers=auth())
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def run_id(client) -> str:
    return create_run(client)


# --------------------------------------------------------------------------- run status


def test_running_event_is_applied(app, pg, run_id):
    outcome = apply(app, make_event(run_id, "RUNNING"))

    assert outcome == "applied"
    assert run_row(pg, run_id)["status"] == "RUNNING"


def test_succeeded_event_stores_the_output(app, pg, run_id):
    apply(app, make_event(run_id, "RUNNING"))

    outcome = apply(app, make_event(run_id, "SUCCEEDED", output={"answer": 42, "tags": ["a"]}))

    assert outcome == "applied"
    row = run_row(pg, run_id)
    assert row["status"] == "SUCCEEDED"
    assert row["output_data"] == {"answer": 42, "tags": ["a"]}
    assert row["error_message"] is None


def test_failed_event_stores_the_error_message(app, pg, run_id):
    apply(app, make_event(run_id, "FAILED", error="classify: model timed out"))

    row = run_row(pg, run_id)
    assert row["status"] == "FAILED"
    assert row["error_message"] == "classify: model timed out"


def test_applied_event_moves_updated_at(app, pg, run_id):
    before = run_row(pg, run_id)["updated_at"]

    apply(app, make_event(run_id, "RUNNING"))

    assert run_row(pg, run_id)["updated_at"] > before


def test_applied_event_is_kept_in_run_events(app, pg, run_id):
    event = make_event(run_id, "RUNNING")

    apply(app, event)

    (row,) = event_rows(pg, run_id)
    assert row["event_id"] == event["event_id"]
    assert row["tenant_id"] == "acme"
    assert row["status"] == "RUNNING"
    assert row["task_id"] is None
    assert row["outcome"] == "applied"
    assert row["occurred_at"] == T0


def test_cancelled_event_after_cancel_request_is_applied(client, app, pg, run_id):
    assert client.post(f"/v1/runs/{run_id}/cancel", headers=auth()).status_code == 202

    outcome = apply(app, make_event(run_id, "CANCELLED"))

    assert outcome == "applied"
    assert run_row(pg, run_id)["status"] == "CANCELLED"


def test_occurred_at_with_z_suffix_is_accepted(app, pg, run_id):
    outcome = apply(app, make_event(run_id, "RUNNING", occurred_at="2025-06-01T12:00:00Z"))

    assert outcome == "applied"
    assert event_rows(pg, run_id)[0]["occurred_at"] == T0


def test_occurred_at_without_offset_is_read_as_utc(app, pg, run_id):
    apply(app, make_event(run_id, "RUNNING", occurred_at="2025-06-01T12:00:00"))

    assert event_rows(pg, run_id)[0]["occurred_at"] == T0


# --------------------------------------------------------------------------- idempotency


def test_duplicate_event_id_is_reported_as_duplicate(app, run_id):
    event = make_event(run_id, "RUNNING")
    apply(app, event)

    assert apply(app, event) == "duplicate"


def test_duplicate_event_id_keeps_one_row_in_run_events(app, pg, run_id):
    event = make_event(run_id, "RUNNING")

    apply(app, event)
    apply(app, event)

    assert len(event_rows(pg, run_id)) == 1


def test_duplicate_event_id_with_other_content_changes_nothing(app, pg, run_id):
    event = make_event(run_id, "RUNNING")
    apply(app, event)
    updated_at = run_row(pg, run_id)["updated_at"]

    outcome = apply(app, {**event, "status": "FAILED", "error": "late copy"})

    assert outcome == "duplicate"
    row = run_row(pg, run_id)
    assert (row["status"], row["error_message"], row["updated_at"]) == ("RUNNING", None, updated_at)


# --------------------------------------------------------------------------- never backwards


def test_terminal_run_does_not_go_back_to_running(app, pg, run_id):
    apply(app, make_event(run_id, "SUCCEEDED", output={"ok": True}))

    outcome = apply(app, make_event(run_id, "RUNNING"))

    assert outcome == "ignored"
    row = run_row(pg, run_id)
    assert row["status"] == "SUCCEEDED"
    assert row["output_data"] == {"ok": True}


@pytest.mark.parametrize("terminal", ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"])
@pytest.mark.parametrize("later", ["PENDING", "RUNNING", "CANCEL_REQUESTED", "SUCCEEDED", "FAILED"])
def test_terminal_status_never_changes(app, pg, run_id, terminal, later):
    apply(app, make_event(run_id, terminal))

    outcome = apply(app, make_event(run_id, later, error="should not be stored"))

    assert outcome == "ignored"
    row = run_row(pg, run_id)
    assert row["status"] == terminal
    assert row["error_message"] is None


def test_ignored_event_does_not_move_updated_at(app, pg, run_id):
    apply(app, make_event(run_id, "SUCCEEDED"))
    updated_at = run_row(pg, run_id)["updated_at"]

    apply(app, make_event(run_id, "RUNNING"))

    assert run_row(pg, run_id)["updated_at"] == updated_at


def test_ignored_event_is_kept_in_run_events_as_ignored(app, pg, run_id):
    apply(app, make_event(run_id, "SUCCEEDED"))
    late = make_event(run_id, "RUNNING")

    apply(app, late)

    outcomes = {row["event_id"]: row["outcome"] for row in event_rows(pg, run_id)}
    assert outcomes[late["event_id"]] == "ignored"


def test_running_run_does_not_go_back_to_pending(app, pg, run_id):
    apply(app, make_event(run_id, "RUNNING"))

    assert apply(app, make_event(run_id, "PENDING")) == "ignored"
    assert run_row(pg, run_id)["status"] == "RUNNING"


def test_repeated_status_with_a_new_event_id_is_ignored(app, run_id):
    apply(app, make_event(run_id, "RUNNING"))

    assert apply(app, make_event(run_id, "RUNNING")) == "ignored"


# --------------------------------------------------------------------------- skipped events


def test_event_for_an_unknown_run_is_reported_as_unknown_run(app):
    assert apply(app, make_event(str(uuid.uuid4()), "RUNNING")) == "unknown_run"


def test_event_for_an_unknown_run_stores_nothing(app, pg):
    apply(app, make_event(str(uuid.uuid4()), "RUNNING"))

    assert event_rows(pg) == []


def test_event_with_another_tenant_is_invalid(app, run_id):
    with pytest.raises(InvalidEvent):
        apply(app, make_event(run_id, "RUNNING", tenant_id="globex"))


def test_event_with_another_tenant_changes_nothing(app, pg, run_id):
    with pytest.raises(InvalidEvent):
        apply(app, make_event(run_id, "FAILED", tenant_id="globex", error="x"))

    assert run_row(pg, run_id)["status"] == "PENDING"
    assert event_rows(pg) == []


@pytest.mark.parametrize("missing", ["event_id", "run_id", "tenant_id", "status", "occurred_at"])
def test_event_missing_a_required_field_is_invalid(app, run_id, missing):
    event = make_event(run_id, "RUNNING")
    del event[missing]

    with pytest.raises(InvalidEvent):
        apply(app, event)


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "DONE"},
        {"status": "running"},
        {"status": "SKIPPED"},  # a task status, not a run status
        {"status": None},
        {"occurred_at": "yesterday"},
        {"occurred_at": "2025-13-01T00:00:00Z"},
        {"occurred_at": 1717243200},
        {"occurred_at": ""},
        {"event_id": ""},
        {"event_id": 7},
        {"event_id": "e" * 256},
        {"run_id": ["a"]},
        {"tenant_id": None},
        {"task_id": ""},
        {"task_id": 3},
        {"error": {"message": "not a string"}},
    ],
    ids=repr,
)
def test_malformed_event_is_invalid(app, run_id, changes):
    event = {**make_event(run_id, "RUNNING"), **changes}

    with pytest.raises(InvalidEvent):
        apply(app, event)


@pytest.mark.parametrize("raw", [None, "RUNNING", 42, ["RUNNING"], b"{}"], ids=repr)
def test_event_that_is_not_a_json_object_is_invalid(app, raw):
    with pytest.raises(InvalidEvent):
        apply(app, raw)


def test_malformed_event_stores_nothing(app, pg, run_id):
    with pytest.raises(InvalidEvent):
        apply(app, make_event(run_id, "BOGUS"))

    assert run_row(pg, run_id)["status"] == "PENDING"
    assert event_rows(pg) == []


# --------------------------------------------------------------------------- task events


def test_task_event_is_shown_in_the_runs_tasks(client, app, run_id):
    apply(app, make_event(run_id, "RUNNING", task_id="classify"))

    tasks = get_run(client, run_id)["tasks"]

    assert tasks == {"classify": {"status": "RUNNING", "updated_at": T0.isoformat()}}


def test_task_event_keeps_output_and_error(client, app, run_id):
    apply(app, make_event(run_id, "SUCCEEDED", task_id="classify", output={"label": "billing"}))
    apply(app, make_event(run_id, "FAILED", task_id="route", error="no route for billing"))

    tasks = get_run(client, run_id)["tasks"]

    assert tasks["classify"] == {
        "status": "SUCCEEDED",
        "updated_at": T0.isoformat(),
        "output": {"label": "billing"},
    }
    assert tasks["route"] == {
        "status": "FAILED",
        "updated_at": T0.isoformat(),
        "error": "no route for billing",
    }


def test_task_event_does_not_change_the_run_status(app, pg, run_id):
    apply(app, make_event(run_id, "FAILED", task_id="classify", error="boom"))

    row = run_row(pg, run_id)
    assert row["status"] == "PENDING"
    assert row["error_message"] is None


def test_task_event_moves_the_runs_updated_at(app, pg, run_id):
    before = run_row(pg, run_id)["updated_at"]

    apply(app, make_event(run_id, "RUNNING", task_id="classify"))

    assert run_row(pg, run_id)["updated_at"] > before


def test_task_event_is_kept_in_run_events_with_its_task_id(app, pg, run_id):
    apply(app, make_event(run_id, "RUNNING", task_id="classify"))

    (row,) = event_rows(pg, run_id)
    assert (row["task_id"], row["status"], row["outcome"]) == ("classify", "RUNNING", "applied")


def test_later_task_event_replaces_the_tasks_state(client, app, run_id):
    apply(app, make_event(run_id, "RUNNING", task_id="classify", at=T0))
    apply(app, make_event(run_id, "RETRYING", task_id="classify", at=T0 + timedelta(seconds=5)))

    task = get_run(client, run_id)["tasks"]["classify"]

    assert task["status"] == "RETRYING"
    assert task["updated_at"] == (T0 + timedelta(seconds=5)).isoformat()


@pytest.mark.parametrize("final", ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "SKIPPED"])
def test_finished_task_does_not_go_back(client, app, run_id, final):
    apply(app, make_event(run_id, final, task_id="classify", at=T0))

    outcome = apply(
        app, make_event(run_id, "RUNNING", task_id="classify", at=T0 + timedelta(seconds=1))
    )

    assert outcome == "ignored"
    assert get_run(client, run_id)["tasks"]["classify"]["status"] == final


def test_task_event_older_than_the_stored_state_is_ignored(client, app, run_id):
    apply(app, make_event(run_id, "RETRYING", task_id="classify", at=T0 + timedelta(seconds=5)))

    outcome = apply(app, make_event(run_id, "RUNNING", task_id="classify", at=T0))

    assert outcome == "ignored"
    assert get_run(client, run_id)["tasks"]["classify"]["status"] == "RETRYING"


def test_task_events_of_different_tasks_are_kept_apart(client, app, run_id):
    apply(app, make_event(run_id, "SUCCEEDED", task_id="classify"))
    apply(app, make_event(run_id, "RUNNING", task_id="route"))

    tasks = get_run(client, run_id)["tasks"]

    assert {task_id: t["status"] for task_id, t in tasks.items()} == {
        "classify": "SUCCEEDED",
        "route": "RUNNING",
    }


def test_unknown_task_status_is_invalid(app, run_id):
    with pytest.raises(InvalidEvent):
        apply(app, make_event(run_id, "PAUSED", task_id="classify"))


# --------------------------------------------------------------------------- audit and cache


def test_status_change_records_a_run_status_changed_audit_event(app, pg, run_id):
    event = make_event(run_id, "RUNNING")

    apply(app, event)

    (audit,) = pg.execute(
        "SELECT * FROM audit_events WHERE action = 'run.status_changed' AND resource_id = %s",
        (run_id,),
    ).fetchall()
    assert audit["tenant_id"] == "acme"
    assert audit["actor"] == "orchestrator"
    assert audit["outcome"] == "applied"
    assert audit["detail"] == {"from": "PENDING", "to": "RUNNING", "event_id": event["event_id"]}
    assert audit["correlation_id"] == run_row(pg, run_id)["correlation_id"]


def test_ignored_event_records_no_audit_event(app, pg, run_id):
    apply(app, make_event(run_id, "SUCCEEDED"))

    apply(app, make_event(run_id, "RUNNING"))

    count = pg.execute(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'run.status_changed'"
    ).fetchone()["n"]
    assert count == 1


def cache_get_run_then_hide_a_change(client, pg, run_id) -> None:
    """GET (so the run is cached), then prove later GETs come from the cache."""
    assert get_run(client, run_id)["status"] == "PENDING"
    pg.execute("UPDATE flow_runs_audit SET error_message = 'hidden' WHERE run_id = %s", (run_id,))
    assert get_run(client, run_id)["error"] is None


def test_get_shows_the_new_status_although_the_run_was_cached(client, app, pg, run_id):
    cache_get_run_then_hide_a_change(client, pg, run_id)

    apply(app, make_event(run_id, "RUNNING"))

    shown = get_run(client, run_id)
    assert shown["status"] == "RUNNING"
    assert shown["error"] == "hidden"


def test_get_shows_task_progress_although_the_run_was_cached(client, app, pg, run_id):
    cache_get_run_then_hide_a_change(client, pg, run_id)

    apply(app, make_event(run_id, "RUNNING", task_id="classify"))

    assert get_run(client, run_id)["tasks"]["classify"]["status"] == "RUNNING"


def test_get_shows_output_of_a_succeeded_run(client, app, run_id):
    apply(app, make_event(run_id, "SUCCEEDED", output={"answer": 42}))

    shown = get_run(client, run_id)

    assert shown["status"] == "SUCCEEDED"
    assert shown["output"] == {"answer": 42}
