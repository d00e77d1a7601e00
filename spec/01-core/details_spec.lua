-- The google.rpc.Status details a server sends in grpc-status-details-bin, decoded for
-- err.details: whatever the bytes, something or nothing, never a raise (issue 11.5).
local helpers = require "helpers"
local core = require "cloudops.core"
local errors = require "cloudops.errors"
local S = require "01-core.support"

local ld = helpers.ld
local PREFIX = "type.googleapis.com/"

-- A Status with the given Any details, each { type_url =, value = } or raw Any bytes.
local function status(details)
  local parts = { "\8\9", ld("\18", "failed") }
  for _, d in ipairs(details) do
    parts[#parts + 1] = ld("\26", type(d) == "string" and d or core.encode("google.protobuf.Any", d))
  end
  return table.concat(parts)
end

local function details(bin) return errors.details({ ["grpc-status-details-bin"] = bin }) end

describe("error details", function()
  local retry = { type_url = PREFIX .. "google.rpc.RetryInfo",
                  value = core.encode("google.rpc.RetryInfo", { retry_delay = { seconds = 2 } }) }

  it("decode a known type to its fields plus @type", function()
    local d = details(status{ retry })
    assert.are.equal(1, #d)
    assert.are.equal("google.rpc.RetryInfo", d[1]["@type"])
    assert.are.equal(2, d[1].retry_delay.seconds)
  end)

  it("keep what does not decode as { @type, value = bytes }, beside what does", function()
    local d = details(status{
      { value = "\1\2\3" },                                          -- no type_url
      "\18\3abc",                                                   -- only a value, by hand
      { type_url = "", value = "x" },                               -- an empty one
      { type_url = PREFIX, value = "x" },                           -- a prefix and no name
      { type_url = PREFIX .. "google.rpc.RetryInfo", value = "\10\5\8" }, -- a known type, bytes cut short
      { type_url = PREFIX .. "google.rpc.ErrorInfo", value = "\10\2\255\254" }, -- not UTF-8 inside
      { type_url = PREFIX .. "no.such.Type", value = "\8\1" },      -- a type this schema lacks
      { type_url = PREFIX .. "GetNamespaces", value = "" },         -- a method's name
      retry,
    })
    assert.are.same({
      { ["@type"] = "", value = "\1\2\3" },
      { ["@type"] = "", value = "abc" },
      { ["@type"] = "", value = "x" },
      { ["@type"] = "", value = "x" },
      { ["@type"] = "google.rpc.RetryInfo", value = "\10\5\8" },
      { ["@type"] = "google.rpc.ErrorInfo", value = "\10\2\255\254" },
      { ["@type"] = "no.such.Type", value = "\8\1" },
      { ["@type"] = "GetNamespaces", value = "" }, -- (empty bytes: not on the wire, still a string)
      { ["@type"] = "google.rpc.RetryInfo", retry_delay = { seconds = 2 } },
    }, d)
  end)

  it("show plain values (Value, ListValue, Struct) under value", function()
    local d = details(status{
      { type_url = PREFIX .. "google.protobuf.Value", value = core.encode("google.protobuf.Value", 5) },
      { type_url = PREFIX .. "google.protobuf.ListValue", value = "" },
      { type_url = PREFIX .. "google.protobuf.Struct", value = core.encode("google.protobuf.Struct", { a = "b" }) },
    })
    assert.are.same({ ["@type"] = "google.protobuf.Value", value = 5 }, d[1])
    assert.are.same({ ["@type"] = "google.protobuf.ListValue", value = core.empty_array }, d[2])
    assert.are.same({ ["@type"] = "google.protobuf.Struct", value = { a = "b" } }, d[3])
  end)

  it("are empty for bytes that are no Status: garbage, not UTF-8, cut short, huge", function()
    local huge = ("\26\0"):rep(3000000) -- three million empty Anys: past the decode bound
    for _, bin in ipairs{ "\255\255", "\18\2\255\254", "\26\5\10\3", "", huge } do
      local d = details(bin)
      assert.is_table(d)
      if bin ~= huge then assert.are.same({}, d) end
    end
    assert.are.same({}, details(huge))
    assert.are.same({}, errors.details(nil))
    assert.are.same({}, errors.details({ ["grpc-status-details-bin"] = {} }))
  end)
end)

describe("a call answered with hostile details", function()
  local s = S.test_server()
  lazy_setup(s.setup)
  lazy_teardown(s.teardown)

  it("returns nil, err with what could be decoded, never raising", function()
    local client = s.connect()
    local cases = { -- { grpc-status-details-bin, err.details }
      { status{ { value = "\1\2" } }, { { ["@type"] = "", value = "\1\2" } } },
      { status{ { type_url = PREFIX .. "google.rpc.RetryInfo", value = "\255" } },
        { { ["@type"] = "google.rpc.RetryInfo", value = "\255" } } },
      { "\255\254\253", {} },
      { status{ "\10\2\255\254" }, {} }, -- an Any whose type_url is not UTF-8: no Status
    }
    for _, case in ipairs(cases) do
      local ok, resp, err = pcall(client.get_users, client, {},
        { metadata = { ["x-test-code"] = "9", ["x-test-details-bin"] = case[1] } })
      assert(ok, "the call raised: " .. tostring(resp))
      assert.is_nil(resp)
      assert.are.equal(9, err.code)
      assert.are.same(case[2], err.details)
      assert.are.equal("GetUsers: FAILED_PRECONDITION (9): requested status 9", tostring(err))
    end
  end)
end)
