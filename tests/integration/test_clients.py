"""The OpenAPI document as a client contract.

- The document is valid (openapi-spec-validator) and lints clean (Redocly CLI, 0 errors).
- The checked-in document and Python client (clients/) are what clients/generate.py
  makes from the app today.
- The generated Python client, unmodified, drives every operation against the app served
  on a loopback port (PostgreSQL and Redis behind it): bodies go out as the document's
  named types and come back parsed into them, error details included.
- A TypeScript caller compiles with `tsc --strict` against openapi-typescript's output.

The node tests skip cleanly where node/npm are missing (CI has them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from standardwebhooks import Webhook
from werkzeug.serving import make_server

from tests.conftest import make_token

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
TOOLS = CLIENTS / "typescript"
# The checked-in client, exactly as `pip install ./clients/python` installs it.
sys.path.insert(0, str(CLIENTS / "python"))

from ingress_client import AuthenticatedClient, Client  # noqa: E402
from ingress_client.api.audit import list_audit_events  # noqa: E402
from ingress_client.api.flows import (  # noqa: E402
    deprecate_flow_version,
    get_flow,
    get_flow_version,
    list_flow_versions,
    list_flows,
    register_flow,
)
from ingress_client.api.health import get_health, get_liveness  # noqa: E402
from ingress_client.api.runs import (  # noqa: E402
    cancel_run,
    create_run,
    get_run,
    list_runs,
    validate_run,
)
from ingress_client.api.webhook_configs import (  # noqa: E402
    create_webhook_config,
    delete_webhook_config,
    get_webhook_config,
    list_webhook_configs,
    list_webhook_deliveries,
    rotate_webhook_secret,
    update_webhook_config,
)
from ingress_client.api.webhooks import receive_webhook  # noqa: E402
from ingress_client.models import (  # noqa: E402
    DeliveryOutcome,
    Error,
    ErrorDetail,
    FlowDefinition,
    FlowRegister,
    HealthStatus,
    Problem,
    RotateSecret,
    Run,
    RunOfInlineFlow,
    RunOfRegisteredFlow,
    RunOfRegisteredFlowInput,
    RunStatus,
    Task,
    TaskStatus,
    Violation,
    WebhookAuth,
    WebhookAuthType,
    WebhookConfigUpdate,
    WebhookItemsMode,
    WebhookOfRegisteredFlow,
)

OPERATION_IDS = {
    "createRun", "getRun", "listRuns", "cancelRun", "validateRun", "registerFlow",
    "listFlows", "getFlow", "listFlowVersions", "getFlowVersion", "deprecateFlowVersion",
    "createWebhookConfig", "listWebhookConfigs", "getWebhookConfig", "updateWebhookConfig",
    "deleteWebhookConfig", "rotateWebhookSecret", "listWebhookDeliveries", "receiveWebhook",
    "listAuditEvents", "getHealth", "getLiveness", "getCallbackSecret",
    "rotateCallbackSecret", "listSubscriptions", "createSubscription", "getSubscription",
    "deleteSubscription", "listRunCallbacks", "streamRunEvents",
}  # fmt: skip


@pytest.fixture(scope="module")
def spec(shared_app) -> dict:
    response = shared_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


# --------------------------------------------------------------------------- the document


def test_the_document_is_valid_openapi(spec):
    validate(spec)  # raises on any violation of the OpenAPI 3.0 schema


def test_every_operation_has_its_operation_id_and_a_description(spec):
    operations = [
        operation
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post", "patch", "put", "delete")
    ]

    assert {operation["operationId"] for operation in operations} == OPERATION_IDS
    assert len(operations) == len(OPERATION_IDS)
    assert all(operation.get("description") for operation in operations)


def test_shared_shapes_are_named_components(spec):
    schemas = spec["components"]["schemas"]
    ref = "#/components/schemas/"

    assert {
        "FlowDefinition", "Task", "RunStatus", "TaskStatus", "ErrorDetail", "Problem",
        "Violation", "WebhookAuthType", "DeliveryOutcome", "HealthStatus", "WebhookPayload",
    } <= set(schemas)  # fmt: skip
    assert "PaginationMetadata" not in schemas
    assert schemas["FlowRegister"]["required"] == ["id", "tasks"]
    assert schemas["FlowDefinition"]["properties"]["tasks"]["items"] == {"$ref": ref + "Task"}
    status_filter = next(
        p for p in spec["paths"]["/v1/runs"]["get"]["parameters"] if p["name"] == "status"
    )
    assert status_filter["schema"] == {"$ref": ref + "RunStatus"}
    assert schemas["Run"]["properties"]["status"] == {"$ref": ref + "RunStatus"}
    assert "maxLength" not in schemas["WebhookConfigUpdate"]["properties"]["input_mapping"]


def test_the_checked_in_document_and_client_are_current():
    """Fails when the app's document changed and `python clients/generate.py` was not run."""
    result = subprocess.run(
        [sys.executable, str(CLIENTS / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- node tools


@pytest.fixture(scope="module")
def node_tools() -> Path:
    """clients/typescript's pinned tools (Redocly CLI, openapi-typescript, TypeScript),
    installed from its package-lock.json the first time."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    bin_dir = TOOLS / "node_modules" / ".bin"
    if not all((bin_dir / tool).exists() for tool in ("redocly", "openapi-typescript", "tsc")):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TOOLS,
            check=True,
            timeout=300,
        )
    return bin_dir


def test_redocly_lint_finds_no_errors(node_tools, spec, tmp_path):
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec))
    result = subprocess.run(
        [str(node_tools / "redocly"), "lint", str(document), "--config", "redocly.yaml",
         "--format", "json"],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip

    report = json.loads(result.stdout)
    problems = [
        (p["ruleId"], p["severity"], p["location"][0]["pointer"]) for p in report["problems"]
    ]
    assert report["totals"]["errors"] == 0, problems
    # The two warnings README "Clients" records: the health probes have no 4xx answer.
    assert sorted(problems) == [
        ("operation-4xx-response", "warn", "#/paths/~1health/get/responses"),
        ("operation-4xx-response", "warn", "#/paths/~1health~1live/get/responses"),
    ]


def test_a_typescript_caller_compiles_strictly(node_tools, spec, tmp_path):
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec))
    subprocess.run(
        [str(node_tools / "openapi-typescript"), str(document), "--default-non-nullable",
         "false", "-o", str(tmp_path / "ingress.d.ts")],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    for name in ("usage.ts", "tsconfig.json"):
        shutil.copy(TOOLS / name, tmp_path / name)

    result = subprocess.run(
        [str(node_tools / "tsc"), "-p", str(tmp_path / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- live server


@pytest.fixture
def live(make_pg_app):
    """The app on a loopback port, as a deployed server is reached: over HTTP."""
    app = make_pg_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def api(base_url: str, tenant: str = "acme") -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=base_url, token=make_token(tenant), timeout=10.0, raise_on_unexpected_status=True
    )


def flow(flow_id: str = "support-triage", **task_fields) -> FlowDefinition:
    return FlowDefinition(
        id=flow_id,
        tasks=[
            Task(id="classify", type_="llm", retries=2, timeout_seconds=60, **task_fields),
            Task(id="route", type_="tool", depends_on=["classify"]),
        ],
    )


def finish(app, run_id: str, output: dict) -> None:
    """What the orchestrator reports for a run, a little later (its status events)."""
    from ingress_app.runs.events import apply_run_event

    time.sleep(0.3)
    with app.app_context():
        for task_id, status in (("classify", "SUCCEEDED"), (None, "SUCCEEDED")):
            apply_run_event(
                {
                    "event_id": str(uuid.uuid4()),
                    "run_id": run_id,
                    "tenant_id": "acme",
                    "task_id": task_id,
                    "status": status,
                    "output": output if task_id is None else {"label": "billing"},
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
            )


def test_runs_and_flows_through_the_generated_client(live):
    app, base_url = live
    with api(base_url) as client:
        assert get_liveness.sync(client=client).status == HealthStatus.PASS
        health = get_health.sync(client=client)
        assert health.status in (HealthStatus.PASS, HealthStatus.WARN)
        assert health.checks["database"].status == HealthStatus.PASS

        # register a flow: 201, then the same content again: 200 with the stored version
        body = FlowRegister.from_dict({**flow().to_dict(), "version": "3", "tags": ["support"]})
        first = register_flow.sync_detailed(client=client, body=body)
        again = register_flow.sync_detailed(client=client, body=body)
        assert (first.status_code, again.status_code) == (201, 200)
        stored = first.parsed
        assert stored.flow_definition.tasks[1].depends_on == ["classify"]
        assert stored.flow_definition.tasks[1].timeout_seconds == 300  # the default, filled in
        assert [f.flow_id for f in list_flows.sync(client=client, tag="support").items] == [
            "support-triage"
        ]
        assert get_flow.sync("support-triage", client=client).version == "3"
        second = register_flow.sync(client=client, body=FlowRegister.from_dict(flow().to_dict()))
        assert second.version == "4"
        versions = list_flow_versions.sync("support-triage", client=client)
        assert [v.version for v in versions.items] == ["4", "3"]
        deprecated = deprecate_flow_version.sync("support-triage", "4", client=client)
        assert deprecated.deprecated is True
        assert get_flow_version.sync("support-triage", "4", client=client).deprecated is True
        assert get_flow.sync("support-triage", client=client).version == "3"

        # create a run of the registered flow; the same request_id again is its replay
        request = RunOfRegisteredFlow(
            flow_id="support-triage",
            input_=RunOfRegisteredFlowInput.from_dict({"ticket": 42}),
            request_id="ticket-42",
        )
        accepted = create_run.sync(client=client, body=request)
        assert accepted.replayed is False
        assert create_run.sync(client=client, body=request).run_id == accepted.run_id

        # wait for it by polling, then read the result
        threading.Thread(
            target=finish, args=(app, accepted.run_id, {"answer": "refund"}), daemon=True
        ).start()
        deadline = time.monotonic() + 10
        run = get_run.sync(accepted.run_id, client=client)
        while (
            run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED)
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
            run = get_run.sync(accepted.run_id, client=client)
        assert isinstance(run, Run)
        assert run.status == RunStatus.SUCCEEDED
        assert run.output == {"answer": "refund"}
        assert run.input_ == {"ticket": 42}
        assert run.tasks["classify"].status == TaskStatus.SUCCEEDED
        assert run.tasks["classify"].output == {"label": "billing"}

        # an inline flow; listed with a typed status filter; then cancelled
        inline = create_run.sync(client=client, body=RunOfInlineFlow(flow_definition=flow("inline")))
        pending = list_runs.sync(client=client, status=RunStatus.PENDING, include="input")
        assert [r.run_id for r in pending.items] == [inline.run_id]
        cancelled = cancel_run.sync(inline.run_id, client=client)
        assert cancelled.status == RunStatus.CANCEL_REQUESTED

        verdict = validate_run.sync(client=client, body=RunOfInlineFlow(flow_definition=flow()))
        assert verdict.valid is True and verdict.violations == []
        assert verdict.flow_definition.tasks[0].retries == 2

        actions = {event.action for event in list_audit_events.sync(client=client).items}
        assert {"flow.registered", "flow.deprecated"} <= actions


def test_error_details_arrive_as_typed_objects(live):
    _, base_url = live
    with api(base_url) as client:
        broken = FlowDefinition.from_dict(
            {"id": "broken", "tasks": [{"id": "a", "type": "llm", "depends_on": ["nope"]}]}
        )
        refused = create_run.sync(client=client, body=RunOfInlineFlow(flow_definition=broken))
        assert isinstance(refused, Error)
        assert isinstance(refused.detail, ErrorDetail)
        assert refused.detail.problem_count == 1
        [problem] = refused.detail.problems
        assert isinstance(problem, Problem)
        assert problem.path == "flow_definition.tasks[0].depends_on[0]"

        greedy = FlowRegister.from_dict(
            flow(
                "greedy",
            ).to_dict()
        )
        greedy.tasks[0].retries = 11  # policies.yaml: retry_limit max_retries 10
        denied = register_flow.sync(client=client, body=greedy)
        assert isinstance(denied, Error) and isinstance(denied.detail, ErrorDetail)
        assert denied.detail.violation_count == 1
        [violation] = denied.detail.violations
        assert isinstance(violation, Violation)
        assert (violation.policy, violation.task_id) == ("retry_limit", "classify")

        missing = get_run.sync("no-such-run", client=client)
        assert isinstance(missing, Error) and isinstance(missing.detail, str)

    anonymous = Client(base_url=base_url, timeout=10.0)
    with anonymous:
        unauthorized = list_runs.sync_detailed(client=anonymous)
    assert unauthorized.status_code == 401
    assert isinstance(unauthorized.parsed, Error)


def _hmac_signer(secret: str, header: str = "X-Webhook-Signature"):
    def sign(request):
        request.headers[header] = hmac.new(
            secret.encode(), request.content, hashlib.sha256
        ).hexdigest()

    return sign


def _standard_signer(secret: str):
    def sign(request):
        delivery_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        signature = Webhook(secret).sign(delivery_id, now, request.content)
        request.headers["webhook-id"] = delivery_id
        request.headers["webhook-timestamp"] = str(int(now.timestamp()))
        request.headers["webhook-signature"] = signature

    return sign


def _sender(base_url: str, hook) -> AuthenticatedClient:
    """A webhook sender for `hook`'s auth type, with the generated client's own options:
    the credential header and prefix, or a request hook that signs the exact body."""
    secret, kind = hook.secret, hook.auth.type_
    common = {"base_url": base_url, "timeout": 10.0}
    if kind == WebhookAuthType.HEADER_TOKEN:
        return AuthenticatedClient(
            token=secret, prefix="", auth_header_name="X-Webhook-Token", **common
        )
    if kind == WebhookAuthType.BASIC:
        username = hook.auth.username if isinstance(hook.auth.username, str) else "ingress"
        pair = base64.b64encode(f"{username}:{secret}".encode()).decode()
        return AuthenticatedClient(token=pair, prefix="Basic", **common)
    signer = (
        _hmac_signer(secret) if kind == WebhookAuthType.HMAC_SHA256 else _standard_signer(secret)
    )
    return AuthenticatedClient(
        token="", prefix="", auth_header_name="X-Unused", httpx_args={"event_hooks": {"request": [signer]}}, **common
    )  # fmt: skip


def test_webhooks_through_the_generated_client_with_each_auth_type(live):
    _, base_url = live
    with api(base_url) as client:
        register_flow.sync(client=client, body=FlowRegister.from_dict(flow().to_dict()))
        hooks = {}
        for kind in WebhookAuthType:
            created = create_webhook_config.sync_detailed(
                client=client,
                body=WebhookOfRegisteredFlow(flow_id="support-triage", auth=WebhookAuth(type_=kind)),
            )
            assert created.status_code == 201, created.content
            hooks[kind] = created.parsed
            assert created.parsed.secret

        for kind, hook in hooks.items():
            with _sender(base_url, hook) as sender:
                accepted = receive_webhook.sync(
                    hook.webhook_id, client=sender, body={"email": "a@example.com"}
                )
            assert accepted.replayed is False and accepted.run_id, kind
            assert get_run.sync(accepted.run_id, client=client).input_ == {"email": "a@example.com"}

        # a wrong credential: 401 with the envelope
        token_hook = hooks[WebhookAuthType.HEADER_TOKEN]
        with AuthenticatedClient(
            base_url=base_url, token="wrong", prefix="", auth_header_name="X-Webhook-Token"
        ) as stranger:
            refused = receive_webhook.sync_detailed(token_hook.webhook_id, client=stranger, body={})
        assert refused.status_code == 401 and isinstance(refused.parsed, Error)
        deliveries = list_webhook_deliveries.sync(
            token_hook.webhook_id, client=client, outcome=DeliveryOutcome.ACCEPTED
        )
        assert [(d.outcome, d.status_code) for d in deliveries.items] == [
            (DeliveryOutcome.ACCEPTED, 202)
        ]

        # n8n items, one run each; a refused item is named in `detail.item`
        changed = update_webhook_config.sync(
            token_hook.webhook_id,
            client=client,
            body=WebhookConfigUpdate(source="n8n", items=WebhookItemsMode.EACH),
        )
        assert changed.items == WebhookItemsMode.EACH
        with _sender(base_url, token_hook) as sender:
            both = receive_webhook.sync(
                token_hook.webhook_id, client=sender, body=[{"n": 1}, {"n": 2}]
            )
            assert len(both.runs) == 2 and both.replayed is False
            bad = receive_webhook.sync(token_hook.webhook_id, client=sender, body=[{"n": 1}, 5])
        assert isinstance(bad, Error) and isinstance(bad.detail, ErrorDetail)
        assert bad.detail.item == 1

        rotated = rotate_webhook_secret.sync(
            token_hook.webhook_id, client=client, body=RotateSecret(grace_seconds=0)
        )
        assert rotated.secret != token_hook.secret
        listed = list_webhook_configs.sync(client=client, source="n8n")
        assert [h.webhook_id for h in listed.items] == [token_hook.webhook_id]
        assert get_webhook_config.sync(token_hook.webhook_id, client=client).auth.type_ == (
            WebhookAuthType.HEADER_TOKEN
        )
        deleted = delete_webhook_config.sync_detailed(token_hook.webhook_id, client=client)
        assert deleted.status_code == 204
        gone = get_webhook_config.sync_detailed(token_hook.webhook_id, client=client)
        assert gone.status_code == 404 and isinstance(gone.parsed, Error)


def test_callbacks_and_subscriptions_through_the_generated_client(make_pg_app):
    from ingress_client.api.callbacks import get_callback_secret, rotate_callback_secret
    from ingress_client.api.run_callbacks import list_run_callbacks
    from ingress_client.api.subscriptions import (
        create_subscription,
        delete_subscription,
        get_subscription,
        list_subscriptions,
    )
    from ingress_client.models import SubscriptionCreate

    app = make_pg_app(CALLBACK_ALLOWED_HOSTS="127.0.0.1", CALLBACK_RELAY_ENABLED=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        with api(base_url) as client:
            secret = get_callback_secret.sync(client=client)
            assert secret.secret.startswith("whsec_")
            rotated = rotate_callback_secret.sync(client=client)
            assert rotated.secret != secret.secret and rotated.previous_secret_expires_at

            body = RunOfInlineFlow.from_dict({
                "flow_definition": flow("with-callback").to_dict(),
                "callback_url": "http://127.0.0.1:9/hook",
            })
            accepted = create_run.sync(client=client, body=body)
            assert list_run_callbacks.sync(accepted.run_id, client=client).items == []
            finish(app, accepted.run_id, {"answer": "done"})
            deliveries = list_run_callbacks.sync(accepted.run_id, client=client).items
            assert [d.type_.value for d in deliveries] == ["run.finished"]

            created = create_subscription.sync(client=client, body=SubscriptionCreate(
                target_url="http://127.0.0.1:9/zap", flow_id="with-callback"))
            assert created.secret.startswith("whsec_")
            listed = list_subscriptions.sync(client=client).items
            assert [s.id for s in listed] == [created.id]
            assert get_subscription.sync(created.id, client=client).target_url.endswith("/zap")
            assert delete_subscription.sync_detailed(created.id, client=client).status_code == 204
            gone = get_subscription.sync_detailed(created.id, client=client)
            assert gone.status_code == 404 and isinstance(gone.parsed, Error)
    finally:
        server.shutdown()
        thread.join(timeout=10)
