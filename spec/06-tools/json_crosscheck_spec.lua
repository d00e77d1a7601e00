-- cloudops.json against python3-protobuf's json_format (an independent implementation of the
-- proto3 JSON mapping), for a filled message of every type of the schema: our JSON and
-- MessageToJson of the same bytes are equal once both are parsed, Python's Parse of our JSON
-- gives the same message, and our decode of Python's JSON gives the same table.
-- One /usr/bin/python3 process checks every type.
local helpers = require "helpers"
local core = require "cloudops.core"
local cloudops = require "cloudops"
local json = require "cloudops.json"
local fill = require "support.fill"

local PY = "/usr/bin/python3"
local SCRIPT = helpers.ROOT .. "spec/06-tools/support/json_crosscheck.py"
local PYOUT = helpers.ROOT .. "build/python"

-- The fill's Any values carry made-up type URLs, which no JSON printer can follow: each one is
-- replaced by a real Any, alternating a regular message and a well-known type, so both JSON
-- forms of an Any ({"@type", fields...} and {"@type", "value"}) are checked.
local function with_real_anys(filler)
  local anys = 0
  local function real_any()
    anys = anys + 1
    if anys % 3 == 1 then
      return cloudops.pack_any("temporal.api.cloud.identity.v1.UserSpec",
                               filler:message("temporal.api.cloud.identity.v1.UserSpec"))
    elseif anys % 3 == 2 then
      return cloudops.pack_any("google.protobuf.Duration", { seconds = 3, nanos = 500000000 })
    end
    return cloudops.pack_any("google.protobuf.Struct", { a = { 1.5, "x", cloudops.null }, b = {} })
  end
  local fix
  local function fix_value(f, v)
    if f.type ~= "message" then return v end
    if f.type_name == "google.protobuf.Any" then return real_any() end
    fix(f.type_name, v)
    return v
  end
  function fix(type_name, t)
    if type_name:find("^google%.protobuf%.") then return end -- Struct & co: plain values
    for _, f in ipairs(core.describe(type_name).fields) do
      local v = t[f.name]
      if v ~= nil then
        if f.label == "repeated" then
          for i = 1, #v do v[i] = fix_value(f, v[i]) end
        elseif f.label == "map" then
          for k, x in pairs(v) do v[k] = fix_value(f, x) end
        else
          t[f.name] = fix_value(f, v)
        end
      end
    end
  end
  return function(type_name)
    if type_name == "google.protobuf.Any" then return real_any() end
    local t = filler:message(type_name)
    fix(type_name, t)
    return t
  end
end

-- A decoded table with each Any's bytes replaced by their decoded table: two encoders may
-- order map entries differently inside an Any's bytes, which says nothing of the message.
local function expand_anys(type_name, t)
  if type_name == "google.protobuf.Any" then
    local inner = t.type_url and t.type_url:match("[^/]*$")
    if not inner then return t end
    return { type_url = t.type_url, unpacked = expand_anys(inner, core.decode(inner, t.value or "")) }
  end
  if type_name:find("^google%.protobuf%.") then return t end
  for _, f in ipairs(core.describe(type_name).fields) do
    local v = t[f.name]
    if v ~= nil and f.type == "message" then
      if f.label == "repeated" then
        for i = 1, #v do v[i] = expand_anys(f.type_name, v[i]) end
      elseif f.label == "map" then
        for k, x in pairs(v) do v[k] = expand_anys(f.type_name, x) end
      else
        t[f.name] = expand_anys(f.type_name, v)
      end
    end
  end
  return t
end

describe("cloudops.json against python3-protobuf json_format", function()
  local report, inputs, names

  lazy_setup(function()
    assert(helpers.read_file(PYOUT .. "/.stamp"), PYOUT .. " holds no generated Python code: run `make python`")
    local make = with_real_anys(fill.new(core))
    names = fill.message_names()
    local types = {}
    inputs = {}
    for i, name in ipairs(names) do
      local t = make(name)
      local bytes = core.encode(name, t)
      local text = assert(json.encode(name, t))
      inputs[name] = { bytes = bytes, json = text }
      types[i] = { name = name, hex = fill.hex(bytes), lua_json = text }
    end
    local dir = helpers.tmpdir()
    local in_path, out_path = dir .. "/in.json", dir .. "/out.json"
    helpers.write_file(in_path, assert(json.encode_value({ types = types })))
    local out, ok = helpers.run(PY .. " " .. helpers.sh_quote(SCRIPT) .. " " .. helpers.sh_quote(PYOUT) .. " " ..
      helpers.sh_quote(in_path) .. " " .. helpers.sh_quote(out_path) .. " 2>&1")
    assert(ok, "the Python cross-check failed to run:\n" .. out)
    report = assert(json.decode_value(assert(helpers.read_file(out_path))))
  end)

  lazy_teardown(helpers.cleanup)

  it("covers every message type of the schema", function()
    assert.is_true(#names > 300, "only " .. #names .. " message types")
    for _, name in ipairs(names) do assert.is_table(report.results[name], name) end
  end)

  it("writes what MessageToJson writes, once both are parsed", function()
    local bad = {}
    for _, name in ipairs(names) do
      local r = report.results[name]
      if r.equal ~= "ok" then bad[#bad + 1] = name .. ": " .. tostring(r.equal) end
    end
    assert.are.same({}, bad)
  end)

  it("writes JSON that Python's Parse reads back to the same message", function()
    local bad = {}
    for _, name in ipairs(names) do
      local r = report.results[name]
      if r.parse ~= "ok" then bad[#bad + 1] = name .. ": " .. tostring(r.parse) end
    end
    assert.are.same({}, bad)
  end)

  it("reads Python's JSON back to the same table", function()
    local bad = {}
    for _, name in ipairs(names) do
      local py = report.results[name].python_json
      if type(py) ~= "string" then
        bad[#bad + 1] = name .. ": no Python JSON"
      else
        local t, err = json.decode(name, py)
        if not t then
          bad[#bad + 1] = name .. ": " .. tostring(err)
        else
          local same, why = helpers.deep_equal(expand_anys(name, core.decode(name, inputs[name].bytes)),
                                              expand_anys(name, t))
          if not same then bad[#bad + 1] = name .. ": " .. why end
        end
      end
    end
    assert.are.same({}, bad)
  end)
end)
