"""Accept and read flow runs: the one pipeline behind the API (and, later, webhooks)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import defer

from .. import keys, metrics
from ..audit import service as audit
from ..auth import RUNS_WRITE, Principal, require_scope
from ..cache import cache_delete, cache_get, cache_set
from ..callbacks.service import check_callback_url, enqueue_status_change
from ..contracts import PolicyContext
from ..db_types import utcnow
from ..errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyMismatch,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    problems_detail,
)
from ..extensions import db
from ..flows import Flow, FlowValidationError, inputs, parse_flow
from ..ids import is_id, new_id
from ..jsonutil import canonical_dumps, dumps, stdlib_canonical
from ..outbox import messages
from ..outbox.messages import outbox_row
from ..outbox.models import OutboxMessage
from ..pagination import page, paginate
from ..policies.runtime import policy_engine
from ..registry.service import resolve_registered_flow
from . import inflight, store
from .models import CANCEL_REQUESTED, PENDING, TERMINAL_STATUSES, FlowRun, RunEvent
from .waiting import add_status_event

log = logging.getLogger(__name__)

CACHE_HIT = metrics.CACHE_LOOKUPS.labels("hit")
_CACHE_MISS = metrics.CACHE_LOOKUPS.labels("miss")


@dataclass(slots=True)
class RunRequest:
    """What a client asked for, after the body's types were checked."""

    flow_id: str | None = None
    flow_version: str | None = None
    flow_definition: dict[str, Any] | None = None
    input: dict[str, Any] = field(default_factory=dict)
    tenant_id: str | None = None
    request_id: str | None = None
    source: str = "api"
    #: Who the audit trail names (default: the principal's user), e.g. "webhook:<id>".
    actor: str | None = None
    #: Where the run's events are POSTed, and which (default: run.finished only).
    callback_url: str | None = None
    callback_events: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    run_id: str
    correlation_id: str
    replayed: bool = False

    def body(self) -> dict[str, Any]:
        """The 202 body. `replayed` is in the body, not only in a header: tools such as
        n8n show a response's body but not its headers."""
        return {"run_id": self.run_id, "correlation_id": self.correlation_id,
                "replayed": self.replayed}


@dataclass(slots=True)
class PreparedRun:
    """A run that passed tenant rules, validation and policies, ready to store."""

    tenant_id: str
    flow: Flow
    flow_version: str | None
    registry_version: str | None
    modifications: list[dict[str, Any]]
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def flow_origin(self) -> str:
        """Where the flow came from: "registry" or "inline" (given in the request)."""
        return "inline" if self.registry_version is None else "registry"


def _check_tenant(req: RunRequest, principal: Principal) -> str:
    if req.tenant_id is not None and req.tenant_id != principal.tenant_id:
        raise Forbidden("tenant_id does not match the token's tenant")
    return principal.tenant_id


def _resolve_flow(req: RunRequest, tenant_id: str) -> tuple[Flow, str | None]:
    """Inline definition wins; otherwise the registry. Returns the flow and registry version."""
    if req.flow_definition is not None:
        try:
            flow = parse_flow(req.flow_definition)
        except FlowValidationError as exc:
            raise ValidationFailed(exc.problems) from None
        if flow.extra.get(inputs.SCHEMA_KEY) is not None:
            problems = inputs.schema_problems(
                flow.extra[inputs.SCHEMA_KEY], f"flow_definition.{inputs.SCHEMA_KEY}"
            )
            if problems:
                raise ValidationFailed(problems)
        if req.flow_id is not None and req.flow_id != flow.id:
            raise ValidationFailed(
                [{"path": "flow_id", "message": f"does not match flow_definition.id {flow.id!r}"}]
            )
        return flow, None
    if req.flow_id is None:
        raise ValidationFailed(
            [{"path": "flow_id", "message": "give flow_id (registry) or flow_definition (inline)"}]
        )
    found = resolve_registered_flow(tenant_id, req.flow_id, req.flow_version)
    if found is None:
        what = f"flow {req.flow_id!r}" + (
            f" version {req.flow_version!r}" if req.flow_version else ""
        )
        raise NotFound(f"{what} is not registered for this tenant")
    definition, version = found
    try:
        return parse_flow(definition), version
    except FlowValidationError as exc:  # a stored flow that no longer validates
        raise ValidationFailed(exc.problems) from None


