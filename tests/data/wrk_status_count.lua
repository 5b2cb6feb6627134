-- wrk_status_count.lua - count responses by status class for tests/reliability/test_load.c:
-- prints one line "statuses 2xx=N 503=N other=N" when the run is done.
-- SPDX-License-Identifier: MIT
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    ok, unavailable, other = 0, 0, 0
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
    elseif status == 503 then
        unavailable = unavailable + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local a, b, c = 0, 0, 0
    for _, t in ipairs(threads) do
        a = a + t:get("ok")
        b = b + t:get("unavailable")
        c = c + t:get("other")
    end
    io.write(string.format("statuses 2xx=%d 503=%d other=%d p99_ms=%.1f errors=%d\n", a, b, c,
        latency:percentile(99) / 1000.0,
        summary.errors.connect + summary.errors.read + summary.errors.write +
        summary.errors.status + summary.errors.timeout))
end
