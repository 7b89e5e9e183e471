"""The flow registry API: register, version, search, deprecate — per tenant."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, count
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways

FLOWS = "/v1/flows"


def flow(flow_id: str = "support-triage", **fields) -> dict:
    body = sample_flow(flow_id)
    body.update(fields)
    return body


def unversioned(flow_id: str = "support-triage", **fields) -> dict:
    body = flow(flow_id, **fields)
    del body["version"]
    return body


def register(client, body: dict, tenant: str = "acme", user: str = "alice", status: int = 201):
    response = client.post(FLOWS, json=body, headers=auth(tenant, user))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def problems_of(response) -> list[dict]:
    return assert_error(response, 400, "Validation failed")["detail"]["problems"]


def paths_of(response) -> set[str]:
    return {problem["path"] for problem in problems_of(response)}


def audit_actions(pg, tenant: str = "acme") -> list[str]:
    rows = pg.execute(
        "SELECT action FROM audit_events WHERE tenant_id = %s ORDER BY id", (tenant,)
    ).fetchall()
    return [row["action"] for row in rows]


def list_flows(client, tenant: str = "acme", **params) -> dict:
    response = client.get(FLOWS, query_string=params, headers=auth(tenant))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def flow_ids(listing: dict) -> list[str]:
    return [item["flow_id"] for item in listing["items"]]


# --------------------------------------------------------------------------- registering


def test_register_answers_201_with_the_stored_version(client):
    response = client.post(FLOWS, json=flow(), headers=auth("acme", "alice"))

    assert response.status_code == 201
    stored = response.get_json()
    assert stored["flow_id"] == "support-triage" and stored["version"] == "3"
    assert stored["tenant_id"] == "acme" and stored["created_by"] == "alice"
    assert stored["created_at"] and stored["deprecated"] is False
    assert response.headers["Location"] == "/v1/flows/support-triage/versions/3"


def test_the_stored_definition_is_the_normalised_flow(client, pg):
    body = {"id": "tiny", "version": "1", "tasks": [{"id": "only", "type": "tool", "x": 1}]}

    stored = register(client, body)

    expected_task = {
        "id": "only",
        "type": "tool",
        "depends_on": [],
        "retries": 0,
        "timeout_seconds": 300,
        "config": {},
        "x": 1,
    }
    assert stored["flow_definition"] == {
        "id": "tiny",
        "version": "1",
        "type": "DAG",
        "tasks": [expected_task],
    }
    row = pg.execute("SELECT definition FROM flows").fetchone()
    assert row["definition"] == stored["flow_definition"]


def test_name_description_tags_and_metadata_are_kept(client):
    body = flow(
        name="Triage",
        description="Route support mail",
        tags=["support", "email"],
        metadata={"owner": {"team": "cx"}, "repo": "git@example.com:flows"},
    )

    stored = register(client, body)

    assert stored["name"] == "Triage" and stored["description"] == "Route support mail"
    assert stored["tags"] == ["email", "support"]  # a set: sorted, repeats dropped
    assert stored["metadata"] == {"owner": {"team": "cx"}, "repo": "git@example.com:flows"}
    assert "tags" not in stored["flow_definition"] and "metadata" not in stored["flow_definition"]
    assert stored["flow_definition"]["name"] == "Triage"


def test_an_integer_version_is_stored_as_a_string(client):
    assert register(client, flow(version=7))["version"] == "7"


def test_the_registration_is_audited(client, pg):
    register(client, flow(), user="bob")

    event = pg.execute("SELECT * FROM audit_events").fetchone()
    assert event["action"] == "flow.registered" and event["actor"] == "bob"
    assert event["resource_type"] == "flow" and event["resource_id"] == "support-triage"
    assert event["detail"]["version"] == "3"


def test_a_flow_tenant_id_of_the_callers_tenant_is_accepted(client):
    stored = register(client, flow(tenant_id="acme"))

    assert stored["flow_definition"]["tenant_id"] == "acme"


# --------------------------------------------------------------------------- immutability


def test_registering_the_same_version_with_the_same_content_answers_200(client, pg):
    first = register(client, flow(tags=["a", "b"]))

    again = register(client, flow(tags=["b", "a", "a"]), user="bob", status=200)

    assert again == first  # the stored version, created by alice
    assert count(pg, "flows") == 1
    assert audit_actions(pg) == ["flow.registered"]


def test_registering_the_same_version_with_other_content_is_409(client, pg):
    register(client, flow())
    changed = flow()
    changed["tasks"][0]["retries"] = 1

    response = client.post(FLOWS, json=changed, headers=auth())

    body = assert_error(response, 409, "Conflict")
    assert "immutable" in body["detail"]
    stored = client.get("/v1/flows/support-triage/versions/3", headers=auth()).get_json()
    assert stored["flow_definition"]["tasks"][0]["retries"] == 2


@pytest.mark.parametrize(
    "change", [{"tags": ["new"]}, {"metadata": {"k": "v"}}, {"description": "other"}], ids=repr
)
def test_other_tags_metadata_or_description_are_other_content(client, change):
    register(client, flow())

    assert_error(client.post(FLOWS, json=flow(**change), headers=auth()), 409)


# --------------------------------------------------------------------------- auto-versioning


def test_without_a_version_the_first_is_1(client):
    stored = register(client, unversioned())

    assert stored["version"] == "1"
    assert stored["flow_definition"]["version"] == "1"


def test_without_a_version_the_next_integer_is_assigned(client):
    register(client, unversioned())
    register(client, flow(version="7"))
    register(client, flow(version="beta", description="not a number"))

    stored = register(client, unversioned(description="changed"))

    assert stored["version"] == "8"


def test_without_a_version_the_same_content_as_the_latest_answers_200(client, pg):
    first = register(client, unversioned(tags=["x"]))

    again = register(client, unversioned(tags=["x"]), status=200)

    assert again["version"] == first["version"] == "1"
    assert count(pg, "flows") == 1


def test_without_a_version_content_of_an_older_version_makes_a_new_version(client):
    register(client, unversioned())  # 1
    register(client, unversioned(description="v2"))  # 2

    rollback = register(client, unversioned())

    assert rollback["version"] == "3"


# --------------------------------------------------------------------------- validation / policy


def test_an_invalid_flow_is_400_with_every_problem_and_nothing_stored(client, pg):
    body = {
        "id": "bad",
        "tasks": [
            {"id": "a", "type": "llm", "depends_on": ["b"]},
            {"id": "b", "type": "llm", "depends_on": ["a"]},
            {"id": "c", "type": "tool", "retries": -1},
        ],
        "tags": "not-a-list",
        "metadata": [1],
    }

    response = client.post(FLOWS, json=body, headers=auth())

    problems = problems_of(response)
    assert {"tasks[2].retries", "tags", "metadata"} <= {p["path"] for p in problems}
    assert any("cycle: a -> b -> a" in p["message"] for p in problems)
    assert count(pg, "flows") == 0


def test_a_flow_without_tasks_is_400(client):
    assert "tasks" in paths_of(client.post(FLOWS, json={"id": "x"}, headers=auth()))


def test_a_flow_without_id_is_400(client):
    body = {"tasks": [{"id": "a", "type": "llm"}]}

    assert "id" in paths_of(client.post(FLOWS, json=body, headers=auth()))


@pytest.mark.parametrize(
    "fields,path",
    [
        ({"id": "a/b"}, "id"),
        ({"version": "1/2"}, "version"),
        ({"version": "has space"}, "version"),
        ({"version": ""}, "version"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"tags": ["x" * 101]}, "tags[0]"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"tags": [1]}, "tags[0]"),
        ({"name": 5}, "name"),
    ],
    ids=repr,
)
def test_identifiers_tags_and_names_are_checked(client, pg, fields, path):
    response = client.post(FLOWS, json=flow(**fields), headers=auth())

    assert path in paths_of(response)
    assert count(pg, "flows") == 0


def test_a_policy_violation_is_403_with_the_violations_audited_and_nothing_stored(client, pg):
    body = flow()
    body["tasks"][0]["retries"] = 50  # the default retry_limit is 10

    response = client.post(FLOWS, json=body, headers=auth())

    violations = assert_error(response, 403, "Forbidden")["detail"]["violations"]
    assert [(v["policy"], v["task_id"]) for v in violations] == [("retry_limit", "classify")]
    assert count(pg, "flows") == 0
    assert audit_actions(pg) == ["flow.registration_denied"]


def test_a_flow_of_another_tenant_is_403(client, pg):
    response = client.post(FLOWS, json=flow(tenant_id="globex"), headers=auth("acme"))

    violations = assert_error(response, 403)["detail"]["violations"]
    assert violations[0]["policy"] == "tenant_isolation"
    assert count(pg, "flows") == 0


def test_registering_needs_a_token(client):
    assert_error(client.post(FLOWS, json=flow()), 401)


def test_a_body_that_is_not_json_is_415(client):
    response = client.post(FLOWS, data="id=x", headers={**auth(), "Content-Type": "text/plain"})

    assert_error(response, 415)


# --------------------------------------------------------------------------- concurrency


def register_concurrently(app, bodies: list[dict]) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict] | None] = [None] * len(bodies)

    def worker(index: int, body: dict) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(FLOWS, json=body, headers=auth())
        results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=worker, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(result is not None for result in results)
    return results


def test_concurrent_registration_of_one_new_version_with_other_content_one_wins(app, pg):
    bodies = [flow(description=f"variant {i}") for i in range(8)]

    results = register_concurrently(app, bodies)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 7
    (winner,) = [body for status, body in results if status == 201]
    row = pg.execute("SELECT description FROM flows").fetchone()
    assert count(pg, "flows") == 1 and row["description"] == winner["description"]
    assert audit_actions(pg) == ["flow.registered"]


def test_concurrent_registration_of_one_new_version_with_the_same_content_is_idempotent(app, pg):
    results = register_concurrently(app, [flow() for _ in range(8)])

    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({body["created_at"] for _, body in results}) == 1
    assert count(pg, "flows") == 1


def test_concurrent_unversioned_registrations_get_distinct_next_integers(app, pg):
    bodies = [unversioned(description=f"variant {i}") for i in range(6)]

    results = register_concurrently(app, bodies)

    assert [status for status, _ in results] == [201] * 6
    assert sorted(int(body["version"]) for _, body in results) == [1, 2, 3, 4, 5, 6]
    assert count(pg, "flows") == 6


# --------------------------------------------------------------------------- reading


def test_get_flow_shows_the_latest_version(client):
    register(client, flow(version="1"))
    register(client, flow(version="2", description="second"))

    response = client.get("/v1/flows/support-triage", headers=auth())

    assert response.status_code == 200
    latest = response.get_json()
    assert latest["version"] == "2" and latest["description"] == "second"
    assert latest["flow_definition"]["version"] == "2"


def test_latest_is_the_most_recently_registered_version(client):
    register(client, flow(version="2"))
    register(client, flow(version="1", description="registered after 2"))

    latest = client.get("/v1/flows/support-triage", headers=auth()).get_json()

    assert latest["version"] == "1"


def test_an_unknown_flow_is_404(client):
    body = assert_error(client.get("/v1/flows/nope", headers=auth()), 404, "Not found")

    assert "nope" in body["detail"]


def test_get_version_shows_that_version(client):
    register(client, flow(version="1"))
    register(client, flow(version="2", description="second"))

    response = client.get("/v1/flows/support-triage/versions/1", headers=auth())

    assert response.status_code == 200
    assert response.get_json()["version"] == "1"
    assert response.get_json()["description"] is None


def test_an_unknown_version_is_404(client):
    register(client, flow())

    assert_error(client.get("/v1/flows/support-triage/versions/9", headers=auth()), 404)


def test_versions_are_listed_newest_first_without_definitions(client):
    for version in ("1", "2", "3"):
        register(client, flow(version=version))

    response = client.get("/v1/flows/support-triage/versions", headers=auth())

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["version"] for item in items] == ["3", "2", "1"]
    assert all("flow_definition" not in item for item in items)


def test_versions_are_paginated(client):
    for version in range(1, 6):
        register(client, flow(version=version))

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            "/v1/flows/support-triage/versions", query_string=params, headers=auth()
        ).get_json()
        seen += [item["version"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ["5", "4", "3", "2", "1"]


def test_versions_of_an_unknown_flow_is_404(client):
    assert_error(client.get("/v1/flows/nope/versions", headers=auth()), 404)


def test_an_odd_flow_id_in_the_url_is_looked_up_verbatim(client):
    register(client, flow("with space", version="1"))

    response = client.get("/v1/flows/with%20space/versions/1", headers=auth())

    assert response.status_code == 200


# --------------------------------------------------------------------------- deprecation


def test_delete_marks_the_version_deprecated_and_keeps_it(client, pg):
    register(client, flow(version="1"))

    response = client.delete("/v1/flows/support-triage/versions/1", headers=auth("acme", "bob"))

    assert response.status_code == 200
    body = response.get_json()
    assert body["deprecated"] is True and body["deprecated_by"] == "bob"
    assert body["deprecated_at"] and body["flow_definition"]["version"] == "1"
    assert count(pg, "flows") == 1
    shown = client.get("/v1/flows/support-triage/versions/1", headers=auth()).get_json()
    assert shown["deprecated"] is True


def test_deprecating_again_changes_nothing(client, pg):
    register(client, flow(version="1"))
    first = client.delete("/v1/flows/support-triage/versions/1", headers=auth("acme", "bob"))

    again = client.delete("/v1/flows/support-triage/versions/1", headers=auth("acme", "carol"))

    assert again.status_code == 200
    assert again.get_json()["deprecated_at"] == first.get_json()["deprecated_at"]
    assert again.get_json()["deprecated_by"] == "bob"
    assert audit_actions(pg) == ["flow.registered", "flow.deprecated"]


def test_deprecating_an_unknown_version_is_404(client):
    register(client, flow(version="1"))

    assert_error(client.delete("/v1/flows/support-triage/versions/2", headers=auth()), 404)


def test_latest_skips_deprecated_versions(client):
    register(client, flow(version="1"))
    register(client, flow(version="2", description="second"))

    client.delete("/v1/flows/support-triage/versions/2", headers=auth())

    assert client.get("/v1/flows/support-triage", headers=auth()).get_json()["version"] == "1"


def test_a_flow_whose_every_version_is_deprecated_has_no_latest(client):
    register(client, flow(version="1"))
    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    body = assert_error(client.get("/v1/flows/support-triage", headers=auth()), 404)

    assert "deprecated" in body["detail"]


def test_deprecated_versions_stay_in_the_version_list(client):
    register(client, flow(version="1"))
    register(client, flow(version="2", description="second"))
    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    items = client.get("/v1/flows/support-triage/versions", headers=auth()).get_json()["items"]

    assert [(i["version"], i["deprecated"]) for i in items] == [("2", False), ("1", True)]


def test_re_registering_a_deprecated_version_answers_it_still_deprecated(client):
    register(client, flow(version="1"))
    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    again = register(client, flow(version="1"), status=200)

    assert again["deprecated"] is True


def test_unversioned_registration_after_deprecating_the_latest_makes_a_new_version(client):
    register(client, unversioned())  # 1
    client.delete("/v1/flows/support-triage/versions/1", headers=auth())

    stored = register(client, unversioned())

    assert stored["version"] == "2"


# --------------------------------------------------------------------------- list and search


def test_list_shows_each_flow_once_as_its_latest_version(client):
    register(client, flow("billing", version="1"))
    register(client, flow("support-triage", version="1"))
    register(client, flow("support-triage", version="2", description="second"))

    listing = list_flows(client)

    assert [(i["flow_id"], i["version"]) for i in listing["items"]] == [
        ("support-triage", "2"),
        ("billing", "1"),
    ]
    assert listing["next_cursor"] is None
    assert all("flow_definition" not in item for item in listing["items"])


def test_list_shows_the_latest_not_deprecated_version(client):
    register(client, flow("billing", version="1"))
    register(client, flow("billing", version="2", description="second"))
    client.delete("/v1/flows/billing/versions/2", headers=auth())

    (item,) = list_flows(client)["items"]

    assert item["version"] == "1"


def test_list_leaves_out_flows_whose_every_version_is_deprecated(client):
    register(client, flow("billing", version="1"))
    register(client, flow("support-triage", version="1"))
    client.delete("/v1/flows/billing/versions/1", headers=auth())

    assert flow_ids(list_flows(client)) == ["support-triage"]


def test_list_is_paginated_with_a_cursor(client):
    names = [f"flow-{i}" for i in range(7)]
    for name in names:
        register(client, flow(name, version="1"))

    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = list_flows(client, **params)
        assert len(page["items"]) <= 3
        seen += flow_ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(names))


@pytest.mark.parametrize(
    "q,expected",
    [
        ("TRIAGE", ["support-triage"]),  # the id, case-insensitive
        ("invoices", ["billing"]),  # the name
        ("angry", ["support-triage"]),  # the description
        ("e", ["support-triage", "billing"]),
        ("nothing-like-it", []),
        ("100%", ["billing"]),  # LIKE wildcards are literal
        ("_", []),
    ],
)
def test_search_q_matches_id_name_and_description(client, q, expected):
    register(client, flow("billing", version="1", name="Invoices", description="Bill 100% of it"))
    register(client, flow("support-triage", version="1", description="Calms ANGRY customers"))

    assert flow_ids(list_flows(client, q=q)) == expected


def test_search_looks_at_the_latest_version_only(client):
    register(client, flow("billing", version="1", name="Old name"))
    register(client, flow("billing", version="2", name="New name"))

    assert flow_ids(list_flows(client, q="old")) == []
    assert flow_ids(list_flows(client, q="new")) == ["billing"]


def test_tag_filter_keeps_flows_with_that_tag(client):
    register(client, flow("billing", version="1", tags=["finance", "nightly"]))
    register(client, flow("support-triage", version="1", tags=["support"]))
    register(client, flow("reports", version="1", tags=["finance"]))

    assert flow_ids(list_flows(client, tag="finance")) == ["reports", "billing"]
    assert flow_ids(list_flows(client, tag="fin")) == []
    assert flow_ids(list_flows(client, tag="finance", q="bill")) == ["billing"]


def test_an_unknown_list_parameter_is_400(client):
    assert_error(client.get(FLOWS, query_string={"tags": "x"}, headers=auth()), 400)


def test_a_forged_cursor_is_400(client):
    assert_error(client.get(FLOWS, query_string={"cursor": "bogus"}, headers=auth()), 400)


# --------------------------------------------------------------------------- tenant isolation


@pytest.fixture
def acme_flow(client):
    register(client, flow(version="1", tags=["shared"]), tenant="acme")
    return "support-triage"


def test_another_tenants_flows_are_not_listed(client, acme_flow):
    assert list_flows(client, tenant="globex")["items"] == []
    assert list_flows(client, tenant="globex", q="triage")["items"] == []
    assert list_flows(client, tenant="globex", tag="shared")["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/flows/support-triage",
        "/v1/flows/support-triage/versions",
        "/v1/flows/support-triage/versions/1",
    ],
)
def test_another_tenants_flow_is_404(client, acme_flow, path):
    assert_error(client.get(path, headers=auth("globex")), 404)


def test_another_tenant_cannot_deprecate_a_flow(client, acme_flow):
    response = client.delete("/v1/flows/support-triage/versions/1", headers=auth("globex"))

    assert_error(response, 404)
    assert client.get("/v1/flows/support-triage", headers=auth("acme")).status_code == 200


def test_tenants_register_the_same_flow_id_and_version_independently(client, pg, acme_flow):
    other = flow(version="1", description="globex's own")

    stored = register(client, other, tenant="globex")

    assert stored["tenant_id"] == "globex"
    acme = client.get("/v1/flows/support-triage", headers=auth("acme")).get_json()
    assert acme["description"] is None
    assert count(pg, "flows") == 2


def test_unversioned_numbering_is_per_tenant(client):
    register(client, unversioned(), tenant="acme")
    register(client, unversioned(description="2"), tenant="acme")

    assert register(client, unversioned(), tenant="globex")["version"] == "1"


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/v1/flows"),
        ("get", "/v1/flows/x"),
        ("get", "/v1/flows/x/versions"),
        ("get", "/v1/flows/x/versions/1"),
        ("delete", "/v1/flows/x/versions/1"),
    ],
)
def test_every_endpoint_needs_a_token(client, method, path):
    assert_error(getattr(client, method)(path), 401)


# --------------------------------------------------------------------------- the spec


def test_the_registry_is_in_the_openapi_spec(client):
    paths = client.get("/openapi.json").get_json()["paths"]

    assert {"get", "post"} <= set(paths["/v1/flows"])
    assert "get" in paths["/v1/flows/{flow_id}"]
    assert "get" in paths["/v1/flows/{flow_id}/versions"]
    assert {"get", "delete"} <= set(paths["/v1/flows/{flow_id}/versions/{version}"])
