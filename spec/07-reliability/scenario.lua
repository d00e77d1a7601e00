--- A finalizer scenario (spec/07-reliability/gc_torture.lua) run in a child interpreter of its
-- own, whose small heap lets a cycle end at almost every allocation: under `make test-asan` on
-- the sanitized core, under `make test-valgrind` in valgrind. The body sees core, schema,
-- torture, GET and PAYLOAD (GetNamespaces, page_size 1), ROUNDS and ENDPOINT, expect(cond,
-- fmt, ...), wait_done(h), count(name) and report(), which it calls last. Returns the counts
-- it reported ({ name = n }) and its output, after checking that it ended cleanly.
local helpers = require "helpers"
local assert = require "luassert"

local q = helpers.sh_quote

local PRELUDE = [[
local core = require "cloudops.core"
local schema = require "cloudops.schema"
local torture = require "07-reliability.gc_torture"
local GET = schema.method("GetNamespaces")
local PAYLOAD = core.encode(GET.input, { page_size = 1 })
local ROUNDS = tonumber(arg[1])
local ENDPOINT = arg[2]
local function expect(cond, ...)
  if not cond then error(string.format(...), 2) end
end
local function wait_done(h)
  while not h:done() do core.poll(1) end
end
-- what each outcome counted: printed as "name=count" at the end
local seen = {}
local function count(name) seen[name] = (seen[name] or 0) + 1 end
local function report()
  seen.hits = torture.hits
  expect(#torture.errors == 0, "a finalizer raised: %s", tostring(torture.errors[1]))
  for k, v in pairs(seen) do print(k .. "=" .. v) end
  print("done")
end
]]

return function(body, endpoint, rounds)
  local path = helpers.script(PRELUDE .. body)
  local out, ok, code = helpers.run(helpers.LUA .. " " .. q(path) .. " " .. tostring(rounds or 1) .. " " ..
                                    q(endpoint) .. " 2>&1")
  assert(ok, "the scenario ended with status " .. tostring(code) .. ":\n" .. out)
  assert.not_matches("AddressSanitizer", out)
  assert.not_matches("runtime error", out)
  assert.matches("\ndone\n", "\n" .. out)
  if os.getenv("CLOUDOPS_TORTURE_VERBOSE") then io.stderr:write(out) end
  local counts = {}
  for k, v in out:gmatch("(%w+)=(%d+)") do counts[k] = tonumber(v) end
  return counts, out
end
