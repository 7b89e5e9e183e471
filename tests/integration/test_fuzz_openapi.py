"""Property-based fuzzing of every operation in /openapi.json (schemathesis), and a
401 matrix for every operation the document says needs a token.

The promise: with valid tokens of two tenants, on every operation, zero
server errors, zero responses that contradict the document (status code, content
type, body schema, headers), and zero requests accepted without the auth the
document requires.

Random data alone mostly earns 400/404 (random ids name nothing), so each tenant gets
a run, a registered flow and webhooks (one per intake auth method) before fuzzing
starts. A hash of each generated case (stable, so CI runs repeat) picks the calling
tenant and, for half of the cases, points the path parameters at that tenant's
records, or at the *other* tenant's (which must never answer 2xx); the create
operations then also get a valid core merged under the generated fields, so success
bodies are checked against the document too, not only error envelopes.

Deeper local runs: `FUZZ_MAX_EXAMPLES=300 FUZZ_RANDOM=1 pytest -k honours ...`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import zlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.core.parameters import ParameterLocation

from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, assert_nothing_stored, count

TENANTS = ("acme", "globex")

# Hypothesis examples per operation in the fuzzing phase; the coverage phase adds its
# own deterministic boundary cases (missing/odd parameters, other methods and content
# types) on top. About 35 s for the whole module on the development machine.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "") not in ("1", "true", "yes")


@schemathesis.check
def status_code_is_listed(ctx, response, case):
    """Stricter than `status_code_conformance`: every operation also documents a
    `default` (the error envelope), which makes that check accept any status. Here the
    status must be listed by the operation itself."""
    method = case.operation.method.lower()
    if response.request.method.lower() != method:
        return None  # the coverage phase probing an undocumented method (see unsupported_method)
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
        # An invalid path parameter may name another resource (`/v1/runs/validate` for
        # `run_id="validate"`): the answer is not this operation's to document.
        return None
    listed = case.operation.schema.raw_schema["paths"][case.operation.path][method]
    codes = {str(code) for code in listed["responses"]} - {"default"}
    assert str(response.status_code) in codes, (
        f"{case.operation.label} answered {response.status_code}, which it does not list "
        f"({', '.join(sorted(codes))})"
    )
    return None


CHECKS = [
    checks.not_a_server_error,  # no 5xx, ever
    checks.status_code_conformance,  # every status is documented for the operation...
    status_code_is_listed,  # ...by the operation itself, not only through `default`
    checks.content_type_conformance,  # the Content-Type is a documented one
    checks.response_schema_conformance,  # the body matches the documented schema
    checks.response_headers_conformance,  # documented response headers are present/valid
    checks.ignored_auth,  # a 2xx with a token must become 401 without/with a bad one
    checks.negative_data_rejection,  # schema-invalid requests are refused with a 4xx
    checks.missing_required_header,  # a missing required header is a 4xx
    checks.unsupported_method,  # undocumented methods answer 405
    checks.allow_header_conformance,  # ...with an Allow header naming the documented ones
]
# Left out on purpose:
# - positive_data_acceptance: it expects 2xx for every schema-valid request, but a
#   schema-valid flow can still be semantically invalid (cycles, unknown dependencies,
#   policy violations: 400/403), and random ids name nothing (404). Those answers are
#   correct and documented.
# - max_response_time: timing on a shared CI machine is not a correctness property
#   (bench/ measures performance).
# - use_after_free, ensure_resource_availability, object_level_authorization: they
#   reason over links between operations recorded by the stateful phase, which this
#   test does not run. Cross-tenant access is checked by hand below (`cross_tenant`).


INTAKE = "/v1/webhooks/{webhook_id}"
TOKEN_HEADER = "X-Webhook-Token"
# Webhooks the intake is fuzzed against, one per way in: `token` ones get their secret
# (so generated bodies and headers reach parsing, the adapter and the input mapping);
# the others exercise each verification method with generated headers.
INTAKE_HOOKS = {
    "generic-token-mapped": {
        "source": "generic",
        "auth": {"type": "header-token"},
        "input_mapping": {
            "body": "payload",
            "query": "query",
            "delivery": 'headers."idempotency-key" || headers."webhook-id" || \'none\'',
        },
    },
    "zapier-token": {"source": "zapier", "auth": {"type": "header-token"}},
    "n8n-token": {"source": "n8n", "auth": {"type": "header-token"}},
    "standard-webhooks": {"source": "standard", "auth": {"type": "standard-webhooks"}},
    "basic": {"source": "generic", "auth": {"type": "basic"}},
    "hmac": {"source": "n8n", "auth": {"type": "hmac-sha256"}},
}
INTAKE_KINDS = sorted(INTAKE_HOOKS)


def _seed_tenant(client, tenant: str) -> dict[str, Any]:
    headers = auth(tenant)
    flow_id = f"fuzz-{tenant}"
    flow = client.post("/v1/flows", json=sample_flow(flow_id), headers=headers)
    assert flow.status_code == 201, flow.get_data(as_text=True)
    run = client.post("/v1/runs", json={"flow_id": flow_id}, headers=headers)
    assert run.status_code == 202, run.get_data(as_text=True)

    def webhook(**body: Any) -> dict[str, Any]:
        response = client.post(
            "/v1/webhook-configs", json={"flow_id": flow_id, **body}, headers=headers
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    intake = {kind: webhook(**config) for kind, config in INTAKE_HOOKS.items()}
    return {
        "run_id": run.get_json()["run_id"],
        "flow_id": flow_id,
        "version": flow.get_json()["version"],
        "webhook_id": webhook(auth={"type": "header-token"})["webhook_id"],
        # DELETE gets one of its own, so that the operations after it still find theirs
        "doomed_webhook_id": webhook()["webhook_id"],
        "intake": {kind: (hook["webhook_id"], hook["secret"]) for kind, hook in intake.items()},
    }


@pytest.fixture
def fuzz_app(make_pg_app):
    # the seeded runs never finish: long polls and event streams answer at once
    app = make_pg_app(WAIT_MAX_SECONDS=0, SSE_MAX_STREAM_SECONDS=0)
    client = app.test_client()
    app.extensions["fuzz_seeds"] = {tenant: _seed_tenant(client, tenant) for tenant in TENANTS}
    return app


@pytest.fixture
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


@pytest.fixture
def seeds(fuzz_app) -> dict[str, dict[str, Any]]:
    return fuzz_app.extensions["fuzz_seeds"]


schema = schemathesis.pytest.from_fixture("api_schema")

# Valid cores for the create operations: merged *under* the generated body, so
# generated fields still win and unknown extras are still sent.
VALID_BODIES = {
    ("POST", "/v1/runs"): lambda seed: {"flow_definition": sample_flow()},
    ("POST", "/v1/runs/validate"): lambda seed: {"flow_id": seed["flow_id"]},
    ("POST", "/v1/flows"): lambda seed: sample_flow(seed["flow_id"]),
    ("POST", "/v1/webhook-configs"): lambda seed: {"flow_id": seed["flow_id"]},
}


def _case_hash(case) -> int:
    """A stable number for the case's content (not Python's salted `hash`): which tenant
    calls and which records it names follow from it, so a CI run is reproducible."""
    text = repr((case.operation.label, case.path_parameters, case.query, case.headers, case.body))
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _own_copy(case):
    """Edit a copy: Hypothesis may run the same case object again (explicit examples are
    replayed to report a failure), and an edited original would then hash differently,
    pick another tenant and carry the first run's ids and body into the second."""
    derived = case.derive(keep_auth=True)
    if case.meta is not None:
        object.__setattr__(derived, "_meta", copy.deepcopy(case.meta))
    return derived


