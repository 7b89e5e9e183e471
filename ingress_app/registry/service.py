"""The flow registry: tenant-scoped, versioned flow definitions.

Rules (docs/registry.md explains them for API users):

- A version is immutable. Registering an existing version again with the same content
  (definition, tags, metadata) answers 200 with the stored version; with other content, 409.
- Without a `version` the next integer is assigned (1 + the largest all-digit version, or
  1) — unless the content equals the latest version's, which is then answered (200), so a
  pipeline that registers an unchanged file on every build creates no new version.
- Concurrent registrations of one version are decided by the unique constraint
  (tenant_id, flow_id, version): one row wins; the others see it and answer 200 or 409.
- "Latest" is the most recently registered version that is not deprecated. Deprecating
  (DELETE) only marks a version: latest lookups skip it, a run that names it explicitly
  (`flow_version`) still runs it, and its row is kept for good.
- The stored definition is the normalised one (`parse_flow(...).to_dict()`) with `version`
  set to the registry version; policies are checked at registration (403) and applied
  again, with the policies of the day, to every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .. import keys
from ..audit import service as audit
from ..auth import Principal
from ..cache import cache_add, cache_get, cache_set
from ..contracts import PolicyContext
from ..db_types import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed, problems_detail
from ..extensions import db
from ..flows import Flow, FlowValidationError, inputs, parse_flow
from ..jsonutil import dumps_str, stdlib_canonical
from ..pagination import page, paginate
from ..policies.runtime import policy_engine
from ..state import ingress_state
from .models import FlowVersion

log = logging.getLogger(__name__)

REGISTERED = "flow.registered"
DEPRECATED = "flow.deprecated"
REGISTRATION_DENIED = "flow.registration_denied"

MAX_TAGS = 50
MAX_TAG_LENGTH = 100
VERSION_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
#: Attempts to claim the next integer version when others register the same flow at once.
AUTO_VERSION_ATTEMPTS = 10
#: A cached "not registered" answer lives briefly: registering invalidates it anyway.
MISSING_TTL_SECONDS = 10
_ABSENT = "absent"



@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of a registration: the stored version and whether this call created it."""

    version: dict[str, Any]
    created: bool


# --------------------------------------------------------------------------- validation


def _body_path(problem: dict[str, str]) -> dict[str, str]:
    """parse_flow names paths `flow_definition.…`; here the body is the flow."""
    path = problem["path"]
    if path == "flow_definition":
        path = "body"
    elif path.startswith("flow_definition."):
        path = path[len("flow_definition.") :]
    return {"path": path, "message": problem["message"]}


