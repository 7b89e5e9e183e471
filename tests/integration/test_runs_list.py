"""GET /v1/runs on PostgreSQL: newest first, keyset pagination, filters, tenant scoping."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

ERROR_KEYS = {"error", "detail"}


def create_run(
    client, tenant: str = "acme", flow_id: str = "support-triage", input: dict | None = None
) -> str:
    body = {"flow_definition": sample_flow(flow_id), "input": input or {"email": "a@example.com"}}
    response = client.post("/v1/runs", json=body, headers=auth(tenant))
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["run_id"]


def list_runs(client, tenant: str = "acme", **params):
    return client.get("/v1/runs", query_string=params, headers=auth(tenant))


def run_ids(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["run_id"] for item in response.get_json()["items"]]


def walk_pages(client, tenant: str = "acme", **params) -> list[list[str]]:
    """Follow next_cursor to the end; returns the run ids of every page."""
    pages: list[list[str]] = []
    cursor = None
    for _ in range(100):  # a guard against a cursor that never ends
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = list_runs(client, tenant, **query)
        pages.append(run_ids(response))
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination did not end")


def set_created_at(pg, run_id: str, stamp: str) -> None:
    pg.execute("UPDATE flow_runs_audit SET created_at = %s WHERE run_id = %s", (stamp, run_id))


def forged_cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def assert_error_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    return body


# --------------------------------------------------------------------------- order and shape


def test_list_returns_runs_newest_first(client):
    first, second, third = (create_run(client) for _ in range(3))

    assert run_ids(list_runs(client)) == [third, second, first]


def test_list_items_have_the_run_fields(client):
    run_id = create_run(client)

    response = list_runs(client)

    body = response.get_json()
    assert set(body) == {"items", "next_cursor"}
    (item,) = body["items"]
    assert item["run_id"] == run_id
    assert item["status"] == "PENDING"
    assert item["tenant_id"] == "acme"
    assert item["flow_id"] == "support-triage"
    assert {"created_at", "updated_at", "correlation_id", "error"} <= set(item)
    assert not {"input", "output", "tasks"} & set(item)  # only when asked (?include=)


def test_include_adds_input_output_and_tasks(client, pg):
    run_id = create_run(client)
    pg.execute(
        "UPDATE flow_runs_audit SET output_data = %s, tasks = %s WHERE run_id = %s",
        ('{"answer": 42}', '{"classify": {"status": "SUCCEEDED"}}', run_id),
    )

    (both,) = list_runs(client, include="input,output").get_json()["items"]
    (every,) = list_runs(client, include="input,output,tasks").get_json()["items"]

    assert both["output"] == {"answer": 42} and "input" in both and "tasks" not in both
    assert every["tasks"] == {"classify": {"status": "SUCCEEDED"}}
    assert every["input"] == client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()["input"]


def test_an_unknown_include_is_400(client):
    body = assert_error(list_runs(client, include="input,flow_definition"), 400)
    assert any(p["path"].startswith("include") for p in body["detail"]["problems"]), body


def test_a_page_of_large_runs_stays_small(client):
    big = {"blob": "x" * 200_000}
    for _ in range(5):
        create_run(client, input=big)

    response = list_runs(client)

    assert len(response.get_json()["items"]) == 5
    assert len(response.get_data()) < 10_000


def test_list_of_a_tenant_without_runs_is_empty(client):
    response = list_runs(client)

    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next_cursor": None}


# --------------------------------------------------------------------------- limit


def test_limit_defaults_to_20(client):
    for _ in range(21):
        create_run(client)

    response = list_runs(client)

    assert len(run_ids(response)) == 20
    assert response.get_json()["next_cursor"] is not None


def test_limit_of_100_is_allowed(client):
    create_run(client)

    assert list_runs(client, limit=100).status_code == 200


@pytest.mark.parametrize("limit", ["101", "0", "-1", "ten"])
def test_limit_outside_1_to_100_is_400(client, limit):
    body = assert_error_envelope(list_runs(client, limit=limit), 400)

    assert body["error"].startswith("Validation failed: limit ")


# --------------------------------------------------------------------------- pagination


def test_pagination_walks_every_run_once_in_order(client):
    created = [create_run(client) for _ in range(25)]

    pages = walk_pages(client, limit=10)

    assert [len(p) for p in pages] == [10, 10, 5]
    assert [run_id for p in pages for run_id in p] == created[::-1]


def test_pagination_breaks_created_at_ties_by_id(client, pg):
    created = [create_run(client) for _ in range(25)]
    pg.execute("UPDATE flow_runs_audit SET created_at = '2024-05-01T12:00:00+00:00'")

    pages = walk_pages(client, limit=7)

    flat = [run_id for p in pages for run_id in p]
    assert len(flat) == len(set(flat)) == 25
    assert flat == created[::-1]


def test_run_created_during_pagination_does_not_shift_later_pages(client):
    created = [create_run(client) for _ in range(6)]
    first = list_runs(client, limit=3).get_json()

    newer = create_run(client)
    second = list_runs(client, limit=3, cursor=first["next_cursor"])

    assert newer not in run_ids(second)
    assert run_ids(second) == created[2::-1]


def test_next_cursor_is_null_on_the_last_page(client):
    for _ in range(4):
        create_run(client)

    first = list_runs(client, limit=2).get_json()
    last = list_runs(client, limit=2, cursor=first["next_cursor"]).get_json()

    assert first["next_cursor"] is not None
    assert len(last["items"]) == 2
    assert last["next_cursor"] is None


def test_next_cursor_is_null_when_everything_fits_one_page(client):
    for _ in range(3):
        create_run(client)

    assert list_runs(client, limit=3).get_json()["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "é",
        forged_cursor({"a": 1, "b": 2}),
        forged_cursor(["2024-01-01T00:00:00", 1]),  # no UTC offset
        forged_cursor(["not a time", 1]),
        forged_cursor(["2024-01-01T00:00:00+00:00", "1"]),
        forged_cursor(["2024-01-01T00:00:00+00:00", 1.5]),
        forged_cursor(["2024-01-01T00:00:00+00:00", True]),
        forged_cursor(["2024-01-01T00:00:00+00:00", 2**40]),  # beyond the INTEGER id
        forged_cursor(["2024-01-01T00:00:00+00:00", 10**30]),
        forged_cursor(["2024-01-01T00:00:00+00:00", -1]),
        "x" * 600,
    ],
)
def test_garbage_cursor_is_400_with_the_error_envelope(client, cursor):
    create_run(client)

    assert_error_envelope(list_runs(client, cursor=cursor), 400)


# --------------------------------------------------------------------------- filters


def test_status_filter_lists_only_runs_in_that_status(client, pg):
    pending = create_run(client)
    running = create_run(client)
    pg.execute("UPDATE flow_runs_audit SET status = 'RUNNING' WHERE run_id = %s", (running,))

    assert run_ids(list_runs(client, status="RUNNING")) == [running]
    assert run_ids(list_runs(client, status="PENDING")) == [pending]
    assert run_ids(list_runs(client, status="FAILED")) == []


def test_unknown_status_filter_is_400(client):
    body = assert_error_envelope(list_runs(client, status="DONE"), 400)

    assert body["detail"]["problems"][0]["path"] == "status"


def test_flow_id_filter_lists_only_runs_of_that_flow(client):
    triage = create_run(client, flow_id="support-triage")
    billing = create_run(client, flow_id="billing")

    assert run_ids(list_runs(client, flow_id="billing")) == [billing]
    assert run_ids(list_runs(client, flow_id="support-triage")) == [triage]
    assert run_ids(list_runs(client, flow_id="nope")) == []


@pytest.fixture
def dated_runs(client, pg) -> dict[str, str]:
    """Three runs created on the first of January, February and March 2024 (UTC)."""
    runs = {}
    for month in ("01", "02", "03"):
        run_id = create_run(client)
        set_created_at(pg, run_id, f"2024-{month}-01T00:00:00+00:00")
        runs[month] = run_id
    return runs


def test_created_after_lists_runs_from_that_instant_on(client, dated_runs):
    ids = run_ids(list_runs(client, created_after="2024-01-15T00:00:00+00:00"))

    assert ids == [dated_runs["03"], dated_runs["02"]]


def test_created_before_lists_runs_before_that_instant(client, dated_runs):
    ids = run_ids(list_runs(client, created_before="2024-02-15T00:00:00Z"))

    assert ids == [dated_runs["02"], dated_runs["01"]]


def test_created_after_and_before_together_form_a_window(client, dated_runs):
    ids = run_ids(
        list_runs(
            client,
            created_after="2024-01-15T00:00:00+00:00",
            created_before="2024-02-15T00:00:00+00:00",
        )
    )

    assert ids == [dated_runs["02"]]


def test_created_window_is_half_open_after_inclusive_before_exclusive(client, dated_runs):
    ids = run_ids(
        list_runs(
            client,
            created_after="2024-02-01T00:00:00+00:00",
            created_before="2024-03-01T00:00:00+00:00",
        )
    )

    assert ids == [dated_runs["02"]]


def test_created_after_honours_the_utc_offset(client, dated_runs):
    # 2024-02-01T01:00+02:00 is 2024-01-31T23:00Z: the February run is after it.
    ids = run_ids(list_runs(client, created_after="2024-02-01T01:00:00+02:00"))

    assert ids == [dated_runs["03"], dated_runs["02"]]


def test_created_after_without_offset_is_read_as_utc(client, dated_runs):
    ids = run_ids(list_runs(client, created_after="2024-02-01T00:00:00"))

    assert ids == [dated_runs["03"], dated_runs["02"]]


@pytest.mark.parametrize("name", ["created_after", "created_before"])
def test_created_filter_that_is_not_iso_8601_is_400(client, name):
    body = assert_error_envelope(list_runs(client, **{name: "yesterday"}), 400)

    assert body["detail"]["problems"][0]["path"] == name


def test_filters_combine_with_pagination(client, pg):
    wanted = [create_run(client, flow_id="billing") for _ in range(5)]
    for _ in range(5):
        create_run(client, flow_id="support-triage")

    pages = walk_pages(client, limit=2, flow_id="billing")

    assert [run_id for p in pages for run_id in p] == wanted[::-1]


# --------------------------------------------------------------------------- tenants


def test_other_tenants_runs_are_never_listed(client):
    own = create_run(client, tenant="acme")
    create_run(client, tenant="globex")

    assert run_ids(list_runs(client, tenant="acme")) == [own]


def test_other_tenants_runs_are_not_listed_even_when_filters_match(client, pg):
    create_run(client, tenant="globex", flow_id="billing")
    pg.execute("UPDATE flow_runs_audit SET status = 'RUNNING'")

    assert run_ids(list_runs(client, tenant="acme", flow_id="billing", status="RUNNING")) == []


def test_a_cursor_from_another_tenant_does_not_reveal_its_runs(client):
    for _ in range(3):
        create_run(client, tenant="globex")
    own = create_run(client, tenant="acme")
    globex_cursor = list_runs(client, tenant="globex", limit=1).get_json()["next_cursor"]

    ids = run_ids(list_runs(client, tenant="acme", cursor=globex_cursor))

    assert set(ids) <= {own}


def test_list_without_a_token_is_401(client):
    response = client.get("/v1/runs")

    assert_error_envelope(response, 401)