def _intake_auth_headers(case) -> set[str]:
    """The (lower-case) headers of the intake's documented security schemes."""
    raw = case.operation.schema.raw_schema
    schemes = raw.get("components", {}).get("securitySchemes", {})
    names = set()
    for requirement in case.operation.definition.raw.get("security", raw.get("security", [])):
        for scheme in map(schemes.get, requirement):
            if scheme and scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                names.add(scheme["name"].lower())
            elif scheme and scheme.get("type") == "http":
                names.add("authorization")
    return names


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,  # the same cases on every CI run
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_honours_the_document(case, seeds):
    h = _case_hash(case)
    case = _own_copy(case)
    tenant, other = (TENANTS[0], TENANTS[1]) if h % 2 == 0 else (TENANTS[1], TENANTS[0])
    headers = auth(tenant)
    # 0-1: the caller's own records; 2: the other tenant's; 3-5: the generated values.
    choice = (h >> 1) % 6
    cross_tenant = False
    method_path = (case.operation.method.upper(), case.operation.path)

    if case.operation.path == INTAKE:
        kind = INTAKE_KINDS[(h >> 4) % len(INTAKE_KINDS)]
        webhook_id, secret = seeds[tenant]["intake"][kind]
        if choice != 5:
            case.path_parameters = {**case.path_parameters, "webhook_id": webhook_id}
        if "token" in kind and choice != 4:
            headers[TOKEN_HEADER] = secret
            # Generated headers of the other schemes mean nothing to a token webhook, and
            # schemathesis' auth check would read one as the request's (invalid) auth.
            others = _intake_auth_headers(case) - {TOKEN_HEADER.lower()}
            case.headers = {name: value for name, value in (case.headers or {}).items()
                            if name.lower() not in others}
    elif case.path_parameters and choice <= 2:
        owner = seeds[tenant] if choice < 2 else seeds[other]
        cross_tenant = choice == 2
        names = {"webhook_id": "doomed_webhook_id"} if method_path[0] == "DELETE" else {}
        case.path_parameters = {
            name: owner.get(names.get(name, name), value)
            for name, value in case.path_parameters.items()
        }
    make_valid = VALID_BODIES.get(method_path)
    if make_valid and choice <= 2 and isinstance(case.body, dict):
        case.body = {**make_valid(seeds[tenant]), **case.body}

    response = case.call_and_validate(headers=headers, checks=CHECKS)

    # (The coverage phase also sends other methods: OPTIONS answers 200 without a token.)
    if cross_tenant and response.request.method == method_path[0]:
        assert not 200 <= response.status_code < 300, (
            f"{case.operation.label} answered {response.status_code} to tenant {tenant} "
            f"for tenant {other}'s record"
        )


