"""The documented n8n workflow, run by n8n itself against Ingress under gunicorn.

Needs the `n8n` command (npm `n8n` 2.x; set `N8N_BIN` to its path, or have it on PATH):
skipped without it, since n8n is a client, not a service the suite needs. To run it:

    npm install n8n@2 --prefix ~/n8n   # with "overrides": {"xlsx": "0.18.5"} in package.json
    N8N_BIN=~/n8n/node_modules/.bin/n8n python -m pytest tests/integration/test_n8n_live.py
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import JWT_SECRET, make_token
from tests.support.gunicorn import ROOT, GunicornServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("emptied_after")]

N8N = os.environ.get("N8N_BIN") or shutil.which("n8n")
WORKFLOW = ROOT / "docs" / "examples" / "n8n-start-run.json"


def call(port: int, method: str, path: str, token: str, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def n8n(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "N8N_USER_FOLDER": str(home), "N8N_DIAGNOSTICS_ENABLED": "false",
           "N8N_RUNNERS_ENABLED": "false"}
    return subprocess.run([N8N, *args], env=env, capture_output=True, text=True, timeout=240)


def node_output(raw: str, name: str) -> list[dict]:
    """A node's output items from `n8n execute --rawOutput`.

    n8n prints log lines before and after the execution's JSON document (its task runner
    registers late), so the document is the first line-leading `{` that decodes to an
    execution, read with `raw_decode` so trailing lines are ignored.
    """
    decoder = json.JSONDecoder()
    for match in re.finditer(r"(?m)^\{", raw):
        try:
            run, _ = decoder.raw_decode(raw, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(run, dict) and "resultData" in run.get("data", {}):
            return [item["json"]
                    for item in run["data"]["resultData"]["runData"][name][0]["data"]["main"][0]]
    raise AssertionError(f"no execution document in n8n's output: {raw[-2000:]}")


@pytest.mark.skipif(not N8N, reason="n8n is not installed (set N8N_BIN)")
def test_the_documented_workflow_starts_a_run_and_reads_it_back(postgres_url, redis_url, tmp_path):
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "JWT_SECRET_KEY": JWT_SECRET,
           "KAFKA_BOOTSTRAP_SERVERS": "", "API_WORKERS": "1"}
    token = make_token("n8n-live", "builder", expires_in=3600)
    with GunicornServer(env, tmp_path) as server:
        server.wait_healthy(workers=1)
        status, webhook = call(server.port, "POST", "/v1/webhook-configs", token, {
            "source": "n8n", "auth": {"type": "header-token"}, "require_delivery_id": True,
            "flow_definition": {"id": "support-triage", "version": "3", "type": "DAG",
                                "tasks": [{"id": "classify", "type": "llm"}]},
        })
        assert status == 201, webhook
        base = f"http://127.0.0.1:{server.port}"
        workflow = json.loads(WORKFLOW.read_text())
        workflow["id"] = "ingressLiveTest01"
        for node in workflow["nodes"]:
            url = node["parameters"].get("url")
            if url:
                node["parameters"]["url"] = url.replace(
                    "http://localhost:8000/v1/webhooks/wh_REPLACE_WITH_YOUR_WEBHOOK_ID",
                    f"{base}/v1/webhooks/{webhook['webhook_id']}",
                ).replace("http://localhost:8000", base)
        (tmp_path / "workflow.json").write_text(json.dumps(workflow))
        (tmp_path / "credentials.json").write_text(json.dumps([
            {"id": "ingress-webhook-token", "name": "Ingress webhook token",
             "type": "httpHeaderAuth",
             "data": {"name": "X-Webhook-Token", "value": webhook["secret"]}},
            {"id": "ingress-api-token", "name": "Ingress API token", "type": "httpBearerAuth",
             "data": {"token": token}},
        ]))
        home = tmp_path / "n8n"
        home.mkdir()
        for args in (("import:credentials", f"--input={tmp_path / 'credentials.json'}"),
                     ("import:workflow", f"--input={tmp_path / 'workflow.json'}")):
            done = n8n(home, *args)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

        first = n8n(home, "execute", "--id", "ingressLiveTest01", "--rawOutput")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
        started = node_output(first.stdout, "Start run")
        read = node_output(first.stdout, "Read run")

    assert started[0]["replayed"] is False
    assert read[0]["run_id"] == started[0]["run_id"]
    assert read[0]["status"] == "PENDING"
    assert read[0]["input"] == {"email": "customer@example.com", "ticket_id": "T-1001"}
