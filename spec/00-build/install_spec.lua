-- Installing, checked from outside the tree as a user would: `make install PREFIX=`, luarocks
-- (make, a packed binary rock, a source rock from a git mirror of this tree), and the tools and
-- `require("cloudops.emulator").spawn()` working from what was installed, from / with a clean
-- environment. luarocks runs as the README says, told once (in a fresh HOME's configuration)
-- that Debian's lua-cjson and lua-argparse provide two of the rock's dependencies: quiet, with
-- no "Missing dependencies" and nothing fetched.
local helpers = require "helpers"
local B = require "00-build.support"

local q = helpers.sh_quote
local root = q(helpers.ROOT)

-- A check run from / in a clean environment, with LUA_PATH/LUA_CPATH (or `luarocks path`)
-- pointing at an install: loads cloudops, spawns the emulator, calls it.
local CHECK = [[
local cloudops = require "cloudops"
local emu = assert(require("cloudops.emulator").spawn())
local c = assert(cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = emu.api_key })
local who = assert(c:get_current_identity())
c:close()
emu.stop()
io.write(#cloudops.methods(), " ", package.searchpath("cloudops.core", package.cpath), " ", who.user.spec.email)
]]

local function clean_env(extra)
  return "cd / && env -i PATH=/usr/bin:/bin HOME=" .. q(helpers.tmpdir()) .. " " .. (extra or "")
end

-- CHECK with the module directories of an install.
local function check(lmod, cmod, lua)
  return helpers.run(clean_env("LUA_PATH=" .. q(lmod .. "/?.lua;" .. lmod .. "/?/init.lua;;") ..
    " LUA_CPATH=" .. q(cmod .. "/?.so;;")) .. " " .. (lua or "lua5.4") .. " -e " .. q(CHECK) .. " 2>&1")
end

-- CHECK in a luarocks tree, its paths from `luarocks path`.
local function check_tree(tree)
  return helpers.run(clean_env() .. " sh -c " .. q("eval \"$(luarocks --lua-version=5.4 path --tree " .. q(tree) ..
    ")\" && lua5.4 -e " .. q(CHECK)) .. " 2>&1")
end

-- The tools of bin/ installed there: the command line lists the methods, the emulator starts.
local function check_tools(bindir)
  local out, ok = helpers.run(clean_env() .. q(bindir .. "/cloudops") .. " methods 2>&1")
  assert.is_true(ok, out)
  assert.matches("^GetCurrentIdentity\n", out)
  out, ok = helpers.run(clean_env() .. q(bindir .. "/cloudops-emulator") .. " --help 2>&1")
  assert.is_true(ok, out)
  assert.matches("^usage: cloudops%-emulator", out)
end

local function has(cmd) return select(2, helpers.run("command -v " .. cmd .. " >/dev/null")) end

-- The README's luarocks block: the lines that tell luarocks what Debian provides, and its make.
local function readme_luarocks()
  local readme = assert(helpers.read_file(helpers.ROOT .. "README.md"))
  local block = assert(readme:match("\n```sh\n(mkdir %-p ~/%.luarocks.-)\n```"), "no luarocks block in the README")
  local setup, make = {}, nil
  for line in block:gmatch("[^\n]+") do
    line = line:gsub("%s+#.*$", "")
    if line:find(" make$") then make = line else setup[#setup + 1] = line end
  end
  return setup, assert(make, "no luarocks make in the README's block")
end

-- The upstream part of a version: "2.1.0" of "2.1.0-1" (a rock's) or "2.1.0+dfsg-2.2" (Debian's).
local function upstream(version)
  return version:match("^[%d%.]+")
end

describe("installing", function()
  local schema
  local home -- the HOME luarocks runs with: its configuration as the README makes it
  -- luarocks as the user runs it (its HOME, make's flags left out); env: assignments for it
  local function luarocks(args, env)
    return B.CLEAN_ENV .. " HOME=" .. q(home) .. " " .. (env or "") .. " luarocks " .. args
  end

  lazy_setup(function()
    schema = B.schema_dir()
    home = helpers.tmpdir()
    local setup = readme_luarocks()
    for _, lua_version in ipairs { "5.4", "5.1" } do -- the README's lines, and the same for LuaJIT
      for _, line in ipairs(setup) do
        B.sh("export HOME=" .. q(home) .. "\n" .. line:gsub("%-%-lua%-version=5%.4", "--lua-version=" .. lua_version))
      end
    end
  end)
  lazy_teardown(helpers.cleanup)

  it("the README tells luarocks the versions Debian provides", function()
    local out = helpers.run(luarocks("--lua-version=5.4 config rocks_provided"))
    local told = 0
    for _, line in ipairs((readme_luarocks())) do
      local rock, version = line:match("config rocks_provided%.([%w%-]+) (%S+)$")
      if rock then
        told = told + 1
        local package = rock == "argparse" and "lua-argparse" or rock
        local installed = helpers.run("dpkg-query -W -f='${Version}' " .. package)
        assert.are.equal(upstream(installed), upstream(version), package)
        -- and luarocks, configured by those lines, knows it (a name with a hyphen is quoted)
        local key = rock:find("-", 1, true) and '["' .. rock .. '"]' or rock
        assert.matches(key .. ' = "' .. version .. '"', out, 1, true)
      end
    end
    assert.equal(2, told) -- lua-cjson and argparse
  end)

  it("make install PREFIX= puts everything under that prefix, working from there", function()
    -- every file under DESTDIR/PREFIX, nothing beside it
    local stage = helpers.tmpdir()
    local out, ok = helpers.run("cd " .. root .. " && " .. B.MAKE .. " install DESTDIR=" .. q(stage) ..
      " PREFIX=/opt/cloudops 2>&1")
    assert.is_true(ok, out)
    local outside = helpers.run("cd " .. q(stage) .. " && find . -type f ! -path './opt/cloudops/*'")
    assert.equal("", outside)
    for _, f in ipairs{ "share/lua/5.4/cloudops/init.lua", "share/lua/5.4/cloudops/emulator/cli.lua",
                        "lib/lua/5.4/cloudops/core.so", "bin/cloudops", "bin/cloudops-emulator",
                        "bin/cloudops-repl" } do
      assert.truthy(helpers.read_file(stage .. "/opt/cloudops/" .. f), f)
    end
    -- installed for real under a prefix: the tools and a script of one's own work from there
    local prefix = helpers.tmpdir()
    out, ok = helpers.run("cd " .. root .. " && " .. B.MAKE .. " install PREFIX=" .. q(prefix) .. " 2>&1")
    assert.is_true(ok, out)
    check_tools(prefix .. "/bin")
    out, ok = check(prefix .. "/share/lua/5.4", prefix .. "/lib/lua/5.4")
    assert.is_true(ok, out)
    assert.equal("88 " .. prefix .. "/lib/lua/5.4/cloudops/core.so owner@example.com", out)
  end)

  it("luarocks make installs a working module, tools and emulator", function()
    assert.is_true(has("luarocks"), "luarocks is not installed (bin/install-deps installs it)")
    local tree = helpers.tmpdir()
    local _, make = readme_luarocks()
    local out, ok = helpers.run("cd " .. root .. " && " .. B.CLEAN_ENV .. " CLOUD_API_DIR=" .. q(schema) ..
      " HOME=" .. q(home) .. " " .. make .. " --tree=" .. q(tree) .. " 2>&1")
    assert.is_true(ok, out)
    assert.not_matches("Missing dependencies", out)
    assert.matches("depends on lua%-cjson >= 2%.1 %(2%.1%.0%-1 provided by VM%)", out)
    check_tools(tree .. "/bin")
    out, ok = check_tree(tree)
    assert.is_true(ok, out)
    assert.equal("88 " .. tree .. "/lib/lua/5.4/cloudops/core.so owner@example.com", out)

    -- packed as a binary rock, installed elsewhere
    local packdir = helpers.tmpdir()
    out, ok = helpers.run("cd " .. q(packdir) .. " && " .. luarocks("--lua-version=5.4 --tree=" .. q(tree) ..
      " pack lua-cloudops 2>&1") .. " && ls")
    assert.is_true(ok, out)
    local rock = assert(out:match("(lua%-cloudops%-0%.1%.0%-1%.[%w_%-]+%.rock)"), out)
    local tree2 = helpers.tmpdir()
    out, ok = helpers.run(luarocks("--lua-version=5.4 install --tree=" .. q(tree2) .. " " ..
      q(packdir .. "/" .. rock) .. " 2>&1"))
    assert.is_true(ok, out)
    assert.not_matches("Missing dependencies", out)
    check_tools(tree2 .. "/bin")
    out, ok = check_tree(tree2)
    assert.is_true(ok, out)
    assert.equal("88 " .. tree2 .. "/lib/lua/5.4/cloudops/core.so owner@example.com", out)
  end)

  it("the rockspec builds from its source (a git tag), as a source rock", function()
    assert.is_true(has("luarocks") and has("git"), "luarocks or git is not installed")
    -- a mirror of this tree with the rockspec's tag; the rockspec's public URL pointed at it
    local tree = B.tree_copy()
    local rockspec = assert(helpers.read_file(tree .. "/lua-cloudops-0.1.0-1.rockspec"))
    assert.matches('url = "git%+https://github%.com/[%w%-]+/lua%-cloudops%.git"', rockspec)
    assert.matches('tag = "v0%.1%.0"', rockspec)
    assert.matches('"lua%-cjson >= 2%.1"', rockspec)
    B.sh("cd " .. q(tree) .. " && git init -q && git add -A && " ..
      "git -c user.name=s -c user.email=s@x commit -qm r && git tag v0.1.0")
    local work = helpers.tmpdir()
    helpers.write_file(work .. "/lua-cloudops-0.1.0-1.rockspec",
      (rockspec:gsub('url = "git%+https://[^"]+"', 'url = "git+file://' .. tree .. '"')))
    local out, ok = helpers.run("cd " .. q(work) .. " && " ..
      luarocks("--lua-version=5.4 pack lua-cloudops-0.1.0-1.rockspec 2>&1"))
    assert.is_true(ok, out)
    local target = helpers.tmpdir()
    -- (the build from scratch on both cores: luarocks' make takes MAKEFLAGS from the environment)
    out, ok = helpers.run("cd " .. q(work) .. " && CLOUD_API_DIR=" .. q(schema) .. " " ..
      luarocks("--lua-version=5.4 install --tree=" .. q(target) .. " lua-cloudops-0.1.0-1.src.rock 2>&1",
               "MAKEFLAGS=-j2"))
    assert.is_true(ok, out)
    assert.not_matches("Missing dependencies", out)
    out, ok = check_tree(target)
    assert.is_true(ok, out)
    assert.equal("88 " .. target .. "/lib/lua/5.4/cloudops/core.so owner@example.com", out)
  end)

  it("luarocks make builds for LuaJIT when luarocks targets it (its headers)", function()
    assert.is_true(has("luarocks") and has("luajit") and helpers.read_file("/usr/include/luajit-2.1/lua.h") ~= nil,
      "luarocks, luajit or LuaJIT's headers (libluajit2-5.1-dev) are not installed")
    local tree = helpers.tmpdir()
    local out, ok = helpers.run("cd " .. root .. " && CLOUD_API_DIR=" .. q(schema) .. " " ..
      luarocks("--lua-version=5.1 make --tree=" .. q(tree) .. " LUA_INCDIR=/usr/include/luajit-2.1 2>&1"))
    assert.is_true(ok, out)
    assert.not_matches("Missing dependencies", out)
    out, ok = check(tree .. "/share/lua/5.1", tree .. "/lib/lua/5.1", "luajit")
    assert.is_true(ok, out)
    assert.equal("88 " .. tree .. "/lib/lua/5.1/cloudops/core.so owner@example.com", out)
  end)
end)