# --------------------------------------------------------------------------- auth matrix

# Operations that are public on purpose. Anything else the document marks `security: []`
# is a mistake (a new endpoint that forgot its token).
PUBLIC_OPERATIONS = {
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("POST", INTAKE),  # authenticated by the webhook's own secret, not a JWT
}
# Routes the application serves outside the API document.
UNDOCUMENTED_ROUTES = {"/openapi.json", "/docs", "/docs/assets/<path:filename>", "/metrics"}


@pytest.fixture(scope="module")
def spec(shared_app) -> dict[str, Any]:
    response = shared_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                yield method.upper(), path, operation


def _needs_token(spec: dict[str, Any], operation: dict[str, Any]) -> bool:
    requirements = operation.get("security", spec.get("security", []))
    return any("bearerAuth" in requirement for requirement in requirements)


def _concrete_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "fuzz-id", path)


def test_public_operations_are_exactly_the_intended_ones(spec):
    public = {(m, p) for m, p, op in _operations(spec) if not _needs_token(spec, op)}

    assert public == PUBLIC_OPERATIONS
    for method, path, operation in _operations(spec):
        if (method, path) in PUBLIC_OPERATIONS - {("POST", INTAKE)}:
            assert operation.get("security") == [], f"{method} {path} must declare security: []"


