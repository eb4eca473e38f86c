-- wrk script: POST a random draw (PP-06) for a selection, rotating over the selections listed in the
-- file named by $PLATES_SELECTIONS ("<selection id> <bearer token>" per line), each with its own token.
-- `done` prints one JSON line: requests, non-2xx answers, socket errors and latency percentiles (ms).
local path = os.getenv("PLATES_SELECTIONS")
local mode = os.getenv("PLATES_MODE") or "draw"
local rows = {}
for line in io.lines(path) do
  local id, token = line:match("^(%S+)%s+(%S+)$")
  if id then rows[#rows + 1] = {id, token} end
end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end

function init(args)
  n = offset or 0
end

function request()
  n = n + 1
  local row = rows[(n % #rows) + 1]
  local headers = {["Authorization"] = "Bearer " .. row[2]}
  if mode == "hello" then
    return wrk.format("GET", "/api/v1/plate-selections/whoami", headers)
  end
  headers["Content-Length"] = "0"
  return wrk.format("POST", "/api/v1/plate-selections/" .. row[1] .. "/random-draws", headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
