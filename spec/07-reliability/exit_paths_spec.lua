-- How a script ends with calls in flight (issue 17, defect 1 and its harness): normally, by an
-- error, or by Ctrl-C (SIGINT), with 0, 1 and 1,000 calls in flight, their handles kept or
-- dropped (collected in flight), and a cloudops.map of 50 calls stopped by Ctrl-C. lua_close
-- then closes every channel, which cancels its calls and waits for them: the exit must be clean
-- (the status the ending gives, no crash). Under `make test-asan` the scripts run on the
-- sanitized core with the runtimes preloaded (the environment is inherited), and a report of
-- AddressSanitizer or UBSan (which exit with statuses of their own here) fails the spec.
local helpers = require "helpers"
local core = require "cloudops.core"

local q = helpers.sh_quote

-- The sanitizers' reports end the process with statuses no Lua ending gives.
local SANITIZERS = "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86\" " ..
                   "UBSAN_OPTIONS=\"${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87\" "

describe("a script that ends with calls in flight", function()
  local server = helpers.block_test_server()

  -- Runs body to its `ending` ("normal", "error", "sigint"); returns its exit status and output.
  local function run(body, ending)
    local path, dir = helpers.script(table.concat({
      "io.stdout:setvbuf('no')",
      "local ENDPOINT = " .. string.format("%q", server.endpoint),
      "local ENDING = " .. string.format("%q", ending),
      body,
    }, "\n"))
    local cmd = SANITIZERS .. helpers.LUA .. " " .. q(path)
    local status_file = dir .. "/status"
    local log = dir .. "/out.log"
    local pid = helpers.run("sh -c " .. q("(" .. cmd .. "; echo $? > " .. q(status_file) .. ") > " .. q(log) ..
                                          " 2>&1 & echo $!")):match("%d+")
    -- the interpreter: the child of the shell whose pid we have (read from /proc, not with
    -- pgrep, which hangs with the sanitizers' runtimes preloaded), while the shell runs
    local function lua_pid()
      return (helpers.read_file("/proc/" .. pid .. "/task/" .. pid .. "/children") or ""):match("%d+")
    end
    -- the script and its shell, killed if they still run when the test ends, passed or failed
    finally(function()
      if helpers.alive(pid) then os.execute("kill -KILL " .. (lua_pid() or "") .. " " .. pid .. " 2>/dev/null") end
    end)
    -- "ready": the calls are started (and, dropped, collected)
    local ready = helpers.eventually(function() return (helpers.read_file(log) or ""):find("ready", 1, true) end, 60)
    assert(ready, "the script did not get ready:\n" .. (helpers.read_file(log) or ""))
    if ending == "sigint" then
      core.sleep(0.2)
      os.execute("kill -INT " .. (lua_pid() or pid))
    end
    local gone = helpers.eventually(function() return not helpers.alive(pid) end, 60)
    local out = helpers.read_file(log) or ""
    assert(gone, "the script did not end:\n" .. out)
    return tonumber((helpers.read_file(status_file) or ""):match("%d+")), out
  end

  local function check(status, out, ending)
    assert.not_matches("AddressSanitizer", out)
    assert.not_matches("runtime error", out)
    assert.not_matches("Segmentation", out)
    if ending == "normal" then
      assert.equal(0, status, out)
      assert.matches("the end\n", out)
    elseif ending == "error" then
      assert.equal(1, status, out)
      assert.matches("boom", out)
    else
      assert.equal(1, status, out)
      assert.matches("interrupted!", out)
    end
    assert.not_matches("not reached", out)
  end

  -- Starts n calls that the server holds for 30 s, keeps or drops their handles, then ends.
  local function core_script(n, keep)
    return table.concat({
      "local core = require 'cloudops.core'",
      "local schema = require 'cloudops.schema'",
      "local GET = schema.method('GetNamespaces')",
      "local PAYLOAD = core.encode(GET.input, {})",
      "local ch = core.channel(ENDPOINT, { insecure = true })",
      "local kept = {}",
      "for i = 1, " .. n .. " do",
      "  local h = ch:start(GET.index, PAYLOAD, 60, { ['x-test-delay'] = '30' })",
      "  if " .. tostring(keep) .. " then kept[i] = h end",
      "end",
      "collectgarbage() collectgarbage()",
      "print('ready')",
      "if ENDING == 'error' then error('boom') end",
      "if ENDING == 'sigint' then",
      "  if #kept > 0 then while true do core.poll(60) end else core.sleep(math.huge) end",
      "  print('not reached')",
      "end",
      "print('the end')",
    }, "\n")
  end

  for _, ending in ipairs { "normal", "error", "sigint" } do
    it("by " .. ending .. ", with no call in flight", function()
      local status, out = run(core_script(0, true), ending)
      check(status, out, ending)
    end)
    for _, n in ipairs { 1, 1000 } do
      for _, keep in ipairs { true, false } do
        it(("by %s, with %d call%s in flight, %s"):format(ending, n, n > 1 and "s" or "",
                                                         keep and "their handles kept" or "their handles dropped"),
           function()
          local status, out = run(core_script(n, keep), ending)
          check(status, out, ending)
        end)
      end
    end
  end

  it("by Ctrl-C, a cloudops.map with 50 calls in flight", function()
    local status, out = run(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = ENDPOINT, insecure = true, api_key = 'k', rate_limit = false,",
      "                                   max_operations = false, timeout = 60 })",
      "local list = {}",
      "for i = 1, 50 do list[i] = i end",
      "local started = 0",
      "cloudops.map(function()",
      "  started = started + 1",
      "  if started == 50 then print('ready') end",
      "  return c:get_namespaces({}, { metadata = { ['x-test-delay'] = '30' } })",
      "end, list, { concurrency = 50 })",
      "print('not reached')",
    }, "\n"), "sigint")
    check(status, out, "sigint")
  end)
end)
