-- wrk script: private_key_jwt token requests (RFC 7523 §2.2). A jti is single use, so every request
-- sends its own assertion, signed beforehand: thread i of n takes lines i, i+n, i+2n… of the file.
-- env: BENCH_ASSERTIONS (file, one assertion a line), BENCH_THREADS (wrk's -t), BENCH_BODY (the rest)
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  assertions, used = {}, 0
  local i = 0
  local path = os.getenv("BENCH_ASSERTIONS")
  assert(path, "BENCH_ASSERTIONS not set")
  for line in io.lines(path) do
    if i % n == id then assertions[#assertions + 1] = line end
    i = i + 1
  end
  prefix = (os.getenv("BENCH_BODY") or "grant_type=client_credentials&scope=api:read")
    .. "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
  headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json"}
end

function request()
  used = used + 1  -- past the end it wraps around: those requests are replays, refused (non-2xx)
  local assertion = assertions[(used - 1) % #assertions + 1]
  return wrk.format("POST", nil, headers, prefix .. assertion)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.2f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"non2xx3xx":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3,
    e.status, e.connect, e.read, e.write, e.timeout))
end
