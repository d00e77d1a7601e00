-- What a process does around a call: Ctrl-C (SIGINT) during a blocking call or a long sleep
-- stops the interpreter at once, not at the call's deadline; and after fork(), a child whose
-- parent started gRPC fails its calls at once with advice that works, leaving the parent's
-- connections and calls intact (issue 17, defect 5). Each runs a script in a child interpreter
-- against spec/support/test_server.lua.
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
  return not helpers.alive(pid)
end

-- Only time tells a stop at Ctrl-C from one when the call ends: the server holds the answers
-- below 30 s (their deadline is 60 s), and core.sleep(math.huge) never ends. A blocking call
-- waits in 0.1 s slices, so the interpreter stops within one and exits: about 0.12 s on an
-- idle machine (0.02 s for the sleep). 3 s, 25 times that, leaves room for a loaded machine and
-- is still a tenth of the wait the script would otherwise make.
local STOP_LIMIT = 3

describe("a process", function()
  local server = helpers.block_test_server()

  -- Starts the script, waits for `ready` in its output, sends SIGINT, and returns whether it
  -- ended within STOP_LIMIT, and its output.
  local function interrupt(body, ready)
    local cmd = script_cmd(helpers.LUA, body, helpers.CORE_CPATH)
    local proc = helpers.spawn(cmd, ready, 10)
    finally(function() proc.stop("KILL") end) -- still running when the test ends: passed or not, killed
    -- the request (or the sleep) is under way: the script said so just before, and the call
    -- is on the server when its log shows it
    local t_ready = core.now()
    while not server.requests():find("x-test-key=sigint", 1, true) and core.now() - t_ready < 5
          and ready:find("calling") do
      core.sleep(0.02)
    end
    core.sleep(0.1)
    os.execute("kill -INT " .. proc.pid)
    local gone = wait_gone(proc.pid, STOP_LIMIT)
    return gone, helpers.read_file(proc.log) or ""
  end

  it("stops a blocking call at Ctrl-C, not at its deadline", function()
    local gone, out = interrupt(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, timeout = 60 })",
      "io.stdout:write('calling\\n') io.stdout:flush()",
      "c:get_namespaces({}, { metadata = { ['x-test-delay'] = '30', ['x-test-key'] = 'sigint' } })",
      "print('the call returned')",
    }, "\n"), "calling")
    assert.is_true(gone, "still running " .. STOP_LIMIT .. " s after SIGINT: " .. out)
    assert.matches("interrupted!", out)
    assert.not_matches("the call returned", out)
  end)

  it("stops core.sleep(math.huge) at Ctrl-C", function()
    local gone, out = interrupt(table.concat({
      "local core = require 'cloudops.core'",
      "io.stdout:write('sleeping\\n') io.stdout:flush()",
      "core.sleep(math.huge)",
      "print('woke up')",
    }, "\n"), "sleeping")
    assert.is_true(gone, "still running " .. STOP_LIMIT .. " s after SIGINT: " .. out)
    assert.matches("interrupted!", out)
    assert.not_matches("woke up", out)
  end)

  it("stops a cloudops.map with calls in flight at Ctrl-C", function()
    local gone, out = interrupt(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, timeout = 60 })",
      "io.stdout:write('calling\\n') io.stdout:flush()",
      "cloudops.map(function()",
      "  return c:get_namespaces({}, { metadata = { ['x-test-delay'] = '30', ['x-test-key'] = 'sigint' } })",
      "end, { 1, 2, 3 })",
      "print('the map returned')",
    }, "\n"), "calling")
    assert.is_true(gone, "still running " .. STOP_LIMIT .. " s after SIGINT: " .. out)
    assert.matches("interrupted!", out)
    assert.not_matches("the map returned", out)
  end)
end)

