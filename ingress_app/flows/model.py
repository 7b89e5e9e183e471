"""Flow definition model and validation.

This runs on the hot path of every POST that carries a flow definition, so it
is deliberately plain Python: no schema library, no regex, no deep copies.
Error paths are only formatted when a problem is actually found.

Semantics worth knowing:

* ``null`` is accepted for the optional string fields (flow ``version``,
  ``tenant_id``, ``name``, ``description``; task ``name``) and means "absent".
  For fields with a default (``type``, ``retries``, ``timeout_seconds``,
  ``config``, ``depends_on``) ``null`` is an error.
* Unknown fields are kept (shallowly) in ``extra`` and merged back by
  ``to_dict``.  ``config`` is copied shallowly.
* Cycles are reported as ``cycle: a -> b -> a`` where ``x -> y`` reads
  "x depends on y".  One cycle is named per strongly-connected component,
  starting at the component's first declared task; components are reported in
  declaration order.
* The limits below are read at call time, so they can be changed (or
  monkeypatched) on this module.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_TASKS = 1000
MAX_DEPENDENCIES = 1000
MAX_ID_LENGTH = 255
MAX_VERSION_LENGTH = 64
FLOW_TYPES = frozenset({"DAG"})
DEFAULT_FLOW_TYPE = "DAG"
DEFAULT_RETRIES = 0
DEFAULT_TIMEOUT_SECONDS = 300

_FLOW_FIELDS = frozenset({"id", "version", "type", "tenant_id", "tasks", "name", "description"})
_TASK_FIELDS = frozenset(
    {"id", "type", "name", "depends_on", "retries", "timeout_seconds", "config"}
)
_MISSING: Any = object()
_SHOW_MAX = 80


class FlowValidationError(Exception):
    """A flow definition is invalid; ``problems`` lists every problem found.

    Each problem is ``{"path": "flow_definition.tasks[1].id", "message": "..."}``.
    """

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        shown = "; ".join(f"{p['path']}: {p['message']}" for p in self.problems[:5])
        more = len(self.problems) - 5
        if more > 0:
            shown += f"; (+{more} more)"
        return f"invalid flow definition: {shown}"


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    type: str
    name: str | None = None
    depends_on: tuple[str, ...] = ()
    retries: int = DEFAULT_RETRIES
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    config: dict[str, Any] = field(default_factory=dict, hash=False)
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Normalised dict: defaults filled in, ``name`` omitted when None,
        unknown fields merged back after the known ones."""
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.name is not None:
            d["name"] = self.name
        d["depends_on"] = list(self.depends_on)
        d["retries"] = self.retries
        d["timeout_seconds"] = self.timeout_seconds
        d["config"] = dict(self.config)
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    version: str | None = None
    type: str = DEFAULT_FLOW_TYPE
    tenant_id: str | None = None
    tasks: tuple[Task, ...] = ()
    # name / description (when given) live here too, ahead of unknown fields.
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Normalised dict; key order id, version, type, tenant_id, extra…, tasks.
        ``version`` and ``tenant_id`` are omitted when None."""
        d: dict[str, Any] = {"id": self.id}
        if self.version is not None:
            d["version"] = self.version
        d["type"] = self.type
        if self.tenant_id is not None:
            d["tenant_id"] = self.tenant_id
        for k, v in self.extra.items():
            d.setdefault(k, v)
        d["tasks"] = [t.to_dict() for t in self.tasks]
        return d

    def topological_order(self) -> list[str]:
        """Task ids, dependencies first.  Among ready tasks the earliest
        declared comes first, so an already-ordered flow keeps its order.

        Raises FlowValidationError if the task graph is invalid (only possible
        for a Flow built by hand, not one from parse_flow / with_tasks)."""
        tasks = self.tasks
        n = len(tasks)
        index = {t.id: i for i, t in enumerate(tasks)}
        if len(index) != n:
            _raise_graph_problems(tasks)
        pending = [0] * n
        dependents: list[list[int]] = [[] for _ in range(n)]
        for i, t in enumerate(tasks):
            for d in t.depends_on:
                j = index.get(d)
                if j is None or j == i:
                    _raise_graph_problems(tasks)
                pending[i] += 1
                dependents[j].append(i)
        heap = [i for i in range(n) if not pending[i]]  # sorted => a valid heap
        order: list[str] = []
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            j = pop(heap)
            order.append(tasks[j].id)
            for i in dependents[j]:
                pending[i] -= 1
                if not pending[i]:
                    push(heap, i)
        if len(order) != n:
            _raise_graph_problems(tasks)
        return order

    def with_tasks(self, tasks: Iterable[Task], *, path: str = "flow_definition") -> Flow:
        """Copy of this flow with ``tasks`` replaced.

        The task graph is re-validated (count limit, unique ids, known
        dependencies, no self-dependency / duplicates / cycles); individual
        Task field values are trusted.  Raises FlowValidationError."""
        new = tuple(tasks)
        for t in new:
            if not isinstance(t, Task):
                raise TypeError(f"expected Task, got {type(t).__name__}")
        problems: list[dict[str, str]] = []
        if not new:
            problems.append(_problem(f"{path}.tasks", "must not be empty"))
        elif len(new) > MAX_TASKS:
            problems.append(_problem(f"{path}.tasks", f"too many tasks (max {MAX_TASKS})"))
        else:
            for i, t in enumerate(new):
                if len(t.depends_on) > MAX_DEPENDENCIES:
                    problems.append(
                        _problem(
                            f"{path}.tasks[{i}].depends_on",
                            f"too many dependencies (max {MAX_DEPENDENCIES})",
                        )
                    )
            _check_graph([(i, t.id, t.depends_on) for i, t in enumerate(new)], path, problems)
        if problems:
            raise FlowValidationError(problems)
        return Flow(self.id, self.version, self.type, self.tenant_id, new, self.extra)


# --------------------------------------------------------------------------- #
# parsing


def _problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def _show(value: str) -> str:
    return value if len(value) <= _SHOW_MAX else value[: _SHOW_MAX - 3] + "..."


def _ident_error(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_flow(data: Any, *, path: str = "flow_definition") -> Flow:
    """Validate and normalise a flow definition (a decoded JSON object).

    Raises FlowValidationError listing every problem found."""
    if not isinstance(data, dict):
        raise FlowValidationError([_problem(path, "must be an object")])
    problems: list[dict[str, str]] = []
    add = problems.append
    get = data.get

    flow_id = get("id", _MISSING)
    if flow_id is _MISSING:
        add(_problem(f"{path}.id", "is required"))
    elif (err := _ident_error(flow_id)) is not None:
        add(_problem(f"{path}.id", err))

    version = get("version")
    if version is not None:
        too_long = f"must be at most {MAX_VERSION_LENGTH} characters"
        err = None
        if _is_int(version):
            try:
                version = str(version)
            except ValueError:  # more digits than int -> str conversion allows
                err = too_long
        if err is None:
            if not isinstance(version, str):
                err = "must be a string or an integer"
            elif len(version) > MAX_VERSION_LENGTH:
                err = too_long
        if err is not None:
            add(_problem(f"{path}.version", err))

    flow_type = get("type", DEFAULT_FLOW_TYPE)
    if not isinstance(flow_type, str):
        add(_problem(f"{path}.type", "must be a string"))
    elif flow_type not in FLOW_TYPES:
        allowed = ", ".join(f"'{t}'" for t in sorted(FLOW_TYPES))
        add(
            _problem(
                f"{path}.type",
                f"unsupported flow type '{_show(flow_type)}' (allowed: {allowed})",
            )
        )

    tenant_id = get("tenant_id")
    if tenant_id is not None and not isinstance(tenant_id, str):
        add(_problem(f"{path}.tenant_id", "must be a string"))

    extra: dict[str, Any] = {}
    for key in ("name", "description"):
        value = get(key)
        if value is not None:
            if isinstance(value, str):
                extra[key] = value
            else:
                add(_problem(f"{path}.{key}", "must be a string"))
    if not _FLOW_FIELDS.issuperset(data):
        for key, value in data.items():
            if key not in _FLOW_FIELDS:
                extra[key] = value

    tasks_in = get("tasks", _MISSING)
    tasks: list[Task] = []
    if tasks_in is _MISSING:
        add(_problem(f"{path}.tasks", "is required"))
    elif not isinstance(tasks_in, (list, tuple)):
        add(_problem(f"{path}.tasks", "must be a list"))
    elif not tasks_in:
        add(_problem(f"{path}.tasks", "must not be empty"))
    elif len(tasks_in) > MAX_TASKS:
        add(_problem(f"{path}.tasks", f"too many tasks (max {MAX_TASKS})"))
    else:
        entries: list[tuple[int, str | None, Any]] = []
        for i, t in enumerate(tasks_in):
            task = _parse_task(t, i, path, problems, entries)
            if task is not None:
                tasks.append(task)
        _check_graph(entries, path, problems)

    if problems:
        raise FlowValidationError(problems)
    return Flow(flow_id, version, flow_type, tenant_id, tuple(tasks), extra)


def _parse_task(
    t: Any,
    i: int,
    path: str,
    problems: list[dict[str, str]],
    entries: list[tuple[int, str | None, Any]],
) -> Task | None:
    """Validate one task's fields; record (index, id, depends_on) for the
    graph pass.  Returns the Task, or None if any field was invalid.

    Each check has an exact-type fast path; the slow path sorts out subclasses
    and builds the error."""
    if not isinstance(t, dict):
        problems.append(_problem(f"{path}.tasks[{i}]", "must be an object"))
        return None
    add = problems.append
    before = len(problems)
    get = t.get
    max_id = MAX_ID_LENGTH

    task_id = get("id", _MISSING)
    if type(task_id) is not str or not 0 < len(task_id) <= max_id:
        err = "is required" if task_id is _MISSING else _ident_error(task_id)
        if err is not None:
            add(_problem(f"{path}.tasks[{i}].id", err))
            task_id = None

    task_type = get("type", _MISSING)
    if type(task_type) is not str or not 0 < len(task_type) <= max_id:
        err = "is required" if task_type is _MISSING else _ident_error(task_type)
        if err is not None:
            add(_problem(f"{path}.tasks[{i}].type", err))

    name = get("name")
    if name is not None and not isinstance(name, str):
        add(_problem(f"{path}.tasks[{i}].name", "must be a string"))

    deps = get("depends_on", ())
    if type(deps) is not list and not isinstance(deps, (list, tuple)):
        add(_problem(f"{path}.tasks[{i}].depends_on", "must be a list"))
        deps = None
    elif len(deps) > MAX_DEPENDENCIES:
        add(
            _problem(
                f"{path}.tasks[{i}].depends_on",
                f"too many dependencies (max {MAX_DEPENDENCIES})",
            )
        )
        deps = None
    else:
        for j, d in enumerate(deps):
            if type(d) is not str and not isinstance(d, str):
                add(_problem(f"{path}.tasks[{i}].depends_on[{j}]", "must be a string"))

    retries = get("retries", DEFAULT_RETRIES)
    if type(retries) is not int or retries < 0:
        if not _is_int(retries):
            add(_problem(f"{path}.tasks[{i}].retries", "must be an integer"))
        elif retries < 0:
            add(_problem(f"{path}.tasks[{i}].retries", "must be >= 0"))

    timeout = get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if type(timeout) is not int or timeout <= 0:
        if not _is_int(timeout):
            add(_problem(f"{path}.tasks[{i}].timeout_seconds", "must be an integer"))
        elif timeout <= 0:
            add(_problem(f"{path}.tasks[{i}].timeout_seconds", "must be > 0"))

    config = get("config", _MISSING)
    if config is _MISSING:
        config = {}
    elif isinstance(config, dict):
        config = dict(config)
    else:
        add(_problem(f"{path}.tasks[{i}].config", "must be an object"))

    entries.append((i, task_id, deps))
    if len(problems) != before:
        return None
    if _TASK_FIELDS.issuperset(t):
        extra = {}
    else:
        extra = {k: v for k, v in t.items() if k not in _TASK_FIELDS}
    return Task(task_id, task_type, name, tuple(deps), retries, timeout, config, extra)


# --------------------------------------------------------------------------- #
# graph checks


def _raise_graph_problems(tasks: tuple[Task, ...], path: str = "flow_definition") -> None:
    problems: list[dict[str, str]] = []
    _check_graph([(i, t.id, t.depends_on) for i, t in enumerate(tasks)], path, problems)
    if not problems:  # pragma: no cover - callers only get here on a bad graph
        problems.append(_problem(f"{path}.tasks", "invalid task graph"))
    raise FlowValidationError(problems)


def _check_graph(
    entries: list[tuple[int, str | None, Any]],
    path: str,
    problems: list[dict[str, str]],
) -> None:
    """Duplicate ids, bad dependencies and cycles.

    ``entries`` holds (task index, valid id or None, depends_on sequence or
    None) per task object.  Non-string dependency entries are skipped (they
    were reported by the field pass)."""
    add = problems.append
    ids = [e[1] for e in entries]
    node_of = dict(zip(ids, range(len(ids)), strict=True))  # task id -> graph node
    if None in node_of or len(node_of) != len(ids):
        # Slow path: nodes are the first occurrence of each valid id.
        node_of = {}
        ids = []
        nodes: Any = []  # entry -> graph node, -1 for none
        node_task: list[int] = []  # graph node -> task index
        for i, tid, _ in entries:
            first = node_of.get(tid) if tid is not None else -1
            if first is None:
                node_of[tid] = len(ids)
                nodes.append(len(ids))
                ids.append(tid)
                node_task.append(i)
                continue
            if first >= 0:
                msg = (
                    f"duplicate task id '{_show(tid)}' (first defined at tasks[{node_task[first]}])"
                )
                add(_problem(f"{path}.tasks[{i}].id", msg))
            nodes.append(-1)
    else:
        nodes = range(len(ids))

    deps_of: list[list[int]] = [[] for _ in ids]  # graph node -> its dependencies
    forward = False  # an edge to a later-declared task; without one, no cycle
    for (i, tid, deps), node in zip(entries, nodes, strict=True):
        if not deps:
            continue
        edges = deps_of[node] if node >= 0 else None
        seen: set[str] | None = set() if len(deps) > 1 else None
        for j, d in enumerate(deps):
            if type(d) is not str and not isinstance(d, str):
                continue
            if seen is not None:
                if d in seen:
                    msg = f"duplicate dependency '{_show(d)}'"
                    add(_problem(f"{path}.tasks[{i}].depends_on[{j}]", msg))
                    continue
                seen.add(d)
            if d == tid:
                add(
                    _problem(
                        f"{path}.tasks[{i}].depends_on[{j}]",
                        "task cannot depend on itself",
                    )
                )
                continue
            k = node_of.get(d)
            if k is None:
                add(
                    _problem(
                        f"{path}.tasks[{i}].depends_on[{j}]",
                        f"unknown task '{_show(d)}'",
                    )
                )
            elif edges is not None:
                edges.append(k)
                if k > node:
                    forward = True

    if forward:
        for cycle in _find_cycles(deps_of):
            names = [ids[v] for v in cycle]
            names.append(names[0])
            add(_problem(f"{path}.tasks", "cycle: " + " -> ".join(names)))


def _find_cycles(deps_of: list[list[int]]) -> list[list[int]]:
    """One shortest cycle per non-trivial SCC, in node order.  Iterative."""
    n = len(deps_of)
    # Kahn: peel off everything that does not depend on a cycle.
    pending = [len(d) for d in deps_of]
    dependents: list[list[int]] = [[] for _ in range(n)]
    for v, ds in enumerate(deps_of):
        for w in ds:
            dependents[w].append(v)
    stack = [v for v in range(n) if not pending[v]]
    done = 0
    while stack:
        w = stack.pop()
        done += 1
        for v in dependents[w]:
            pending[v] -= 1
            if not pending[v]:
                stack.append(v)
    if done == n:
        return []

    # Tarjan (iterative) on what is left.
    active = [bool(p) for p in pending]
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    scc_stack: list[int] = []
    sccs: list[list[int]] = []
    counter = 0
    for root in range(n):
        if not active[root] or index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        scc_stack.append(root)
        on_stack[root] = True
        work = [(root, 0)]
        while work:
            v, pos = work[-1]
            ds = deps_of[v]
            descended = False
            while pos < len(ds):
                w = ds[pos]
                pos += 1
                if not active[w]:
                    continue
                if index[w] == -1:
                    work[-1] = (v, pos)
                    index[w] = low[w] = counter
                    counter += 1
                    scc_stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = scc_stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    sccs.append(comp)

    cycles = []
    for comp in sorted(sccs, key=min):
        members = set(comp)
        start = min(comp)
        parent = {start: -1}
        queue = [start]
        found = -1
        for v in queue:  # BFS; the list grows while iterating
            for w in deps_of[v]:
                if w == start:
                    found = v
                    break
                if w in members and w not in parent:
                    parent[w] = v
                    queue.append(w)
            if found != -1:
                break
        path = []
        v = found
        while v != -1:
            path.append(v)
            v = parent[v]
        path.reverse()
        cycles.append(path)
    return cycles
