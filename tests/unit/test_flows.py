"""Unit tests for ingress_app.flows (parsing, validation, the normalised model)."""

from __future__ import annotations

import pytest

from ingress_app.flows import Flow, FlowValidationError, Task, model, parse_flow


def task(task_id: str, *deps: str, **fields) -> dict:
    return {"id": task_id, "type": "tool", "depends_on": list(deps), **fields}


def flow(*tasks: dict, **fields) -> dict:
    return {"id": "f", "tasks": list(tasks), **fields}


def problems_of(data, **kwargs) -> list[dict]:
    with pytest.raises(FlowValidationError) as info:
        parse_flow(data, **kwargs)
    return info.value.problems


def assert_problem(problems: list[dict], path: str, fragment: str) -> None:
    matching = [p for p in problems if p["path"] == path]
    assert matching, f"no problem at {path!r}: {problems}"
    assert any(fragment in p["message"] for p in matching), problems


def cycles(problems: list[dict]) -> list[str]:
    return [p["message"] for p in problems if p["message"].startswith("cycle:")]


# --------------------------------------------------------------------------- #
# happy path


def test_design_doc_example_parses():
    data = {
        "id": "support-triage",
        "version": "3",
        "type": "DAG",
        "tenant_id": "acme",
        "tasks": [
            {
                "id": "classify",
                "type": "llm",
                "retries": 2,
                "timeout_seconds": 60,
                "config": {},
            },
            {
                "id": "route",
                "type": "tool",
                "depends_on": ["classify"],
                "retries": 0,
                "timeout_seconds": 30,
            },
        ],
    }
    f = parse_flow(data)
    assert f == Flow(
        id="support-triage",
        version="3",
        type="DAG",
        tenant_id="acme",
        tasks=(
            Task(id="classify", type="llm", retries=2, timeout_seconds=60),
            Task(id="route", type="tool", depends_on=("classify",), timeout_seconds=30),
        ),
    )


def test_defaults_are_filled_in():
    f = parse_flow({"id": "f", "tasks": [{"id": "a", "type": "llm"}]})
    assert f.version is None
    assert f.type == "DAG"
    assert f.tenant_id is None
    assert f.extra == {}
    (a,) = f.tasks
    assert a.name is None
    assert a.depends_on == ()
    assert a.retries == 0
    assert a.timeout_seconds == 300
    assert a.config == {}
    assert a.extra == {}


def test_to_dict_fills_defaults_and_omits_absent_optionals():
    assert parse_flow({"id": "f", "tasks": [{"id": "a", "type": "llm"}]}).to_dict() == {
        "id": "f",
        "type": "DAG",
        "tasks": [
            {
                "id": "a",
                "type": "llm",
                "depends_on": [],
                "retries": 0,
                "timeout_seconds": 300,
                "config": {},
            }
        ],
    }


def test_to_dict_key_order():
    data = {
        "tasks": [{"x-task": 1, "type": "llm", "id": "a", "name": "A"}],
        "x-flow": True,
        "description": "d",
        "tenant_id": "acme",
        "name": "n",
        "version": "1",
        "id": "f",
    }
    d = parse_flow(data).to_dict()
    assert list(d) == [
        "id",
        "version",
        "type",
        "tenant_id",
        "name",
        "description",
        "x-flow",
        "tasks",
    ]
    assert list(d["tasks"][0]) == [
        "id",
        "type",
        "name",
        "depends_on",
        "retries",
        "timeout_seconds",
        "config",
        "x-task",
    ]


def test_unknown_fields_are_passed_through():
    data = flow(task("a", labels={"team": "x"}), ui={"x": 1, "y": 2}, name="N", description="D")
    f = parse_flow(data)
    assert f.extra == {"name": "N", "description": "D", "ui": {"x": 1, "y": 2}}
    assert f.tasks[0].extra == {"labels": {"team": "x"}}
    d = f.to_dict()
    assert d["ui"] == {"x": 1, "y": 2}
    assert d["name"] == "N"
    assert d["tasks"][0]["labels"] == {"team": "x"}


