-- What a process does around a call: Ctrl-C (SIGINT) during a blocking call or a long sleep
-- stops the interpreter at once, not at the call's deadline; and a client made before fork()
-- fails its calls in the child, leaving the parent's connection intact. Each runs a script in
-- a child interpreter against spec/support/test_server.lua.
local helpers = require "helpers"
local core = require "cloudops.core"

local q = helpers.sh_quote

-- A Lua script run by `interp`, with the tree's modules and core on its paths.
local function script_cmd(interp, body, cpath)
  local path, dir = helpers.script(body, cpath)
  return interp .. " " .. q(path), dir
end

local function wait_gone(pid, limit)
  local t0 = core.now()
  while helpers.alive(pid) and core.now() - t0 < limit do core.sleep(0.02) end
  return not helpers.alive(pid), core.now() - t0
end

describe("a process", function()
  local server = helpers.block_test_server()

  -- Starts the script, waits for `ready` in its output, sends SIGINT, and returns whether it
  -- ended, how long that took, and its output.
  local function interrupt(body, ready)
    local cmd = script_cmd(helpers.LUA, body, helpers.CORE_CPATH)
    local proc = helpers.spawn(cmd, ready, 10)
    -- the request (or the sleep) is under way: the script said so just before, and the call
    -- is on the server when its log shows it
    local t_ready = core.now()
    while not server.requests():find("x-test-key=sigint", 1, true) and core.now() - t_ready < 5
          and ready:find("calling") do
      core.sleep(0.02)
    end
    core.sleep(0.1)
    os.execute("kill -INT " .. proc.pid)
    local gone, took = wait_gone(proc.pid, 5)
    local out = helpers.read_file(proc.log) or ""
    if not gone then proc.stop("KILL") end
    return gone, took, out
  end

  it("stops a blocking call at Ctrl-C, not at its deadline", function()
    local gone, took, out = interrupt(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, timeout = 60 })",
      "io.stdout:write('calling\\n') io.stdout:flush()",
      "c:get_namespaces({}, { metadata = { ['x-test-delay'] = '30', ['x-test-key'] = 'sigint' } })",
      "print('the call returned')",
    }, "\n"), "calling")
    assert.is_true(gone, "still running after SIGINT: " .. out)
    assert.is_true(took < 1.5, "took " .. took)
    assert.matches("interrupted!", out)
    assert.not_matches("the call returned", out)
  end)

  it("stops core.sleep(math.huge) at Ctrl-C", function()
    local gone, took, out = interrupt(table.concat({
      "local core = require 'cloudops.core'",
      "io.stdout:write('sleeping\\n') io.stdout:flush()",
      "core.sleep(math.huge)",
      "print('woke up')",
    }, "\n"), "sleeping")
    assert.is_true(gone, "still running after SIGINT: " .. out)
    assert.is_true(took < 1.5, "took " .. took)
    assert.matches("interrupted!", out)
    assert.not_matches("woke up", out)
  end)

  it("stops a cloudops.map with calls in flight at Ctrl-C", function()
    local gone, took, out = interrupt(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, timeout = 60 })",
      "io.stdout:write('calling\\n') io.stdout:flush()",
      "cloudops.map(function() return c:get_namespaces({}, { metadata = { ['x-test-delay'] = '30', ['x-test-key'] = 'sigint' } }) end, { 1, 2, 3 })",
      "print('the map returned')",
    }, "\n"), "calling")
    assert.is_true(gone, "still running after SIGINT: " .. out)
    assert.is_true(took < 1.5, "took " .. took)
    assert.matches("interrupted!", out)
    assert.not_matches("the map returned", out)
  end)

  -- LuaJIT's FFI can fork; the child's calls must fail cleanly and the parent's connection
  -- must stay usable (before, the child's call corrupted it).
  it("fails a child's calls through a client made before fork(), and keeps the parent's", function()
    local cpath = helpers.ROOT .. "build/luajit/lua/?.so"
    if not helpers.read_file(helpers.ROOT .. "build/luajit/lua/cloudops/core.so") then
      error("the LuaJIT core is not built (make LUA=luajit): the fork check needs LuaJIT's FFI")
    end
    local cmd, dir = script_cmd("luajit", table.concat({
      "local ffi = require 'ffi'",
      "ffi.cdef 'int fork(void); int waitpid(int, int *, int); void _exit(int);'",
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, timeout = 5 })",
      "assert(c:get_namespaces{})",
      "local pid = ffi.C.fork()",
      "if pid == 0 then",
      "  local resp, err = c:get_namespaces{}",
      "  local f = io.open(" .. string.format("%q", "CHILD") .. ", 'w')",
      "  f:write(resp and 'ok' or (err.name .. ': ' .. err.message)) f:close()",
      "  ffi.C._exit(0)",
      "end",
      "ffi.C.waitpid(pid, nil, 0)",
      "for i = 1, 3 do local resp, err = c:get_namespaces{} print('parent', resp and 'ok' or tostring(err)) end",
    }, "\n"), cpath)
    local out, ok = helpers.run("cd " .. q(dir) .. " && " .. cmd .. " 2>&1")
    assert.is_true(ok, out)
    local child = helpers.read_file(dir .. "/CHILD")
    assert.matches("^FAILED_PRECONDITION: this client was connected before fork%(%)", child)
    assert.equal(3, select(2, out:gsub("parent\tok", "")), out)
  end)
end)
