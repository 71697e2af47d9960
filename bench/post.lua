-- wrk script for the capacity benchmarks (bench/bench.py): POST /v1/leads with the
-- README's lead and no Idempotency-Key, so every request is a new lead with its own id.
-- Each request has an email address and phone number of its own (thread number and a
-- counter), so the gateway's per-email and per-phone limits never refuse one: with the
-- limits on, the benchmark measures what checking them costs. Each request also comes
-- from a client address of its own (X-Forwarded-For, believed when the gateway trusts
-- 127.0.0.1).
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"홍길동","email":"bench%d.%d@example.com","country_code":"+82",' ..
    '"phone_number":"010-%d%03d-%04d","privacy_consent":true,"campaign":"spring-2026",' ..
    '"utm_source":"newsletter","page_url":"https://event.example.com/spring"}',
    id, counter, 1 + id % 9, math.floor(counter / 10000) % 1000, counter % 10000)
  -- A client address of its own for every 65,536 requests of a thread, as a load
  -- balancer would forward it (the gateway trusts 127.0.0.1 in the rate-limited runs).
  headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", id % 256,
    math.floor(counter / 256) % 256, counter % 256)
  return wrk.format("POST", nil, headers, body)
end
