-- The tree's Lua (not the REPL's readline binding) also loads on LuaJIT (OpenResty): no Lua 5.3+
-- syntax (//, bit operators, <close>), no 5.3+ library calls at load time, and the JSON
-- mapping and the command line work against the LuaJIT build of the core.
local helpers = require "helpers"
local q = helpers.sh_quote

-- Every Lua file of the tree's modules, tools and examples (LuaJIT 2.1 runs all of them).
local FILES = {}
for f in helpers.run("cd " .. q(helpers.ROOT) .. " && find lua examples -name '*.lua' | sort"):gmatch("[^\n]+") do
  FILES[#FILES + 1] = f
end
for _, f in ipairs { "bin/cloudops", "bin/cloudops-repl", "bin/cloudops-emulator" } do FILES[#FILES + 1] = f end

local has_luajit = select(2, helpers.run("command -v luajit >/dev/null"))
local has_core = helpers.read_file(helpers.ROOT .. "build/luajit/lua/cloudops/core.so") ~= nil

describe("on LuaJIT", function()
  it("every Lua file of the tree parses", function()
    assert.is_true(#FILES > 100, "found " .. #FILES .. " files")
    if not has_luajit then pending("no luajit") return end
    for _, f in ipairs(FILES) do
      -- -b compiles to bytecode: a syntax check that needs no core (a #! line is skipped)
      local out, ok = helpers.run("luajit -b " .. q(helpers.ROOT .. f) .. " /dev/null 2>&1")
      assert.is_true(ok, f .. ": " .. out)
    end
  end)

  it("the modules load and the JSON mapping and the command line run", function()
    if not (has_luajit and has_core) then pending("no LuaJIT build of the core (make LUA=luajit)") return end
    local script = [[
      package.path = ROOT .. "lua/?.lua;" .. ROOT .. "lua/?/init.lua;" .. package.path
      package.cpath = ROOT .. "build/luajit/lua/?.so;" .. package.cpath
      for _, m in ipairs { "cloudops.json", "cloudops.pretty", "cloudops.pretty.schema", "cloudops.cli",
                           "cloudops.repl.complete", "cloudops.repl.typed", "cloudops.repl.env",
                           "cloudops.repl.eval" } do
        require(m)
      end
      local json = require "cloudops.json"
      local t = assert(json.decode("temporal.api.cloud.billing.v1.BillingReport.Download",
                                   '{"fileSizeBytes": "9007199254740993"}'))
      assert(t.file_size_bytes == "9007199254740993", tostring(t.file_size_bytes))
      io.write(json.encode("temporal.api.cloud.billing.v1.BillingReport.Download", t))
    ]]
    local out, ok = helpers.run("luajit -e " .. q("ROOT = " .. string.format("%q", helpers.ROOT) .. "\n" .. script) ..
      " 2>&1")
    assert.is_true(ok, out)
    assert.are.equal('{"fileSizeBytes":"9007199254740993"}', out)
    local methods, mok = helpers.run("luajit " .. q(helpers.ROOT .. "bin/cloudops") .. " methods")
    assert.is_true(mok, methods)
    assert.matches("^GetCurrentIdentity\n", methods)
  end)
end)
