-- wrk script (W6): posts the signed status callbacks of CALLBACKS_FILE, one line
-- each ("PATH<TAB>FORM BODY<TAB>X-Twilio-Signature"), in order; prints one
-- parseable ANCHOR line.  (Lines are signed in advance: wrk's Lua has no HMAC.)
-- Past the end it repeats the last line, which iopd counts once: bench/run.sh
-- stops wrk (SIGINT: its summary then covers the time it ran) as soon as iopd
-- has recorded every receipt.  Run it with one thread (-t1): the lines are
-- shared by that thread's connections.
local reqs, n, i = {}, 0, 0

local function load()
  for line in io.lines(os.getenv("CALLBACKS_FILE")) do
    local path, body, sig = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
    n = n + 1
    reqs[n] = wrk.format("POST", path, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = sig }, body)
  end
end

init = function(args) load() end

request = function()
  if i < n then i = i + 1 end
  return reqs[i]
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "ANCHOR wrk-callbacks requests=%d secs=%.3f rps=%.1f err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d lat_p50_us=%d lat_p99_us=%d lat_max_us=%d\n",
    summary.requests, secs, summary.requests / secs, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
