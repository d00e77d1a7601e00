-- cloudops.json: the proto3 JSON mapping, rule by rule (the cross-check against Python's
-- json_format, for every type, is json_crosscheck_spec.lua).
local cloudops = require "cloudops"
local json = require "cloudops.json"
local helpers = require "helpers"

local NS = "temporal.api.cloud.namespace.v1.Namespace"
local OP = "temporal.api.cloud.operation.v1.AsyncOperation"

local function parse(text) return assert(json.decode_value(text)) end

describe("cloudops.json", function()
  describe("encode", function()
    it("writes lowerCamelCase json names and leaves defaults out", function()
      local text = json.encode("CreateNamespaceRequest", {
        spec = { name = "dev", regions = {}, retention_days = 7, api_key_auth = { enabled = false } },
        async_operation_id = "", tags = {},
      })
      assert.are.equal('{"spec":{"name":"dev","retentionDays":7,"apiKeyAuth":{}}}', text)
    end)

    it("writes proto names with proto_names, and indents with indent", function()
      assert.are.equal('{"page_size":5}', json.encode("GetUsersRequest", { page_size = 5 }, { proto_names = true }))
      assert.are.equal('{\n  "spec": {\n    "name": "x",\n    "regions": [\n      "a"\n    ]\n  }\n}',
        json.encode("CreateNamespaceRequest", { spec = { name = "x", regions = { "a" } } }, { indent = 2 }))
      assert.are.equal('{\n\t"pageSize": 5\n}', json.encode("GetUsersRequest", { page_size = 5 }, { indent = "\t" }))
    end)

    it("writes 64-bit integers as strings, 32-bit ones as numbers", function()
      local t = parse(json.encode("temporal.api.cloud.billing.v1.BillingReport.Download",
        { file_size_bytes = "9007199254740993" })) -- the decimal string: what LuaJIT uses beyond 2^53
      assert.are.equal("9007199254740993", t.fileSizeBytes)
      assert.are.equal('{"pageSize":-3}', json.encode("GetUsersRequest", { page_size = -3 }))
    end)

    it("writes enums as names (numbers in and unknown numbers out)", function()
      assert.are.equal('{"state":"STATE_FULFILLED"}', json.encode(OP, { state = 5 }))
      assert.are.equal('{"state":99}', json.encode(OP, { state = 99 }))
      assert.are.equal("{}", json.encode(OP, { state = "STATE_UNSPECIFIED" })) -- the default
    end)

    it("writes Timestamp as RFC 3339 and Duration as seconds with 0, 3, 6 or 9 digits", function()
      local t = parse(json.encode(OP, { started_time = "2024-01-02T03:04:05.5+01:00", check_duration = 1.5,
                                        finished_time = { seconds = 0, nanos = 1000 } }))
      assert.are.equal("2024-01-02T02:04:05.500Z", t.startedTime)
      assert.are.equal("1.500s", t.checkDuration)
      assert.are.equal("1970-01-01T00:00:00.000001Z", t.finishedTime)
      local durations = { [0] = "0s", [1] = "1s", [0.25] = "0.250s", [-2.5] = "-2.500s", [3.000001] = "3.000001s" }
      for seconds, text in pairs(durations) do
        assert.are.equal(text, parse(json.encode(OP, { check_duration = seconds })).checkDuration or "0s")
      end
      assert.are.equal("0.000000001s", parse(json.encode(OP, { check_duration = { nanos = 1 } })).checkDuration)
    end)

    it("writes bytes as standard base64 with padding", function()
      local P = "temporal.api.common.v1.Payload"
      for raw, b64 in pairs { ["\0\255\128"] = "AP+A", ["ab"] = "YWI=", ["a"] = "YQ==", ["?>?"] = "Pz4/",
                              ["\251\255"] = "+/8=" } do
        assert.are.equal(b64, parse(json.encode(P, { data = raw })).data)
        assert.are.equal(raw, assert(json.decode(P, '{"data": "' .. b64 .. '"}')).data)
      end
    end)

    it("writes Struct, Value and ListValue as plain JSON, Any with @type", function()
      local any = cloudops.pack_any("temporal.api.cloud.identity.v1.UserSpec", { email = "a@b.c" })
      local t = parse(json.encode(OP, { operation_input = any }))
      assert.are.same({ ["@type"] = "type.googleapis.com/temporal.api.cloud.identity.v1.UserSpec", email = "a@b.c" },
                      t.operationInput)
      t = parse(json.encode(OP, { operation_input = cloudops.pack_any("google.protobuf.Duration", { seconds = 2 }) }))
      assert.are.same({ ["@type"] = "type.googleapis.com/google.protobuf.Duration", value = "2s" }, t.operationInput)
      assert.are.equal('{"a":[1,"x",null,[],{}],"b":true}',
        json.encode("google.protobuf.Struct", { a = { 1, "x", cloudops.null, cloudops.empty_array, {} }, b = true }))
      assert.are.equal('"text"', json.encode("google.protobuf.Value", "text"))
      assert.are.equal("[]", json.encode("google.protobuf.ListValue", cloudops.empty_array))
    end)

    it("writes doubles so that they read back exactly, floats in their shortest form", function()
      local R = "temporal.api.common.v1.RetryPolicy"
      for _, x in ipairs { 0.1, 1 / 3, 1e300, -2.5e-300, 123456789.125, 2 } do
        assert.are.equal(x, parse(json.encode(R, { backoff_coefficient = x })).backoffCoefficient)
        assert.are.equal(x, tonumber(json.encode("google.protobuf.Value", x)))
      end
      for _, c in ipairs { { 0 / 0, "NaN" }, { math.huge, "Infinity" }, { -math.huge, "-Infinity" } } do
        local x, text = c[1], c[2]
        assert.are.equal(text, parse(json.encode(R, { backoff_coefficient = x })).backoffCoefficient)
        local back = assert(json.decode(R, '{"backoffCoefficient": "' .. text .. '"}')).backoff_coefficient
        if x == x then assert.are.equal(x, back) else assert.is_true(back ~= back) end
      end
      -- a float field holds 0.1 as 0.100000001490116...: written as 0.1, as protobuf does
      local P = "temporal.api.common.v1.Priority"
      assert.are.equal('{"fairnessWeight":0.1}', json.encode(P, { fairness_weight = 0.1 }))
      assert.are.equal('{"fairnessWeight":3.4028235e+38}', json.encode(P, { fairness_weight = 3.4028234663852886e38 }))
      assert.are.equal('{"fairnessWeight":1.4013e-45}', json.encode(P, { fairness_weight = 1e-45 })) -- subnormal
      assert.are.equal('{"fairnessWeight":16777216}', json.encode(P, { fairness_weight = 16777217 }))
    end)

    it("returns nil, err for what JSON cannot hold", function()
      local text, err = json.encode(OP, { operation_input = { type_url = "type.googleapis.com/no.Such", value = "" } })
      assert.is_nil(text)
      assert.matches("operation_input: Any of type 'type.googleapis.com/no.Such'", err)
      text, err = json.encode("google.protobuf.Value", 0 / 0)
      assert.is_nil(text)
      assert.matches("no JSON form", err)
    end)

    it("raises for tables that do not fit the schema, and for bad arguments", function()
      assert.error_matches(function() json.encode("CreateNamespaceRequest", { spek = {} }) end,
        "unknown field 'spek' in temporal%.api%.cloud%.cloudservice%.v1%.CreateNamespaceRequest " ..
        "%(did you mean 'spec'%?%)")
      assert.has_error(function() json.encode("NoSuchMessage", {}) end,
        "cloudops.json.encode: no message, enum or method is named 'NoSuchMessage'")
      assert.has_error(function() json.encode(nil, {}) end, "cloudops.json.encode expects a message type name, got nil")
      assert.has_error(function() json.encode("GetUsersRequest", {}, { bogus = true }) end,
        "cloudops.json.encode: unknown option 'bogus'")
      local ok, err = pcall(json.encode, "CreateNamespaceRequest", { spec = { regions = { 1 } } })
      assert.is_false(ok)
      assert.matches("regions%[1%]", err)
    end)
  end)

  describe("decode", function()
    it("accepts json names and proto names, and gives cloudops.decode's table", function()
      local a = assert(json.decode("CreateNamespaceRequest",
        '{"spec": {"name": "dev", "retentionDays": 7, "regions": ["r"]}, "async_operation_id": "x"}'))
      assert.are.same({ spec = { name = "dev", retention_days = 7, regions = { "r" }, connectivity_rule_ids = {},
        custom_search_attributes = {}, search_attributes = {}, replicas = {} }, async_operation_id = "x",
        tags = {} }, a)
      local bytes = cloudops.encode("CreateNamespaceRequest", a)
      assert.is_true(helpers.deep_equal(cloudops.decode("CreateNamespaceRequest", bytes), a))
    end)

    it("reads 64-bit integers from strings and from numbers below 2^53", function()
      local D = "temporal.api.cloud.billing.v1.BillingReport.Download"
      -- Lua 5.4: the integer; LuaJIT: the decimal string (docs/reference.md "Messages as tables")
      assert.are.equal("9007199254740993",
        tostring(assert(json.decode(D, '{"fileSizeBytes": "9007199254740993"}')).file_size_bytes))
      assert.are.equal(12, assert(json.decode(D, '{"fileSizeBytes": 12}')).file_size_bytes)
      local t, err = json.decode(D, '{"fileSizeBytes": 9007199254740993}')
      assert.is_nil(t)
      assert.matches("beyond 2%^53.*quote it", err)
      assert.are.equal(-5, assert(json.decode("GetUsersRequest", '{"pageSize": "-5"}')).page_size)
      t, err = json.decode("GetUsersRequest", '{"pageSize": 1.5}')
      assert.is_nil(t)
      assert.matches("GetUsersRequest%.pageSize: expected an integer", err)
    end)

    it("reads enums by name or number, Timestamps, Durations, bytes and the null of a field", function()
      local op = assert(json.decode(OP, '{"state": 5, "checkDuration": "1.5s", ' ..
        '"startedTime": "2024-01-02T03:04:05Z", "failureReason": null}'))
      assert.are.equal("STATE_FULFILLED", op.state)
      assert.are.same({ seconds = 1, nanos = 500000000 }, op.check_duration)
      assert.are.equal(1704164645, op.started_time.seconds)
      assert.is_nil(op.failure_reason)
      assert.are.equal("STATE_FAILED", assert(json.decode(OP, '{"state": "STATE_FAILED"}')).state)
      local t, err = json.decode(OP, '{"state": "STATE_DONE"}')
      assert.is_nil(t)
      assert.matches("'STATE_DONE' is not a value of", err)
      t, err = json.decode(OP, '{"checkDuration": "1.5"}')
      assert.is_nil(t)
      assert.matches("checkDuration: expected a duration", err)
      t, err = json.decode(OP, '{"startedTime": "yesterday"}')
      assert.is_nil(t)
      assert.matches("startedTime", err)
    end)

    it("reads base64 in either alphabet, padded or not", function()
      local b64 = require "cloudops.json.base64"
      for _, text in ipairs { "AP+A", "AP-A", "AP+A==", "YWI", "YWI=" } do
        assert.is_string(b64.decode(text), text)
      end
      assert.are.equal("\0\255\128", b64.decode("AP-A"))
      assert.are.equal("ab", b64.decode("YWI"))
      assert.is_nil(b64.decode("A"))
      assert.is_nil(b64.decode("a*b="))
    end)

    it("reads Struct values with null, [] and {} kept apart", function()
      local s = assert(json.decode("google.protobuf.Struct", '{"a": [], "b": {}, "c": [null, 1, "x", [ ]], "d": "[]"}'))
      assert.are.equal(cloudops.empty_array, s.a)
      assert.are.same({}, s.b)
      assert.are.equal(cloudops.null, s.c[1])
      assert.are.equal(cloudops.empty_array, s.c[4])
      assert.are.equal("[]", s.d) -- inside a string, [] is text
    end)

    it("reads Any with @type, for regular and well-known types", function()
      local op = assert(json.decode(OP, '{"operationInput": {"@type": ' ..
        '"type.googleapis.com/temporal.api.cloud.identity.v1.UserSpec", "email": "a@b.c"}}'))
      local name, inner = cloudops.unpack_any(op.operation_input)
      assert.are.equal("temporal.api.cloud.identity.v1.UserSpec", name)
      assert.are.equal("a@b.c", inner.email)
      op = assert(json.decode(OP, '{"operationInput": {"@type": "type.googleapis.com/google.protobuf.Duration",' ..
        ' "value": "2.5s"}}'))
      name, inner = cloudops.unpack_any(op.operation_input)
      assert.are.equal("google.protobuf.Duration", name)
      assert.are.same({ seconds = 2, nanos = 500000000 }, inner)
      local t, err = json.decode(OP, '{"operationInput": {"email": "x"}}')
      assert.is_nil(t)
      assert.matches("@type", err)
    end)

    it("names the path of what does not fit, and refuses what the mapping refuses", function()
      local cases = {
        { "CreateNamespaceRequest", '{"spec": {"nam": "x"}}', "CreateNamespaceRequest%.spec%.nam: no such field" },
        { "CreateNamespaceRequest", '{"spec": {"regions": [1]}}',
          "spec%.regions%[1%]: expected a string, got number 1$" },
        { "GetNamespaceRequest", '{"namespace": 5}',
          "namespace: expected a string, got number 5$" }, -- as written, not 5.0
        { "temporal.api.cloud.namespace.v1.ExportSink", '{"state": "ACTIVE"}',
          "state: 'ACTIVE' is not a value of temporal%.api%.cloud%.resource%.v1%.ResourceState " ..
          "%(did you mean 'RESOURCE_STATE_ACTIVE'%?%)$" },
        { "GetUsersRequest", '{"pageSize": 2.5}', "pageSize: expected an integer, got number 2%.5$" },
        { "CreateNamespaceRequest", '{"spec": {"regions": [null]}}', "null is not allowed" },
        { "CreateNamespaceRequest", '{"spec": "x"}', "spec: expected an object" },
        { "CreateNamespaceRequest", '{"tags": ["a"]}', "tags: expected an object" },
        { "CreateNamespaceRequest", '{"asyncOperationId": "a", "async_operation_id": "b"}', "given twice" },
        { "CreateNamespaceRequest", '[1]', "expected an object" },
        { "CreateNamespaceRequest", '{"spec": ', "invalid JSON" },
        { "CreateNamespaceRequest", 'NaN', "invalid JSON" },
        { "GetUsersRequest", '{"pageSize": 3000000000}',
          "GetUsersRequest%.page_size: 3000000000 out of range for int32$" },
        { "google.protobuf.Value", '{"kind": {"a": 1}, "x": [}', "invalid JSON" },
      }
      for _, c in ipairs(cases) do
        local t, err = json.decode(c[1], c[2])
        assert.is_nil(t, c[2])
        assert.is_string(err, c[2])
        assert.matches(c[3], err)
      end
    end)

    it("refuses two members of a oneof", function()
      local t, err = json.decode("temporal.api.cloud.connectivityrule.v1.ConnectivityRuleSpec",
        '{"publicRule": {}, "privateRule": {}}')
      assert.is_nil(t)
      assert.matches("oneof", err)
    end)

    it("raises for bad arguments", function()
      assert.has_error(function() json.decode("GetUsersRequest", 5) end,
        "cloudops.json.decode expects JSON text, got number")
      assert.has_error(function() json.decode("NoSuchMessage", "{}") end,
        "cloudops.json.decode: no message, enum or method is named 'NoSuchMessage'")
    end)
  end)

  it("round-trips a response through its JSON", function()
    local bytes = cloudops.encode(NS, { namespace = "a.b", resource_version = "v",
      spec = { name = "a", regions = { "x" }, retention_days = 3, custom_search_attributes = { k = "v" } },
      created_time = 1700000000.25, state = "RESOURCE_STATE_ACTIVE" })
    local t = cloudops.decode(NS, bytes)
    local back = assert(json.decode(NS, assert(json.encode(NS, t))))
    assert.is_true(helpers.deep_equal(t, back))
  end)

  it("encodes and decodes plain values (encode_value, decode_value)", function()
    assert.are.equal('{"a":[1,2],"b":{"c":null},"d":[]}',
      json.encode_value({ b = { c = cloudops.null }, a = { 1, 2 }, d = cloudops.empty_array }))
    assert.are.equal("[\n  1\n]", json.encode_value({ 1 }, { indent = 2 }))
    local v = json.decode_value('{"a": [], "b": null}')
    assert.are.equal(cloudops.empty_array, v.a)
    assert.are.equal(cloudops.null, v.b)
    local none, err = json.encode_value({ f = print })
    assert.is_nil(none)
    assert.matches("function", err)
  end)

  it("leaves the global cjson settings alone", function()
    local cjson = require "cjson"
    assert.are.equal("[1,2]", cjson.encode({ 1, 2 }))
    assert.are.equal(1e300, cjson.decode("1e300"))
    assert.is_true(pcall(cjson.decode, "NaN")) -- cjson's default, which our instance turns off
  end)
end)
