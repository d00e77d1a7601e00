--- `make bench`, conversions: cloudops.decode and cloudops.encode of one GetNamespacesResponse
-- against protobuf-c on the same bytes (bench/decode_raw.c: unpack + free_unpacked, and the
-- pack of the unpacked message), in one run, as the medians of paired per-round ratios (these
-- machines are shared and noisy: absolute times mean little, ratios measured together do).
-- The page is the file BENCH_DATA when set, else 1000 namespaces made here.
-- Target (issue 11.14): decode at most 3.5x (goal 2.5x).
local ROOT = arg[0]:match("^(.*)bench/convert%.lua$") or "./"
package.path = ROOT .. "spec/?.lua;" .. package.path
local helpers = require "helpers"
local cloudops = require "cloudops"

local ROUNDS = 5
local N = tonumber(os.getenv("BENCH_DECODES") or "") or 100
local BIN = ROOT .. "build/bench/decode_raw"

-- A page like a real account's: every namespace with its spec, endpoints, limits, replicas,
-- region status, timestamps and tags.
local function make_page()
  local ns = {}
  for i = 1, 1000 do
    local region, other = i % 2 == 0 and "aws-us-east-1" or "gcp-us-central1", "aws-us-west-2"
    local name = string.format("team-%04d-prod", i)
    ns[i] = {
      namespace = name .. ".a1b2c", resource_version = string.format("%08x-7d1c-4f2e-9a51-%012x", i, i * 7919),
      state = "RESOURCE_STATE_ACTIVE", active_region = region, async_operation_id = "op-" .. i,
      spec = { name = name, regions = { region, other }, retention_days = 30,
               api_key_auth = { enabled = true }, lifecycle = { enable_delete_protection = i % 3 == 0 },
               search_attributes = { CustomerId = "SEARCH_ATTRIBUTE_TYPE_KEYWORD", Amount = "SEARCH_ATTRIBUTE_TYPE_DOUBLE" },
               replicas = { { region = region }, { region = other } }, capacity_spec = { on_demand = {} } },
      endpoints = { web_address = "https://cloud.temporal.io/namespaces/" .. name .. ".a1b2c",
                    grpc_address = region .. ".tmprl.cloud:7233", mtls_grpc_address = name .. ".a1b2c.tmprl.cloud:7233" },
      limits = { actions_per_second_limit = 2000 },
      region_status = { [region] = { state = "STATE_ACTIVE" }, [other] = { state = "STATE_PASSIVE" } },
      replicas = { { id = region, region = region, is_primary = true, state = "REPLICA_STATE_ACTIVE" },
                   { id = other, region = other, state = "REPLICA_STATE_ACTIVE" } },
      capacity = { on_demand = {} },
      created_time = { seconds = 1700000000 + i, nanos = 5000 * i }, last_modified_time = { seconds = 1700000500 + i },
      tags = { env = "prod", owner = "team-" .. i, ["cost-center"] = "cc-" .. (i % 50) },
    }
  end
  return cloudops.encode("GetNamespacesResponse", { namespaces = ns, next_page_token = "opaque-next-page-token" })
end

local function sorted(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  return s
end
local function median(t) return sorted(t)[math.floor((#t + 1) / 2)] end

local path, bytes = os.getenv("BENCH_DATA")
if path and path ~= "" then
  bytes = assert(helpers.read_file(path), "BENCH_DATA: cannot read " .. path)
else
  bytes = make_page()
  path = helpers.tmpdir() .. "/page.bin"
  helpers.write_file(path, bytes)
end
local decode, encode = cloudops.decode, cloudops.encode
local page = assert(decode("GetNamespacesResponse", bytes))
for _ = 1, 5 do encode("GetNamespacesResponse", decode("GetNamespacesResponse", bytes)) end

local lua_dec, lua_enc, raw_dec, raw_pack, dec_ratio, enc_ratio = {}, {}, {}, {}, {}, {}
for round = 1, ROUNDS do
  -- Collected before and after, so that each round pays for exactly its own garbage, as the
  -- C side pays for protobuf_c_message_free_unpacked.
  collectgarbage("collect")
  local t0 = os.clock()
  for _ = 1, N do decode("GetNamespacesResponse", bytes) end
  collectgarbage("collect")
  lua_dec[round] = (os.clock() - t0) / N * 1e6
  t0 = os.clock()
  for _ = 1, N do encode("GetNamespacesResponse", page) end
  collectgarbage("collect")
  lua_enc[round] = (os.clock() - t0) / N * 1e6
  local out, ok = helpers.run(BIN .. " " .. helpers.sh_quote(path) .. " " .. N * 3)
  if not ok then error("decode_raw failed:\n" .. out) end
  raw_dec[round] = tonumber(out:match("us_per_decode=([%d%.]+)"))
  raw_pack[round] = tonumber(out:match("us_per_pack=([%d%.]+)"))
  dec_ratio[round] = lua_dec[round] / raw_dec[round]
  enc_ratio[round] = lua_enc[round] / raw_pack[round]
end

local function report(what, lua_name, lua_t, raw_name, raw_t, ratios, target)
  local r = median(ratios)
  print(string.format("%s: GetNamespacesResponse, %d namespaces (%d bytes), CPU per %s (medians of %d rounds)",
    what, #page.namespaces, #bytes, what, ROUNDS))
  print(string.format("  %-28s %9.1f us", lua_name, median(lua_t)))
  print(string.format("  %-28s %9.1f us", raw_name, median(raw_t)))
  print(string.format("  ratio %28.2fx%s   (rounds: %.2f .. %.2f)", r,
    target and string.format("   (target <= %.2fx)  %s", target, r <= target and "MET" or "NOT MET") or "",
    sorted(ratios)[1], sorted(ratios)[#ratios]))
end
report("decode", "cloudops.decode", lua_dec, "protobuf-c unpack + free", raw_dec, dec_ratio, 3.5)
report("encode", "cloudops.encode", lua_enc, "protobuf-c pack", raw_pack, enc_ratio, nil)
if not os.getenv("BENCH_KEEP") then helpers.cleanup() end
