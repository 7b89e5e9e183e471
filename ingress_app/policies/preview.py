"""`policies diff`: what a candidate policies file would change for recent runs.

Every run accepted in the window is replayed in-process against the policies in force
(the configured file, as this process loads it) and against the candidate: the stored
flow definition, the stored input (for `input_rules` and input-aware plugins), the
run's tenant, user and source. Per tenant it reports runs that would flip from
accepted to denied, runs whose modifications would differ, and example run ids.
Denied requests are not stored as runs; their audit events (`run.denied`) name the
policies that denied them, so a denial whose every policy is off or configured
differently in the candidate is reported as "possibly accepted" (a hint, not a replay).

Rows are streamed with a server-side cursor (nothing is held but the counts and a few
examples), and nothing is written. Limits on runs in flight and rate limits are not
replayed (they depend on timing, not on the run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..audit.models import AuditEvent
from ..audit.service import DENIED
from ..contracts import PolicyContext
from ..db_types import utcnow
from ..extensions import db
from ..flows import FlowValidationError, parse_flow
from ..runs.models import FlowRun
from .engine import PolicyEngine, PolicyFailure

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
BATCH = 2000


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`7d`, `24h`, `90m`, `2w` (ago), or an ISO 8601 date/time."""
    now = now or utcnow()
    match = _DURATION.fullmatch(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration (7d, 24h, 30m) nor an ISO date"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)


@dataclass
class TenantDiff:
    runs: int = 0
    accept_to_deny: int = 0
    accept_to_deny_examples: list[dict[str, Any]] = field(default_factory=list)
    modified_differently: int = 0
    modified_examples: list[str] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    denied_recorded: int = 0
    possibly_accepted: int = 0
    possibly_accepted_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "accept_to_deny": self.accept_to_deny,
            "accept_to_deny_examples": self.accept_to_deny_examples,
            "modified_differently": self.modified_differently,
            "modified_examples": self.modified_examples,
            "errors": self.errors,
            "error_examples": self.error_examples,
            "denied_recorded": self.denied_recorded,
            "possibly_accepted": self.possibly_accepted,
            "possibly_accepted_examples": self.possibly_accepted_examples,
        }


@dataclass
class PolicyDiff:
    since: datetime
    tenants: dict[str, TenantDiff] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return sum(t.runs for t in self.tenants.values())

    @property
    def flips(self) -> int:
        return sum(t.accept_to_deny for t in self.tenants.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "runs": self.runs,
            "accept_to_deny": self.flips,
            "modified_differently": sum(t.modified_differently for t in self.tenants.values()),
            "possibly_accepted": sum(t.possibly_accepted for t in self.tenants.values()),
            "tenants": {name: self.tenants[name].as_dict() for name in sorted(self.tenants)},
        }


def _runs(since: datetime, tenant: str | None) -> Iterator[Any]:
    columns = (
        FlowRun.run_id, FlowRun.tenant_id, FlowRun.user_id, FlowRun.source,
        FlowRun.flow_definition, FlowRun.input_data,
    )
    stmt = select(*columns).where(FlowRun.created_at >= since).order_by(FlowRun.id)
    if tenant is not None:
        stmt = stmt.where(FlowRun.tenant_id == tenant)
    # a server-side cursor: rows arrive in batches, never all at once
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    yield from result


def _outcome(engine: PolicyEngine, flow, ctx: PolicyContext):
    try:
        return engine.evaluate(flow, ctx)
    except PolicyFailure:
        return None


