-- Wire bytes -> Lua tables (docs/reference.md "Messages as tables"; "describe" for the schema
-- walked here). The bytes here are written by hand from the schema's field numbers, so these do
-- not lean on the encoder.
local helpers = require "helpers"
local core = require "cloudops.core"
local cloudops = require "cloudops"
local fill = require "support.fill"

local HAS_INTEGERS = math.type ~= nil

local function decode(name, bytes)
  local t, err = core.decode(name, bytes)
  assert(t ~= nil, "decode failed: " .. tostring(err))
  return t
end

local ld = helpers.ld

-- Every table reachable from t, with its path, has no metatable.
local function assert_plain(t, path)
  path = path or "value"
  if type(t) ~= "table" then return end
  assert(getmetatable(t) == nil, path .. " has a metatable")
  for k, v in pairs(t) do assert_plain(v, path .. "." .. tostring(k)) end
end

describe("core.decode", function()
  it("gives plain tables, field names as keys", function()
    local t = decode("CreateNamespaceRequest", "\18\7\10\1n\18\2eu\34\6\10\1k\18\1v\26\2op")
    assert.are.same({ spec = { name = "n", regions = { "eu" }, custom_search_attributes = {},
                               search_attributes = {}, connectivity_rule_ids = {}, replicas = {} },
                      tags = { k = "v" }, async_operation_id = "op" }, t)
    assert_plain(t)
  end)

  it("leaves absent scalars and messages nil, and makes every repeated and map field a table, in every type", function()
    local checked = 0
    for _, name in ipairs(fill.message_names()) do
      local d = core.describe(name)
      -- (Struct, Value and ListValue decode to their plain-value forms, checked in wkt_spec.lua)
      local plain_value_form = d.name:find("^google%.protobuf%.") and (d.short_name == "Struct"
        or d.short_name == "Value" or d.short_name == "ListValue")
      if not plain_value_form then
        local t = decode(name, "")
        assert_plain(t, name)
        for _, f in ipairs(d.fields) do
          local v = t[f.name]
          if f.label == "repeated" or f.label == "map" then
            assert(type(v) == "table" and next(v) == nil, name .. "." .. f.name .. " is not an empty table")
          else
            assert(v == nil, name .. "." .. f.name .. " is not nil")
          end
        end
        for k in pairs(t) do
          local known = false
          for _, f in ipairs(d.fields) do known = known or f.name == k end
          assert(known, name .. " decodes with an extra key " .. tostring(k))
        end
        checked = checked + 1
      end
    end
    assert.is_true(checked > 300)
  end)

  it("keeps scalar fields that are present with their default value out of the table", function()
    -- proto3: page_size = 0 on the wire is the same as absent
    assert.are.same({}, decode("GetNamespacesRequest", "\8\0\18\0"))
    -- -0.0 too, which the encoder (protobuf-c) leaves off as zero: what decodes encodes the same
    local provisioned = "temporal.api.cloud.namespace.v1.CapacitySpec.Provisioned"
    assert.are.same({}, decode(provisioned, "\9\0\0\0\0\0\0\0\128"))
    assert.are.equal("", core.encode(provisioned, { value = -0.0 }))
  end)

  it("keeps a present, empty message as an empty table", function()
    local t = decode("CreateNamespaceRequest", "\18\0")
    assert.are.same({}, t.spec.regions)
    assert.is_nil(t.spec.name)
  end)

  it("decodes enums to their names, and numbers the schema does not know to the number", function()
    assert.are.equal("RESOURCE_STATE_ACTIVE", decode("ExportSink", "\24\3").state)
    assert.are.equal("RESOURCE_STATE_EXPIRED", decode("ExportSink", "\24\10").state)
    assert.are.equal(77, decode("ExportSink", "\24\77").state)
    assert.are.equal(-1, decode("ExportSink", "\24" .. ("\255"):rep(9) .. "\1").state)
    assert.are.same({ "RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL", 99 },
      decode("ResetOptions", "\98\2\1\99").reset_reapply_exclude_types)
    assert.are.same({ a = "SEARCH_ATTRIBUTE_TYPE_KEYWORD", b = 42 },
      decode("NamespaceSpec", ld("\66", "\10\1a\16\2") .. ld("\66", "\10\1b\16\42")).search_attributes)
  end)

  it("decodes integers exactly, at the ends of their ranges", function()
    assert.are.equal(-1, decode("GetNamespacesRequest", "\8" .. ("\255"):rep(9) .. "\1").page_size)
    assert.are.equal(-2147483648, decode("GetNamespacesRequest", "\8\128\128\128\128\248\255\255\255\255\1").page_size)
    assert.are.equal(4294967295,
      decode("MeteringMetadata", "\104\255\255\255\255\15").nonfirst_local_activity_execution_attempts)
    local max = decode("ExternalPayloadDetails", "\8\255\255\255\255\255\255\255\255\127").size_bytes
    local min = decode("ExternalPayloadDetails", "\8\128\128\128\128\128\128\128\128\128\1").size_bytes
    local past53 = decode("ExternalPayloadDetails", "\8\129\128\128\128\128\128\128\16").size_bytes
    local at53 = decode("ExternalPayloadDetails", "\8\128\128\128\128\128\128\128\16").size_bytes
    if HAS_INTEGERS then
      assert.are.equal("integer", math.type(max))
      assert.are.equal(math.maxinteger, max)
      assert.are.equal(math.mininteger, min)
      assert.are.equal(9007199254740992 + 1, past53)
    else -- LuaJIT: the decimal string beyond 2^53 (docs/reference.md "Messages as tables")
      assert.are.equal("9223372036854775807", max)
      assert.are.equal("-9223372036854775808", min)
      assert.are.equal("9007199254740993", past53)
    end
    assert.are.equal(2 ^ 53, at53)
    -- and the decoded forms encode back to the same bytes
    assert.are.equal("\8\255\255\255\255\255\255\255\255\127",
      core.encode("ExternalPayloadDetails", { size_bytes = max }))
    assert.are.equal("\8\129\128\128\128\128\128\128\16",
      core.encode("ExternalPayloadDetails", { size_bytes = past53 }))
  end)

  it("decodes double, float, bool and bytes", function()
    assert.are.equal(1.5,
      decode("temporal.api.cloud.namespace.v1.CapacitySpec.Provisioned", "\9\0\0\0\0\0\0\248\63").value)
    assert.are.equal(0.5, decode("Priority", "\29\0\0\0\63").fairness_weight)
    assert.are.equal(true, decode("ExportSinkSpec", "\16\1").enabled)
    assert.are.equal("\0\255\128", decode("Payload", "\18\3\0\255\128").data)
    assert.are.same({ k = "\0\1" }, decode("Payload", ld("\10", "\10\1k\18\2\0\1")).metadata)
  end)

  it("accepts packed and unpacked repeated scalars alike", function()
    local packed = decode("ResetOptions", "\98\2\1\2").reset_reapply_exclude_types
    local unpacked = decode("ResetOptions", "\96\1\96\2").reset_reapply_exclude_types
    assert.are.same(packed, unpacked)
    assert.are.equal(2, #packed)
    local doubles = decode("temporal.api.cloud.namespace.v1.NamespaceCapacityInfo.CapacityModeOptions.Provisioned",
      "\9\0\0\0\0\0\0\248\63\9\0\0\0\0\0\0\0\64").valid_tru_values
    assert.are.same({ 1.5, 2 }, doubles)
  end)

  it("takes the last of repeated occurrences of a singular field, and of a oneof's members", function()
    assert.are.equal("b", decode("NamespaceSpec", "\10\1a\10\1b").name)
    local t = decode("ResetOptions", "\34\1b\24\7") -- build_id, then workflow_task_id
    assert.are.equal(7, t.workflow_task_id)
    assert.is_nil(t.build_id)
  end)

  it("keeps fields the schema does not know (a newer server) as their bytes under _unknown", function()
    local later = "\200\62\1\210\62\3xyz\217\62\1\2\3\4\5\6\7\8\221\62\1\2\3\4"
    local t = decode("NamespaceSpec", "\10\1a" .. later)
    assert.are.equal("a", t.name)
    assert.are.same({}, t.regions)
    assert.are.equal(later, t._unknown)
  end)

  it("returns nil and an error naming the type for malformed bytes", function()
    local CUT_SHORT = "cut short (a length or value runs past the end)"
    local INVALID = "the bytes are not a valid encoding of it"
    local malformed = {
      { "\10\5abc", CUT_SHORT },         -- a length past the end
      { "\10", CUT_SHORT },              -- a key without its value
      { "\255", CUT_SHORT },             -- a truncated varint
      { "\24\255\255\255\255\255\255\255\255\255\255\1", CUT_SHORT }, -- an eleven-byte varint
      { "\13\1\2\3\4", INVALID },      -- name (a string) sent as fixed32
      { "\11\12", INVALID },           -- a group
      { "\15", INVALID },              -- wire type 7
      { "\0\1", INVALID },             -- field number 0
      { "\34\3\10\5a", CUT_SHORT },      -- a nested message whose inner length overruns it
    }
    for _, case in ipairs(malformed) do
      local bytes, reason = case[1], case[2]
      local t, err = core.decode("NamespaceSpec", bytes)
      local escaped = bytes:gsub(".", function(c) return ("\\%d"):format(c:byte()) end)
      assert(t == nil, "decoded malformed bytes " .. escaped)
      assert.equal("malformed temporal.api.cloud.namespace.v1.NamespaceSpec: " .. reason, err, escaped)
    end
  end)

  it("returns nil and an error for a string field that is not valid UTF-8 (as other protobuf runtimes do)", function()
    local t, err = core.decode("NamespaceSpec", "\10\2\255\254")
    assert.is_nil(t)
    assert.equal("malformed temporal.api.cloud.namespace.v1.NamespaceSpec: a string field is not valid UTF-8 "
                 .. "(or holds a NUL)", err)
    t, err = core.decode("CreateNamespaceRequest", ld("\34", "\10\1k\18\2\192\175")) -- in a map's value
    assert.is_nil(t)
    assert.equal("malformed temporal.api.cloud.cloudservice.v1.CreateNamespaceRequest: a string field is not "
                 .. "valid UTF-8 (or holds a NUL)", err)
  end)

  it("raises for a bad argument or an unknown type, not for bad bytes", function()
    assert.has_error(function() core.decode("NamespaceSpec", {}) end,
      "bad argument #2 to 'decode' (string expected, got table)")
    assert.has_error(function() core.decode("NamespaceSpec") end,
      "bad argument #2 to 'decode' (string expected, got no value)")
    assert.has_error(function() core.decode("NoSuchMessage", "") end, "unknown message type 'NoSuchMessage'")
    assert.has_error(function() cloudops.decode("NoSuchMessage", "") end, "unknown message type 'NoSuchMessage'")
    local t, err = cloudops.decode("NamespaceSpec", "\255")
    assert.is_nil(t)
    assert.equal("malformed temporal.api.cloud.namespace.v1.NamespaceSpec: cut short (a length or value runs past "
                 .. "the end)", err)
  end)

  it("decodes by short name where it is unique", function()
    assert.are.same(decode("temporal.api.cloud.namespace.v1.NamespaceSpec", "\10\1a"),
      decode("NamespaceSpec", "\10\1a"))
    assert.has_error(function() core.decode("Provisioned", "") end,
      "message name 'Provisioned' is ambiguous: give its full name")
  end)
end)

-- A large answer is decoded with the garbage collector paused (src/decode.c): the collector
-- must be running again afterwards, stay stopped if the program stopped it, and keep memory
-- bounded over many decodes (the work owed is done after each).
describe("core.decode of a large answer", function()
  local page
  setup(function()
    local ns = {}
    for i = 1, 300 do
      ns[i] = { namespace = ("ns-%04d.acct"):format(i), state = "RESOURCE_STATE_ACTIVE",
                spec = { name = ("ns-%04d"):format(i), retention_days = 30,
                         replicas = { { region = "aws-us-east-1" } } },
                tags = { env = "prod", team = "t" .. i } }
    end
    page = core.encode("temporal.api.cloud.cloudservice.v1.GetNamespacesResponse", { namespaces = ns })
    assert.is_true(#page > 16384)
  end)

  it("leaves the collector as it found it: running, or stopped by the program", function()
    assert.is_true(collectgarbage("isrunning"))
    local t = core.decode("GetNamespacesResponse", page)
    assert.equal(300, #t.namespaces)
    assert.is_true(collectgarbage("isrunning"))
    collectgarbage("stop")
    t = core.decode("GetNamespacesResponse", page)
    local still_stopped = not collectgarbage("isrunning")
    collectgarbage("restart")
    assert.is_true(still_stopped)
    assert.equal("ns-0300.acct", t.namespaces[300].namespace)
    -- and after a large answer that does not decode
    local bad = page:sub(1, #page - 1)
    assert.is_nil((core.decode("GetNamespacesResponse", bad)))
    assert.is_true(collectgarbage("isrunning"))
  end)

  it("keeps memory bounded over many decodes without an explicit collection", function()
    collectgarbage()
    local base = collectgarbage("count")
    local most = 0
    for _ = 1, 60 do
      core.decode("GetNamespacesResponse", page)
      most = math.max(most, collectgarbage("count") - base)
    end
    -- one decoded page is about 1 MB of Lua heap; unpaid debt would grow past 60 of them. The
    -- collector's pause lets the heap grow by what it held at the start (busted's own, and the
    -- specs run before this one) before a cycle begins: that much growth is the collector's.
    local one
    do
      collectgarbage()
      local before = collectgarbage("count")
      local keep = core.decode("GetNamespacesResponse", page)
      one = collectgarbage("count") - before
      assert.is_table(keep)
    end
    assert.is_true(most < base + 8 * one,
      ("grew %.0f kB, one page %.0f kB, %.0f kB at the start"):format(most, one, base))
  end)
end)