-- fork() on Lua 5.4 (spec/support/fork_module.c) and on LuaJIT (its FFI), whichever Lua runs the
-- specs: the parent is checked after its child is done.
describe("fork()", function()
  local server = helpers.block_test_server()
  local module_dir
  lazy_setup(function()
    module_dir = helpers.tmpdir()
    local out, ok = helpers.run("cc -std=c11 -shared -fPIC -o " .. q(module_dir .. "/fork_module.so") .. " " ..
      q(helpers.ROOT .. "spec/support/fork_module.c") .. " $(pkg-config --cflags lua5.4) 2>&1")
    assert(ok, "cannot build spec/support/fork_module.c: " .. out)
  end)

  local LUAS = {
    { name = "Lua 5.4", lua = jit and "lua5.4" or helpers.LUA,
      cpath = jit and helpers.ROOT .. "build/lua/?.so" or helpers.CORE_CPATH, prelude = function()
        return "package.cpath = " .. string.format("%q", module_dir .. "/?.so;") .. " .. package.cpath\n" ..
               "local F = require 'fork_module'"
      end },
    { name = "LuaJIT", lua = "luajit", cpath = helpers.ROOT .. "build/luajit/lua/?.so", prelude = function()
        return table.concat({
          "local ffi = require 'ffi'",
          "ffi.cdef 'int fork(void); int waitpid(int, int *, int); void _exit(int);'",
          "local F = {}",
          "function F.fork() return ffi.C.fork() end",
          "function F.exit(code) ffi.C._exit(code or 0) end",
          "function F.wait(pid)",
          "  local st = ffi.new('int[1]')",
          "  ffi.C.waitpid(pid, st, 0)",
          "  local s = st[0]",
          "  return bit.band(s, 0x7f) == 0 and bit.band(bit.rshift(s, 8), 0xff) or 128 + bit.band(s, 0x7f)",
          "end",
        }, "\n")
      end },
  }

  -- Runs body (with F, ENDPOINT, connect, say and the core defined) under lua; returns the
  -- parent's output and what the child said (a table).
  local function run(lua, body)
    local path, dir = helpers.script(table.concat({
      "io.stdout:setvbuf('no')",
      lua.prelude(),
      "local cloudops = require 'cloudops'",
      "local core = require 'cloudops.core'",
      "local schema = require 'cloudops.schema'",
      "local ENDPOINT = " .. string.format("%q", server.endpoint),
      "local function connect(timeout)",
      "  return assert(cloudops.connect{ endpoint = ENDPOINT, insecure = true, api_key = 'k', rate_limit = false,",
      "                                  retry = false, timeout = timeout or 5 })",
      "end",
      "local said = {}",
      "local function say(k, v) said[#said + 1] = k .. '=' .. tostring(v) end",
      "local function told()",
      "  local f = assert(io.open(" .. string.format("%q", "CHILD") .. ", 'w'))",
      "  f:write(table.concat(said, '\\n'), '\\n')",
      "  f:close()",
      "end",
      body,
    }, "\n"), lua.cpath)
    if lua.lua == "luajit" and not helpers.read_file(helpers.ROOT .. "build/luajit/lua/cloudops/core.so") then
      error("the LuaJIT core is not built (make LUA=luajit)")
    end
    local out, ok = helpers.run("cd " .. q(dir) .. " && " .. lua.lua .. " " .. q(path) .. " 2>&1")
    assert(ok, out)
    local child = {}
    for k, v in (helpers.read_file(dir .. "/CHILD") or ""):gmatch("([%w_]+)=([^\n]*)") do child[k] = v end
    return out, child
  end

  local ADVICE = "gRPC cannot be used again in a process forked after it started %(libgrpc's threads do not " ..
    "survive fork%(%), and its connections and poller stay the parent's%): start the child with exec %(a new " ..
    "interpreter, e%.g%. through os%.execute or io%.popen%) and connect there, or fork before the first connect$"

  for _, lua in ipairs(LUAS) do
    it(lua.name .. ": a child whose parent started gRPC fails its calls at once with that advice; the parent's " ..
       "calls, one in flight across the fork among them, go on", function()
      local out, child = run(lua, [[
        local parent = connect()
        assert(parent:get_namespaces{})
        local GET = schema.method("GetNamespaces")
        local ch = core.channel(ENDPOINT, { insecure = true })
        local inflight = ch:start(GET.index, core.encode(GET.input, {}), 10, { ["x-test-delay"] = "1" })
        local pid = F.fork()
        if pid == 0 then
          local t0 = core.now()
          local resp, err = parent:get_namespaces{}
          say("parents_client", resp and "ok" or (err.name .. ": " .. err.message))
          local child = connect(3)
          local resp2, err2 = child:get_namespaces({}, { metadata = { ["x-test-delay"] = "10" } })
          say("childs_client", resp2 and "ok" or (err2.name .. ": " .. err2.message))
          say("within_deadline", core.now() - t0 < 3)
          say("polled", #core.poll(0.3))
          say("inflight_done", inflight:done())
          local _, code, message = inflight:result()
          say("inflight", code .. ": " .. message)
          local srv, serr = core.server{ address = "127.0.0.1:0" }
          say("server", srv and "made" or serr)
          local ok = pcall(ch.state, ch)
          say("state_raises", not ok)
          told()
          os.exit(0, true) -- the child's Lua state closed: its finalizers run, and leave gRPC alone
        end
        print("child status", F.wait(pid))
        while not inflight:done() do core.poll(1) end
        print("inflight", (select(2, inflight:result())))
        for _ = 1, 3 do
          local resp, err = parent:get_namespaces{}
          print("parent", resp and "ok" or tostring(err))
        end
        local again = connect()
        print("new client", again:get_namespaces{} and "ok")
        ch:close()
      ]])
      assert.matches("child status\t0\n", out)
      assert.matches("^FAILED_PRECONDITION: this client was connected in the parent process, before fork%(%): " ..
                     ADVICE, child.parents_client)
      assert.matches("^FAILED_PRECONDITION: this client was connected in a process forked after gRPC started in " ..
                     "its parent: " .. ADVICE, child.childs_client)
      assert.equal("true", child.within_deadline)
      assert.equal("0", child.polled)
      assert.equal("true", child.inflight_done)
      assert.equal("9: this call was started in the parent process, before fork(): its answer is the parent's",
                   child.inflight)
      assert.matches("^cannot serve in a process forked after gRPC started in its parent: " .. ADVICE, child.server)
      assert.equal("true", child.state_raises)
      -- the parent: its call in flight across the fork answered, its client and a new one working
      assert.matches("inflight\t0\n", out)
      assert.equal(3, select(2, out:gsub("parent\tok", "")), out)
      assert.matches("new client\tok", out)
    end)

    it(lua.name .. ": a child that ends by _exit or by an error leaves the parent's connection intact", function()
      local out = run(lua, [[
        local parent = connect()
        assert(parent:get_namespaces{})
        for _, ending in ipairs { "exit", "error" } do
          local pid = F.fork()
          if pid == 0 then
            parent:get_namespaces{}
            local c = connect()
            c:get_namespaces{}
            if ending == "exit" then F.exit(0) end
            error("the child raises")
          end
          print(ending, "child status", F.wait(pid))
          for _ = 1, 2 do
            local resp, err = parent:get_namespaces{}
            print("parent", resp and "ok" or tostring(err))
          end
        end
      ]])
      assert.matches("exit\tchild status\t0\n", out)
      assert.matches("error\tchild status\t1\n", out)
      assert.equal(4, select(2, out:gsub("parent\tok", "")), out)
    end)

    it(lua.name .. ": a child forked before the first connect connects and calls", function()
      local out, child = run(lua, [[
        local pid = F.fork()
        if pid == 0 then
          local c = connect()
          local resp, err = c:get_namespaces{}
          say("child", resp and "ok" or tostring(err))
          c:close()
          told()
          os.exit(0, true)
        end
        print("child status", F.wait(pid))
        local resp, err = connect():get_namespaces{}
        print("parent", resp and "ok" or tostring(err))
      ]])
      assert.matches("child status\t0\n", out)
      assert.equal("ok", child.child)
      assert.matches("parent\tok", out)
    end)
  end
end)
