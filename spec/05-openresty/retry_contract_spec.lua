-- The OpenResty client keeps the client's retry contract (04-helpers.retry_contract): it is the
-- client's one attempts loop, run in the request, each attempt one hop through nginx's thread
-- pool. Here the pool is faked as lua-nginx-module behaves (05-openresty.support's fake_ngx:
-- plain values copied both ways), its thread_attempt answered by the contract's handlers, in
-- fake time.
local S = require "04-helpers.support"
local N = require "05-openresty.support"
local schema = require "cloudops.schema"
local openresty = require "cloudops.openresty"
local cloudops = require "cloudops"
local bucket = require "cloudops.limit.bucket"

local by_index = {}
for _, m in ipairs(schema.methods()) do by_index[m.index] = m end

-- A client of cloudops.openresty whose pool threads answer with handler (see S.fake_transport).
local function connect(handler, opts)
  local clock, calls = S.clock(), {}
  local answer = S.fake_transport(handler, clock, calls)
  local ngx = N.fake_ngx {
    thread_attempt = function(_, _, _, index, payload, timeout, headers)
      local resp, code, message, h, t = answer:call(by_index[index], payload, timeout, headers)
      return { resp = resp, code = code, message = message, headers = h, trailers = t }
    end,
  }
  rawset(_G, "ngx", ngx)
  local o = { endpoint = "127.0.0.1:9", insecure = true, api_key = "secret-key-0123", rate_limit = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  local c = assert(openresty.connect(o, { clock = clock.now, sleep = clock.sleep }))
  return c, clock, calls
end

describe("cloudops.openresty's retries", function()
  local saved
  before_each(function() saved = rawget(_G, "ngx") end)
  after_each(function() rawset(_G, "ngx", saved) end)

  require("04-helpers.retry_contract")(connect)

  it("learn an auto limit's identity through a hop of their own, off the call's path", function()
    local sa = { service_account = { id = "sa-1", spec = { name = "bot" } } }
    local c, _, calls = connect(function(method)
      if method == "GetCurrentIdentity" then return sa end
      return {}
    end, { rate_limit = "auto" })
    local lookups = function()
      local n = 0
      for _, call in ipairs(calls) do if call.method == "GetCurrentIdentity" then n = n + 1 end end
      return n
    end
    -- busy enough for the rate to matter: the lookup starts (a timer, then a hop to the pool)
    for _ = 1, cloudops.LIMITS.user * bucket.BUSY + 1 do assert(c:get_regions{}) end
    assert.equal(1, lookups())
    -- its answer is read at the next attempt: a service account's rate, not a user's
    assert(c:get_regions{})
    assert.equal(cloudops.LIMITS.service_account, c._limiter:current_rate())
    assert.equal(1, lookups())
  end)

  it("cross to the pool once per attempt, each a hop of plain values", function()
    local n = 0
    local c = connect(function()
      n = n + 1
      if n < 3 then return nil, 14, "unavailable" end
      return { namespaces = { { namespace = "a", state = "RESOURCE_STATE_ACTIVE" } } }
    end)
    local resp, err, info = c:get_namespaces{}
    assert.is_nil(err)
    assert.equal("a", resp.namespaces[1].namespace)
    assert.equal(3, info.attempts)
    local hops = rawget(_G, "ngx").hops
    assert.equal(3, #hops)
    for _, hop in ipairs(hops) do assert.equal("thread_attempt", hop.fname) end
  end)
end)
