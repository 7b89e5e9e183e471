"""Callbacks and subscriptions against a real HTTP receiver on loopback: signed with the
tenant's secret, sent once, retried with backoff, never held up by another receiver."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ingress_app.callbacks.relay import CallbackRelay
from ingress_app.runs.events import apply_run_event
from tests.conftest import auth, sample_flow
from tests.integration.conftest import assert_error, create_run
from tests.support.receiver import Receiver

QUICK = {
    "CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
    "CALLBACK_RETRY_BASE_SECONDS": 0.05,
    "CALLBACK_RETRY_MAX_SECONDS": 0.2,
    "CALLBACK_POLL_INTERVAL_SECONDS": 0.05,
    "CALLBACK_TIMEOUT_SECONDS": 5.0,
}


@pytest.fixture
def cb_app(make_pg_app):
    return make_pg_app(**QUICK)


@pytest.fixture
def relay(cb_app):
    relays = []

    def start(app=None):
        started = CallbackRelay(app or cb_app).start()
        relays.append(started)
        return started

    yield start
    for started in relays:
        started.stop(timeout=10)


def finish(app, run_id: str, status: str = "SUCCEEDED", tenant: str = "acme", **extra) -> str:
    with app.app_context():
        return apply_run_event(
            {
                "event_id": str(uuid.uuid4()),
                "run_id": run_id,
                "tenant_id": tenant,
                "status": status,
                "occurred_at": "2026-12-06T10:00:00+00:00",
                **extra,
            }
        )


def callback_secret(client, tenant: str = "acme") -> str:
    response = client.get("/v1/callbacks/secret", headers=auth(tenant))
    assert response.status_code == 200
    return response.get_json()["secret"]


def verify(secret: str, request: dict) -> dict:
    return Webhook(secret).verify(request["body"], request["headers"])


# ---------------------------------------------------------------- per-run callbacks


@pytest.mark.kafka
def test_run_finished_is_delivered_once_signed_after_the_consumer_applies_succeeded(
    make_pg_app, kafka_broker, kafka_topics, relay
):
    from ingress_app.runs.consumer import RunEventConsumer
    from tests.integration.test_run_events_consumer import event, produce

    app = make_pg_app(
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap,
        KAFKA_TOPIC_FLOW_RUNS=kafka_topics[0],
        KAFKA_TOPIC_RUN_EVENTS=kafka_topics[1],
        KAFKA_SESSION_TIMEOUT_MS=6000,
        KAFKA_HEARTBEAT_INTERVAL_MS=500,
        **QUICK,
    )
    client = app.test_client()
    secret = callback_secret(client)
    with Receiver() as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        produce(
            kafka_broker.bootstrap,
            kafka_topics[1],
            [event(run_id, "RUNNING"), event(run_id, "SUCCEEDED", output={"answer": 42})],
        )
        assert RunEventConsumer(app).run(max_messages=2, poll_timeout=0.5) == {"applied": 2}
        relay(app)
        [request] = receiver.wait_for(1)
        time.sleep(0.5)  # nothing else arrives: RUNNING is not a run.finished
        assert len(receiver.received) == 1

    assert request["path"] == "/hook"
    body = verify(secret, request)
    assert body["type"] == "run.finished"
    assert body["data"] == client.get(f"/v1/runs/{run_id}", headers=auth()).get_json()
    assert body["data"]["status"] == "SUCCEEDED" and body["data"]["output"] == {"answer": 42}
    [delivery] = client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json()["items"]
    assert delivery["webhook_id"] == request["headers"]["webhook-id"]
    assert delivery["state"] == "delivered" and delivery["next_attempt_at"] is None
    assert [(a["attempt"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [
        (1, 200, None)
    ]


def test_a_failing_receiver_is_retried_with_the_same_webhook_id_then_delivered_once(
    cb_app, relay
):
    client = cb_app.test_client()
    secret = callback_secret(client)
    with Receiver(answers=[500, 500, 500]) as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        finish(cb_app, run_id, "FAILED", error="boom")
        relay()
        requests = receiver.wait_for(4)
        time.sleep(0.5)
        assert len(receiver.received) == 4

    assert len({r["headers"]["webhook-id"] for r in requests}) == 1
    assert all(verify(secret, r)["data"]["status"] == "FAILED" for r in requests)
    [delivery] = client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json()["items"]
    assert delivery["state"] == "delivered"
    attempts = delivery["attempts"]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [
        (1, 500), (2, 500), (3, 500), (4, 200)
    ]
    assert attempts[0]["error"].startswith("HTTP 500")
    assert all(a["next_attempt_at"] is not None for a in attempts[:3])
    assert attempts[3]["next_attempt_at"] is None


def test_a_hanging_receiver_does_not_delay_another_tenants_callback(make_pg_app, relay):
    app = make_pg_app(**{**QUICK, "CALLBACK_WORKERS": 4, "CALLBACK_HOST_CONCURRENCY": 2,
                         "CALLBACK_TIMEOUT_SECONDS": 8.0})
    client = app.test_client()
    with Receiver(hang=True) as stuck, Receiver() as healthy:
        # more due callbacks for the stuck receiver than the relay ever looks at in a round
        slow_runs = [create_run(client, tenant="slowco", callback_url=stuck.url)["run_id"]
                     for _ in range(40)]
        for run_id in slow_runs:
            finish(app, run_id, tenant="slowco")
        relay(app)
        stuck.wait_for(2)  # both of its sending slots are held
        run_id = create_run(client, callback_url=healthy.url)["run_id"]
        started = time.monotonic()
        finish(app, run_id)
        [request] = healthy.wait_for(1, timeout=3)
        assert request["at"] - started < 2.0
        assert len(stuck.received) == 2  # never more than its share of the senders
        assert json.loads(request["body"])["data"]["run_id"] == run_id


def test_cancel_sends_status_changed_when_asked_for(cb_app, relay):
    client = cb_app.test_client()
    with Receiver() as receiver:
        run_id = create_run(
            client, callback_url=receiver.url, callback_events=["run.status_changed"]
        )["run_id"]
        assert client.post(f"/v1/runs/{run_id}/cancel", headers=auth()).status_code == 202
        relay()
        [request] = receiver.wait_for(1)
        finish(cb_app, run_id, "CANCELLED")
        requests = receiver.wait_for(2)
    assert [json.loads(r["body"])["data"]["status"] for r in requests] == [
        "CANCEL_REQUESTED", "CANCELLED"
    ]
    assert {json.loads(r["body"])["type"] for r in requests} == {"run.status_changed"}


def test_rotation_sends_both_signatures_during_the_grace_period(cb_app, relay):
    client = cb_app.test_client()
    old = callback_secret(client)
    rotated = client.post("/v1/callbacks/secret/rotate", headers=auth())
    assert rotated.status_code == 200
    new = rotated.get_json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert rotated.get_json()["previous_secret_expires_at"] is not None
    assert callback_secret(client) == new
    with Receiver() as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        finish(cb_app, run_id)
        relay()
        [request] = receiver.wait_for(1)
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert verify(old, request)["data"]["run_id"] == run_id
    assert verify(new, request)["data"]["run_id"] == run_id
    with pytest.raises(WebhookVerificationError):
        verify(callback_secret(client, tenant="other"), request)


# ---------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "not a url",
    ],
)
def test_private_or_odd_callback_urls_are_refused_at_creation(make_pg_app, pg, url):
    client = make_pg_app().test_client()
    body = assert_error(
        client.post("/v1/runs", json={"flow_definition": sample_flow(), "callback_url": url},
                    headers=auth()),
        400,
    )
    assert body["detail"]["problems"][0]["path"] == "callback_url"
    assert pg.execute("SELECT count(*) AS n FROM flow_runs_audit").fetchone()["n"] == 0
    sub = assert_error(
        client.post("/v1/subscriptions", json={"target_url": url}, headers=auth()), 400
    )
    assert sub["detail"]["problems"][0]["path"] == "target_url"
    assert pg.execute("SELECT count(*) AS n FROM callback_subscriptions").fetchone()["n"] == 0


def test_https_is_required_when_configured(make_pg_app):
    client = make_pg_app(CALLBACK_REQUIRE_HTTPS=True, **QUICK).test_client()
    body = assert_error(
        client.post("/v1/runs", json={"flow_definition": sample_flow(),
                                      "callback_url": "http://127.0.0.1:9/hook"}, headers=auth()),
        400,
    )
    assert "https" in body["detail"]["problems"][0]["message"]


def test_a_private_address_is_refused_at_send_too(make_pg_app, relay):
    """Allowed when the run was accepted, no longer when it is sent: nothing is sent and
    the delivery is dead-lettered with the reason."""
    allowing = make_pg_app(**QUICK)
    strict = make_pg_app(**{**QUICK, "CALLBACK_ALLOWED_HOSTS": ""})
    client = allowing.test_client()
    with Receiver() as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        finish(allowing, run_id)
        started = relay(strict)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            [delivery] = client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json()[
                "items"
            ]
            if delivery["state"] != "pending":
                break
            time.sleep(0.05)
        started.stop()
        assert receiver.received == []
    assert delivery["state"] == "failed"
    assert delivery["attempts"][0]["error"].startswith("refused:")


# ---------------------------------------------------------------- subscriptions


def test_subscriptions_are_created_listed_shown_and_deleted(cb_app, pg):
    client = cb_app.test_client()
    created = client.post(
        "/v1/subscriptions",
        json={"target_url": "http://127.0.0.1:9/zap", "events": ["run.finished"],
              "flow_id": "support-triage"},
        headers=auth(),
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_")
    assert created.headers["Location"] == f"/v1/subscriptions/{body['id']}"
    listed = client.get("/v1/subscriptions", headers=auth()).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert listed["next_cursor"] is None
    shown = client.get(f"/v1/subscriptions/{body['id']}", headers=auth()).get_json()
    assert "secret" not in shown and shown["flow_id"] == "support-triage"
    stored = pg.execute("SELECT secret FROM callback_subscriptions").fetchone()["secret"]
    assert body["secret"] not in stored or stored.startswith("plain:")
    assert_error(client.get(f"/v1/subscriptions/{body['id']}", headers=auth("other")), 404)
    assert_error(client.delete(f"/v1/subscriptions/{body['id']}", headers=auth("other")), 404)
    assert client.delete(f"/v1/subscriptions/{body['id']}", headers=auth()).status_code == 204
    assert [row["action"] for row in pg.execute(
        "SELECT action FROM audit_events WHERE resource_id = %s ORDER BY id", (body["id"],)
    )] == ["subscription.created", "subscription.deleted"]
    assert_error(client.get(f"/v1/subscriptions/{body['id']}", headers=auth()), 404)
    assert_error(
        client.post("/v1/subscriptions", json={"target_url": "http://127.0.0.1:9/x",
                                               "events": ["run.exploded"]}, headers=auth()),
        400,
    )


def test_a_subscription_gets_its_tenants_matching_runs_signed_with_its_own_secret(
    cb_app, relay
):
    client = cb_app.test_client()
    with Receiver() as receiver:
        sub = client.post(
            "/v1/subscriptions",
            json={"target_url": receiver.url, "events": ["run.finished"],
                  "flow_id": "support-triage"},
            headers=auth(),
        ).get_json()
        other_flow = create_run(client, flow_definition=sample_flow("other-flow"))["run_id"]
        other_tenant = create_run(client, tenant="globex")["run_id"]
        run_id = create_run(client)["run_id"]
        finish(cb_app, other_flow)
        finish(cb_app, other_tenant, tenant="globex")
        finish(cb_app, run_id, "RUNNING")
        finish(cb_app, run_id)
        relay()
        [request] = receiver.wait_for(1)
        time.sleep(0.5)
        assert len(receiver.received) == 1
    body = verify(sub["secret"], request)
    assert body["type"] == "run.finished" and body["data"]["run_id"] == run_id


def test_a_410_from_a_subscription_target_deletes_the_subscription(cb_app, relay, pg):
    client = cb_app.test_client()
    with Receiver(answers=[410]) as receiver:
        sub = client.post(
            "/v1/subscriptions", json={"target_url": receiver.url}, headers=auth()
        ).get_json()
        run_id = create_run(client)["run_id"]
        finish(cb_app, run_id)
        relay()
        receiver.wait_for(1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and client.get(
            f"/v1/subscriptions/{sub['id']}", headers=auth()
        ).status_code == 200:
            time.sleep(0.05)
        assert_error(client.get(f"/v1/subscriptions/{sub['id']}", headers=auth()), 404)
        later = create_run(client)["run_id"]
        finish(cb_app, later)
        time.sleep(0.3)
        assert len(receiver.received) == 1  # unsubscribed: nothing more
    [delivery] = client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json()["items"]
    assert delivery["state"] == "gone"
    assert delivery["attempts"][0]["status_code"] == 410
    actions = [row["action"] for row in pg.execute(
        "SELECT action FROM audit_events WHERE resource_type = 'subscription' ORDER BY id"
    )]
    assert actions == ["subscription.created", "subscription.gone"]


# ---------------------------------------------------------------- dead letters, operators


def test_a_delivery_out_of_retries_is_dead_lettered_and_can_be_retried(make_pg_app, relay):
    app = make_pg_app(**{**QUICK, "CALLBACK_RETRY_HOURS": 0.0001})  # 0.36 s of retries
    client = app.test_client()
    runner = app.test_cli_runner()
    with Receiver(answers=[503] * 100) as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        finish(app, run_id)
        started = relay(app)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            [delivery] = client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json()[
                "items"
            ]
            if delivery["state"] == "failed":
                break
            time.sleep(0.05)
        assert delivery["state"] == "failed"
        listed = runner.invoke(args=["callbacks", "failed"])
        assert f"run={run_id}" in listed.output and "status=503" in listed.output
        assert "failed: 1" in runner.invoke(args=["callbacks", "status"]).output
        receiver.answers.clear()
        seen = len(receiver.received)
        retried = runner.invoke(args=["callbacks", "retry", "--all"])
        assert retried.exit_code == 0 and "requeued: 1" in retried.output
        receiver.wait_for(seen + 1)
        started.stop()
    [delivery] = client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json()["items"]
    assert delivery["state"] == "delivered"
    assert runner.invoke(args=["callbacks", "retry", "12345"]).exit_code != 0


def test_callbacks_of_another_tenants_run_are_not_found(cb_app):
    client = cb_app.test_client()
    run_id = create_run(client, callback_url="http://127.0.0.1:9/x")["run_id"]
    assert client.get(f"/v1/runs/{run_id}/callbacks", headers=auth()).get_json() == {"items": []}
    assert_error(client.get(f"/v1/runs/{run_id}/callbacks", headers=auth("other")), 404)
    assert_error(client.get("/v1/runs/nope/callbacks", headers=auth()), 404)


def test_delivered_callbacks_are_pruned_after_their_retention(cb_app, relay, pg):
    from ingress_app.callbacks.service import prune_callbacks

    client = cb_app.test_client()
    with Receiver() as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        finish(cb_app, run_id)
        relay()
        receiver.wait_for(1)
        time.sleep(0.3)
    with cb_app.app_context():
        assert prune_callbacks() == 0  # still within CALLBACK_RETENTION_HOURS
    pg.execute("UPDATE callback_deliveries SET finished_at = now() - interval '100 hours'")
    with cb_app.app_context():
        assert prune_callbacks() == 1
    assert pg.execute("SELECT count(*) AS n FROM callback_attempts").fetchone()["n"] == 0


def test_a_reused_request_id_with_another_callback_url_is_a_conflict(cb_app):
    client = cb_app.test_client()
    first = create_run(client, request_id="order-7", callback_url="http://127.0.0.1:9/a")
    again = create_run(client, request_id="order-7", callback_url="http://127.0.0.1:9/a")
    assert again["run_id"] == first["run_id"] and again["replayed"] is True
    assert_error(
        client.post("/v1/runs", json={"flow_definition": sample_flow(), "request_id": "order-7",
                                      "callback_url": "http://127.0.0.1:9/b"}, headers=auth()),
        422,
    )


def test_callbacks_work_on_the_embedded_sqlite_default(tmp_path):
    from ingress_app import create_app
    from tests.conftest import base_config, migrate

    app = create_app(base_config(DATABASE_URL=f"sqlite:///{tmp_path / 'ingress.db'}", **QUICK))
    migrate(app)
    client = app.test_client()
    secret = callback_secret(client)
    with Receiver(answers=[500]) as receiver:
        run_id = create_run(client, callback_url=receiver.url)["run_id"]
        finish(app, run_id)
        started = CallbackRelay(app).start()
        requests = receiver.wait_for(2)
        started.stop()
    assert verify(secret, requests[1])["data"]["status"] == "SUCCEEDED"
    assert "pending: 0" in app.test_cli_runner().invoke(args=["callbacks", "status"]).output
    with app.app_context():
        from ingress_app.extensions import db

        db.engine.dispose()


def test_a_webhook_configs_callback_url_is_checked_and_given_to_its_runs(cb_app, relay, pg):
    from tests.integration.test_webhook_configs import create_webhook, intake

    client = cb_app.test_client()
    body = {"flow_definition": sample_flow(), "auth": {"type": "header-token"}}
    refused = client.post(
        "/v1/webhook-configs", json={**body, "callback_url": "http://169.254.169.254/"},
        headers=auth(),
    )
    assert assert_error(refused, 400)["detail"]["problems"][0]["path"] == "callback_url"
    assert pg.execute("SELECT count(*) AS n FROM webhook_configs").fetchone()["n"] == 0
    with Receiver() as receiver:
        webhook = create_webhook(client, **body, callback_url=receiver.url,
                                 callback_events=["run.finished"])
        assert webhook["callback_url"] == receiver.url
        started = client.post(intake(webhook), json={"a": 1},
                              headers={"X-Webhook-Token": webhook["secret"]})
        assert started.status_code == 202, started.get_data(as_text=True)
        run_id = started.get_json()["run_id"]
        finish(cb_app, run_id)
        relay()
        [request] = receiver.wait_for(1)
    assert json.loads(request["body"])["data"]["run_id"] == run_id
    assert json.loads(request["body"])["data"]["source"] == "webhook"
