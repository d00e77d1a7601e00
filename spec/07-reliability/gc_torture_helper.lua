--- The GC-torture mode of the core specs (issue 17's harness):
--   busted --helper=spec/07-reliability/gc_torture_helper.lua SPECS...
-- runs SPECS with the collector running continuously (spec/07-reliability/gc_torture.lua, in
-- small steps: a whole cycle at each allocation of a busted process would take hours) and
-- finalizers that, at whatever allocation they come, convert messages, and open channels, have
-- a call refused and close them (no call is left in flight for a spec's core.poll to see).
-- `make test-asan` runs the core specs so under ASan and UBSan, `make test-valgrind-torture`
-- under valgrind. The specs' own hostile finalizers (closing
-- the very channel a call starts on, and so on) are spec/07-reliability/gc_torture_spec.lua's.
package.path = "spec/?.lua;" .. package.path
local core = require "cloudops.core"
local torture = require "07-reliability.gc_torture"

local PAGE = "GetNamespacesResponse"
local page = core.encode(PAGE, { namespaces = { { namespace = "n", spec = { regions = { "r" } } } },
                                 next_page_token = "t" })
local get = core.method("GetNamespaces")
local request = core.encode(get.input, {})

local n = 0
torture.start{ light = true, pool = 8 }
torture.target{ act = function()
  n = n + 1
  local t = core.decode(PAGE, page)
  if not (t and core.encode(PAGE, t) == page) then error("a conversion in a finalizer went wrong") end
  if n % 16 == 0 then
    local ch = core.channel("127.0.0.1:1", { insecure = true })
    -- refused before anything starts: a bad metadata name
    if pcall(ch.start, ch, get.index, request, 1, { ["Bad Name"] = "x" }) then
      error("a call with bad metadata started")
    end
    ch:close()
  end
end }

-- At the end, how many finalizers acted: a torture that never ran would test nothing.
local busted = require "busted"
busted.subscribe({ "suite", "end" }, function()
  io.stderr:write(("gc torture: %d finalizers acted, %d of them opening and closing a channel\n")
    :format(torture.hits, math.floor(n / 16)))
  if torture.hits == 0 then io.stderr:write("gc torture: no finalizer ran\n") end
  return nil, true
end)
