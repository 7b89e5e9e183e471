-- POST /v1/runs with the example body (Authorization comes from wrk -H).
-- BENCH_UNIQUE_REQUEST_ID=1 adds a unique request_id per request (exercises the
-- idempotency index); otherwise every request is the same body and creates a new run.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("report")

-- BENCH_INLINE_FLOW_ID (a global set by a wrapper script) adds "flow_id" before the definition.
local FLOW = (BENCH_INLINE_FLOW_ID and ('"flow_id":"' .. BENCH_INLINE_FLOW_ID .. '",') or "") ..
  '"flow_definition":{"id":"support-triage","version":"3","type":"DAG",' ..
  '"tasks":[{"id":"classify","type":"llm","retries":2,"timeout_seconds":60},' ..
  '{"id":"route","type":"tool","depends_on":["classify"]}]},' ..
  '"input":{"email":"a@example.com"}'

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{" .. FLOW .. "}"

local unique = os.getenv("BENCH_UNIQUE_REQUEST_ID") == "1"
local counter = 0
local prefix = nil

local threads = 0
setup = function(thread)
  -- runs in the main state: give each thread a distinct prefix
  threads = threads + 1
  thread:set("thread_prefix", string.format("%d-%d-%d", os.time(), math.random(1, 1e9), threads))
end

init = function(args)
  prefix = thread_prefix or tostring(math.random(1, 1e9))
end

if unique then
  request = function()
    counter = counter + 1
    local body = '{"request_id":"bench-' .. prefix .. '-' .. counter .. '",' .. FLOW .. '}'
    return wrk.format(nil, nil, nil, body)
  end
end