def test_integer_version_is_normalised_to_string():
    assert parse_flow(flow(task("a"), version=3)).version == "3"


def test_null_optional_strings_mean_absent():
    data = flow(task("a", name=None), version=None, tenant_id=None, name=None)
    f = parse_flow(data)
    assert (f.version, f.tenant_id, f.extra, f.tasks[0].name) == (None, None, {}, None)


def test_to_dict_round_trip():
    data = flow(
        task("a", retries=2, config={"model": "m"}, name="A", x=[1]),
        task("b", "a", timeout_seconds=5),
        version=7,
        tenant_id="acme",
        description="d",
        meta={"k": "v"},
    )
    f = parse_flow(data)
    assert parse_flow(f.to_dict()) == f


def test_parse_does_not_alias_config_or_input():
    config = {"model": "m"}
    data = flow(task("a", config=config))
    f = parse_flow(data)
    config["model"] = "changed"
    assert f.tasks[0].config == {"model": "m"}
    f.to_dict()["tasks"][0]["config"]["model"] = "changed too"
    assert f.tasks[0].config == {"model": "m"}


def test_model_is_frozen():
    f = parse_flow(flow(task("a")))
    with pytest.raises(AttributeError):
        f.id = "other"  # type: ignore[misc]


def test_tasks_are_hashable():
    f = parse_flow(flow(task("a", config={"k": "v"})))
    assert hash(f.tasks[0]) == hash(f.tasks[0])


def test_subclasses_of_str_and_int_are_accepted():
    class Str(str):
        pass

    class Int(int):
        pass

    f = parse_flow(
        {
            "id": Str("f"),
            "tasks": [{"id": Str("a"), "type": Str("t"), "retries": Int(1)}],
        }
    )
    assert f.tasks[0].retries == 1


# --------------------------------------------------------------------------- #
# flow-level errors


@pytest.mark.parametrize("data", [None, [], "flow", 3])
def test_non_object_flow_is_rejected(data):
    assert problems_of(data) == [{"path": "flow_definition", "message": "must be an object"}]


def test_missing_tasks_is_rejected():
    assert_problem(problems_of({"id": "f"}), "flow_definition.tasks", "is required")


def test_tasks_not_a_list_is_rejected():
    assert_problem(
        problems_of({"id": "f", "tasks": {"a": {}}}),
        "flow_definition.tasks",
        "must be a list",
    )


def test_empty_tasks_is_rejected():
    assert_problem(
        problems_of({"id": "f", "tasks": []}),
        "flow_definition.tasks",
        "must not be empty",
    )


def test_missing_flow_id_is_rejected():
    assert_problem(problems_of({"tasks": [task("a")]}), "flow_definition.id", "is required")


def test_empty_flow_id_is_rejected():
    assert_problem(problems_of(flow(task("a"), id="")), "flow_definition.id", "must not be empty")


def test_non_string_flow_id_is_rejected():
    assert_problem(problems_of(flow(task("a"), id=5)), "flow_definition.id", "must be a string")


def test_overlong_flow_id_is_rejected():
    problems = problems_of(flow(task("a"), id="x" * 256))
    assert_problem(problems, "flow_definition.id", "at most 255")


def test_flow_id_of_max_length_is_accepted():
    assert parse_flow(flow(task("a"), id="x" * 255)).id == "x" * 255


def test_overlong_version_is_rejected():
    assert_problem(
        problems_of(flow(task("a"), version="v" * 65)),
        "flow_definition.version",
        "at most 64",
    )


def test_bool_version_is_rejected():
    assert_problem(
        problems_of(flow(task("a"), version=True)),
        "flow_definition.version",
        "string or an integer",
    )


def test_float_version_is_rejected():
    assert_problem(
        problems_of(flow(task("a"), version=1.5)),
        "flow_definition.version",
        "string or an integer",
    )


def test_unsupported_flow_type_is_rejected():
    problems = problems_of(flow(task("a"), type="pipeline"))
    assert_problem(problems, "flow_definition.type", "unsupported flow type 'pipeline'")


def test_non_string_flow_type_is_rejected():
    assert_problem(
        problems_of(flow(task("a"), type=None)),
        "flow_definition.type",
        "must be a string",
    )