def diff_policies(
    current: PolicyEngine,
    candidate: PolicyEngine,
    since: datetime,
    tenant: str | None = None,
    examples: int = 5,
) -> PolicyDiff:
    """Replay the window's runs against both engines (read-only)."""
    report = PolicyDiff(since=since)
    try:
        for row in _runs(since, tenant):
            stats = report.tenants.get(row.tenant_id)
            if stats is None:
                stats = report.tenants[row.tenant_id] = TenantDiff()
            stats.runs += 1
            try:
                flow = parse_flow(row.flow_definition)
            except FlowValidationError:
                stats.errors += 1
                if len(stats.error_examples) < examples:
                    stats.error_examples.append(row.run_id)
                continue
            ctx = PolicyContext(
                tenant_id=row.tenant_id, user_id=row.user_id,
                source=row.source or "api", input=row.input_data,
            )
            now = _outcome(current, flow, ctx)
            then = _outcome(candidate, flow, ctx)
            if now is None or then is None:
                stats.errors += 1
                if len(stats.error_examples) < examples:
                    stats.error_examples.append(row.run_id)
                continue
            if now.allowed and not then.allowed:
                stats.accept_to_deny += 1
                if len(stats.accept_to_deny_examples) < examples:
                    stats.accept_to_deny_examples.append(
                        {"run_id": row.run_id, "violations": then.violations[:5]}
                    )
            elif then.allowed and now.modifications != then.modifications:
                stats.modified_differently += 1
                if len(stats.modified_examples) < examples:
                    stats.modified_examples.append(row.run_id)
        _denials(report, current, candidate, since, tenant, examples)
    finally:
        db.session.rollback()  # read-only: end the transaction
    return report


def _denials(report, current, candidate, since, tenant, examples) -> None:
    stmt = (
        select(AuditEvent.tenant_id, AuditEvent.correlation_id, AuditEvent.detail)
        .where(AuditEvent.action == DENIED, AuditEvent.occurred_at >= since)
        .order_by(AuditEvent.id)
    )
    if tenant is not None:
        stmt = stmt.where(AuditEvent.tenant_id == tenant)
    for row in db.session.execute(stmt.execution_options(yield_per=BATCH)):
        stats = report.tenants.get(row.tenant_id)
        if stats is None:
            stats = report.tenants[row.tenant_id] = TenantDiff()
        stats.denied_recorded += 1
        reason = (row.detail or {}).get("reason")
        violations = reason.get("violations") if isinstance(reason, dict) else None
        if not violations:
            continue  # a tenant mismatch, not a policy: no file changes it
        names = {v.get("policy") for v in violations if isinstance(v, dict)}
        before = current.chain(row.tenant_id).options
        after = candidate.chain(row.tenant_id).options
        if names and all(name not in after or after[name] != before.get(name) for name in names):
            stats.possibly_accepted += 1
            if len(stats.possibly_accepted_examples) < examples and row.correlation_id:
                stats.possibly_accepted_examples.append(row.correlation_id)


def render_text(report: PolicyDiff, current_source: str, candidate_source: str) -> str:
    lines = [
        f"current: {current_source}",
        f"candidate: {candidate_source}",
        f"runs since {report.since.isoformat()}: {report.runs}",
    ]
    for name in sorted(report.tenants):
        t = report.tenants[name]
        line = (
            f"tenant {name}: {t.runs} runs; accept->deny {t.accept_to_deny}; "
            f"modified differently {t.modified_differently}; denied before "
            f"{t.denied_recorded}, possibly accepted now {t.possibly_accepted}"
        )
        if t.errors:
            line += f"; not replayable {t.errors}"
        lines.append(line)
        for example in t.accept_to_deny_examples:
            first = example["violations"][0] if example["violations"] else {}
            lines.append(
                f"  would be denied: {example['run_id']} ({first.get('policy')}: "
                f"{first.get('message')})"
            )
        if t.modified_examples:
            lines.append(f"  modified differently: {', '.join(t.modified_examples)}")
        if t.possibly_accepted_examples:
            lines.append(
                "  possibly accepted now (correlation ids): "
                + ", ".join(t.possibly_accepted_examples)
            )
    verdict = (
        f"{report.flips} run(s) would flip from accepted to denied"
        if report.flips else "no accepted run would be denied"
    )
    lines.append(verdict)
    return "\n".join(lines)
