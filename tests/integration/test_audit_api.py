"""GET /v1/audit on PostgreSQL: accept, cancel, status-change and deny events of the tenant."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from ingress_app.runs.events import apply_run_event
from tests.conftest import auth, sample_flow

ERROR_KEYS = {"error", "detail"}
EVENT_FIELDS = {
    "event_id",
    "occurred_at",
    "tenant_id",
    "actor",
    "action",
    "resource_type",
    "resource_id",
    "correlation_id",
    "outcome",
    "detail",
}


def create_run(client, tenant: str = "acme", user: str = "alice", **headers) -> str:
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow()},
        headers={**auth(tenant, user), **headers},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["run_id"]


def audit(client, tenant: str = "acme", **params):
    return client.get("/v1/audit", query_string=params, headers=auth(tenant))


def items(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def actions(response) -> list[tuple[str, str | None]]:
    return [(item["action"], item["resource_id"]) for item in items(response)]


def apply_status(app, run_id: str, status: str, tenant: str = "acme") -> None:
    with app.app_context():
        outcome = apply_run_event(
            {
                "event_id": str(uuid.uuid4()),
                "run_id": run_id,
                "tenant_id": tenant,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        )
    assert outcome == "applied"


def deny(client, tenant: str = "acme", user: str = "alice", **headers):
    """A POST whose body names another tenant than the token: 403, recorded as a denial."""
    response = client.post(
        "/v1/runs",
        json={"flow_definition": sample_flow(), "tenant_id": "someone-else"},
        headers={**auth(tenant, user), **headers},
    )
    assert response.status_code == 403, response.get_data(as_text=True)
    return response


def assert_error_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    return body


# --------------------------------------------------------------------------- what is recorded


def test_accepted_run_is_listed_as_run_accepted(client):
    run_id = create_run(client, user="alice", **{"X-Correlation-ID": "corr-accept"})

    (event,) = items(audit(client))

    assert set(event) == EVENT_FIELDS
    assert event["action"] == "run.accepted"
    assert event["resource_type"] == "run"
    assert event["resource_id"] == run_id
    assert event["actor"] == "alice"
    assert event["tenant_id"] == "acme"
    assert event["outcome"] == "accepted"
    assert event["correlation_id"] == "corr-accept"
    assert event["detail"]["flow_id"] == "support-triage"


def test_cancel_is_listed_as_run_cancel_requested(client):
    run_id = create_run(client)
    client.post(
        f"/v1/runs/{run_id}/cancel",
        headers={**auth("acme", "bob"), "X-Correlation-ID": "corr-cancel"},
    )

    newest = items(audit(client))[0]

    assert newest["action"] == "run.cancel_requested"
    assert newest["resource_id"] == run_id
    assert newest["actor"] == "bob"
    assert newest["outcome"] == "accepted"
    assert newest["correlation_id"] == "corr-cancel"


def test_status_change_is_listed_as_run_status_changed(client, app):
    run_id = create_run(client)

    apply_status(app, run_id, "RUNNING")

    newest = items(audit(client))[0]
    assert newest["action"] == "run.status_changed"
    assert newest["resource_id"] == run_id
    assert newest["actor"] == "orchestrator"
    assert newest["detail"]["from"] == "PENDING"
    assert newest["detail"]["to"] == "RUNNING"


def test_body_tenant_mismatch_403_records_a_run_denied_event(client, pg):
    deny(client, user="mallory", **{"X-Correlation-ID": "corr-deny"})

    (row,) = pg.execute("SELECT * FROM audit_events").fetchall()
    assert row["action"] == "run.denied"
    assert row["tenant_id"] == "acme"
    assert row["actor"] == "mallory"
    assert row["outcome"] == "denied"
    assert row["correlation_id"] == "corr-deny"


def test_denial_is_listed_for_the_tokens_tenant(client):
    deny(client)

    (event,) = items(audit(client, tenant="acme"))

    assert event["action"] == "run.denied"
    assert event["outcome"] == "denied"
    assert event["resource_id"] == "support-triage"


def test_denial_is_not_listed_for_the_tenant_named_in_the_body(client):
    deny(client, tenant="acme")

    assert items(audit(client, tenant="someone-else")) == []


def test_lifecycle_is_listed_newest_first(client, app):
    run_id = create_run(client)
    apply_status(app, run_id, "RUNNING")
    client.post(f"/v1/runs/{run_id}/cancel", headers=auth())
    apply_status(app, run_id, "CANCELLED")

    assert actions(audit(client)) == [
        ("run.status_changed", run_id),
        ("run.cancel_requested", run_id),
        ("run.status_changed", run_id),
        ("run.accepted", run_id),
    ]


# --------------------------------------------------------------------------- tenant scoping


def test_other_tenants_events_are_never_listed(client, app):
    own = create_run(client, tenant="acme")
    other = create_run(client, tenant="globex")
    client.post(f"/v1/runs/{other}/cancel", headers=auth("globex"))
    apply_status(app, other, "CANCELLED", tenant="globex")
    deny(client, tenant="globex")

    assert actions(audit(client, tenant="acme")) == [("run.accepted", own)]


def test_run_id_filter_does_not_reach_another_tenants_run(client):
    other = create_run(client, tenant="globex")

    assert items(audit(client, tenant="acme", run_id=other)) == []


# --------------------------------------------------------------------------- filters


def test_run_id_filter_lists_only_that_runs_events(client):
    first = create_run(client)
    second = create_run(client)
    client.post(f"/v1/runs/{first}/cancel", headers=auth())

    listed = actions(audit(client, run_id=first))

    assert listed == [("run.cancel_requested", first), ("run.accepted", first)]
    assert second not in {resource for _, resource in listed}


def test_action_filter_lists_only_that_action(client):
    first = create_run(client)
    create_run(client)
    client.post(f"/v1/runs/{first}/cancel", headers=auth())
    deny(client)

    assert actions(audit(client, action="run.cancel_requested")) == [
        ("run.cancel_requested", first)
    ]
    assert [a for a, _ in actions(audit(client, action="run.denied"))] == ["run.denied"]
    assert len(items(audit(client, action="run.accepted"))) == 2


def test_run_id_and_action_filters_combine(client):
    first = create_run(client)
    second = create_run(client)
    for run_id in (first, second):
        client.post(f"/v1/runs/{run_id}/cancel", headers=auth())

    listed = actions(audit(client, run_id=second, action="run.cancel_requested"))

    assert listed == [("run.cancel_requested", second)]


def test_unknown_action_lists_nothing(client):
    create_run(client)

    assert items(audit(client, action="run.exploded")) == []


def test_misspelt_filter_is_400_not_an_unfiltered_list(client):
    create_run(client)

    assert_error_envelope(audit(client, acton="run.denied"), 400)


# --------------------------------------------------------------------------- pagination


def test_pagination_walks_every_event_once_newest_first(client):
    created = [create_run(client) for _ in range(25)]

    seen: list[str] = []
    cursor = None
    page_sizes = []
    for _ in range(10):
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        response = audit(client, **params)
        page = items(response)
        page_sizes.append(len(page))
        seen += [item["resource_id"] for item in page]
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            break

    assert page_sizes == [10, 10, 5]
    assert seen == created[::-1]


def test_audit_limit_defaults_to_20(client):
    for _ in range(21):
        create_run(client)

    response = audit(client)

    assert len(items(response)) == 20
    assert response.get_json()["next_cursor"] is not None


def test_audit_next_cursor_is_null_on_the_last_page(client):
    for _ in range(3):
        create_run(client)

    first = audit(client, limit=2).get_json()
    last = audit(client, limit=2, cursor=first["next_cursor"]).get_json()

    assert len(last["items"]) == 1
    assert last["next_cursor"] is None


def test_audit_limit_over_100_is_400(client):
    assert_error_envelope(audit(client, limit=101), 400)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        base64.urlsafe_b64encode(json.dumps(["2024-01-01T00:00:00+00:00", 10**30]).encode())
        .decode()
        .rstrip("="),
    ],
)
def test_audit_garbage_cursor_is_400(client, cursor):
    assert_error_envelope(audit(client, cursor=cursor), 400)


def test_audit_without_a_token_is_401(client):
    assert_error_envelope(client.get("/v1/audit"), 401)
