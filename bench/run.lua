--- `make bench`: the Lua layer against raw C baselines, in one run, as ratios (these machines
-- are shared and noisy: absolute times mean little, ratios measured together do).
--   1. client CPU time per call: N sequential GetNamespaces with client:call (rate_limit =
--      false, retries on but not triggered) vs bench/raw_client.c, against one local server;
--   2. decoding and encoding a GetNamespacesResponse: bench/convert.lua.
-- Target (issue 2): 1. at most 1.3x.
local ROOT = arg[0]:match("^(.*)bench/run%.lua$") or "./"
package.path = ROOT .. "spec/?.lua;" .. package.path
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

local N = tonumber(os.getenv("BENCH_CALLS") or "") or 10000
local BIN = ROOT .. "build/bench/"

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

-- 1. calls ------------------------------------------------------------------------------------
-- A server that answers as a real one would: no x-echo-* trailers for the client to unpack.
local server = helpers.test_server{ no_echo = true }
local client = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "bench-key",
                                        rate_limit = false })
local req = { page_size = 10 }
local function one_call() assert(client:call("GetNamespaces", req)) end
for _ = 1, 50 do one_call() end
-- Alternate the two clients a few rounds so that drift in machine load hits both alike; the
-- medians of the per-round ratios and times are reported.
local ROUNDS = 5
local lua_cpu, raw_cpu = {}, {}
for round = 1, ROUNDS do
  lua_cpu[round] = cpu_per(N, one_call) * 1e6
  raw_cpu[round] = tonumber(run(BIN .. "raw_client " .. server.endpoint .. " " .. N):match("cpu_us_per_call=([%d%.]+)"))
end
client:close()
server.stop()
-- Each round's ratio is of two runs made one after the other, so that load that drifts over
-- the rounds cancels out; the median of those ratios is the figure.
local ratios = {}
for i = 1, ROUNDS do ratios[i] = lua_cpu[i] / raw_cpu[i] end
table.sort(ratios)
table.sort(lua_cpu)
table.sort(raw_cpu)
local ratio = ratios[3]
print(string.format("calls: %d sequential unary calls, client CPU per call (medians of %d rounds)", N, ROUNDS))
print(string.format("  lua client:call   %8.2f us", lua_cpu[3]))
print(string.format("  raw C core client %8.2f us", raw_cpu[3]))
print(string.format("  ratio             %8.2fx   (target <= 1.30x)  %s   (rounds: %.2f .. %.2f)", ratio,
  ratio <= 1.3 and "MET" or "NOT MET", ratios[1], ratios[ROUNDS]))

-- 2. decode and encode: bench/convert.lua, run next by `make bench`.
if not os.getenv("BENCH_KEEP") then helpers.cleanup() end
