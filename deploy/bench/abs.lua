-- wrk script for deploy/bench/run.sh.
-- Through a proxy (BENCH_MODE=proxy, the default) every request is sent in
-- absolute form, "GET http://ORIGIN/small HTTP/1.1", with the Host header set
-- explicitly to the same authority (the edge rejects a Host that differs from
-- the absolute URI's authority). For the direct baseline (BENCH_MODE=direct)
-- the request is the origin-form "GET /small" a client would send to a server.
local origin = os.getenv("BENCH_ORIGIN") or error("BENCH_ORIGIN is not set")
local path = os.getenv("BENCH_PATH") or "/small"

wrk.method = "GET"
wrk.headers["Host"] = origin
if os.getenv("BENCH_MODE") == "direct" then
   wrk.path = path
else
   wrk.path = "http://" .. origin .. path
end

-- No response() callback on purpose: it would make wrk parse every body in
-- Lua and slow the load generator down. run.sh rejects a run whose wrk output
-- reports non-2xx/3xx responses or socket errors instead.
