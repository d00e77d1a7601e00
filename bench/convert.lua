--- `make bench`, conversions: cloudops.decode and cloudops.encode of one GetNamespacesResponse
-- against protobuf-c on the same bytes (bench/decode_raw.c: unpack + free_unpacked, and the
-- pack of the unpacked message), in one run, as the medians of paired per-round ratios (these
-- machines are shared and noisy: absolute times mean little, ratios measured together do).
-- Decode is measured two ways: N decodes in a loop (then their garbage collected), and each
-- decode timed alone with the collection of its garbage (the median), against protobuf-c's
-- unpack + free the same two ways. Then answers heavy with unknown fields, at two sizes each:
-- their time per byte must not grow with the size (issue 17).
-- The page is the file BENCH_DATA when set, else 1000 namespaces made here.
-- Targets: decode at most 2.5x, both ways (issue 17; issue 11.14 asked 3.5x, goal 2.5x).
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local helpers = require "helpers"
local cloudops = B.cloudops

local ROUNDS = 5
local N = tonumber(os.getenv("BENCH_DECODES") or "") or 100
local BIN = B.ROOT .. "build/bench/decode_raw"

-- A page like a real account's: every namespace with its spec, endpoints, limits, replicas,
-- region status, timestamps and tags.
local function make_page(count, unknown)
  local ns = {}
  for i = 1, count or 1000 do
    local region, other = i % 2 == 0 and "aws-us-east-1" or "gcp-us-central1", "aws-us-west-2"
    local name = string.format("team-%04d-prod", i)
    ns[i] = {
      namespace = name .. ".a1b2c", resource_version = string.format("%08x-7d1c-4f2e-9a51-%012x", i, i * 7919),
      state = "RESOURCE_STATE_ACTIVE", active_region = region, async_operation_id = "op-" .. i,
      spec = { name = name, regions = { region, other }, retention_days = 30,
               api_key_auth = { enabled = true }, lifecycle = { enable_delete_protection = i % 3 == 0 },
               search_attributes = { CustomerId = "SEARCH_ATTRIBUTE_TYPE_KEYWORD",
                                     Amount = "SEARCH_ATTRIBUTE_TYPE_DOUBLE" },
               replicas = { { region = region }, { region = other } }, capacity_spec = { on_demand = {} } },
      endpoints = { web_address = "https://cloud.temporal.io/namespaces/" .. name .. ".a1b2c",
                    grpc_address = region .. ".tmprl.cloud:7233",
                    mtls_grpc_address = name .. ".a1b2c.tmprl.cloud:7233" },
      limits = { actions_per_second_limit = 2000 },
      region_status = { [region] = { state = "STATE_ACTIVE" }, [other] = { state = "STATE_PASSIVE" } },
      replicas = { { id = region, region = region, is_primary = true, state = "REPLICA_STATE_ACTIVE" },
                   { id = other, region = other, state = "REPLICA_STATE_ACTIVE" } },
      capacity = { on_demand = {} },
      created_time = { seconds = 1700000000 + i, nanos = 5000 * i }, last_modified_time = { seconds = 1700000500 + i },
      tags = { env = "prod", owner = "team-" .. i, ["cost-center"] = "cc-" .. (i % 50) },
      _unknown = unknown,
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

local path = os.getenv("BENCH_DATA")
local bytes
if path and path ~= "" then
  bytes = assert(helpers.read_file(path), "BENCH_DATA: cannot read " .. path)
else
  bytes = make_page()
  path = helpers.tmpdir() .. "/page.bin"
  helpers.write_file(path, bytes)
end
local decode, encode = cloudops.decode, cloudops.encode
for _ = 1, 5 do encode("GetNamespacesResponse", decode("GetNamespacesResponse", bytes)) end

-- The CPU time of one decode of b, alone, with the collection of its garbage, in microseconds.
local function decode_alone(type_name, b)
  collectgarbage("collect")
  local t0 = os.clock()
  decode(type_name, b)
  collectgarbage("collect")
  return (os.clock() - t0) * 1e6
end

-- The CPU time of one encode of the page (N encodes, then their garbage collected), in
-- microseconds, and its count of namespaces. The decoded page the encodes use is a local of
-- this function: out of the heap once it returns, while the next round measures decode.
local function encode_page()
  local page = assert(decode("GetNamespacesResponse", bytes))
  local t0 = os.clock()
  for _ = 1, N do encode("GetNamespacesResponse", page) end
  collectgarbage("collect")
  return (os.clock() - t0) / N * 1e6, #page.namespaces
end

local ALONE = tonumber(os.getenv("BENCH_ALONE") or "") or 21
local lua_dec, lua_alone, lua_enc, raw_dec, raw_alone, raw_pack = {}, {}, {}, {}, {}, {}
local dec_ratio, alone_ratio, enc_ratio = {}, {}, {}
local namespaces
for round = 1, ROUNDS do
  local times = {}
  for i = 1, ALONE do times[i] = decode_alone("GetNamespacesResponse", bytes) end
  lua_alone[round] = median(times)
  -- Collected before and after, so that each round pays for exactly its own garbage, as the
  -- C side pays for protobuf_c_message_free_unpacked.
  collectgarbage("collect")
  local t0 = os.clock()
  for _ = 1, N do decode("GetNamespacesResponse", bytes) end
  collectgarbage("collect")
  lua_dec[round] = (os.clock() - t0) / N * 1e6
  lua_enc[round], namespaces = encode_page()
  local out, ok = helpers.run(BIN .. " " .. helpers.sh_quote(path) .. " " .. N * 3)
  if not ok then error("decode_raw failed:\n" .. out) end
  raw_dec[round] = tonumber(out:match("us_per_decode=([%d%.]+)"))
  raw_alone[round] = tonumber(out:match("us_median_decode=([%d%.]+)"))
  raw_pack[round] = tonumber(out:match("us_per_pack=([%d%.]+)"))
  dec_ratio[round] = lua_dec[round] / raw_dec[round]
  alone_ratio[round] = lua_alone[round] / raw_alone[round]
  enc_ratio[round] = lua_enc[round] / raw_pack[round]
end

local function report(what, lua_name, lua_t, raw_name, raw_t, ratios, target)
  local r = median(ratios)
  print(string.format("%s: GetNamespacesResponse, %d namespaces (%d bytes), CPU per %s (medians of %d rounds)",
    what, namespaces, #bytes, what:match("^%a+"), ROUNDS))
  print(string.format("  %-34s %9.1f us", lua_name, median(lua_t)))
  print(string.format("  %-34s %9.1f us", raw_name, median(raw_t)))
  local rounds = string.format("(rounds: %.2f .. %.2f)", sorted(ratios)[1], sorted(ratios)[#ratios])
  if target then
    B.figure("ratio", string.format("%32.2fx %s", r, rounds), string.format("<= %.2fx", target), r <= target)
  else
    print(string.format("  ratio %34.2fx   %s", r, rounds))
  end
end
report("decode, in a loop", "cloudops.decode (" .. N .. ", collected)", lua_dec,
       "protobuf-c unpack + free", raw_dec, dec_ratio, 2.5)
report("decode, each alone (median of " .. ALONE .. ")", "cloudops.decode + its collection", lua_alone,
       "protobuf-c unpack + free", raw_alone, alone_ratio, 2.5)
report("encode", "cloudops.encode", lua_enc, "protobuf-c pack", raw_pack, enc_ratio, nil)

-- Answers heavy with unknown fields, each at two sizes: the time per byte (a decode alone with
-- its collection, median of 9) must not grow with the size. Hostile: an unknown field and a
-- known empty one, over and over (issue 17: 1 MB took 30 s). Realistic: the page with 120 bytes
-- of fields this schema lacks in every namespace, as a newer server would send.
local newer = "\242\61\118" .. ("n"):rep(118) -- field 990, 118 bytes
local kinds = {
  { "hostile: (unknown, known empty) x N", function(kb) return ("\120\0\18\0"):rep(kb * 256) end, 256, 2048 },
  { "page, every namespace with unknowns", function(n) return make_page(n, newer) end, 250, 1000 },
}
for _, k in ipairs(kinds) do
  local name, make, small, large = k[1], k[2], k[3], k[4]
  local per_byte = {}
  for i, size in ipairs { small, large } do
    local b = make(size)
    local times = {}
    for j = 1, 9 do times[j] = decode_alone("GetNamespacesResponse", b) end
    per_byte[i] = median(times) * 1000 / #b
    print(string.format("unknown fields, %s: %8d bytes %8.1f us   %.2f ns/byte", name, #b, median(times), per_byte[i]))
  end
  local growth = per_byte[2] / per_byte[1]
  B.figure(string.format("time per byte, %gx the size", large / small), string.format("%.2fx", growth),
    "linear, <= 1.5x", growth <= 1.5)
end
if not os.getenv("BENCH_KEEP") then helpers.cleanup() end
os.exit(B.finish())
