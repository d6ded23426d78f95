-- Rotates over the paths in the file named by BENCH_PATHS (one a line), sends the
-- headers in BENCH_HEADERS ("Name: value" joined by "|") and prints one JSON line:
-- requests, duration, bytes read, latency percentiles (us), answers with a status of 400
-- or more, socket errors.
--
-- No response() hook: with one, wrk copies every answer's body into a Lua string, which
-- costs the client (on the same two cores as the server) as much as the server's sending
-- for a large answer (index.yaml: 45% of the measured throughput). wrk itself counts the
-- answers with a status of 400 or more.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  if line ~= "" then paths[#paths + 1] = line end
end
local headers = {}
for pair in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local name, value = string.match(pair, "^%s*([^:]+):%s*(.*)$")
  if name then headers[name] = value end
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50": %d, "p95": %d, ' ..
    '"p99": %d, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
