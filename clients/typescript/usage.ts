// A TypeScript caller typed by openapi-typescript's output (`npm run check` generates
// ingress.d.ts from ../openapi.json and compiles this file with `tsc --strict`). It is
// compiled, not run: a change to the document that breaks callers breaks this build.
import type { components, operations, paths } from "./ingress";

type Schemas = components["schemas"];
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

// Bodies are the named schemas, so a flow written once fits every operation.
const flow: Schemas["FlowDefinition"] = {
  id: "support-triage",
  tasks: [
    { id: "classify", type: "llm", retries: 2, timeout_seconds: 60, config: {} },
    { id: "route", type: "tool", depends_on: ["classify"] },
  ],
};

const createBody: Json<operations["createRun"]["requestBody"]> = {
  flow_definition: flow,
  input: { ticket: 42 },
  request_id: "ticket-42",
};
const registerBody: Json<operations["registerFlow"]["requestBody"]> = {
  ...flow,
  version: "3",
  tags: ["support"],
};
const hookBody: Json<paths["/v1/webhook-configs"]["post"]["requestBody"]> = {
  flow_id: "support-triage",
  source: "zapier",
  auth: { type: "header-token" },
  input_mapping: { email: "payload.email" },
  items: "each",
};

// A typo in a task is a compile error, not a silently ignored field.
const typo: Schemas["Task"] = {
  id: "classify",
  type: "llm",
  // @ts-expect-error `retires` is not a task field
  retires: 2,
};

// Status values are one shared union: what a run answers is what the list filter takes.
type Filter = NonNullable<operations["listRuns"]["parameters"]["query"]>["status"];
function isFinal(status: Schemas["RunStatus"]): boolean {
  const final: Schemas["RunStatus"][] = ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"];
  return final.includes(status);
}
const sameStatus: Filter = "RUNNING" satisfies Schemas["RunStatus"];

type Run = Json<operations["getRun"]["responses"][200]>;
function describe(run: Run): string {
  const tasks = Object.entries(run.tasks ?? {}).map(
    ([id, task]) => `${id}: ${task.status}${task.policy_violations?.length ? " (breach)" : ""}`,
  );
  return `${run.run_id} ${run.status}${isFinal(run.status) ? " (final)" : ""} ${tasks.join(", ")}`;
}

// Error bodies: `detail` is a sentence, a structured ErrorDetail, or null.
type ApiError = Json<operations["createRun"]["responses"][400]>;
function reasons(error: ApiError): string[] {
  const detail = error.detail;
  if (detail === null || typeof detail === "string") {
    return [detail ?? error.error];
  }
  const problems = (detail.problems ?? []).map((p) => `${p.path}: ${p.message}`);
  const violations = (detail.violations ?? []).map(
    (v) => `${v.policy}${v.task_id === null ? "" : ` on ${v.task_id}`}: ${v.message}`,
  );
  return [...problems, ...violations];
}

// The 202 of the intake: one run, or (`items: each`) one per item.
type Accepted = Json<operations["receiveWebhook"]["responses"][202]>;
function runIds(accepted: Accepted): string[] {
  if (accepted.runs) {
    return accepted.runs.map((run) => run.run_id);
  }
  return accepted.run_id === undefined ? [] : [accepted.run_id];
}

// Health statuses are shared by the report and each check.
type Health = Json<operations["getHealth"]["responses"][200]>;
const degraded = (health: Health): boolean =>
  health.status !== "pass" || Object.values(health.checks ?? {}).some((c) => c.status === "fail");

export { createBody, registerBody, hookBody, typo, sameStatus, describe, reasons, runIds, degraded };
