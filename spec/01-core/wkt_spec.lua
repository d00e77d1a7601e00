-- The well-known types (docs/reference.md "Messages as tables"): Timestamp and Duration in their
-- table, text and number forms; Struct, Value and ListValue as plain Lua values; Any.
local helpers = require "helpers"
local core = require "cloudops.core"
local cloudops = require "cloudops"

-- AsyncOperation: check_duration (3) is a Duration, operation_input (5) an Any, started_time (7)
-- a Timestamp. LogRecord.raw_details (13) is a Struct.
local function ts_of(v)
  local t = core.decode("AsyncOperation", core.encode("AsyncOperation", { started_time = v }))
  return t.started_time
end

local function dur_of(v)
  local t = core.decode("AsyncOperation", core.encode("AsyncOperation", { check_duration = v }))
  return t.check_duration
end

local function encode_error(name, t)
  local ok, err = pcall(core.encode, name, t)
  assert(not ok, "expected an error encoding " .. name)
  return tostring(err)
end

local function struct_rt(v)
  return core.decode("google.protobuf.Struct", core.encode("google.protobuf.Struct", v))
end

describe("google.protobuf.Timestamp fields", function()
  it("take a table { seconds =, nanos = } and decode to one", function()
    assert.are.same({ seconds = 1700000000, nanos = 5 }, ts_of({ seconds = 1700000000, nanos = 5 }))
    assert.are.same({ seconds = -1 }, ts_of({ seconds = -1 }))
    assert.are.same({}, ts_of({})) -- the epoch, present
  end)

  it("take RFC 3339 text, in UTC or with an offset, with 1 to 9 fraction digits", function()
    assert.are.same({ seconds = 1704164645 }, ts_of("2024-01-02T03:04:05Z"))
    assert.are.same({ seconds = 1704164645 }, ts_of("2024-01-02t03:04:05z"))
    assert.are.same({ seconds = 1704164645 }, ts_of("2024-01-02T05:04:05+02:00"))
    assert.are.same({ seconds = 1704164645 }, ts_of("2024-01-01T23:34:05-03:30"))
    assert.are.same({ seconds = 1704164645, nanos = 500000000 }, ts_of("2024-01-02T03:04:05.5Z"))
    assert.are.same({ seconds = 1704164645, nanos = 123456789 }, ts_of("2024-01-02T03:04:05.123456789Z"))
    assert.are.same({ seconds = 1709164800 }, ts_of("2024-02-29T00:00:00Z")) -- leap day
    assert.are.same({ seconds = 951782400 }, ts_of("2000-02-29T00:00:00Z")) -- 400-year leap day
    assert.are.same({ seconds = -1, nanos = 500000000 }, ts_of("1969-12-31T23:59:59.5Z"))
    assert.are.same({ seconds = -62135596800 }, ts_of("0001-01-01T00:00:00Z"))
    assert.are.same({ seconds = 253402300799, nanos = 999999999 }, ts_of("9999-12-31T23:59:59.999999999Z"))
  end)

  it("refuse text that is not a valid RFC 3339 timestamp, naming the field", function()
    for _, s in ipairs{
      "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
      "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "2024-01-01 00:00:00Z",
      "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z",
      "2024-01-01T00:00:00+0200", "2024-01-01T00:00:00+24:00", "2024-01-01", "", "yesterday",
      "0000-12-31T23:59:59Z", "0001-01-01T00:00:00+00:01", "2024-01-01T00:00:00Z ",
    } do
      local err = encode_error("AsyncOperation", { started_time = s })
      assert(err:find("AsyncOperation.started_time:", 1, true), err)
    end
  end)

  it("take a number of Unix seconds, fractions to the nanosecond", function()
    assert.are.same({ seconds = 1700000000 }, ts_of(1700000000))
    assert.are.same({ seconds = 1700000000, nanos = 250000000 }, ts_of(1700000000.25))
    assert.are.same({ seconds = 1, nanos = 1 }, ts_of(1.000000001))
  end)

  it("keep nanos within 0..999999999 for times before 1970 given as numbers", function()
    assert.are.same({ seconds = -2, nanos = 500000000 }, ts_of(-1.5))
    assert.are.same({ seconds = -1, nanos = 750000000 }, ts_of(-0.25))
    assert.are.same({ seconds = -86400 }, ts_of(-86400))
  end)

  it("refuse numbers outside years 1..9999, NaN and infinities", function()
    for _, v in ipairs{ 253402300800, -62135596801, 3e11, 1e12, -1e12, 0 / 0, 1 / 0, -1 / 0 } do
      local err = encode_error("AsyncOperation", { started_time = v })
      assert(err:find("AsyncOperation.started_time:", 1, true), err)
    end
    ts_of(253402300799) -- the last second is fine
    ts_of(-62135596800)
  end)

  it("refuse other types", function()
    assert.matches("AsyncOperation.started_time:", encode_error("AsyncOperation", { started_time = true }), 1, true)
    local err = encode_error("AsyncOperation", { started_time = { second = 1 } })
    assert.matches("AsyncOperation.started_time: unknown field 'second'", err, 1, true)
    assert.matches("'seconds'", err, 1, true)
  end)
end)