def _tags(value: Any, problems: list[dict[str, str]]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append({"path": "tags", "message": "must be a list of strings"})
        return []
    if len(value) > MAX_TAGS:
        problems.append({"path": "tags", "message": f"too many tags (max {MAX_TAGS})"})
        return []
    bad = [i for i, tag in enumerate(value) if not _is_tag(tag)]
    problems.extend(
        {"path": f"tags[{i}]", "message": f"must be a string of 1 to {MAX_TAG_LENGTH} characters"}
        for i in bad
    )
    return [] if bad else sorted(set(value))  # a set of labels: order and repeats don't matter


def _is_tag(tag: Any) -> bool:
    return isinstance(tag, str) and 0 < len(tag) <= MAX_TAG_LENGTH


def _check_identifiers(flow_id: Any, version: Any, problems: list[dict[str, str]]) -> None:
    """Flow ids and versions appear in URLs (/v1/flows/{flow_id}/versions/{version})."""
    if isinstance(flow_id, str) and "/" in flow_id:
        problems.append({"path": "id", "message": "must not contain '/' in a registered flow"})
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if isinstance(version, str) and version and not VERSION_CHARACTERS.issuperset(version):
        problems.append(
            {"path": "version", "message": "may only contain letters, digits and . _ + -"}
        )
    if version == "":
        problems.append({"path": "version", "message": "must not be empty"})


def parse_registration(body: dict[str, Any]) -> tuple[Flow, list[str], dict[str, Any]]:
    """Split a registration body into the flow and the registry's own fields; 400 if invalid."""
    data = dict(body)
    problems: list[dict[str, str]] = []
    tags = _tags(data.pop("tags", None), problems)
    metadata = data.pop("metadata", None)
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        problems.append({"path": "metadata", "message": "must be an object"})
    _check_identifiers(data.get("id"), data.get("version"), problems)
    try:
        flow = parse_flow(data)
    except FlowValidationError as exc:
        problems.extend(_body_path(p) for p in exc.problems)
        flow = None
    if data.get(inputs.SCHEMA_KEY) is not None:
        problems.extend(inputs.schema_problems(data[inputs.SCHEMA_KEY], inputs.SCHEMA_KEY))
    if problems:
        raise ValidationFailed(problems)
    return flow, tags, metadata


def _check_policies(flow: Flow, principal: Principal, correlation_id: str | None) -> None:
    ctx = PolicyContext(
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        source="registry",
        correlation_id=correlation_id,
    )
    outcome = policy_engine().evaluate(flow, ctx)
    if outcome.allowed:
        return
    audit.record_audit_event(
        tenant_id=principal.tenant_id,
        actor=principal.user_id,
        action=REGISTRATION_DENIED,
        outcome="denied",
        resource_type="flow",
        resource_id=flow.id,
        correlation_id=correlation_id,
        detail={"version": flow.version, **problems_detail(outcome.violations, "violations")},
    )
    raise Forbidden(problems_detail(outcome.violations, "violations"))


def content_hash(definition: dict[str, Any], tags: list[str], metadata: dict[str, Any]) -> str:
    """What makes two registrations 'the same content' (the version itself excluded)."""
    unversioned = {k: v for k, v in definition.items() if k != "version"}
    material = {"definition": unversioned, "tags": tags, "metadata": metadata}
    return hashlib.sha256(stdlib_canonical(material).encode()).hexdigest()


# --------------------------------------------------------------------------- reading


def version_to_dict(row: FlowVersion, *, with_definition: bool = True) -> dict[str, Any]:
    body = {
        "flow_id": row.flow_id,
        "version": row.version,
        "tenant_id": row.tenant_id,
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "metadata": row.metadata_,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "deprecated": row.deprecated_at is not None,
        "deprecated_at": row.deprecated_at,
        "deprecated_by": row.deprecated_by,
    }
    if with_definition:
        body["flow_definition"] = row.definition
    return body


def _of_flow(tenant_id: str, flow_id: str):
    return and_(FlowVersion.tenant_id == tenant_id, FlowVersion.flow_id == flow_id)


def _latest_stmt(tenant_id: str, flow_id: str, *columns):
    return (
        select(*(columns or (FlowVersion,)))
        .where(_of_flow(tenant_id, flow_id), FlowVersion.deprecated_at.is_(None))
        .order_by(FlowVersion.id.desc())
        .limit(1)
    )


def _version_stmt(tenant_id: str, flow_id: str, version: str, *columns):
    return select(*(columns or (FlowVersion,))).where(
        _of_flow(tenant_id, flow_id), FlowVersion.version == version
    )


def _flow_exists(tenant_id: str, flow_id: str) -> bool:
    return db.session.execute(select(exists().where(_of_flow(tenant_id, flow_id)))).scalar()


def get_latest(tenant_id: str, flow_id: str) -> dict[str, Any]:
    """The tenant's latest (not deprecated) version of a flow."""
    row = db.session.execute(_latest_stmt(tenant_id, flow_id)).scalar_one_or_none()
    if row is None:
        known = _flow_exists(tenant_id, flow_id)
        db.session.rollback()
        if known:
            raise NotFound(
                f"every version of flow {flow_id!r} is deprecated; name a version explicitly"
            )
        raise NotFound(f"flow {flow_id!r} not found")
    body = version_to_dict(row)
    db.session.rollback()
    return body


def get_version(tenant_id: str, flow_id: str, version: str) -> dict[str, Any]:
    """One version of the tenant's flow, deprecated or not."""
    row = db.session.execute(_version_stmt(tenant_id, flow_id, version)).scalar_one_or_none()
    if row is None:
        db.session.rollback()
        raise NotFound(f"flow {flow_id!r} version {version!r} not found")
    body = version_to_dict(row)
    db.session.rollback()
    return body


def list_versions(tenant_id: str, flow_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """Every version of the tenant's flow, newest first, deprecated ones included."""
    stmt = select(FlowVersion).where(_of_flow(tenant_id, flow_id))
    rows, next_cursor = paginate(
        db.session,
        stmt,
        FlowVersion.created_at,
        FlowVersion.id,
        limit=args["limit"],
        cursor=args.get("cursor"),
    )
    if not rows and not args.get("cursor"):
        db.session.rollback()
        raise NotFound(f"flow {flow_id!r} not found")
    items = [version_to_dict(row, with_definition=False) for row in rows]
    db.session.rollback()
    return page(items, next_cursor)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tag(tag: str):
    if db.engine.dialect.name == "postgresql":
        return type_coerce(FlowVersion.tags, JSONB).contains([tag])
    each = func.json_each(FlowVersion.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def list_flows(tenant_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """The tenant's flows (each as its latest version), most recently registered first.

    A flow whose every version is deprecated is not listed. `q` searches the flow id,
    name and description (case-insensitive substring); `tag` keeps flows with that tag.
    """
    newer = aliased(FlowVersion)
    superseded = (
        select(newer.id)
        .where(
            newer.tenant_id == FlowVersion.tenant_id,
            newer.flow_id == FlowVersion.flow_id,
            newer.deprecated_at.is_(None),
            newer.id > FlowVersion.id,
        )
        .exists()
    )
    stmt = select(FlowVersion).where(
        FlowVersion.tenant_id == tenant_id, FlowVersion.deprecated_at.is_(None), ~superseded
    )
    if args.get("q"):
        pattern = f"%{_escape_like(args['q'])}%"
        stmt = stmt.where(
            or_(
                FlowVersion.flow_id.ilike(pattern, escape="\\"),
                FlowVersion.name.ilike(pattern, escape="\\"),
                FlowVersion.description.ilike(pattern, escape="\\"),
            )
        )
    if args.get("tag"):
        stmt = stmt.where(_has_tag(args["tag"]))
    rows, next_cursor = paginate(
        db.session,
        stmt,
        FlowVersion.created_at,
        FlowVersion.id,
        limit=args["limit"],
        cursor=args.get("cursor"),
    )
    items = [version_to_dict(row, with_definition=False) for row in rows]
    db.session.rollback()
    return page(items, next_cursor)


# --------------------------------------------------------------------------- the hot path


def _cache_key(tenant_id: str, flow_id: str, version: str | None) -> str:
    return keys.compose("registry", tenant_id, flow_id, version)


class LocalLookups:
    """This worker's copy of recent registry lookups, for `REGISTRY_LOCAL_CACHE_SECONDS`.

    A hit costs no round trip at all, which keeps a run by `flow_id` as cheap as an
    inline one. The worker that registers or deprecates evicts its copy at once; other
    workers notice within the lifetime of their copy (then Redis, rewritten, answers).
    Definitions are kept as JSON text, so every caller gets its own objects.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if time.monotonic() >= expires:
            self._entries.pop(key, None)
            return None
        return value if value == _ABSENT else (json.loads(value[0]), value[1])

    def put(self, key: str, value: Any) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        kept = value if value == _ABSENT else (dumps_str(value[0]), value[1])
        self._entries[key] = (time.monotonic() + self.seconds, kept)

    def evict(self, key: str) -> None:
        self._entries.pop(key, None)


def _local_lookups() -> LocalLookups:
    state = ingress_state()
    if state.registry_lookups is None:
        seconds = float(current_app.config.get("REGISTRY_LOCAL_CACHE_SECONDS", 1.0))
        state.registry_lookups = LocalLookups(seconds)
    return state.registry_lookups


def _read(tenant_id: str, flow_id: str, version: str | None) -> Any:
    """`(definition, version)` from the database, or _ABSENT."""
    columns = (FlowVersion.definition, FlowVersion.version)
    stmt = (
        _latest_stmt(tenant_id, flow_id, *columns)
        if version is None
        else _version_stmt(tenant_id, flow_id, version, *columns)
    )
    row = db.session.execute(stmt).first()
    db.session.rollback()
    return _ABSENT if row is None else (row.definition, row.version)


def _ttl(found: Any) -> int:
    ttl = current_app.config["REDIS_CACHE_TTL"]
    return min(ttl, MISSING_TTL_SECONDS) if found == _ABSENT else ttl


def _refresh(tenant_id: str, flow_id: str, version: str) -> None:
    """After a commit: write the flow's new latest (and this version) to the shared cache.

    Writers *set* and readers only *add* (set if absent), so a lookup that read the
    database just before the commit cannot put the old answer back after it.
    """
    local = _local_lookups()
    for which in (None, version):
        key = _cache_key(tenant_id, flow_id, which)
        local.evict(key)
        found = _read(tenant_id, flow_id, which)
        cache_set(key, found, timeout=_ttl(found))


def _lookup(key: str, tenant_id: str, flow_id: str, version: str | None) -> Any:
    """The shared cache, else the database (and fill the shared cache if still empty)."""
    cached = cache_get(key)
    if cached is not None:
        return cached
    found = _read(tenant_id, flow_id, version)
    cache_add(key, found, timeout=_ttl(found))
    return found


def resolve_registered_flow(
    tenant_id: str, flow_id: str, version: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """Return `(definition, version)` of the tenant's flow (latest when no version), or None.

    The hot path of `POST /v1/runs` by `flow_id`: this worker's recent copy, else one
    shared-cache lookup, else the database. Registering or deprecating rewrites the shared
    entries and drops the worker's copies.
    """
    key = _cache_key(tenant_id, flow_id, version)
    local = _local_lookups()
    found = local.get(key)
    if found is None:
        found = _lookup(key, tenant_id, flow_id, version)
        local.put(key, found)
    return None if found == _ABSENT else (found[0], found[1])


# --------------------------------------------------------------------------- writing


def _next_version(tenant_id: str, flow_id: str) -> str:
    versions = db.session.execute(
        select(FlowVersion.version).where(_of_flow(tenant_id, flow_id))
    ).scalars()
    numbers = [int(v) for v in versions if v.isascii() and v.isdigit()]
    return str(max(numbers, default=0) + 1)


def _insert(
    flow: Flow,
    version: str,
    tags: list[str],
    metadata: dict[str, Any],
    digest: str,
    principal: Principal,
    correlation_id: str | None,
) -> FlowVersion | None:
    """Store a new version and its audit event; None when that version exists already."""
    session = db.session
    definition = dataclasses.replace(flow, version=version).to_dict()
    row = FlowVersion(
        tenant_id=principal.tenant_id,
        flow_id=flow.id,
        version=version,
        name=flow.extra.get("name"),
        description=flow.extra.get("description"),
        tags=tags,
        metadata_=metadata,
        definition=definition,
        content_hash=digest,
        created_at=utcnow(),
        created_by=principal.user_id,
    )
    session.add(row)
    audit.add_audit_event(
        tenant_id=principal.tenant_id,
        actor=principal.user_id,
        action=REGISTERED,
        outcome="registered",
        resource_type="flow",
        resource_id=flow.id,
        correlation_id=correlation_id,
        detail={"version": version, "tasks": len(flow.tasks)},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        stmt = _version_stmt(principal.tenant_id, flow.id, version, FlowVersion.id)
        if session.execute(stmt).first() is None:
            raise  # not the version's unique constraint: a real error
        session.rollback()
        return None
    _refresh(principal.tenant_id, flow.id, version)
    log.info(
        "flow registered",
        extra={"tenant_id": principal.tenant_id, "flow_id": flow.id, "version": version},
    )
    return row


def _answer(row: FlowVersion, created: bool) -> Registration:
    body = version_to_dict(row)
    db.session.rollback()
    return Registration(body, created)


def _conflict(flow_id: str, version: str) -> Conflict:
    return Conflict(
        f"flow {flow_id!r} version {version!r} is already registered with different content; "
        "versions are immutable: register a new version"
    )


def register_flow(
    body: dict[str, Any], principal: Principal, correlation_id: str | None = None
) -> Registration:
    """Validate, policy-check and store a version of a flow for the caller's tenant."""
    flow, tags, metadata = parse_registration(body)
    _check_policies(flow, principal, correlation_id)
    digest = content_hash(flow.to_dict(), tags, metadata)
    tenant_id, session = principal.tenant_id, db.session

    if flow.version is not None:
        version = flow.version
        existing = session.execute(_version_stmt(tenant_id, flow.id, version)).scalar_one_or_none()
        if existing is None:
            row = _insert(flow, version, tags, metadata, digest, principal, correlation_id)
            if row is not None:
                return _answer(row, created=True)
            # a concurrent registration of this version won: judge against it
            existing = session.execute(_version_stmt(tenant_id, flow.id, version)).scalar_one()
        if existing.content_hash != digest:
            session.rollback()
            raise _conflict(flow.id, version)
        return _answer(existing, created=False)

    for _ in range(AUTO_VERSION_ATTEMPTS):
        latest = session.execute(_latest_stmt(tenant_id, flow.id)).scalar_one_or_none()
        if latest is not None and latest.content_hash == digest:
            return _answer(latest, created=False)
        version = _next_version(tenant_id, flow.id)
        session.rollback()
        row = _insert(flow, version, tags, metadata, digest, principal, correlation_id)
        if row is not None:
            return _answer(row, created=True)
    raise Conflict(
        f"flow {flow.id!r} is being registered by others at the same time; retry, "
        "or give an explicit version"
    )


def deprecate_version(
    flow_id: str, version: str, principal: Principal, correlation_id: str | None = None
) -> dict[str, Any]:
    """Mark a version deprecated (never deleted); doing it again changes nothing."""
    session, tenant_id = db.session, principal.tenant_id
    row = session.execute(
        _version_stmt(tenant_id, flow_id, version).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        session.rollback()
        raise NotFound(f"flow {flow_id!r} version {version!r} not found")
    if row.deprecated_at is None:
        row.deprecated_at = utcnow()
        row.deprecated_by = principal.user_id
        audit.add_audit_event(
            tenant_id=tenant_id,
            actor=principal.user_id,
            action=DEPRECATED,
            outcome="deprecated",
            resource_type="flow",
            resource_id=flow_id,
            correlation_id=correlation_id,
            detail={"version": version},
        )
        session.commit()
        _refresh(tenant_id, flow_id, version)
    body = version_to_dict(row)
    session.rollback()
    return body
