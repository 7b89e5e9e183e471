-- POST /api/flow_runs/ on a Prefect 3 server (used by bench/prefect_compare.py).
-- The flow id comes from BENCH_PREFECT_FLOW_ID (the script creates the flow first);
-- every request creates a new PENDING flow run of that flow. Same shared report as
-- the Ingress scripts, so both sides are counted the same way.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("report")

local flow_id = os.getenv("BENCH_PREFECT_FLOW_ID")
if flow_id == nil or flow_id == "" then
  error("BENCH_PREFECT_FLOW_ID is not set")
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"flow_id":"' .. flow_id .. '","name":"bench",' ..
  '"parameters":{"email":"a@example.com"},"state":{"type":"PENDING"}}'
