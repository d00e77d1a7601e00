-- The README's "Rehearse before you run" runs as it is written: onboard.lua saved from its
-- block, the shell block run in that directory with bin/ on PATH, the README's LUA_PATH line,
-- and the environment naming a local emulator that holds a namespace `payments`; then its Lua
-- block. What each step printed, and what the account holds after, are checked.
local helpers = require "helpers"
local T = require "06-tools.support.tools"
local cloudops = require "cloudops"

local q = helpers.sh_quote
local README = assert(helpers.read_file(helpers.ROOT .. "README.md"))

local function section(text)
  return assert(text:match("\n## Rehearse before you run\n(.-)\n## "),
    "the README has no section \"Rehearse before you run\"")
end

local function blocks(text, lang)
  local out = {}
  for block in text:gmatch("\n```" .. lang .. "\n(.-)\n```") do out[#out + 1] = block end
  return out
end

describe("the README's rehearsal", function()
  local emu, c, root

  lazy_setup(function()
    emu = T.emulator()
    c = assert(cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = emu.api_key })
    assert(c:wait(assert(c:create_namespace{ spec = { name = "payments", retention_days = 30,
      replicas = { { region = "aws-us-east-1" } }, api_key_auth = { enabled = true } } }), { min_poll = 0.05 }))
    root = helpers.run("cd " .. q(helpers.ROOT) .. " && pwd"):gsub("%s+$", "")
  end)

  lazy_teardown(function()
    if c then c:close() end
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  -- A shell command run as a user of the source tree would: the README's LUA_PATH line, bin/
  -- on PATH, the environment naming the emulator.
  local function shell(dir, command, luajit)
    local paths = README:match('\n(export LUA_PATH="$PWD/lua/[^\n]+)\n')
    if luajit then paths = paths:gsub("/build/lua/", "/build/luajit/lua/") end
    return T.run("sh -c " .. q("cd " .. q(root) .. " && " .. paths .. " && export PATH=" .. q(root .. "/bin") ..
      ":$PATH && cd " .. q(dir) .. " && " .. command), {
        TEMPORAL_CLOUD_ENDPOINT = emu.endpoint, TEMPORAL_CLOUD_API_KEY = emu.api_key,
        TEMPORAL_CLOUD_INSECURE = "1" })
  end

  it("runs as written: snapshot, rehearse, run for real, diff", function()
    local text = section(README)
    local lua, sh = blocks(text, "lua"), blocks(text, "sh")
    assert.equal(2, #lua)
    assert.equal(1, #sh)
    assert.matches("^%-%- onboard%.lua ", lua[1])
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/onboard.lua", lua[1])
    local out, err, status = shell(dir, sh[1])
    -- the block's last command, the diff, says the account changed since the snapshot
    assert.equal(2, status, err)
    local rehearsal, after = out:match("^(.-)rehearse: exit status 2\n(.*)$")
    assert(rehearsal, out .. err)
    assert.matches("^Changes: 5 to create, 1 to update, 0 to delete\n\nnamespace\n" ..
      "  ~ payments %(payments%.emu01%)\n      spec%.retention_days: 30 %-> 60\n\nuser\n" ..
      "  %+ ana@example%.com %(%x+%)\n      spec%.email: \"ana@example%.com\"\n" ..
      "      spec%.access%.account_access%.role: \"ROLE_DEVELOPER\"\n" ..
      "      spec%.access%.namespace_accesses%[payments%]: {\"permission\":\"PERMISSION_WRITE\"}\n", rehearsal)
    assert.matches("\nMutations sent, in order:\n", rehearsal)
    assert.matches("\n    6 UpdateNamespace%s+OK%s+STATE_FULFILLED\n", rehearsal)
    assert.matches("\nErrors met: none%.\n", rehearsal)
    assert.matches("\n  would take at least %d+%.%d s under the real limits\n    %(fast profile: ", rehearsal)
    -- the script ran for real once, after the rehearsal
    assert.matches("^onboarded 5 developers to payments%.emu01\n", after)
    assert.matches("\nChanges: 5 to create, 1 to update, 0 to delete\n", after)
    assert.equal(1, #assert(c:get_users{ email = "ana@example.com" }).users)
    assert.equal(60, assert(c:get_namespace{ namespace = "payments.emu01" }).namespace.spec.retention_days)
    -- the rehearsal's output went to stderr, the account read by reads only
    assert.matches("reading the account at 127%.0%.0%.1:%d+ %(reads only%)", err)
    assert.matches("onboarded 5 developers to payments%.emu01\n", err)
  end)

  it("its Lua block runs as written", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/block.lua", blocks(section(README), "lua")[2])
    local _, err, status = shell(dir, T.LUA .. " block.lua", jit ~= nil)
    assert.equal(0, status, err)
    for _, p in ipairs(assert(c:get_projects()).projects) do assert.not_equal("Research", p.spec.display_name) end
  end)
end)