def test_non_string_tenant_id_is_rejected():
    assert_problem(
        problems_of(flow(task("a"), tenant_id=1)),
        "flow_definition.tenant_id",
        "must be a string",
    )


def test_non_string_flow_name_and_description_are_rejected():
    problems = problems_of(flow(task("a"), name=1, description=["d"]))
    assert_problem(problems, "flow_definition.name", "must be a string")
    assert_problem(problems, "flow_definition.description", "must be a string")


def test_custom_root_path_prefixes_problem_paths():
    assert_problem(problems_of({"id": "f"}, path="body.flow"), "body.flow.tasks", "is required")


# --------------------------------------------------------------------------- #
# task-level errors


def test_task_not_an_object_is_rejected():
    assert_problem(
        problems_of(flow(task("a"), "b")),
        "flow_definition.tasks[1]",
        "must be an object",
    )


def test_missing_task_id_is_rejected():
    assert_problem(problems_of(flow({"type": "llm"})), "flow_definition.tasks[0].id", "is required")


def test_empty_task_id_is_rejected():
    assert_problem(problems_of(flow(task(""))), "flow_definition.tasks[0].id", "must not be empty")


def test_overlong_task_id_is_rejected():
    assert_problem(problems_of(flow(task("a" * 256))), "flow_definition.tasks[0].id", "at most 255")


def test_missing_task_type_is_rejected():
    assert_problem(problems_of(flow({"id": "a"})), "flow_definition.tasks[0].type", "is required")


def test_non_string_task_type_is_rejected():
    problems = problems_of(flow({"id": "a", "type": 3}))
    assert_problem(problems, "flow_definition.tasks[0].type", "must be a string")


def test_non_string_task_name_is_rejected():
    assert_problem(
        problems_of(flow(task("a", name=1))),
        "flow_definition.tasks[0].name",
        "must be a string",
    )


def test_depends_on_not_a_list_is_rejected():
    problems = problems_of(flow({"id": "a", "type": "t", "depends_on": "b"}))
    assert_problem(problems, "flow_definition.tasks[0].depends_on", "must be a list")


def test_non_string_dependency_is_rejected():
    problems = problems_of(flow(task("a"), {"id": "b", "type": "t", "depends_on": ["a", 1]}))
    assert_problem(problems, "flow_definition.tasks[1].depends_on[1]", "must be a string")


def test_duplicate_dependency_is_rejected():
    problems = problems_of(flow(task("a"), task("b", "a", "a")))
    assert_problem(problems, "flow_definition.tasks[1].depends_on[1]", "duplicate dependency 'a'")


def test_bool_retries_is_rejected():
    problems = problems_of(flow(task("a", retries=True)))
    assert_problem(problems, "flow_definition.tasks[0].retries", "must be an integer")


def test_float_retries_is_rejected():
    problems = problems_of(flow(task("a", retries=1.0)))
    assert_problem(problems, "flow_definition.tasks[0].retries", "must be an integer")


def test_negative_retries_is_rejected():
    assert_problem(
        problems_of(flow(task("a", retries=-1))),
        "flow_definition.tasks[0].retries",
        ">= 0",
    )


def test_zero_timeout_is_rejected():
    problems = problems_of(flow(task("a", timeout_seconds=0)))
    assert_problem(problems, "flow_definition.tasks[0].timeout_seconds", "> 0")


def test_bool_timeout_is_rejected():
    problems = problems_of(flow(task("a", timeout_seconds=True)))
    assert_problem(problems, "flow_definition.tasks[0].timeout_seconds", "must be an integer")


def test_string_timeout_is_rejected():
    problems = problems_of(flow(task("a", timeout_seconds="30")))
    assert_problem(problems, "flow_definition.tasks[0].timeout_seconds", "must be an integer")


def test_non_object_config_is_rejected():
    problems = problems_of(flow(task("a", config=[1])))
    assert_problem(problems, "flow_definition.tasks[0].config", "must be an object")


def test_null_for_a_defaulted_task_field_is_rejected():
    problems = problems_of(flow(task("a", retries=None)))
    assert_problem(problems, "flow_definition.tasks[0].retries", "must be an integer")