def test_every_served_route_is_in_the_document(spec, shared_app):
    documented = {re.sub(r"\{([^}]+)\}", r"<\1>", p) for p in spec["paths"]}
    served = {
        re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule.rule)
        for rule in shared_app.url_map.iter_rules()
    }
    undocumented = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", r) for r in UNDOCUMENTED_ROUTES}

    assert served - undocumented <= documented


BAD_AUTHORIZATION = [
    None,
    "Bearer not-a-jwt",
    "Bearer ",
    "Basic YWxpY2U6c2VjcmV0",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwidGVuYW50X2lkIjoiYWNtZSJ9.",
]


def test_every_token_operation_refuses_missing_and_garbage_tokens(spec, quiet_client):
    protected = [(m, p, op) for m, p, op in _operations(spec) if _needs_token(spec, op)]
    assert len(protected) >= 15  # the document really was read

    for method, path, operation in protected:
        documented = set(operation["responses"])
        assert "401" in documented, f"{method} {path} does not document 401"
        for value in BAD_AUTHORIZATION:
            headers = {} if value is None else {"Authorization": value}
            kwargs: dict[str, Any] = {"headers": headers}
            if "requestBody" in operation:
                kwargs["json"] = {}
            response = quiet_client.open(_concrete_path(path), method=method, **kwargs)
            where = f"{method} {path} with Authorization={value!r}"
            assert response.status_code == 401, f"{where}: {response.status_code}"
            assert response.mimetype == "application/json", where
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
            assert set(response.get_json()) == {"error", "detail"}, where


def test_the_webhook_intake_documents_its_own_auth(spec):
    """Any one of the webhook's methods, never a JWT."""
    operation = spec["paths"][INTAKE]["post"]
    schemes = spec["components"]["securitySchemes"]

    assert operation["security"] == [
        {"standardWebhooks": []},
        {"webhookHmac": []},
        {"webhookToken": []},
        {"webhookBasic": []},
    ]
    assert schemes["webhookToken"] == {
        **schemes["webhookToken"],
        "in": "header",
        "name": TOKEN_HEADER,
    }
    assert schemes["webhookBasic"]["scheme"] == "basic"
    assert "401" in operation["responses"]


# --------------------------------------------------------------------------- found while fuzzing
# Each was a 500 or a contradiction of the document; the generator reaches some of them
# only rarely, so they are pinned here.


def test_registering_the_same_flow_again_is_a_documented_200(spec, fresh_client):
    first = fresh_client.post("/v1/flows", json=sample_flow("again"), headers=auth())
    again = fresh_client.post("/v1/flows", json=sample_flow("again"), headers=auth())

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Location"] == first.headers["Location"]
    documented = spec["paths"]["/v1/flows"]["post"]["responses"]
    assert "Location" in documented["200"]["headers"]


def test_validate_is_not_a_run_id(spec, quiet_client):
    get = quiet_client.get("/v1/runs/validate", headers=auth())
    options = quiet_client.options("/v1/runs/validate")

    def allowed(response) -> set[str]:
        return {method.strip() for method in response.headers["Allow"].split(",")}

    assert get.status_code == 405 and allowed(get) == {"POST", "OPTIONS"}
    assert allowed(options) == {"POST", "OPTIONS"}
    assert set(spec["paths"]["/v1/runs/validate"]) == {"post"}


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [100, 910])
def test_json_nested_past_the_limit_is_400_everywhere(quiet_client, pg, depth):
    """~910 levels used to parse and then fail while being stored (500); the limit now
    refuses anything past MAX_JSON_DEPTH (100) while parsing."""
    flow = json.dumps(sample_flow("deep")).encode()
    bodies = {
        "/v1/flows": flow[:-1] + b', "metadata": ' + _nested(depth) + b"}",
        "/v1/runs": b'{"flow_definition": ' + flow + b', "input": ' + _nested(depth) + b"}",
        "/v1/runs/validate": b'{"flow_definition": '
        + flow
        + b', "input": '
        + _nested(depth)
        + b"}",
    }
    for path, body in bodies.items():
        response = quiet_client.post(
            path, data=body, content_type="application/json", headers=auth()
        )
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        assert response.get_json()["detail"] == "the JSON document is nested too deeply"
    assert_nothing_stored(pg)