describe("google.protobuf.Duration fields", function()
  it("take a table and decode to one", function()
    assert.are.same({ seconds = 90, nanos = 5 }, dur_of({ seconds = 90, nanos = 5 }))
  end)

  it("take \"1.5s\" text", function()
    assert.are.same({ seconds = 1, nanos = 500000000 }, dur_of("1.5s"))
    assert.are.same({ seconds = 3600 }, dur_of("3600s"))
    assert.are.same({ nanos = 1 }, dur_of("0.000000001s"))
    assert.are.same({ seconds = -1, nanos = -500000000 }, dur_of("-1.5s"))
    assert.are.same({ nanos = -500000000 }, dur_of("-0.5s"))
    assert.are.same({ seconds = 315576000000 }, dur_of("315576000000s"))
  end)

  it("refuse other text", function()
    for _, s in ipairs{ "1.5", "1m", "1h", "s", ".5s", "1.s", "1.1234567891s", "+1s", "1s ", " 1s", "--1s",
                        "315576000001s", "" } do
      local err = encode_error("AsyncOperation", { check_duration = s })
      assert(err:find("AsyncOperation.check_duration:", 1, true), err)
    end
  end)

  it("take a number of seconds, the nanos with the seconds' sign", function()
    assert.are.same({ seconds = 2, nanos = 250000000 }, dur_of(2.25))
    assert.are.same({ seconds = -1, nanos = -500000000 }, dur_of(-1.5))
    assert.are.same({ seconds = 30 }, dur_of(30))
  end)

  it("refuse numbers beyond the Duration range (about 10,000 years)", function()
    for _, v in ipairs{ 315576000001, -315576000001, 3.5e11, 1e300, 0 / 0, 1 / 0 } do
      local err = encode_error("AsyncOperation", { check_duration = v })
      assert(err:find("AsyncOperation.check_duration:", 1, true), err)
    end
  end)
end)

