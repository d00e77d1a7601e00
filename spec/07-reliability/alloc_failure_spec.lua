-- A memory error halfway through a call leaks nothing (issue 11, item 2): the call's gRPC
-- buffers, metadata and status belong to its handle, which the garbage collector frees when
-- Lua runs out of memory while pushing its metadata; the same for a server's request. Running
-- out of memory while the answer is decoded is the call's failure, nil, err (issue 17).
-- spec/support/alloc_limit.c is a Lua whose allocator fails past a limit; the script runs
-- under valgrind, which must find nothing definitely or indirectly lost. The
-- harness embeds Lua 5.4 and the Lua 5.4 build of the core, whichever Lua runs the specs.
local helpers = require "helpers"

local q = helpers.sh_quote

local VALGRIND = "valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect " ..
  "--errors-for-leak-kinds=definite,indirect --num-callers=30"

describe("a memory error halfway through", function()
  local server, bin, dir
  lazy_setup(function()
    dir = helpers.tmpdir()
    bin = dir .. "/alloc_limit"
    local out, ok = helpers.run("cc -std=c11 -O1 -g -o " .. q(bin) .. " " ..
      q(helpers.ROOT .. "spec/support/alloc_limit.c") ..
      " $(pkg-config --cflags --libs lua5.4) 2>&1")
    assert(ok, "cannot build spec/support/alloc_limit.c: " .. out)
    server = helpers.test_server()
  end)
  lazy_teardown(function()
    if server then server.stop() end
    helpers.cleanup()
  end)

  -- Runs the script under valgrind and checks that it finished and nothing leaked.
  local function run_clean(body)
    -- alloc_limit embeds Lua 5.4 (whichever Lua runs the specs) and valgrind checks it: the
    -- plain Lua 5.4 build of the core
    local path = helpers.script(body, helpers.ROOT .. "build/lua/?.so")
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
  end

  it("a call whose answer cannot be decoded for lack of memory returns nil, err and leaks nothing", function()
    run_clean(table.concat({
      "local cloudops = require 'cloudops'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false, retry = false })",
      "local opts = { metadata = { ['x-test-items'] = '3000' } }",
      "assert(c:get_namespaces({}, opts))",
      "local failed, last = 0, nil",
      "for i = 1, 5 do",
      "  collectgarbage()",
      "  alloc_limit(200000)",
      "  local ok, resp, err = pcall(c.get_namespaces, c, {}, opts)",
      "  alloc_limit()",
      "  last = ok and tostring(err) or ('raised: ' .. tostring(resp))",
      "  if ok and resp == nil and err.name == 'INTERNAL' and",
      "     err.message:find('^cannot decode the answer %(a [%w.]+ of %d+ bytes%): not enough memory$') then",
      "    failed = failed + 1",
      "  end",
      "  assert(collectgarbage('isrunning'), 'the collector was left stopped')  -- a large decode pauses it",
      "end",
      "assert(failed == 5, 'expected 5 calls to fail for lack of memory, got ' .. failed .. ': ' .. tostring(last))",
      "assert(c:get_namespaces({}, opts))  -- the client goes on",
      "c:close()",
      "print('done')",
    }, "\n"))
  end)

  -- A small answer (under 16 KB) is decoded without a pcall of its own (src/call.c's
  -- push_result): running out of memory there is still the call's failure, and the blocking
  -- call releases its call whatever pushing its result raises.
  it("a small answer that cannot be decoded for lack of memory is the call's nil, err", function()
    run_clean(table.concat({
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
    }, "\n"))
  end)

  it("a server whose request cannot be pushed for lack of memory leaks nothing", function()
    run_clean(table.concat({
      "local core = require 'cloudops.core'",
      "local schema = require 'cloudops.schema'",
      "local srv = assert(core.server{ address = '127.0.0.1:0' })",
      "local ch = core.channel('127.0.0.1:' .. srv.port, { insecure = true })",
      "local m = schema.method('GetNamespaces')",
      "local big = string.rep('x', 4000)",
      "local raised = 0",
      "for i = 1, 5 do",
      "  local h = ch:start(m.index, core.encode(m.input, { page_token = big }), 5, { ['x-pad'] = big })",
      "  collectgarbage()",
      "  alloc_limit(3000)",
      "  local ok, err = pcall(srv.next, srv, 5)",
      "  alloc_limit()",
      "  if not ok and tostring(err):find('not enough memory') then raised = raised + 1 end",
      "  h:cancel()",
      "  while not h:done() do core.poll(1) end",
      "  h:result()",
      "  collectgarbage()",
      "end",
      "assert(raised == 5, 'expected 5 memory errors, got ' .. raised)",
      "ch:close()",
      "srv:shutdown()",
      "print('done')",
    }, "\n"))
  end)
end)
