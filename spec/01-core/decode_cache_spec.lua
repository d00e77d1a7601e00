-- A large answer's repeated strings are made once per decode (src/decode.c's string cache, for
-- answers of 16 KB or more): what it gives must be what a decode without it gives, whatever
-- strings share a slot, and a bytes field's value (not checked as UTF-8) must never let the
-- same bytes into a string field unchecked.
local helpers = require "helpers"
local core = require "cloudops.core"

local ld = helpers.ld
local PAGE = "temporal.api.cloud.cloudservice.v1.GetNamespacesResponse"
local NAMESPACE = "temporal.api.cloud.namespace.v1.Namespace"

-- A string of n bytes, different for each i (lengths around the cache's 8, 16 and 24 bytes).
local function text(i, n)
  local s = ("%d-"):format(i):rep(n)
  return s:sub(1, n)
end

-- Namespaces with strings repeated across them (regions, states, tags), strings of every length
-- from 1 to 60 bytes, and thousands of distinct ones (more than the cache has slots).
local function namespaces(count)
  local regions = { "aws-us-east-1", "aws-eu-west-1", "gcp-us-central1", "azure-eastus" }
  local out = {}
  for i = 1, count do
    local region = regions[i % #regions + 1]
    local other = regions[(i + 1) % #regions + 1]
    out[i] = {
      namespace = text(i, i % 60 + 1),
      resource_version = text(i * 7, 36),
      state = "RESOURCE_STATE_ACTIVE",
      active_region = region,
      spec = { name = text(i, (i * 3) % 40 + 1), regions = { region, other },
               search_attributes = { [text(i % 9, 8)] = "SEARCH_ATTRIBUTE_TYPE_KEYWORD",
                                     [text(i % 5, 17)] = "SEARCH_ATTRIBUTE_TYPE_INT" } },
      endpoints = { grpc_address = region .. ".tmprl.cloud:7233", web_address = text(i, 9) .. text(i, 16) },
      region_status = { [region] = { state = "STATE_ACTIVE" }, [other] = { state = "STATE_PASSIVE" } },
      tags = { env = i % 2 == 0 and "prod" or "dev", owner = text(i % 13, 24), [text(i % 3, 25)] = text(i, 25) },
    }
  end
  return out
end

describe("core.decode of a large answer, its repeated strings made once", function()
  it("gives what each part decoded alone gives", function()
    local list = namespaces(600)
    local page = core.encode(PAGE, { namespaces = list, next_page_token = "next" })
    assert.is_true(#page > 16384)
    local whole = assert(core.decode(PAGE, page))
    assert.equal(600, #whole.namespaces)
    assert.equal("next", whole.next_page_token)
    for i, ns in ipairs(list) do
      local alone = core.encode(NAMESPACE, ns)
      assert.is_true(#alone < 16384)
      assert.are.same(assert(core.decode(NAMESPACE, alone)), whole.namespaces[i])
    end
    -- and again in the same state, with the strings of the first decode still alive
    assert.are.same(whole, assert(core.decode(PAGE, page)))
  end)

  -- A google.rpc.Status with `n` details, the bytes `b` as every detail's value (a bytes field)
  -- and as the type_url (a string field) of the `at`-th.
  local function status(n, b, at)
    local details = {}
    for i = 1, n do
      local url = i == at and b or "type.googleapis.com/x" .. i % 10
      details[i] = ld("\26", ld("\10", url) .. ld("\18", b))
    end
    return ld("\18", "message") .. table.concat(details)
  end

  it("checks a string field's bytes even when a bytes field had them first", function()
    local n = 2000
    local good = status(n, "plain value", n)
    assert.is_true(#good > 16384)
    local t = assert(core.decode("google.rpc.Status", good))
    assert.equal("plain value", t.details[n].type_url)
    assert.equal("plain value", t.details[1].value)
    for _, at in ipairs { 1, math.floor(n / 2), n } do
      local bad = status(n, "\255\254 not UTF-8", at)
      local r, err = core.decode("google.rpc.Status", bad)
      assert.is_nil(r)
      assert.matches("not valid UTF%-8", err)
    end
    -- the other way round: the string first (refused at once), or a valid string first, then
    -- the same bytes as bytes fields
    local first = ld("\18", "\255\254 not UTF-8") .. status(n, "\255\254 not UTF-8", 0):sub(#ld("\18", "message") + 1)
    local r, err = core.decode("google.rpc.Status", first)
    assert.is_nil(r)
    assert.matches("not valid UTF%-8", err)
    local valid = ld("\18", "same bytes") .. status(n, "same bytes", 0):sub(#ld("\18", "message") + 1)
    t = assert(core.decode("google.rpc.Status", valid))
    assert.equal("same bytes", t.message)
    assert.equal("same bytes", t.details[n].value)
  end)
end)