def prepare_run(
    req: RunRequest, principal: Principal, correlation_id: str | None = None, *, enforce: bool = True
) -> PreparedRun:
    """Tenant rules, flow resolution, validation and policies: everything but storage.

    With `enforce=False` (the dry run) policy violations are returned, not raised.
    The caller's token must carry `runs:write` (checked here, so every door that
    calls the pipeline enforces it).
    """
    require_scope(principal, RUNS_WRITE)
    tenant_id = _check_tenant(req, principal)
    if req.callback_url is not None:
        check_callback_url(req.callback_url)  # 400 for an address that may not be called
    flow, registry_version = _resolve_flow(req, tenant_id)
    schema = flow.extra.get(inputs.SCHEMA_KEY)
    if schema is not None:  # the flow's input contract, before policies see the input
        problems = inputs.input_problems(schema, req.input)
        if problems:
            raise ValidationFailed(problems)
    ctx = PolicyContext(
        tenant_id=tenant_id, user_id=principal.user_id, source=req.source,
        correlation_id=correlation_id, input=req.input,
    )
    started = time.perf_counter()
    outcome = policy_engine().evaluate(flow, ctx)
    metrics.POLICY_SECONDS.observe(time.perf_counter() - started)
    if not outcome.allowed and enforce:
        raise Forbidden(problems_detail(outcome.violations, "violations"))
    return PreparedRun(
        tenant_id=tenant_id,
        flow=outcome.flow,
        flow_version=registry_version or flow.version,
        registry_version=registry_version,
        modifications=outcome.modifications,
        violations=outcome.violations,
    )


def _fingerprint_material(req: RunRequest) -> dict[str, Any]:
    material = {
        "flow_id": req.flow_id,
        "flow_version": req.flow_version,
        "flow_definition": req.flow_definition,
        "input": req.input,
    }
    if req.callback_url is not None:  # absent: the fingerprint of runs stored before
        material["callback"] = [req.callback_url, req.callback_events]
    return material


def request_fingerprint(req: RunRequest) -> str:
    """Hash of what makes two requests 'the same payload' for idempotency (sorted-key
    compact JSON, encoded by orjson)."""
    return hashlib.sha256(canonical_dumps(_fingerprint_material(req))).hexdigest()


def _legacy_fingerprint(req: RunRequest) -> str:
    """The fingerprint as versions before orjson computed it (the standard library's
    encoder, which spells some floats differently): a retry of a run accepted before an
    upgrade still matches."""
    return hashlib.sha256(stdlib_canonical(_fingerprint_material(req)).encode()).hexdigest()


def _replay(tenant_id: str, req: RunRequest, fingerprint: str) -> Accepted:
    request_id = req.request_id
    existing = store.find_by_idempotency_key(tenant_id, request_id)
    if existing is None:  # pragma: no cover - the conflicting row vanished (deleted by hand)
        raise BadRequest("the idempotency key could not be resolved; retry")
    stored = existing["request_hash"]
    if stored != fingerprint and stored != _legacy_fingerprint(req):
        raise IdempotencyMismatch(
            f"request_id {request_id!r} was used before with a different payload"
        )
    return Accepted(existing["run_id"], existing["correlation_id"], replayed=True)


def _replay_if_known(req: RunRequest, principal: Principal) -> Accepted | None:
    """The original answer for a known idempotency key of this tenant, else None."""
    if req.request_id is None or (req.tenant_id not in (None, principal.tenant_id)):
        return None
    if store.find_by_idempotency_key(principal.tenant_id, req.request_id) is None:
        return None
    return _replay(principal.tenant_id, req, request_fingerprint(req))


def _flow_label(req: RunRequest) -> str | None:
    """The flow a denied request named, if it is a usable identifier."""
    name = req.flow_id or (req.flow_definition or {}).get("id")
    return name if isinstance(name, str) and 0 < len(name) <= 255 else None


_ACCEPTED_BY_SOURCE: dict[str, Any] = {}


def _accepted_counter(source: str):
    counter = _ACCEPTED_BY_SOURCE.get(source)
    if counter is None:  # sources are a small fixed set (api, webhook, plugin adapters)
        counter = _ACCEPTED_BY_SOURCE[source] = metrics.RUNS_ACCEPTED.labels(source)
    return counter


