-- Fields this schema does not know (sent by a newer server) are kept: the decoded table holds
-- their wire bytes under `_unknown`, and encoding writes them back, so that a read-modify-write
-- keeps what it cannot see (docs/reference.md "Messages as tables"; issue 11.4).
local helpers = require "helpers"
local cloudops = require "cloudops"

local varint, ld = helpers.varint, helpers.ld
local NS, SPEC = "temporal.api.cloud.namespace.v1.Namespace", "temporal.api.cloud.namespace.v1.NamespaceSpec"

local function key(number, wire) return varint(number * 8 + wire) end

-- One field of each wire type, with numbers no version of NamespaceSpec has.
local LATER = key(990, 2) .. ld("", "added later") .. key(991, 0) .. varint(300) ..
              key(992, 1) .. "\1\2\3\4\5\6\7\8" .. key(993, 5) .. "\9\10\11\12"

-- A Namespace whose spec carries LATER: spec { name = "dev", retention_days = 7, LATER }.
local function namespace_bytes()
  local spec = cloudops.encode(SPEC, { name = "dev", retention_days = 7, regions = { "aws-us-east-1" } }) .. LATER
  return cloudops.encode(NS, { namespace = "dev.a1b2c", resource_version = "v1" }) .. ld(key(3, 2), spec)
end

