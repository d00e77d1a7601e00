-- cloudops.pretty: readable values (sorted keys, nesting, time as text where the type is known
-- or the key says so) and readable descriptions of the schema.
local cloudops = require "cloudops"
local pretty = require "cloudops.pretty"

local OP = "temporal.api.cloud.operation.v1.AsyncOperation"

describe("cloudops.pretty", function()
  describe("format", function()
    it("prints scalars as Lua literals", function()
      assert.are.equal("nil", pretty.format(nil))
      assert.are.equal("true", pretty.format(true))
      assert.are.equal("42", pretty.format(42))
      assert.are.equal("0.1", pretty.format(0.1))
      assert.are.equal("0/0", pretty.format(0 / 0))
      assert.are.equal("-math.huge", pretty.format(-math.huge))
      assert.are.equal('"a\\"b\\n\\\\"', pretty.format('a"b\n\\'))
      assert.are.equal('"ünï漢"', pretty.format("ünï漢"))              -- UTF-8 kept
      assert.are.equal('"\\x00\\xff"', pretty.format("\0\255"))         -- binary escaped
      assert.are.equal("null", pretty.format(cloudops.null))
      assert.are.equal("empty_array", pretty.format(cloudops.empty_array))
    end)

    it("sorts keys, puts the array part first, and keeps short tables on one line", function()
      assert.are.equal('{ 1, 2, a = 1, b = { c = true }, ["end"] = 0, ["x-y"] = "z" }',
        pretty.format({ ["end"] = 0, b = { c = true }, 1, 2, a = 1, ["x-y"] = "z" }))
      local long = {}
      for i = 1, 30 do long["key" .. string.format("%02d", i)] = i end
      local text = pretty.format({ inner = long })
      assert.matches("^{\n  inner = {\n    key01 = 1,\n    key02 = 2,\n", text)
      assert.matches("\n  }\n}$", text)
      assert.are.equal("{}", pretty.format({}))
    end)

    it("shows cycles and objects with __tostring", function()
      local t = { name = "loop" }
      t.self = t
      assert.are.equal('{ name = "loop", self = <cycle> }', pretty.format(t))
      local obj = setmetatable({}, { __tostring = function() return "<thing>" end })
      assert.are.equal("{ obj = <thing> }", pretty.format({ obj = obj }))
    end)

    it("knows Timestamps, Durations, bytes and Anys from the message type", function()
      local op = cloudops.decode(OP, cloudops.encode(OP, {
        id = "x", check_duration = 1.5, started_time = "2024-01-02T03:04:05Z", state = "STATE_PENDING",
        operation_input = cloudops.pack_any("temporal.api.cloud.identity.v1.UserSpec", { email = "a@b.c" }),
      }))
      local text = pretty.format(op, { type = "AsyncOperation" })
      assert.matches('check_duration = "1.5s"', text, 1, true)
      assert.matches('started_time = "2024-01-02T03:04:05Z"', text, 1, true)
      assert.matches('operation_input = cloudops.pack_any("temporal.api.cloud.identity.v1.UserSpec", ' ..
                     '{ email = "a@b.c" })', text, 1, true)
      -- what it prints is a request again
      local back = assert(load("local cloudops = ...; return " .. text))(cloudops)
      assert.are.same(cloudops.encode(OP, op), cloudops.encode(OP, back))
      local blob = pretty.format({ data = "abc" }, { type = "temporal.api.common.v1.Payload" })
      assert.are.equal('{ data = "abc" }', blob)
      assert.are.equal('{ data = "\\xe9" }',
        pretty.format({ data = "\233" }, { type = "temporal.api.common.v1.Payload" }))
    end)

    it("leaves empty repeated and map fields out of typed messages", function()
      local spec = cloudops.decode("CreateNamespaceRequest",
        cloudops.encode("CreateNamespaceRequest", { spec = { name = "n" } }))
      assert.are.equal('{ spec = { name = "n" } }', pretty.format(spec, { type = "CreateNamespaceRequest" }))
    end)

    it("guesses time from key names without a type", function()
      assert.are.equal('{ check_duration = "0.25s", created_time = "2023-11-14T22:13:20Z" }',
        pretty.format({ created_time = { seconds = 1700000000 }, check_duration = { nanos = 250000000 } }))
      assert.are.equal("{ other = { seconds = 5 } }", pretty.format({ other = { seconds = 5 } }))
    end)
  end)

  describe("describe", function()
    it("describes a message in proto syntax with its types", function()
      local text = assert(pretty.describe("CreateNamespaceRequest"))
      assert.matches("^message temporal%.api%.cloud%.cloudservice%.v1%.CreateNamespaceRequest {\n", text)
      assert.matches("\n  NamespaceSpec%s+spec = 2;  %-%- temporal%.api%.cloud%.namespace%.v1%.NamespaceSpec\n", text)
      assert.matches("\n  map<string, string> tags = 4;\n", text)
      text = assert(pretty.describe("temporal.api.cloud.operation.v1.AsyncOperation"))
      assert.matches("Timestamp%s+started_time = 7;  %-%- google%.protobuf%.Timestamp; RFC 3339 text", text)
      assert.matches("State%s+state = 9;", text)
      text = assert(pretty.describe("google.protobuf.Value"))
      assert.matches("oneof kind", text)
    end)

    it("describes an enum's values and a method's messages", function()
      assert.are.equal("enum temporal.api.cloud.identity.v1.NamespaceAccess.Permission {\n" ..
        "  PERMISSION_UNSPECIFIED = 0;\n  PERMISSION_ADMIN = 1;\n  PERMISSION_WRITE = 2;\n  PERMISSION_READ = 3;\n}",
        pretty.describe("temporal.api.cloud.identity.v1.NamespaceAccess.Permission"))
      local text = assert(pretty.describe("create_namespace"))
      assert.matches("^rpc CreateNamespace%(CreateNamespaceRequest%) returns %(CreateNamespaceResponse%)\n", text)
      assert.matches("a mutation", text)
      assert.matches("message temporal%.api%.cloud%.cloudservice%.v1%.CreateNamespaceResponse", text)
      assert.matches("paged", assert(pretty.describe("GetUsers")))
    end)

    it("returns nil, err for an unknown name and raises for a non-string", function()
      local text, err = pretty.describe("NoSuchThing")
      assert.is_nil(text)
      assert.matches("NoSuchThing", err)
      assert.has_error(function() pretty.describe(42) end, "describe expects a name, got number")
    end)
  end)
end)