describe("google.protobuf.Struct, Value and ListValue", function()
  it("are plain Lua values: objects, arrays, strings, numbers, booleans, null", function()
    local v = { name = "x", n = 1.5, int = 3, yes = true, no = false, none = cloudops.null,
                list = { 1, "two", false, cloudops.null, { deep = { "er" } } }, obj = { a = { b = "c" } } }
    local t = struct_rt(v)
    assert.is_true(helpers.deep_equal(v, t))
    assert.are.equal(cloudops.null, t.none)
    assert.are.equal(core.null, cloudops.null)
    assert.is_nil(getmetatable(t))
    assert.is_nil(getmetatable(t.list))
  end)

  it("keep empty objects and empty arrays apart", function()
    local t = struct_rt({ obj = {}, arr = cloudops.empty_array, nested = { cloudops.empty_array, {} } })
    assert.are.same({}, t.obj)
    assert.are.equal(cloudops.empty_array, t.arr)
    assert.are.equal(core.empty_array, cloudops.empty_array)
    assert.are.equal(cloudops.empty_array, t.nested[1])
    assert.are.same({}, t.nested[2])
    assert.are.same({}, struct_rt({}))
  end)

  it("write null as the NullValue member, which other runtimes read as null", function()
    -- Struct { fields: { "a": Value { null_value: NULL_VALUE } } }
    assert.are.equal("\10\7\10\1a\18\2\8\0", core.encode("google.protobuf.Struct", { a = cloudops.null }))
    -- and an empty list as a present, empty list_value
    assert.are.equal("\10\7\10\1a\18\2\50\0", core.encode("google.protobuf.Struct", { a = cloudops.empty_array }))
  end)

  it("decode a Value with no member set as null", function()
    assert.are.same({ a = cloudops.null }, core.decode("google.protobuf.Struct", "\10\5\10\1a\18\0"))
  end)

  it("work as message fields", function()
    local rec = { raw_details = { who = "me", ids = { 1, 2 } }, log_id = "l" }
    local t = core.decode("LogRecord", core.encode("LogRecord", rec))
    assert.is_true(helpers.deep_equal(rec, t))
  end)

  it("work as top-level types", function()
    for _, v in ipairs{ "s", 2.5, true, cloudops.null, { 1, 2 }, { k = "v" }, cloudops.empty_array } do
      local t = core.decode("google.protobuf.Value", core.encode("google.protobuf.Value", v))
      assert.is_true(helpers.deep_equal(v, t))
    end
    assert.are.same({ "a", 1 },
      core.decode("google.protobuf.ListValue", core.encode("google.protobuf.ListValue", { "a", 1 })))
    assert.are.equal(cloudops.empty_array,
      core.decode("google.protobuf.ListValue", core.encode("google.protobuf.ListValue", {})))
  end)

  it("refuse what JSON cannot hold, naming the path", function()
    local function err_of(v) return encode_error("LogRecord", { raw_details = v }) end
    assert.matches('LogRecord.raw_details["a"][3]["f"]', err_of({ a = { 1, 2, { f = print } } }), 1, true)
    assert.matches("LogRecord.raw_details", err_of({ [1] = "x", k = "v" }), 1, true) -- mixed keys
    assert.matches("LogRecord.raw_details", err_of({ [true] = 1 }), 1, true)
    assert.matches('LogRecord.raw_details["s"]', err_of({ s = "\255" }), 1, true)
    assert.matches("LogRecord.raw_details", err_of("text"), 1, true)
    assert.matches("LogRecord.raw_details", err_of({ "a", "b" }), 1, true) -- an array is not an object
    assert.has_error(function() core.encode("google.protobuf.ListValue", { a = 1 }) end,
      "ListValue: expected array, got table")
    assert.has_error(function() core.encode("google.protobuf.ListValue", { 1, nil, 3 }) end, -- a hole
      "ListValue: expected array, got table")
  end)

  it("refuse number keys, huge ones too, naming them in the path", function()
    -- (a key past the integers: converting it to one would be undefined behaviour, which the
    -- sanitizers of `make test-asan` report)
    for _, k in ipairs{ 1e300, -1e300, 1 / 0, -1 / 0, 2 ^ 63, 1.5 } do
      local err = encode_error("google.protobuf.Struct", { [k] = 1 })
      assert.matches("^Struct%[.*%]: expected string, got number", err)
      err = encode_error("LogRecord", { raw_details = { list = { [k] = "x" } } })
      assert.matches('^LogRecord.raw_details%["list"%]', err)
    end
    assert.matches("^Struct%[1e%+300%]", encode_error("google.protobuf.Struct", { [1e300] = 1 }))
    assert.matches("^Struct%[7%]", encode_error("google.protobuf.Struct", { [7] = 1 }))
  end)

  if math.type then
    it("refuse Lua integers past 2^53, which a number (a double) would round, saying what to write", function()
      local p53 = math.tointeger(2 ^ 53)
      for _, v in ipairs{ p53 + 1, -p53 - 1, math.maxinteger, math.mininteger } do
        local err = encode_error("LogRecord", { raw_details = { big = v } })
        assert.matches('LogRecord.raw_details["big"]: integer ' .. v .. " is past 2^53", err, 1, true)
        assert.matches("give it as a string", err, 1, true)
        err = encode_error("google.protobuf.ListValue", { 1, v })
        assert.matches("ListValue[2]: integer", err, 1, true)
      end
      -- up to 2^53 every integer is exact, and a float is the writer's choice
      for _, v in ipairs{ p53, -p53, 2 ^ 60 } do
        local t = core.decode("google.protobuf.Struct", core.encode("google.protobuf.Struct", { n = v }))
        assert.are.equal(v, t.n)
      end
      assert.matches("Provisioned.value: integer 9007199254740993 is past 2^53",
        encode_error("temporal.api.cloud.namespace.v1.CapacitySpec.Provisioned", { value = p53 + 1 }),
        1, true)
    end)
  end
end)

