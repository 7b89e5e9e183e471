-- GET with the shared report (headers such as Authorization come from wrk -H).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("report")
