local helpers = require "helpers"

-- Loads cloudops from an install tree in a fresh Lua (5.4 by default) and lists its methods.
local function load_from(lmod, cmod, lua)
  local code = ([[package.path = %q .. "/?.lua;" .. %q .. "/?/init.lua"
package.cpath = %q .. "/?.so"
local c = require "cloudops"
io.write(#c.methods(), " ", package.searchpath("cloudops.core", package.cpath))]]):format(lmod, lmod, cmod)
  return helpers.run("cd / && " .. (lua or "lua5.4") .. " -e " .. helpers.sh_quote(code) .. " 2>&1")
end

describe("installing", function()
  local root = helpers.sh_quote(helpers.ROOT)

  it("make install puts a working module in the Lua module directories", function()
    local d = helpers.tmpdir()
    local out, ok = helpers.run("cd " .. root .. " && make --no-print-directory install LUA_LMOD=" .. d ..
      "/share LUA_CMOD=" .. d .. "/lib BINDIR=" .. d .. "/bin 2>&1")
    assert.is_true(ok, out)
    local _, has_emulator = helpers.run("test -x " .. d .. "/bin/cloudops-emulator")
    assert.is_true(has_emulator)
    out, ok = load_from(d .. "/share", d .. "/lib")
    assert.is_true(ok, out)
    assert.equal("88 " .. d .. "/lib/cloudops/core.so", out)
  end)

  it("luarocks make installs a working module from the rockspec", function()
    local _, has = helpers.run("command -v luarocks")
    if not has then pending("luarocks is not installed") return end
    local d = helpers.tmpdir()
    local out, ok = helpers.run("cd " .. root .. " && luarocks --lua-version=5.4 make --tree=" .. d .. " 2>&1")
    assert.is_true(ok, out)
    out, ok = load_from(d .. "/share/lua/5.4", d .. "/lib/lua/5.4")
    assert.is_true(ok, out)
    assert.equal("88 " .. d .. "/lib/lua/5.4/cloudops/core.so", out)
  end)

  it("luarocks make builds for LuaJIT when luarocks targets it (its headers)", function()
    local _, has = helpers.run("command -v luarocks && command -v luajit && test -f /usr/include/luajit-2.1/lua.h")
    if not has then pending("luarocks, luajit or LuaJIT's headers are not installed") return end
    local d = helpers.tmpdir()
    local out, ok = helpers.run("cd " .. root .. " && luarocks --lua-version=5.1 make --tree=" .. d ..
      " LUA_INCDIR=/usr/include/luajit-2.1 2>&1")
    assert.is_true(ok, out)
    out, ok = load_from(d .. "/share/lua/5.1", d .. "/lib/lua/5.1", "luajit")
    assert.is_true(ok, out)
    assert.equal("88 " .. d .. "/lib/lua/5.1/cloudops/core.so", out)
  end)

  lazy_teardown(helpers.cleanup)
end)