def run_message(
    prepared: PreparedRun,
    req: RunRequest,
    principal: Principal,
    run_id: str,
    correlation_id: str,
    now,
    flow_definition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The outbox row of a run's `flow_run.requested` message, exactly as it is stored."""
    return outbox_row(
        topic=current_app.config["KAFKA_TOPIC_FLOW_RUNS"],
        message_type=messages.RUN_REQUESTED,
        run_id=run_id,
        correlation_id=correlation_id,
        tenant_id=prepared.tenant_id,
        body={
            "user_id": principal.user_id,
            "flow_id": prepared.flow.id,
            "flow_version": prepared.flow_version,
            "flow_origin": prepared.flow_origin,
            "flow_definition": (
                flow_definition if flow_definition is not None else prepared.flow.to_dict()
            ),
            "input": req.input,
            "request_id": req.request_id,
            "source": req.source,
            "policy": {"modifications": prepared.modifications},
            "created_at": now.isoformat(),
        },
    )


def ensure_message_fits(message_row: dict[str, Any]) -> None:
    """413 when the message could never be published (over `KAFKA_MAX_MESSAGE_BYTES`).

    Refused before anything is stored: a stored message the producer refuses would never
    reach the orchestrator.
    """
    limit = current_app.config["KAFKA_MAX_MESSAGE_BYTES"]
    size = messages.oversized(message_row, limit)
    if size is not None:
        raise PayloadTooLarge(
            f"the run's message to the orchestrator would be {size} bytes; the limit is "
            f"{limit} bytes (KAFKA_MAX_MESSAGE_BYTES): send a smaller input or flow"
        )


def validate_run(
    req: RunRequest, principal: Principal, correlation_id: str, *, enforce: bool = False
) -> PreparedRun:
    """The dry run: `prepare_run` (policies enforced only if asked) and the message size
    check; everything `accept_run` would refuse, without storing anything."""
    prepared = prepare_run(req, principal, correlation_id, enforce=enforce)
    ensure_message_fits(
        run_message(prepared, req, principal, new_id(), correlation_id or new_id(), utcnow())
    )
    return prepared


def accept_run(req: RunRequest, principal: Principal, correlation_id: str) -> Accepted:
    """Validate, apply policies and durably record a run and its outbox message."""
    require_scope(principal, RUNS_WRITE)  # before anything else: not a policy denial
    try:
        prepared = prepare_run(req, principal, correlation_id)
    except (Forbidden, ValidationFailed, NotFound) as refusal:
        # A retry of a request that was already accepted gets its original answer, even
        # if today's policies, registry or validation would refuse it.
        replay = _replay_if_known(req, principal)
        if replay is not None:
            return replay
        if not isinstance(refusal, Forbidden):
            raise
        denial = refusal
        metrics.RUNS_DENIED.labels(
            "policy" if isinstance(denial.detail, dict) else "tenant"
        ).inc()
        _log_denied(req, principal, denial.detail)
        audit.record_audit_event(
            tenant_id=principal.tenant_id,
            actor=req.actor or principal.user_id,
            action=audit.DENIED,
            outcome="denied",
            resource_type="flow",
            resource_id=_flow_label(req),
            correlation_id=correlation_id,
            detail={"source": req.source, "reason": denial.detail},
        )
        raise
    tenant_id = prepared.tenant_id
    fingerprint = request_fingerprint(req)
    run_id = new_id()
    now = utcnow()
    flow_definition = prepared.flow.to_dict()
    message_row = run_message(
        prepared, req, principal, run_id, correlation_id, now, flow_definition
    )
    try:
        ensure_message_fits(message_row)
    except PayloadTooLarge:
        replay = _replay_if_known(req, principal)  # accepted before a lower limit
        if replay is not None:
            return replay
        raise
    del message_row["key"]  # the store sets it from the inserted run
    run_row = {
        "run_id": run_id,
        "correlation_id": correlation_id,
        "flow_id": prepared.flow.id,
        "tenant_id": tenant_id,
        "user_id": principal.user_id,
        "request_id": req.request_id,
        "input_data": req.input,
        "flow_definition": flow_definition,
        "status": PENDING,
        "created_at": now,
        "flow_version": prepared.flow_version,
        "source": req.source,
        "request_hash": fingerprint,
        "policy_modifications": prepared.modifications,
        "flow_origin": prepared.flow_origin,
        "callback_url": req.callback_url,
        "callback_events": req.callback_events,
    }
    audit_row = {
        "event_id": new_id(),
        "actor": req.actor or principal.user_id,
        "action": audit.ACCEPTED,
        "outcome": "accepted",
        "detail": {
            "flow_id": prepared.flow.id,
            "flow_version": prepared.flow_version,
            "flow_origin": prepared.flow_origin,
            "source": req.source,
            "modifications": len(prepared.modifications),
        },
    }
    limits = inflight.limits_for(tenant_id)
    if limits is None:
        inserted = store.insert_accepted_run(run_row, message_row, audit_row)
    else:
        try:
            inserted = inflight.insert_counted_run(run_row, message_row, audit_row, limits)
        except inflight.TooManyActiveRuns:
            replay = _replay_if_known(req, principal)  # a retry of an accepted run
            if replay is not None:
                return replay
            raise
    if not inserted:
        return _replay(tenant_id, req, fingerprint)
    messages.signal.notify()
    _accepted_counter(req.source).inc()
    if log.isEnabledFor(logging.INFO):
        log.info(
            "run accepted",
            extra={
                "run_id": run_id,
                "tenant_id": tenant_id,
                "flow_id": prepared.flow.id,
                "flow_version": prepared.flow_version,
                "source": req.source,
                "policy_modifications": prepared.modifications,
            },
        )
    return Accepted(run_id, correlation_id)


#: A denial's log line names at most this many violations (the audit event has them all).
_LOGGED_VIOLATIONS = 10


def _log_denied(req: RunRequest, principal: Principal, detail: Any) -> None:
    """One INFO line per denied run: who, which flow, and which policies said no."""
    if not log.isEnabledFor(logging.INFO):
        return
    violations = detail.get("violations", []) if isinstance(detail, dict) else []
    log.info(
        "run denied",
        extra={
            "tenant_id": principal.tenant_id,
            "flow_id": _flow_label(req),
            "source": req.source,
            "reason": "policy" if isinstance(detail, dict) else "tenant",
            "violations": [
                {"policy": v.get("policy"), "task_id": v.get("task_id")}
                for v in violations[:_LOGGED_VIOLATIONS]
            ],
            "violation_count": len(violations),
        },
    )


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def run_to_dict(run: FlowRun, left_out: list[str] | None = None) -> dict[str, Any]:
    """A run as the API shows it; `left_out` fields (deferred columns) are not read."""
    left_out = left_out or ()
    body = {
        "run_id": run.run_id,
        "status": run.status,
        "created_at": _iso(run.created_at),
        "updated_at": _iso(run.updated_at),
        "tenant_id": run.tenant_id,
        "flow_id": run.flow_id,
        "flow_version": run.flow_version,
        "flow_origin": run.flow_origin,
        "correlation_id": run.correlation_id,
        "request_id": run.request_id,
        "source": run.source,
    }
    if "input" not in left_out:
        body["input"] = run.input_data
    if "output" not in left_out:
        body["output"] = run.output_data
    body["error"] = run.error_message
    if "tasks" not in left_out:
        body["tasks"] = run.tasks or {}
    return body


def run_cache_key(tenant_id: str, run_id: str) -> str:
    return keys.compose("run", tenant_id, run_id)


def _known_form(run_id: str) -> None:
    """A run id not of the form runs are given is not found, before any lookup."""
    if not is_id(run_id):
        raise NotFound(f"run {run_id[:64]!r} not found")


def get_run_json(run_id: str, tenant_id: str) -> bytes:
    """One of the tenant's runs as JSON bytes; another tenant's run does not exist (404).

    The cache holds the serialized body, so a hit is answered without touching the
    database or serializing anything.
    """
    _known_form(run_id)
    key = run_cache_key(tenant_id, run_id)
    cached = cache_get(key)
    if cached is not None:
        CACHE_HIT.inc()
        return cached
    _CACHE_MISS.inc()
    run = db.session.execute(
        db.select(FlowRun).where(FlowRun.run_id == run_id, FlowRun.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if run is None:
        db.session.rollback()
        raise NotFound(f"run {run_id!r} not found")
    body = dumps(run_to_dict(run))
    db.session.rollback()
    cache_set(key, body, timeout=current_app.config["REDIS_CACHE_TTL"])
    return body


def get_run(run_id: str, tenant_id: str) -> dict[str, Any]:
    """One of the tenant's runs as a dict."""
    return json.loads(get_run_json(run_id, tenant_id))


def _cached_run_evict(tenant_id: str, run_id: str) -> None:
    cache_delete(run_cache_key(tenant_id, run_id))


def cancel_run(run_id: str, principal: Principal, correlation_id: str) -> dict[str, Any]:
    """Ask the orchestrator to cancel a run; repeating it changes nothing more."""
    _known_form(run_id)
    session = db.session
    run = session.execute(
        db.select(FlowRun)
        .where(FlowRun.run_id == run_id, FlowRun.tenant_id == principal.tenant_id)
        .with_for_update()
    ).scalar_one_or_none()
    if run is None:
        session.rollback()
        raise NotFound(f"run {run_id!r} not found")
    if run.status in TERMINAL_STATUSES:
        status = run.status
        session.rollback()
        raise Conflict(f"run {run_id!r} is already {status} and cannot be cancelled")
    if run.status != CANCEL_REQUESTED:
        now = utcnow()
        run.status = CANCEL_REQUESTED
        run.updated_at = now
        enqueue_status_change(run, now)
        row = outbox_row(
            topic=current_app.config["KAFKA_TOPIC_FLOW_RUNS"],
            message_type=messages.CANCEL_REQUESTED,
            run_id=run.run_id,
            correlation_id=run.correlation_id,
            tenant_id=run.tenant_id,
            body={
                "user_id": principal.user_id,
                "flow_id": run.flow_id,
                "flow_version": run.flow_version,
                "request_correlation_id": correlation_id,
                "created_at": now.isoformat(),
            },
        )
        session.add(OutboxMessage(**row, created_at=now, attempts=0))
        audit.add_audit_event(
            tenant_id=run.tenant_id,
            actor=principal.user_id,
            action=audit.CANCEL_REQUESTED,
            outcome="accepted",
            resource_id=run.run_id,
            correlation_id=correlation_id,
        )
        body = run_to_dict(run)
        add_status_event(session, run, dumps(body), now)  # waiters wake when this commits
    else:
        body = run_to_dict(run)
    session.commit()
    _cached_run_evict(run.tenant_id, run.run_id)
    messages.signal.notify()
    return body


_LIST_OPTIONAL_COLUMNS = {
    "input": FlowRun.input_data, "output": FlowRun.output_data, "tasks": FlowRun.tasks,
}


def list_runs(tenant_id: str, filters: dict[str, Any]) -> dict[str, Any]:
    """The tenant's runs, newest first, one page at a time.

    `input`, `output` and `tasks` (sizes the caller or the orchestrator decides) are
    neither read nor returned unless `filters["include"]` names them: a page of 100 runs
    stays small.
    """
    include = set((filters.get("include") or "").split(","))
    left_out = [name for name in _LIST_OPTIONAL_COLUMNS if name not in include]
    stmt = (
        db.select(FlowRun)
        .where(FlowRun.tenant_id == tenant_id)
        .options(*(defer(_LIST_OPTIONAL_COLUMNS[name]) for name in left_out))
    )
    if filters.get("status"):
        stmt = stmt.where(FlowRun.status == filters["status"])
    if filters.get("flow_id"):
        stmt = stmt.where(FlowRun.flow_id == filters["flow_id"])
    if filters.get("created_after"):
        stmt = stmt.where(FlowRun.created_at >= filters["created_after"])
    if filters.get("created_before"):
        stmt = stmt.where(FlowRun.created_at < filters["created_before"])
    rows, next_cursor = paginate(
        db.session,
        stmt,
        FlowRun.created_at,
        FlowRun.id,
        limit=filters["limit"],
        cursor=filters.get("cursor"),
    )
    items = [run_to_dict(run, left_out) for run in rows]
    db.session.rollback()
    return page(items, next_cursor)


_PRUNE_CHUNK = 2_000


def prune_finished_runs(before: datetime) -> tuple[int, int]:
    """Delete finished runs created before `before` (RUN_RETENTION_DAYS), with their
    status events; returns (runs, events) deleted. Runs still in flight stay, whatever
    their age. In chunks, each its own short transaction, oldest first (by the
    `created_at` index)."""
    runs, events = FlowRun.__table__, RunEvent.__table__
    oldest = (
        sa.select(runs.c.run_id)
        .where(runs.c.created_at < before, runs.c.status.in_(sorted(TERMINAL_STATUSES)))
        .order_by(runs.c.created_at)
        .limit(_PRUNE_CHUNK)
    )
    total_runs = total_events = 0
    while True:
        run_ids = list(db.session.execute(oldest).scalars())
        if run_ids:
            total_events += db.session.execute(
                sa.delete(events).where(events.c.run_id.in_(run_ids))
            ).rowcount or 0
            total_runs += db.session.execute(
                sa.delete(runs).where(runs.c.run_id.in_(run_ids))
            ).rowcount or 0
        db.session.commit()
        if len(run_ids) < _PRUNE_CHUNK:
            return total_runs, total_events
