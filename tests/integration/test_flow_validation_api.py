"""Flow (DAG) validation through POST /v1/runs: 400 with every problem, nothing stored."""

from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.integration.conftest import assert_error, assert_nothing_stored


@pytest.fixture
def client(quiet_client):
    """Invalid flows store nothing, so one app serves the module."""
    return quiet_client


def task(task_id: str, *deps: str, **fields) -> dict:
    return {"id": task_id, "type": "tool", "depends_on": list(deps), **fields}


def post_flow(client, flow: dict):
    return client.post("/v1/runs", json={"flow_definition": flow}, headers=auth())


def problems_of(response) -> list[dict]:
    body = assert_error(response, 400, "Validation failed")
    problems = body["detail"]["problems"]
    assert problems and all(set(p) == {"path", "message"} for p in problems), problems
    return problems


def has_problem(problems: list[dict], path: str, fragment: str) -> bool:
    return any(p["path"] == path and fragment in p["message"] for p in problems)


def test_flow_without_tasks_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "tasks": []}))

    assert has_problem(problems, "flow_definition.tasks", "empty")
    assert_nothing_stored(pg)


def test_flow_missing_tasks_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f"}))

    assert has_problem(problems, "flow_definition.tasks", "required")
    assert_nothing_stored(pg)


def test_duplicate_task_ids_are_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "tasks": [task("a"), task("a")]}))

    assert has_problem(problems, "flow_definition.tasks[1].id", "duplicate task id 'a'")
    assert_nothing_stored(pg)


def test_unknown_dependency_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "tasks": [task("a", "ghost")]}))

    assert has_problem(problems, "flow_definition.tasks[0].depends_on[0]", "unknown task 'ghost'")
    assert_nothing_stored(pg)


def test_self_dependency_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "tasks": [task("a", "a")]}))

    assert has_problem(problems, "flow_definition.tasks[0].depends_on[0]", "itself")
    assert_nothing_stored(pg)


def test_cycle_is_400_and_the_detail_names_the_cycle(client, pg):
    flow = {"id": "f", "tasks": [task("a", "b"), task("b", "c"), task("c", "a"), task("d")]}

    problems = problems_of(post_flow(client, flow))

    assert has_problem(problems, "flow_definition.tasks", "cycle: a -> b -> c -> a")
    assert_nothing_stored(pg)


def test_retries_of_the_wrong_type_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "tasks": [task("a", retries="x")]}))

    assert has_problem(problems, "flow_definition.tasks[0].retries", "integer")
    assert_nothing_stored(pg)


@pytest.mark.parametrize("timeout", [0, -1])
def test_non_positive_timeout_is_400(client, pg, timeout):
    problems = problems_of(
        post_flow(client, {"id": "f", "tasks": [task("a", timeout_seconds=timeout)]})
    )

    assert has_problem(problems, "flow_definition.tasks[0].timeout_seconds", "> 0")
    assert_nothing_stored(pg)


def test_negative_retries_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "tasks": [task("a", retries=-1)]}))

    assert any(p["path"] == "flow_definition.tasks[0].retries" for p in problems)
    assert_nothing_stored(pg)


def test_unsupported_flow_type_is_400(client, pg):
    problems = problems_of(post_flow(client, {"id": "f", "type": "LINEAR", "tasks": [task("a")]}))

    assert has_problem(problems, "flow_definition.type", "LINEAR")
    assert_nothing_stored(pg)


def test_flow_definition_that_is_not_an_object_is_400(client, pg):
    response = client.post("/v1/runs", json={"flow_definition": [task("a")]}, headers=auth())

    assert_error(response, 400)
    assert_nothing_stored(pg)


def test_several_problems_are_all_listed_with_their_paths(client, pg):
    flow = {
        "id": "f",
        "type": "LINEAR",
        "tasks": [
            {"id": "a"},  # no type
            task("a", "ghost"),  # duplicate id, unknown dependency
            task("b", retries="x", timeout_seconds=0),
        ],
    }

    problems = problems_of(post_flow(client, flow))

    expected = [
        ("flow_definition.type", "LINEAR"),
        ("flow_definition.tasks[0].type", "required"),
        ("flow_definition.tasks[1].id", "duplicate"),
        ("flow_definition.tasks[1].depends_on[0]", "ghost"),
        ("flow_definition.tasks[2].retries", "integer"),
        ("flow_definition.tasks[2].timeout_seconds", "> 0"),
    ]
    for path, fragment in expected:
        assert has_problem(problems, path, fragment), (path, problems)
    assert_nothing_stored(pg)


def test_flow_id_disagreeing_with_the_inline_definition_is_400(client, pg):
    response = client.post(
        "/v1/runs",
        json={"flow_id": "other", "flow_definition": {"id": "f", "tasks": [task("a")]}},
        headers=auth(),
    )

    assert has_problem(problems_of(response), "flow_id", "does not match")
    assert_nothing_stored(pg)


def test_unknown_flow_id_without_definition_is_404(client, pg):
    response = client.post("/v1/runs", json={"flow_id": "not-registered"}, headers=auth())

    body = assert_error(response, 404, "Not found")
    assert "not-registered" in body["detail"]
    assert_nothing_stored(pg)


def test_neither_flow_id_nor_flow_definition_is_400(client, pg):
    response = client.post("/v1/runs", json={"input": {"a": 1}}, headers=auth())

    assert has_problem(problems_of(response), "flow_id", "flow_definition")
    assert_nothing_stored(pg)


def test_valid_flow_is_stored_normalised_with_defaults(fresh_client, pg):
    response = post_flow(fresh_client, {"id": "f", "tasks": [{"id": "a", "type": "llm", "x": 1}]})

    assert response.status_code == 202
    stored = pg.execute("SELECT flow_definition FROM flow_runs_audit").fetchone()
    (stored_task,) = stored["flow_definition"]["tasks"]
    assert stored_task["retries"] == 0
    assert stored_task["timeout_seconds"] == 300
    assert stored_task["x"] == 1  # unknown task fields pass through


@pytest.mark.parametrize("path", ["/v1/runs", "/v1/runs/validate", "/v1/flows"])
def test_a_flow_with_thousands_of_problems_lists_100_and_counts_them_all(client, pg, path):
    tasks = [task(f"t{i}", *(f"m{i}-{j}" for j in range(60)), type="llm") for i in range(1000)]
    flow = {"id": "huge", "version": "1", "type": "DAG", "tasks": tasks}
    body = {"flow_definition": flow} if path.startswith("/v1/runs") else flow

    response = client.post(path, json=body, headers=auth())

    detail = assert_error(response, 400)["detail"]
    assert len(detail["problems"]) == 100
    assert detail["problem_count"] == 60_000
    assert len(response.get_data()) < 50_000
    assert_nothing_stored(pg)


def test_a_few_problems_are_all_listed_with_their_count(client):
    flow = {"id": "f", "type": "DAG", "tasks": [task("a", "ghost"), task("a")]}

    detail = assert_error(post_flow(client, flow), 400)["detail"]

    assert detail["problem_count"] == len(detail["problems"]) == 2


def test_policy_violations_are_capped_the_same_way(client, pg):
    tasks = [task(f"t{i}", type="llm", retries=50) for i in range(1000)]
    flow = {"id": "retry-happy", "type": "DAG", "tasks": tasks}

    response = post_flow(client, flow)

    detail = assert_error(response, 403)["detail"]
    assert len(detail["violations"]) == 100
    assert detail["violation_count"] == 1000
    assert_nothing_stored(pg)
