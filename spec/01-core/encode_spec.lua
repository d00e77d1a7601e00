-- Lua table -> wire bytes (docs/reference.md "Messages as tables"): the bytes themselves, the
-- input forms that are accepted, and the errors for everything else.
local helpers = require "helpers"
local core = require "cloudops.core"

local HAS_INTEGERS = math.type ~= nil -- Lua 5.3+: 64-bit integers; LuaJIT: doubles

local function encode(name, t) return core.encode(name, t) end

-- The error raised by encoding t, or fails the test when there is none.
local function encode_error(name, t)
  local ok, err = pcall(core.encode, name, t)
  assert(not ok, "expected an error encoding " .. name)
  return tostring(err)
end

local function contains(haystack, needle)
  assert(haystack:find(needle, 1, true), ("expected %q in the error:\n  %s"):format(needle, haystack))
end

-- Hex text of bytes, so that failures show readable values.
local function hex(s)
  return (s:gsub(".", function(c) return ("%02x "):format(c:byte()) end))
end

local function same_bytes(expected, actual)
  assert.are.equal(hex(expected), hex(actual))
end

describe("core.encode", function()
  describe("writes the protobuf wire format", function()
    it("varint fields: int32, negative int32 as ten bytes, uint32", function()
      same_bytes("\8\10", encode("GetNamespacesRequest", { page_size = 10 }))
      same_bytes("\8\255\255\255\255\7", encode("GetNamespacesRequest", { page_size = 2147483647 }))
      same_bytes("\8" .. ("\255"):rep(9) .. "\1", encode("GetNamespacesRequest", { page_size = -1 }))
      same_bytes("\8\128\128\128\128\248\255\255\255\255\1",
        encode("GetNamespacesRequest", { page_size = -2147483648 }))
      -- MeteringMetadata.nonfirst_local_activity_execution_attempts: uint32, field 13
      same_bytes("\104\255\255\255\255\15",
        encode("MeteringMetadata", { nonfirst_local_activity_execution_attempts = 4294967295 }))
    end)

    it("int64 beyond 2^53 exactly, from decimal strings", function()
      -- Payload.ExternalPayloadDetails.size_bytes: int64, field 1
      same_bytes("\8\255\255\255\255\255\255\255\255\127",
        encode("ExternalPayloadDetails", { size_bytes = "9223372036854775807" }))
      same_bytes("\8\128\128\128\128\128\128\128\128\128\1",
        encode("ExternalPayloadDetails", { size_bytes = "-9223372036854775808" }))
      same_bytes("\8\129\128\128\128\128\128\128\16", -- 2^53 + 1, which a double cannot hold
        encode("ExternalPayloadDetails", { size_bytes = "9007199254740993" }))
    end)

    if HAS_INTEGERS then
      it("int64 from Lua integers, the same bytes as the decimal strings", function()
        same_bytes(encode("ExternalPayloadDetails", { size_bytes = "9223372036854775807" }),
          encode("ExternalPayloadDetails", { size_bytes = math.maxinteger }))
        same_bytes(encode("ExternalPayloadDetails", { size_bytes = "-9223372036854775808" }),
          encode("ExternalPayloadDetails", { size_bytes = math.mininteger }))
        same_bytes(encode("ExternalPayloadDetails", { size_bytes = "9007199254740993" }),
          encode("ExternalPayloadDetails", { size_bytes = 9007199254740992 + 1 }))
      end)
    end

    it("double, float, bool, string, bytes", function()
      same_bytes("\9\0\0\0\0\0\0\248\63",
        encode("temporal.api.cloud.namespace.v1.CapacitySpec.Provisioned", { value = 1.5 }))
      same_bytes("\29\0\0\0\63", encode("Priority", { fairness_weight = 0.5 }))
      same_bytes("\16\1", encode("ExportSinkSpec", { enabled = true }))
      same_bytes("\10\2\195\169", encode("NamespaceSpec", { name = "é" }))
      same_bytes("\18\3\0\255\128", encode("Payload", { data = "\0\255\128" }))
    end)

    it("enums given by name or by number", function()
      -- ExportSink.state (field 3): temporal.api.cloud.resource.v1.ResourceState
      same_bytes("\24\3", encode("ExportSink", { state = "RESOURCE_STATE_ACTIVE" }))
      same_bytes("\24\3", encode("ExportSink", { state = 3 }))
      same_bytes("\24\77", encode("ExportSink", { state = 77 })) -- proto3 enums are open
    end)

    it("repeated fields in order, scalars packed", function()
      same_bytes("\18\1a\18\1b", encode("NamespaceSpec", { regions = { "a", "b" } }))
      same_bytes("\98\2\1\2", encode("ResetOptions", { reset_reapply_exclude_types = { 1, 2 } }))
    end)

    it("nested messages and map entries", function()
      same_bytes("\18\3\10\1a", encode("CreateNamespaceRequest", { spec = { name = "a" } }))
      same_bytes("\34\6\10\1k\18\1v", encode("CreateNamespaceRequest", { tags = { k = "v" } }))
      -- An empty nested table is a present, empty message.
      same_bytes("\18\0", encode("CreateNamespaceRequest", { spec = {} }))
    end)

    it("nothing for nil, an empty table, or proto3 default values", function()
      assert.are.equal("", encode("GetNamespacesRequest", nil))
      assert.are.equal("", encode("GetNamespacesRequest", {}))
      assert.are.equal("", encode("GetNamespacesRequest", { page_size = 0, page_token = "", name = "" }))
      assert.are.equal("", encode("NamespaceSpec", { regions = {}, custom_search_attributes = {} }))
    end)

    it("a oneof member even when it holds its default value", function()
      -- ResetOptions.workflow_task_id (field 3) is in oneof `target`: presence is kept.
      same_bytes("\24\0", encode("ResetOptions", { workflow_task_id = 0 }))
      same_bytes("\34\0", encode("ResetOptions", { build_id = "" }))
    end)

    it("by full name or by a unique short name", function()
      same_bytes(encode("GetNamespacesRequest", { page_size = 3 }),
        encode("temporal.api.cloud.cloudservice.v1.GetNamespacesRequest", { page_size = 3 }))
      -- (Capacity.Provisioned, CapacitySpec.Provisioned...)
      assert.are.equal("message name 'Provisioned' is ambiguous: give its full name", encode_error("Provisioned", {}))
      assert.are.equal("unknown message type 'NoSuchMessage'", encode_error("NoSuchMessage", {}))
    end)
  end)

  describe("accepts", function()
    it("integral floats for integer fields", function()
      same_bytes("\8\12", encode("GetNamespacesRequest", { page_size = 12.0 }))
      same_bytes("\8\128\128\128\128\128\1", encode("ExternalPayloadDetails", { size_bytes = 2 ^ 35 }))
    end)

    it("decimal strings for 64-bit fields, negative ones too", function()
      same_bytes("\8\5", encode("ExternalPayloadDetails", { size_bytes = "5" }))
      same_bytes("\8" .. ("\255"):rep(9) .. "\1", encode("ExternalPayloadDetails", { size_bytes = "-1" }))
    end)

    it("valid UTF-8 of every length in string fields, and any bytes in bytes fields", function()
      local s = "a\194\169\226\130\172\240\159\153\130\244\143\191\191" -- 1 to 4 bytes, U+10FFFF last
      same_bytes("\10" .. string.char(#s) .. s, encode("NamespaceSpec", { name = s }))
      local b = "\255\254\0\192\175\237\160\128"
      same_bytes("\18" .. string.char(#b) .. b, encode("Payload", { data = b }))
    end)
  end)

  describe("raises", function()
    it("for an unknown key, naming the message, the key and the nearest field", function()
      local err = encode_error("CreateNamespaceRequest", { spce = {} })
      contains(err, "CreateNamespaceRequest")
      contains(err, "'spce'")
      contains(err, "'spec'")
      err = encode_error("CreateNamespaceRequest", { spec = { regoins = { "x" } } })
      contains(err, "CreateNamespaceRequest.spec")
      contains(err, "temporal.api.cloud.namespace.v1.NamespaceSpec")
      contains(err, "'regoins'")
      contains(err, "'regions'")
    end)

    it("for an unknown key, suggesting a field it begins or is part of before one a few letters away", function()
      contains(encode_error("NamespaceSpec", { retention = 3 }), "(did you mean 'retention_days'?)")
      contains(encode_error("NamespaceSpec", { days = 3 }), "(did you mean 'retention_days'?)")
      contains(encode_error("NamespaceSpec", { Name = "x" }), "(did you mean 'name'?)")
      contains(encode_error("CreateNamespaceRequest", { spec = { region = { "x" } } }), "(did you mean 'regions'?)")
      contains(encode_error("ExportSink", { state = "ACTIVE" }), "(did you mean 'RESOURCE_STATE_ACTIVE'?)")
      contains(encode_error("ExportSink", { state = "RESOURCE_STATE_ACT" }), "(did you mean 'RESOURCE_STATE_ACTIVE'?)")
    end)

    it("for keys that are not strings", function()
      assert.are.equal("NamespaceSpec: temporal.api.cloud.namespace.v1.NamespaceSpec has no field 1: keys must be "
                       .. "field names (strings)", encode_error("NamespaceSpec", { "x" }))
      assert.are.equal("NamespaceSpec: temporal.api.cloud.namespace.v1.NamespaceSpec has no field true: keys must be "
                       .. "field names (strings)", encode_error("NamespaceSpec", { [true] = "x" }))
    end)

    it("for a value of the wrong type, naming the full path", function()
      assert.are.equal("CreateNamespaceRequest.spec.regions[2]: expected string, got table",
        encode_error("CreateNamespaceRequest", { spec = { regions = { "a", {} } } }))
      contains(encode_error("CreateNamespaceRequest", { spec = "ns" }), "CreateNamespaceRequest.spec: expected table")
      contains(encode_error("NamespaceSpec", { name = 5 }), "NamespaceSpec.name: expected string, got number")
      contains(encode_error("NamespaceSpec", { retention_days = true }),
        "NamespaceSpec.retention_days: expected an integer for int32, got boolean")
      contains(encode_error("ExportSinkSpec", { enabled = 1 }), "ExportSinkSpec.enabled: expected boolean")
      contains(encode_error("ExportSinkSpec", { enabled = "true" }), "ExportSinkSpec.enabled: expected boolean")
      contains(encode_error("Priority", { fairness_weight = "0.5" }), "Priority.fairness_weight: expected number")
      contains(encode_error("Payload", { data = 5 }), "Payload.data: expected string")
      contains(encode_error("NamespaceSpec", { name = core.null }), "NamespaceSpec.name: expected string")
      contains(encode_error("GetNamespacesRequest", "page_size=1"), "expected table")
    end)

    it("for a string field that is not valid UTF-8", function()
      local bad = {
        "\255", "a\128", -- stray bytes
        "\192\175", "\224\128\175", -- overlong forms of '/'
        "\237\160\128", -- a UTF-16 surrogate (U+D800)
        "\244\144\128\128", -- past U+10FFFF
        "\226\130", "\240\159\153", -- truncated sequences
      }
      for _, s in ipairs(bad) do
        local err = encode_error("CreateNamespaceRequest", { spec = { regions = { "ok", s } } })
        contains(err, "CreateNamespaceRequest.spec.regions[2]")
        contains(err, "UTF-8")
      end
      contains(encode_error("CreateNamespaceRequest", { tags = { ["\255"] = "v" } }),
        'CreateNamespaceRequest.tags["\255"]: string is not valid UTF-8')
      contains(encode_error("CreateNamespaceRequest", { tags = { k = "\255" } }),
        'CreateNamespaceRequest.tags["k"]: string is not valid UTF-8')
    end)

    it("for a NUL in a string field, rather than truncating it", function()
      contains(encode_error("NamespaceSpec", { regions = { "a\0b" } }),
        "NamespaceSpec.regions[1]: string holds a NUL byte, which protobuf-c cannot send")
    end)

    it("for integers out of their field's range, never wrapping them", function()
      local cases = {
        { "GetNamespacesRequest", "page_size", 2147483648, "int32" },
        { "GetNamespacesRequest", "page_size", -2147483649, "int32" },
        { "MeteringMetadata", "nonfirst_local_activity_execution_attempts", -1, "uint32" },
        { "MeteringMetadata", "nonfirst_local_activity_execution_attempts", 4294967296, "uint32" },
        { "ExternalPayloadDetails", "size_bytes", 2 ^ 63, "int64" },
        { "ExternalPayloadDetails", "size_bytes", -(2 ^ 63) * 2, "int64" },
        { "ExternalPayloadDetails", "size_bytes", "9223372036854775808", "int64" },
        { "ExternalPayloadDetails", "size_bytes", "-9223372036854775809", "int64" },
        { "ExportSink", "state", 2147483648, "ResourceState" },
      }
      for _, c in ipairs(cases) do
        local err = encode_error(c[1], { [c[2]] = c[3] })
        contains(err, c[1] .. "." .. c[2] .. ":")
        contains(err, c[4])
      end
      -- The bounds themselves are fine.
      encode("GetNamespacesRequest", { page_size = -2147483648 })
      encode("MeteringMetadata", { nonfirst_local_activity_execution_attempts = 0 })
    end)

    it("for numbers with a fraction, NaN or infinity in integer and enum fields", function()
      for _, v in ipairs{ 1.5, -0.25, 0 / 0, 1 / 0, -1 / 0 } do
        contains(encode_error("GetNamespacesRequest", { page_size = v }), "GetNamespacesRequest.page_size:")
        contains(encode_error("ExternalPayloadDetails", { size_bytes = v }), "ExternalPayloadDetails.size_bytes:")
        contains(encode_error("MeteringMetadata", { nonfirst_local_activity_execution_attempts = v }),
          "MeteringMetadata.nonfirst_local_activity_execution_attempts:")
        contains(encode_error("ExportSink", { state = v }), "ExportSink.state:")
      end
    end)

    it("for strings that are not plain decimal integers", function()
      for _, s in ipairs{ "", "-", " 5", "\t5", "\n-5", "+5", "5 ", "5x", "0x10", "1e3", "1.0", "١" } do
        contains(encode_error("ExternalPayloadDetails", { size_bytes = s }), "ExternalPayloadDetails.size_bytes:")
      end
      contains(encode_error("MeteringMetadata", { nonfirst_local_activity_execution_attempts = "-1" }),
        "MeteringMetadata.nonfirst_local_activity_execution_attempts: -1 out of range for uint32")
    end)

    it("for an unknown enum name, suggesting the nearest one", function()
      local err = encode_error("ExportSink", { state = "RESOURCE_STATE_EXPIRE" })
      contains(err, "ExportSink.state:")
      contains(err, "'RESOURCE_STATE_EXPIRE'")
      contains(err, "'RESOURCE_STATE_EXPIRED'")
      contains(encode_error("ExportSink", { state = "resource_state_active" }),
        "ExportSink.state: unknown temporal.api.cloud.resource.v1.ResourceState value 'resource_state_active' "
        .. "(did you mean 'RESOURCE_STATE_ACTIVE'?)")
      contains(encode_error("ExportSink", { state = true }),
        "ExportSink.state: expected an enum name or number, got boolean")
    end)

    it("for repeated fields with holes, naming the first missing index", function()
      contains(encode_error("NamespaceSpec", { regions = { "a", nil, "c" } }),
        "NamespaceSpec.regions: expected an array without holes, but [2] is nil")
      contains(encode_error("NamespaceSpec", { regions = { [2] = "b" } }), "[1] is nil")
      contains(encode_error("NamespaceSpec", { regions = { [1] = "a", [2] = "b", [4] = "d" } }), "[3] is nil")
    end)

    it("for repeated fields with keys other than 1..n", function()
      local not_array = "NamespaceSpec.regions: expected an array (keys 1..n), found key "
      contains(encode_error("NamespaceSpec", { regions = { "a", x = "c" } }), not_array .. "x")
      contains(encode_error("NamespaceSpec", { regions = { [0] = "z", "a" } }), not_array .. "0")
      contains(encode_error("NamespaceSpec", { regions = { [1.5] = "a" } }), not_array .. "1.5")
      contains(encode_error("NamespaceSpec", { regions = "a" }), "NamespaceSpec.regions: expected table")
    end)

    it("for map keys and values of the wrong type, naming the entry", function()
      contains(encode_error("CreateNamespaceRequest", { tags = { k = 1 } }),
        'CreateNamespaceRequest.tags["k"]: expected string')
      contains(encode_error("CreateNamespaceRequest", { tags = { [1] = "v" } }),
        "CreateNamespaceRequest.tags[1]: expected string")
      contains(encode_error("CreateNamespaceRequest", { tags = { [true] = "v" } }),
        "CreateNamespaceRequest.tags[true]: expected string, got boolean")
      contains(encode_error("NamespaceSpec", { search_attributes = { a = "NOPE" } }),
        'NamespaceSpec.search_attributes["a"]:')
      contains(encode_error("CreateNamespaceRequest", { tags = "k=v" }), "CreateNamespaceRequest.tags: expected table")
    end)

    it("for two members of a oneof, naming both and the oneof", function()
      local err = encode_error("ResetOptions", { build_id = "b", workflow_task_id = 5 })
      contains(err, "'build_id'")
      contains(err, "'workflow_task_id'")
      contains(err, "'target'")
      err = encode_error("CreateNamespaceRequest", { spec = { capacity_spec = { on_demand = {}, provisioned = {} } } })
      contains(err, "CreateNamespaceRequest.spec.capacity_spec:")
      contains(err, "'on_demand'")
      contains(err, "'provisioned'")
    end)
  end)

  it("names a clean path in an error that follows an error deep in another message", function()
    encode_error("CreateNamespaceRequest", { spec = { regions = { "a", {} } } })
    assert.are.equal("GetNamespacesRequest.page_size: expected an integer for int32, got boolean",
      encode_error("GetNamespacesRequest", { page_size = true }))
  end)

  it("leaves the table it encodes unchanged, also when it fails", function()
    local function sample()
      return { spec = { name = "n", regions = { "a", "b" }, retention_days = 3.0,
                        custom_search_attributes = { k = "v" }, search_attributes = { s = 2 } },
               tags = { t = "x" } }
    end
    local t = sample()
    encode("CreateNamespaceRequest", t)
    assert.is_true(helpers.deep_equal(sample(), t))
    t.spec.retention_days = 2.5
    encode_error("CreateNamespaceRequest", t)
    local expected = sample()
    expected.spec.retention_days = 2.5
    assert.is_true(helpers.deep_equal(expected, t))
    assert.are.equal("number", type(t.spec.retention_days)) -- not turned into a string by the message
  end)
end)
