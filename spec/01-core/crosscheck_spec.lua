-- The conversion against an independent implementation (docs/design.md "Testing"):
-- Debian's python3-protobuf with code from `make python`. For every message type, in one Python
-- process (spec/support/crosscheck.py): Python parses the bytes our encoder made of the Lua fill
-- and compares them with its own fill of the same type; and our decoder reads the bytes Python
-- made of its fill, which must equal the Lua fill.
local helpers = require "helpers"
local core = require "cloudops.core"
local fill = require "support.fill"

local PYTHON = "/usr/bin/python3" -- not the first python3 on PATH: Debian's has python3-protobuf
local PY_OUT = helpers.ROOT .. "build/python"
local SCRIPT = helpers.ROOT .. "spec/support/crosscheck.py"

local _, has_protobuf = helpers.run(PYTHON .. " -c 'import google.protobuf' >/dev/null 2>&1")

describe("cross-check with python3-protobuf", function()
  if not has_protobuf then
    pending(PYTHON .. " cannot import google.protobuf (install python3-protobuf): cross-check skipped")
    return
  end

  local names = fill.message_names()
  local filler = fill.new(core)
  local report      -- crosscheck.py's output
  local lua_errors = {} -- types the Lua side could not encode

  lazy_setup(function()
    local cjson = require "cjson"
    assert(helpers.read_file(PY_OUT .. "/rpc_status_pb2.py"),
      PY_OUT .. " holds no generated Python code: run `make python`")
    local types = {}
    for _, name in ipairs(names) do
      local ok, bytes = pcall(core.encode, name, filler:message(name))
      if ok then
        types[#types + 1] = { name = name, hex = fill.hex(bytes) }
      else
        lua_errors[name] = tostring(bytes)
      end
    end
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/in.json", cjson.encode({ types = types }))
    local q = helpers.sh_quote
    local out, ok = helpers.run(table.concat({ PYTHON, q(SCRIPT), q(PY_OUT), q(dir .. "/in.json"),
                                               q(dir .. "/out.json"), "2>&1" }, " "))
    assert(ok, "crosscheck.py failed:\n" .. out)
    local text = assert(helpers.read_file(dir .. "/out.json"), "crosscheck.py wrote no output")
    report = cjson.decode(text)
  end)

  lazy_teardown(function() helpers.cleanup() end)

  it("runs against python3-protobuf's own google.protobuf, not generated copies of it", function()
    assert.is_nil(report.protobuf_file:find(PY_OUT, 1, true), report.protobuf_file)
    for _, m in ipairs(report.modules) do
      assert(not m:find("^google%."), "build/python holds " .. m .. ", which shadows python3-protobuf's")
    end
  end)

  it("finds the same message types in the Python code as in the Lua registry", function()
    local lua_set, py_set = {}, {}
    for _, n in ipairs(names) do lua_set[n] = true end
    for _, n in ipairs(report.messages) do py_set[n] = true end
    local only_lua, only_py = {}, {}
    for n in pairs(lua_set) do if not py_set[n] then only_lua[#only_lua + 1] = n end end
    for n in pairs(py_set) do if not lua_set[n] then only_py[#only_py + 1] = n end end
    table.sort(only_lua)
    table.sort(only_py)
    assert(#only_lua == 0 and #only_py == 0, "only in Lua: " .. table.concat(only_lua, ", ")
      .. "\nonly in Python: " .. table.concat(only_py, ", "))
  end)

  for _, name in ipairs(names) do
    it("Lua bytes parse in Python as its fill: " .. name, function()
      assert(not lua_errors[name], "the Lua side cannot encode its fill: " .. tostring(lua_errors[name]))
      local r = assert(report.results[name], "no result from Python")
      assert(r.lua_to_python == "ok", r.lua_to_python)
    end)

    it("Python bytes decode in Lua to the Lua fill: " .. name, function()
      local r = assert(report.results[name], "no result from Python")
      assert(type(r.python_hex) == "string", "Python could not make its bytes: " .. tostring(r.python_error))
      local t, err = core.decode(name, fill.unhex(r.python_hex))
      assert(t ~= nil, "decode failed: " .. tostring(err))
      local same, why = helpers.deep_equal(filler:message(name), t)
      assert(same, "differs from the Lua fill: " .. tostring(why))
    end)
  end
end)
