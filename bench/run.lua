--- `make bench`: the Lua layer against raw C baselines, in one run, as ratios (these machines
-- are shared and noisy: absolute times mean little, ratios measured together do).
--   1. client CPU time per call: N sequential GetNamespaces with client:call (rate_limit =
--      false, retries on but not triggered) vs bench/raw_client.c, against one local server;
--   2. decoding a 1000-namespace GetNamespacesResponse: cloudops.decode vs protobuf-c unpack.
-- Targets (issue 2): 1. at most 1.3x; 2. at most 4x.
local ROOT = arg[0]:match("^(.*)bench/run%.lua$") or "./"
package.path = ROOT .. "spec/?.lua;" .. package.path
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

local N = tonumber(os.getenv("BENCH_CALLS") or "") or 10000
local DECODES = tonumber(os.getenv("BENCH_DECODES") or "") or 200
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

-- 2. decode ---------------------------------------------------------------------------------
local ns = {}
for i = 1, 1000 do
  ns[i] = {
    namespace = string.format("team-%04d.a1b2c", i), resource_version = "v" .. i, state = "RESOURCE_STATE_ACTIVE",
    async_operation_id = "op-" .. i, active_region = "aws-us-east-1",
    spec = { name = string.format("team-%04d", i), regions = { "aws-us-east-1", "aws-us-west-2" }, retention_days = 30,
             api_key_auth = { enabled = true }, custom_search_attributes = { CustomerId = "Keyword", Amount = "Double" } },
    endpoints = { web_address = "https://cloud.temporal.io/namespaces/x", grpc_address = "x.tmprl.cloud:7233" },
    created_time = { seconds = 1700000000 + i, nanos = 5000 }, last_modified_time = { seconds = 1700000500 + i },
    tags = { env = "prod", owner = "team-" .. i },
  }
end
local bytes = core.encode("GetNamespacesResponse", { namespaces = ns, next_page_token = "tok" })
local dir = helpers.tmpdir()
helpers.write_file(dir .. "/ns1000.bin", bytes)
local decode = cloudops.decode
for _ = 1, 5 do decode("GetNamespacesResponse", bytes) end
local lua_dec, raw_dec = {}, {}
for round = 1, ROUNDS do
  -- Collected before and after, so that each round pays for exactly its own garbage, as the
  -- C side pays for protobuf_c_message_free_unpacked.
  collectgarbage("collect")
  local t0 = os.clock()
  for _ = 1, DECODES do decode("GetNamespacesResponse", bytes) end
  collectgarbage("collect")
  lua_dec[round] = (os.clock() - t0) / DECODES * 1e6
  raw_dec[round] = tonumber(run(BIN .. "decode_raw " .. dir .. "/ns1000.bin " .. DECODES * 5):match("us_per_decode=([%d%.]+)"))
end
table.sort(lua_dec)
table.sort(raw_dec)
local ld, rd = lua_dec[3], raw_dec[3]
print(string.format("decode: GetNamespacesResponse with 1000 namespaces (%d bytes), CPU per decode", #bytes))
print(string.format("  cloudops.decode   %8.1f us", ld))
print(string.format("  protobuf-c unpack %8.1f us", rd))
print(string.format("  ratio             %8.2fx   (target <= 4.00x)  %s", ld / rd, ld / rd <= 4 and "MET" or "NOT MET"))
if not os.getenv("BENCH_KEEP") then helpers.cleanup() end