describe("google.protobuf.Any", function()
  it("pack_any builds { type_url =, value = } with the full type name", function()
    local any = cloudops.pack_any("NamespaceSpec", { name = "ns" })
    assert.are.same({ type_url = "type.googleapis.com/temporal.api.cloud.namespace.v1.NamespaceSpec",
                      value = "\10\2ns" }, any)
  end)

  it("unpack_any returns the type name and the decoded table", function()
    local name, t = cloudops.unpack_any(cloudops.pack_any("CreateNamespaceRequest", { spec = { name = "ns" } }))
    assert.are.equal("temporal.api.cloud.cloudservice.v1.CreateNamespaceRequest", name)
    assert.are.equal("ns", t.spec.name)
    assert.are.same({}, t.tags)
  end)

  it("round-trips inside a message field", function()
    local any = cloudops.pack_any("NamespaceSpec", { name = "ns", regions = { "r" } })
    local op = core.decode("AsyncOperation", core.encode("AsyncOperation", { operation_input = any, id = "op" }))
    assert.are.same(any, op.operation_input)
    local _, spec = cloudops.unpack_any(op.operation_input)
    assert.are.same({ "r" }, spec.regions)
  end)

  it("unpack_any returns nil, err for an unknown type or malformed value", function()
    local name, err = cloudops.unpack_any({ type_url = "type.googleapis.com/no.such.Type", value = "" })
    assert.is_nil(name)
    assert.equal("unknown message type 'no.such.Type'", err)
    name, err = cloudops.unpack_any({ type_url = "type.googleapis.com/temporal.api.cloud.namespace.v1.NamespaceSpec",
                                      value = "\10\5ab" })
    assert.is_nil(name)
    assert.equal("malformed temporal.api.cloud.namespace.v1.NamespaceSpec: cut short (a length or value runs past "
                 .. "the end)", err)
  end)

  it("pack_any and unpack_any raise for bad arguments", function()
    assert.has_error(function() cloudops.pack_any("NamespaceSpec", { nope = 1 }) end,
      "NamespaceSpec: unknown field 'nope' in temporal.api.cloud.namespace.v1.NamespaceSpec (did you mean 'name'?)")
    assert.has_error(function() cloudops.unpack_any("x") end, "unpack_any expects a table { type_url =, value = }")
    assert.has_error(function() cloudops.unpack_any({ value = "" }) end, -- no type_url
      "unpack_any expects a table { type_url =, value = }")
  end)
end)