describe("fields the schema does not know", function()
  it("are kept as their wire bytes, and written back after a change", function()
    local ns = assert(cloudops.decode(NS, namespace_bytes()))
    assert.are.equal(LATER, ns.spec._unknown)
    assert.is_nil(ns._unknown)
    ns.spec.retention_days = 14
    local bytes = cloudops.encode(NS, ns)
    assert(bytes:find(LATER, 1, true), "the encoding lost the unknown fields")
    local again = assert(cloudops.decode(NS, bytes))
    assert.are.equal(14, again.spec.retention_days)
    assert.are.equal("dev", again.spec.name)
    assert.are.same({ "aws-us-east-1" }, again.spec.regions)
    assert.are.equal(LATER, again.spec._unknown)
  end)

  it("are kept in wire order, however many and however mixed with known fields", function()
    local bytes, expected = {}, {}
    for i = 1, 40 do
      bytes[#bytes + 1] = ld("\18", "r" .. i) -- regions (known), between every two unknown fields
      local f = key(900 + i, 0) .. varint(i)
      bytes[#bytes + 1] = f
      expected[#expected + 1] = f
      if i % 5 == 0 then -- and a few side by side
        f = key(950 + i, 2) .. ld("", ("x"):rep(i))
        bytes[#bytes + 1] = f
        expected[#expected + 1] = f
      end
    end
    local t = assert(cloudops.decode(SPEC, table.concat(bytes)))
    assert.are.equal(40, #t.regions)
    assert.are.equal("r40", t.regions[40])
    assert.are.equal(table.concat(expected), t._unknown)
    assert.are.equal(table.concat(expected), cloudops.decode(SPEC, cloudops.encode(SPEC, t))._unknown)
  end)

  it("are kept at every level: the message itself, list elements, map values, a message given twice", function()
    local u1, u2, u3 = key(990, 0) .. "\1", key(991, 0) .. "\2", key(992, 0) .. "\3"
    local ns2 = cloudops.encode(NS, { namespace = "two" }) .. u2
    local value = cloudops.encode("temporal.api.cloud.namespace.v1.NamespaceRegionStatus", { state = "STATE_ACTIVE" })
    local status = ld("\10", "aws-us-east-1") .. ld("\18", value .. u3) -- an entry whose value has u3
    local page = ld("\10", cloudops.encode(NS, { namespace = "one" })) .. ld("\10", ns2) .. u1
    local t = assert(cloudops.decode("GetNamespacesResponse", page))
    assert.are.equal(u1, t._unknown)
    assert.is_nil(t.namespaces[1]._unknown)
    assert.are.equal(u2, t.namespaces[2]._unknown)
    local ns = assert(cloudops.decode(NS, ld(key(12, 2), status)))
    assert.are.equal(u3, ns.region_status["aws-us-east-1"]._unknown)
    assert.are.equal("STATE_ACTIVE", ns.region_status["aws-us-east-1"].state)
    -- a message field given twice is merged, its unknown fields too
    local twice = assert(cloudops.decode(NS, ld(key(3, 2), "\10\1a" .. u1) .. ld(key(3, 2), "\24\5" .. u2)))
    assert.are.equal("a", twice.spec.name)
    assert.are.equal(5, twice.spec.retention_days)
    assert.are.equal(u1 .. u2, twice.spec._unknown)
    assert.are.same(t, cloudops.decode("GetNamespacesResponse", cloudops.encode("GetNamespacesResponse", t)))
  end)

  -- Lua heap allocated by a decode (garbage included: the collector is stopped), in bytes.
  local function heap_of_decode(type_name, bytes)
    collectgarbage("collect")
    collectgarbage("stop")
    local before = collectgarbage("count")
    local t, err = cloudops.decode(type_name, bytes)
    local grown = (collectgarbage("count") - before) * 1024
    collectgarbage("restart")
    return grown, t, err
  end

  it("take memory linear in their size, however they are interleaved with known fields", function()
    -- An unknown field, then a known empty one, over and over (issue 17: 512 KB took 2.1 GB,
    -- each 8 unknown runs rebuilding the whole _unknown string). They are gathered once:
    -- the heap grows by at most twice the answer's size, plus 64 KB.
    for _, size in ipairs { 64 * 1024, 512 * 1024 } do
      local bytes = ("\120\0\18\0"):rep(size / 4)
      local grown, t = heap_of_decode("GetNamespacesResponse", bytes)
      assert.are.equal(("\120\0"):rep(size / 4), t._unknown)
      assert.is_true(grown <= 2 * size + 64 * 1024, ("%d bytes decoded with %d bytes of heap"):format(size, grown))
    end
  end)

  it("of a message given many times over are refused past twice the answer's size", function()
    -- Each occurrence of the spec merges its unknown fields into the earlier ones: 2000 of
    -- them would copy 200 MB for a 200 KB answer.
    local u = key(990, 2) .. ld("", ("x"):rep(100))
    local bytes = ld(key(3, 2), u):rep(2000)
    local t, err = cloudops.decode(NS, bytes)
    assert.is_nil(t)
    assert.are.equal("malformed temporal.api.cloud.namespace.v1.Namespace: its unknown fields would be copied " ..
                     "again and again (a message given many times over, each with unknown fields), past twice " ..
                     "the answer's size", err)
    -- a few times over is fine
    local few = assert(cloudops.decode(NS, ld(key(3, 2), u):rep(3)))
    assert.are.equal(u:rep(3), few.spec._unknown)
  end)

  it("with keys longer than they need be are written back with the shortest keys", function()
    -- field 990, wire type 0, its key padded to 5 bytes; then a known field; then field 991
    local padded = "\240\189\128\128\0" .. "\1"
    local bytes = padded .. ld("\10", "dev") .. key(991, 0) .. "\2"
    local t = assert(cloudops.decode(SPEC, bytes))
    assert.are.equal(key(990, 0) .. "\1" .. key(991, 0) .. "\2", t._unknown)
    assert.are.equal("dev", t.name)
  end)

  it("are given as a string of whole fields on encode, or the error names the path", function()
    local err = select(2, pcall(cloudops.encode, NS, { spec = { _unknown = 5 } }))
    assert.matches("Namespace.spec._unknown: expected string", err, 1, true)
    for _, bad in ipairs{ "\255", key(990, 2) .. "\5ab", key(990, 3), "\0\1" } do
      err = select(2, pcall(cloudops.encode, NS, { spec = { _unknown = bad } }))
      assert.matches("Namespace.spec._unknown: not the wire bytes of whole fields", err, 1, true)
    end
    err = select(2, pcall(cloudops.encode, SPEC, { _unknown = key(1, 0) .. "\1" })) -- name, which it has
    assert.matches("NamespaceSpec._unknown: holds field 1, which temporal.api.cloud.namespace.v1.NamespaceSpec has",
                   err, 1, true)
    assert.are.equal("", cloudops.encode(SPEC, { _unknown = "" }))
  end)

  it("are left out of cloudops.json", function()
    local ns = assert(cloudops.decode(NS, namespace_bytes()))
    local text = assert(cloudops.json.encode(NS, ns))
    assert.is_nil(text:find("_unknown", 1, true))
    assert.is_nil(text:find("added later", 1, true))
    assert.matches('"retentionDays":7', text, 1, true)
  end)
end)

describe("client:update against a server that sends a field this schema lacks", function()
  local s = require("01-core.support").test_server()
  lazy_setup(s.setup)
  lazy_teardown(s.teardown)

  it("sends the field back with the change", function()
    -- GetNamespace answers the namespace with LATER in its spec; UpdateNamespace's request is
    -- echoed back in a trailer.
    local answer = ld(key(1, 2), namespace_bytes())
    local client = s.connect{ ["x-test-answer-getnamespace-bin"] = answer, ["x-test-echo-request"] = "1" }
    local resp, err, info = client:update("namespace", "dev.a1b2c", function(ns)
      assert.are.equal(LATER, ns.spec._unknown)
      ns.spec.retention_days = 30
    end)
    assert(resp, tostring(err))
    local sent = assert(cloudops.decode("UpdateNamespaceRequest", assert(info.trailers["x-echo-request-bin"])))
    assert.are.equal("dev.a1b2c", sent.namespace)
    assert.are.equal("v1", sent.resource_version)
    assert.are.equal(30, sent.spec.retention_days)
    assert.are.equal("dev", sent.spec.name)
    assert.are.equal(LATER, sent.spec._unknown)
  end)
end)
