-- POST /v1/runs to the FastAPI peer: post_run.lua's body plus the flow_id its schema requires.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
BENCH_INLINE_FLOW_ID = "support-triage"
require("post_run")