# --------------------------------------------------------------------------- #
# graph errors


def test_duplicate_task_id_is_rejected():
    problems = problems_of(flow(task("a"), task("b"), task("a")))
    assert_problem(problems, "flow_definition.tasks[2].id", "duplicate task id 'a'")
    assert_problem(problems, "flow_definition.tasks[2].id", "tasks[0]")


def test_unknown_dependency_is_rejected():
    problems = problems_of(flow(task("a"), task("b", "a", "x")))
    assert problems == [
        {
            "path": "flow_definition.tasks[1].depends_on[1]",
            "message": "unknown task 'x'",
        }
    ]


def test_self_dependency_is_rejected():
    problems = problems_of(flow(task("a", "a")))
    assert problems == [
        {
            "path": "flow_definition.tasks[0].depends_on[0]",
            "message": "task cannot depend on itself",
        }
    ]


def test_two_cycle_is_named():
    problems = problems_of(flow(task("a", "b"), task("b", "a")))
    assert problems == [{"path": "flow_definition.tasks", "message": "cycle: a -> b -> a"}]


def test_three_cycle_is_named_in_depends_on_direction():
    # a depends on c, c on b, b on a
    problems = problems_of(flow(task("a", "c"), task("b", "a"), task("c", "b")))
    assert cycles(problems) == ["cycle: a -> c -> b -> a"]


def test_two_separate_cycles_are_both_reported_in_declaration_order():
    data = flow(
        task("x", "y"),
        task("p", "q"),
        task("y", "x"),
        task("q", "r"),
        task("r", "p"),
        task("ok"),
        task("downstream", "x"),
    )
    assert cycles(problems_of(data)) == [
        "cycle: x -> y -> x",
        "cycle: p -> q -> r -> p",
    ]


def test_cycle_report_is_deterministic():
    data = flow(task("a", "b", "c"), task("b", "c", "a"), task("c", "a", "b"))
    first = problems_of(data)
    assert first == problems_of(data)
    assert cycles(first) == ["cycle: a -> b -> a"]


def test_shortest_cycle_through_first_task_is_named():
    # a -> b -> c -> d -> a plus a shortcut d ... a via a -> d
    data = flow(task("a", "b", "d"), task("b", "c"), task("c", "d"), task("d", "a"))
    assert cycles(problems_of(data)) == ["cycle: a -> d -> a"]


def test_valid_dag_declared_out_of_order_is_accepted():
    f = parse_flow(flow(task("c", "b"), task("b", "a"), task("a")))
    assert f.topological_order() == ["a", "b", "c"]


def test_multiple_problems_are_reported_together():
    data = {
        "id": "",
        "type": "tree",
        "tasks": [
            {"id": "a", "type": "t", "retries": True, "depends_on": ["ghost"]},
            "not a task",
            {"id": "a", "type": "t", "timeout_seconds": -5},
            task("b", "c"),
            task("c", "b"),
        ],
    }
    problems = problems_of(data)
    assert [p["path"] for p in problems] == [
        "flow_definition.id",
        "flow_definition.type",
        "flow_definition.tasks[0].retries",
        "flow_definition.tasks[1]",
        "flow_definition.tasks[2].timeout_seconds",
        "flow_definition.tasks[2].id",
        "flow_definition.tasks[0].depends_on[0]",
        "flow_definition.tasks",
    ]
    assert problems[-1]["message"] == "cycle: b -> c -> b"


def test_error_message_summarises_problems():
    with pytest.raises(FlowValidationError) as info:
        parse_flow({"id": "f"})
    assert "flow_definition.tasks: is required" in str(info.value)


# --------------------------------------------------------------------------- #
# limits and large graphs


def chain(n: int) -> dict:
    return flow(*(task(f"t{i}", *([f"t{i - 1}"] if i else [])) for i in range(n)))


def test_thousand_task_chain_validates_in_order():
    f = parse_flow(chain(1000))
    assert len(f.tasks) == 1000
    assert f.topological_order() == [f"t{i}" for i in range(1000)]


