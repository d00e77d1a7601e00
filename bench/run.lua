--- `make bench`: the Lua layer against raw C baselines, in one run, as ratios (these machines
-- are shared and noisy: absolute times mean little, ratios measured together do).
--   1. client CPU time per call: N sequential GetNamespaces with client:call, the client's
--      defaults except rate_limit = false (so that no bucket ever sleeps; max_operations and
--      retries as they are, retries not triggered), vs bench/raw_client.c against one local
--      server; beside it, the C core's own ch:call from Lua, which the client's layer wraps;
--   2. decoding and encoding a GetNamespacesResponse: bench/convert.lua (run next by make).
-- Target (issue 21, item 5): 1. at most 1.15x.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local helpers = require "helpers"
local schema = require "cloudops.schema"
local format = B.format

local N = tonumber(os.getenv("BENCH_CALLS") or "") or 10000
local BIN = B.ROOT .. "build/bench/"

local function run(cmd)
  local out, ok = helpers.run(cmd)
  if not ok then error("failed: " .. cmd .. "\n" .. out) end
  return out
end

local function cpu_per(n, f)
  local t0 = os.clock()
  for _ = 1, n do f() end
  return (os.clock() - t0) / n
end

-- A server that answers as a real one would: no x-echo-* trailers for the client to unpack.
local server = helpers.test_server{ no_echo = true }
local client = assert(B.cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "bench-key",
                                          rate_limit = false })
local req = { page_size = 10 }
local function one_call() assert(client:call("GetNamespaces", req)) end
-- The same call on a channel of the core's own, with the headers the client sends, prepared
-- once as the client prepares them (core.metadata).
local m = schema.method("GetNamespaces")
local ch = B.core.channel(server.endpoint, { insecure = true })
local headers = B.core.metadata{ authorization = "Bearer bench-key",
                                 ["temporal-cloud-api-version"] = B.core.API_VERSION }
local function core_call() assert(ch:call(m.index, m.encode(req), 30, headers)) end
for _ = 1, 50 do one_call() core_call() end
-- Alternate the clients over several rounds, in a rotating order, so that drift in machine
-- load (the machine is shared) hits them alike; the medians of the per-round ratios and times
-- are reported.
local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS") or "") or 9
local lua_cpu, core_cpu, raw_cpu = {}, {}, {}
local measure = {
  function(round) lua_cpu[round] = cpu_per(N, one_call) * 1e6 end,
  function(round) core_cpu[round] = cpu_per(N, core_call) * 1e6 end,
  function(round)
    local out = run(BIN .. "raw_client " .. server.endpoint .. " " .. N)
    raw_cpu[round] = tonumber(out:match("cpu_us_per_call=([%d%.]+)"))
  end,
}
for round = 1, ROUNDS do
  for i = 0, 2 do measure[(round + i) % 3 + 1](round) end
end
client:close()
ch:close()
server.stop()
-- Each round's ratio is of runs made one after the other, so that load that drifts over the
-- rounds cancels out; the median of those ratios is the figure.
local ratios, core_ratios = {}, {}
for i = 1, ROUNDS do ratios[i], core_ratios[i] = lua_cpu[i] / raw_cpu[i], core_cpu[i] / raw_cpu[i] end
for _, t in ipairs { ratios, core_ratios, lua_cpu, core_cpu, raw_cpu } do table.sort(t) end
local mid = math.floor((ROUNDS + 1) / 2)
print(format("calls: %d sequential unary calls, client CPU per call (medians of %d rounds)", N, ROUNDS))
print(format("  lua client:call (rate_limit = false)  %8.2f us", lua_cpu[mid]))
print(format("  the C core's ch:call from Lua         %8.2f us   (%.2fx raw)", core_cpu[mid], core_ratios[mid]))
print(format("  raw C core client                     %8.2f us", raw_cpu[mid]))
B.figure("client:call vs the raw C core client, rate_limit = false, max_operations and retries as default",
  format("%.2fx (rounds %.2f .. %.2f)", ratios[mid], ratios[1], ratios[ROUNDS]), "at most 1.15x", ratios[mid] <= 1.15)

-- 2. decode and encode: bench/convert.lua, run next by `make bench`.
if not os.getenv("BENCH_KEEP") then helpers.cleanup() end
os.exit(B.finish())
