-- Running out of memory while a small answer (under 16 KB, decoded without a pcall of its own:
-- src/call.c's push_result) is decoded is still the call's failure, nil, err, and leaks
-- nothing: the blocking call releases its call whatever pushing its result raises.
-- spec/support/alloc_limit.c is a Lua 5.4 whose allocator fails past a limit; the script runs
-- under valgrind (as spec/07-reliability/alloc_failure_spec.lua's large answer does).
local helpers = require "helpers"

local q = helpers.sh_quote

local VALGRIND = "valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect " ..
  "--errors-for-leak-kinds=definite,indirect --num-callers=30"

describe("out of memory while a small answer is decoded", function()
  local server, bin, dir
  lazy_setup(function()
    dir = helpers.tmpdir()
    bin = dir .. "/alloc_limit"
    local out, ok = helpers.run("cc -std=c11 -O1 -g -o " .. q(bin) .. " " ..
      q(helpers.ROOT .. "spec/support/alloc_limit.c") .. " $(pkg-config --cflags --libs lua5.4) 2>&1")
    assert(ok, "cannot build spec/support/alloc_limit.c: " .. out)
    server = helpers.test_server()
  end)
  lazy_teardown(function()
    if server then server.stop() end
    helpers.cleanup()
  end)

  it("is the call's nil, err, and the client and its channel go on", function()
    -- alloc_limit embeds Lua 5.4 (whichever Lua runs the specs): the Lua 5.4 build of the core
    local path = helpers.script(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, retry = false })",
      "local opts = { metadata = { ['x-test-items'] = '100' } }",
      "local resp = assert(c:get_namespaces({}, opts))",
      "assert(#resp.namespaces == 100)",
      "local failed, answered, last = 0, 0, nil",
      "for limit = 1000, 100000, 3000 do",
      "  collectgarbage()",
      "  alloc_limit(limit)",
      "  local ok, r, err = pcall(c.get_namespaces, c, {}, opts)",
      "  alloc_limit()",
      "  last = ok and tostring(err) or ('raised: ' .. tostring(r))",
      "  if ok and r == nil and err.name == 'INTERNAL' and",
      "     err.message:find('^cannot decode the answer %(a [%w.]+ of %d+ bytes%): not enough memory$') then",
      "    failed = failed + 1",
      "  elseif ok and r then",
      "    answered = answered + 1",
      "  elseif not (not ok and tostring(r):find('not enough memory')) then",
      "    error('unexpected: ' .. last)",
      "  end",
      "end",
      "assert(failed > 0, 'no call failed for lack of memory while its answer was decoded: ' .. tostring(last))",
      "assert(answered > 0, 'no call was answered under the largest limit')",
      "assert(#assert(c:get_namespaces({}, opts)).namespaces == 100)  -- the client goes on",
      "c:close()",
      "print('done')",
    }, "\n"), helpers.ROOT .. "build/lua/?.so")
    local log = dir .. "/valgrind.log"
    -- make test-asan preloads the sanitizers' runtimes, which valgrind cannot run with
    local out, ok = helpers.run("env -u LD_PRELOAD " .. VALGRIND .. " --log-file=" .. q(log) .. " " .. q(bin) ..
      " " .. q(path) .. " 2>&1")
    local report = helpers.read_file(log) or ""
    assert.is_true(ok, out .. "\n" .. report)
    assert.matches("done", out)
    assert.matches("definitely lost: 0 bytes", report)
    assert.matches("indirectly lost: 0 bytes", report)
    assert.matches("ERROR SUMMARY: 0 errors", report)
  end)
end)
