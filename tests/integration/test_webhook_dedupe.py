"""Dedupe: a delivery id seen before for a webhook answers with the same run, also
when ten redeliveries race each other."""

from __future__ import annotations

import json
import threading
import time

from tests.conftest import auth
from tests.integration.conftest import count
from tests.integration.test_webhook_configs import (
    CONFIGS,
    create_webhook,
    intake,
    standard_headers,
)
from tests.support.front_door import front_door_both_ways  # noqa: F401 - both ways


def token_post(client, webhook: dict, payload: dict, **headers: str):
    return client.post(
        intake(webhook), json=payload, headers={"X-Webhook-Token": webhook["secret"], **headers}
    )


def delivery_rows(pg) -> list[dict]:
    return pg.execute(
        "SELECT delivery_id, attempts, outcome, run_id FROM webhook_deliveries ORDER BY id"
    ).fetchall()


def test_standard_redelivery_with_a_new_timestamp_returns_the_same_run(client, pg):
    webhook = create_webhook(client)
    body = json.dumps({"email": "a@example.com"}).encode()
    first_headers = standard_headers(
        webhook["secret"], body, msg_id="msg_1", timestamp=int(time.time()) - 60
    )
    # a retry: same webhook-id, new timestamp and signature (as senders do)
    retry_headers = standard_headers(webhook["secret"], body, msg_id="msg_1")

    first = client.post(
        intake(webhook), data=body, content_type="application/json", headers=first_headers
    )
    retry = client.post(
        intake(webhook),
        data=body,
        content_type="application/json",
        headers={**retry_headers, "X-Correlation-ID": "retry"},
    )

    assert first.status_code == retry.status_code == 202
    assert retry.get_json() == {**first.get_json(), "replayed": True}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(pg, "flow_runs_audit") == 1
    assert count(pg, "outbox_messages") == 1
    assert delivery_rows(pg) == [
        {
            "delivery_id": "msg_1",
            "attempts": 2,
            "outcome": "accepted",
            "run_id": first.get_json()["run_id"],
        }
    ]


def test_idempotency_key_names_the_delivery(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})

    first = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k-1"})
    again = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k-1"})
    other = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k-2"})

    assert again.get_json() == {**first.get_json(), "replayed": True}
    assert other.get_json()["run_id"] != first.get_json()["run_id"]
    assert count(pg, "flow_runs_audit") == 2


def test_redelivery_with_another_payload_still_returns_the_first_run(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})

    first = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k-1"})
    changed = token_post(client, webhook, {"a": 2}, **{"Idempotency-Key": "k-1"})

    assert changed.status_code == 202
    assert changed.get_json() == {**first.get_json(), "replayed": True}
    assert count(pg, "flow_runs_audit") == 1


def test_adapter_delivery_id_is_used(client, pg):
    webhook = create_webhook(client, source="zapier", auth={"type": "header-token"})

    first = token_post(client, webhook, {"a": 1}, **{"X-Zapier-Delivery-Id": "zap-1"})
    again = token_post(client, webhook, {"a": 1}, **{"X-Zapier-Delivery-Id": "zap-1"})

    assert again.get_json() == {**first.get_json(), "replayed": True}
    assert delivery_rows(pg)[0]["delivery_id"] == "zap-1"


def test_same_delivery_id_on_two_webhooks_makes_two_runs(client, pg):
    one = create_webhook(client, auth={"type": "header-token"})
    two = create_webhook(client, auth={"type": "header-token"})

    first = token_post(client, one, {"a": 1}, **{"Idempotency-Key": "same"})
    second = token_post(client, two, {"a": 1}, **{"Idempotency-Key": "same"})

    assert first.get_json()["run_id"] != second.get_json()["run_id"]
    assert count(pg, "flow_runs_audit") == 2


def test_deliveries_without_an_id_each_make_a_run(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})

    first = token_post(client, webhook, {"a": 1})
    second = token_post(client, webhook, {"a": 1})

    assert first.get_json()["run_id"] != second.get_json()["run_id"]
    assert count(pg, "webhook_deliveries") == 2


def test_a_rejected_delivery_may_succeed_when_retried(client, pg):
    webhook = create_webhook(
        client, auth={"type": "header-token"}, input_mapping={"name": "payload.name"}
    )

    failed = token_post(client, webhook, {}, **{"Idempotency-Key": "k-1"})
    client.patch(f"{CONFIGS}/{webhook['webhook_id']}", json={"input_mapping": None}, headers=auth())
    retried = token_post(client, webhook, {}, **{"Idempotency-Key": "k-1"})

    assert failed.status_code == 400
    assert retried.status_code == 202
    assert delivery_rows(pg) == [
        {
            "delivery_id": "k-1",
            "attempts": 2,
            "outcome": "accepted",
            "run_id": retried.get_json()["run_id"],
        }
    ]


def test_overlong_or_unprintable_delivery_ids_are_400(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})

    long_id = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k" * 256})
    control = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "a\tb"})

    assert long_id.status_code == control.status_code == 400
    assert count(pg, "flow_runs_audit") == 0


def test_delivery_id_survives_the_retention_window_through_the_run(client, pg):
    webhook = create_webhook(client, auth={"type": "header-token"})
    first = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k-1"})
    pg.execute("DELETE FROM webhook_deliveries")

    again = token_post(client, webhook, {"a": 1}, **{"Idempotency-Key": "k-1"})

    assert again.get_json() == {**first.get_json(), "replayed": True}
    assert count(pg, "flow_runs_audit") == 1


def test_ten_concurrent_redeliveries_make_exactly_one_run(app, pg):
    webhook = create_webhook(app.test_client())
    body = json.dumps({"email": "a@example.com"}).encode()
    n = 10
    # each redelivery is signed on its own (timestamps may differ by a second)
    start = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        client = app.test_client()
        headers = standard_headers(webhook["secret"], body, msg_id="msg_race")
        start.wait()
        try:
            response = client.post(
                intake(webhook), data=body, content_type="application/json", headers=headers
            )
            results[i] = (response.status_code, response.get_json())
        except Exception as exc:  # reported by the assertions below
            results[i] = (None, repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [status for status, _ in results] == [202] * n, results
    assert len({(payload["run_id"], payload["correlation_id"]) for _, payload in results}) == 1
    assert sorted(payload["replayed"] for _, payload in results) == [False] + [True] * (n - 1)
    assert count(pg, "flow_runs_audit") == 1
    assert count(pg, "outbox_messages") == 1
    assert delivery_rows(pg) == [
        {
            "delivery_id": "msg_race",
            "attempts": n,
            "outcome": "accepted",
            "run_id": results[0][1]["run_id"],
        }
    ]
