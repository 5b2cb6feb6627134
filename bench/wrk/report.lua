-- report.lua - wrk hook: print one JSON line with the run's figures, for scripts/bench.sh.
-- SPDX-License-Identifier: MIT
--
-- wrk's own text output changes units (us/ms/s, k/M) from run to run; this line does not.
-- Latencies are in microseconds. Set BENCH_CLOSE=1 to send `Connection: close` on every request.

if os.getenv("BENCH_CLOSE") == "1" then
    wrk.headers["Connection"] = "close"
end

done = function(summary, latency, requests)
    local s = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,' ..
        '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
        '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
        summary.requests, s, summary.requests / s, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
