-- POST /v1/runs by flow_id (registry path): the flow run_api.py registered before the run
-- (the same 2-task flow post_run.lua sends inline). Authorization comes from wrk -H.
-- BENCH_FLOW_ID names the registered flow; BENCH_UNIQUE_REQUEST_ID=1 as in post_run.lua.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("report")

local FLOW = '"flow_id":"' .. (os.getenv("BENCH_FLOW_ID") or "support-triage") .. '",' ..
  '"input":{"email":"a@example.com"}'

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{" .. FLOW .. "}"

local unique = os.getenv("BENCH_UNIQUE_REQUEST_ID") == "1"
local counter = 0
local prefix = nil

local threads = 0
setup = function(thread)
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