def test_thousand_task_chain_declared_backwards_orders_correctly():
    data = chain(1000)
    data["tasks"].reverse()
    f = parse_flow(data)
    assert f.topological_order() == [f"t{i}" for i in range(1000)]


def test_thousand_task_cycle_is_found_without_recursion():
    data = chain(1000)
    data["tasks"][0]["depends_on"] = ["t999"]
    (message,) = cycles(problems_of(data))
    assert message.startswith("cycle: t0 -> t999 -> t998 -> ")
    assert message.endswith(" -> t1 -> t0")


def test_more_than_max_tasks_is_rejected():
    problems = problems_of(chain(1001))
    assert problems == [{"path": "flow_definition.tasks", "message": "too many tasks (max 1000)"}]


def test_more_than_max_dependencies_is_rejected():
    problems = problems_of(flow(task("a", *(f"x{i}" for i in range(1001)))))
    assert problems == [
        {
            "path": "flow_definition.tasks[0].depends_on",
            "message": "too many dependencies (max 1000)",
        }
    ]


def test_task_may_depend_on_every_other_task():
    tasks = [task(f"t{i}") for i in range(999)]
    tasks.append(task("sink", *(f"t{i}" for i in range(999))))
    assert len(parse_flow(flow(*tasks)).tasks[-1].depends_on) == 999


def test_limits_are_configurable(monkeypatch):
    monkeypatch.setattr(model, "MAX_TASKS", 2)
    monkeypatch.setattr(model, "MAX_DEPENDENCIES", 1)
    assert_problem(problems_of(chain(3)), "flow_definition.tasks", "max 2")
    problems = problems_of(flow(task("a"), task("b", "a", "a")))
    assert_problem(problems, "flow_definition.tasks[1].depends_on", "max 1")


# --------------------------------------------------------------------------- #
# topological order and with_tasks


def test_topological_order_prefers_declaration_order_among_ready_tasks():
    f = parse_flow(flow(task("z"), task("y", "x"), task("x"), task("w", "z")))
    assert f.topological_order() == ["z", "x", "y", "w"]


def test_with_tasks_returns_modified_copy():
    f = parse_flow(flow(task("a"), name="N", version="2"))
    added = Task(id="audit", type="tool", depends_on=("a",))
    g = f.with_tasks((*f.tasks, added))
    assert [t.id for t in g.tasks] == ["a", "audit"]
    assert (g.id, g.version, g.extra) == (f.id, f.version, f.extra)
    assert [t.id for t in f.tasks] == ["a"]
    assert g.topological_order() == ["a", "audit"]


def test_with_tasks_rejects_a_broken_graph():
    f = parse_flow(flow(task("a")))
    with pytest.raises(FlowValidationError) as info:
        f.with_tasks(
            [
                Task(id="a", type="t", depends_on=("b",)),
                Task(id="b", type="t", depends_on=("a",)),
            ]
        )
    assert info.value.problems == [
        {"path": "flow_definition.tasks", "message": "cycle: a -> b -> a"}
    ]


def test_with_tasks_rejects_unknown_dependency():
    f = parse_flow(flow(task("a")))
    with pytest.raises(FlowValidationError) as info:
        f.with_tasks([Task(id="a", type="t", depends_on=("gone",))])
    assert_problem(
        info.value.problems,
        "flow_definition.tasks[0].depends_on[0]",
        "unknown task 'gone'",
    )


def test_with_tasks_rejects_empty_tasks():
    f = parse_flow(flow(task("a")))
    with pytest.raises(FlowValidationError):
        f.with_tasks([])


def test_with_tasks_rejects_non_task_items():
    f = parse_flow(flow(task("a")))
    with pytest.raises(TypeError):
        f.with_tasks([{"id": "a", "type": "t"}])  # type: ignore[list-item]


def test_topological_order_of_hand_built_cyclic_flow_raises():
    f = Flow(
        id="f",
        tasks=(
            Task(id="a", type="t", depends_on=("b",)),
            Task(id="b", type="t", depends_on=("a",)),
        ),
    )
    with pytest.raises(FlowValidationError):
        f.topological_order()