def test_json_at_the_depth_limit_is_accepted(fresh_client):
    body = {"flow_definition": sample_flow(), "input": json.loads(_nested(99))}  # 100 in all

    assert fresh_client.post("/v1/runs", json=body, headers=auth()).status_code == 202


@pytest.mark.parametrize(
    "expression", ["!" * 999 + "a", "[" * 400 + "a" + "]" * 400], ids=["not", "brackets"]
)
def test_an_input_mapping_nested_too_deeply_is_400(fresh_client, expression):
    """jmespath's parser recursed past the interpreter's limit: a 500 on create/PATCH."""
    assert fresh_client.post("/v1/flows", json=sample_flow("f"), headers=auth()).status_code == 201
    created = fresh_client.post(
        "/v1/webhook-configs",
        json={"flow_id": "f", "input_mapping": {"x": expression}},
        headers=auth(),
    )
    plain = fresh_client.post("/v1/webhook-configs", json={"flow_id": "f"}, headers=auth())
    patched = fresh_client.patch(
        f"/v1/webhook-configs/{plain.get_json()['webhook_id']}",
        json={"input_mapping": {"x": expression}},
        headers=auth(),
    )

    for response in (created, patched):
        body = assert_error(response, 400)
        assert body["detail"]["problems"] == [
            {"path": "input_mapping.x", "message": "the expression is nested too deeply"}
        ]


def test_zapier_keys_that_nest_past_the_limit_are_400(fresh_client, pg):
    """Zapier's `a__b` keys nest the payload after parsing: 2,000 levels were a 500."""
    assert fresh_client.post("/v1/flows", json=sample_flow("f"), headers=auth()).status_code == 201
    hook = fresh_client.post(
        "/v1/webhook-configs",
        json={"flow_id": "f", "source": "zapier", "auth": {"type": "header-token"}},
        headers=auth(),
    ).get_json()
    url, token = f"/v1/webhooks/{hook['webhook_id']}", {TOKEN_HEADER: hook["secret"]}

    def deliver(depth: int):
        key = "__".join(["a"] * depth)
        return fresh_client.post(
            url, data=f"{key}=1", content_type="application/x-www-form-urlencoded", headers=token
        )

    body = assert_error(deliver(2000), 400)
    assert body["detail"]["problems"][0]["path"] == "payload"
    assert count(pg, "flow_runs_audit") == 0
    assert deliver(100).status_code == 202  # 100 levels: at the limit, accepted


def test_rotate_secret_takes_no_body_but_refuses_a_null_one(spec, fresh_client):
    """The document said the body was required while the view took none; and a JSON
    `null` body passed for "no body" (webargs saw None)."""
    assert fresh_client.post("/v1/flows", json=sample_flow("f"), headers=auth()).status_code == 201
    hook = fresh_client.post("/v1/webhook-configs", json={"flow_id": "f"}, headers=auth())
    url = f"/v1/webhook-configs/{hook.get_json()['webhook_id']}/rotate-secret"

    nothing = fresh_client.post(url, headers=auth())
    null = fresh_client.post(url, data=b"null", content_type="application/json", headers=auth())

    assert nothing.status_code == 200
    assert assert_error(null, 400)["detail"]["problems"][0]["path"] == "body"
    body = spec["paths"]["/v1/webhook-configs/{webhook_id}/rotate-secret"]["post"]["requestBody"]
    assert body.get("required", False) is False
