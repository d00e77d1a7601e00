-- The README's "Desired state" section runs as written: its shell lines one by one (the
-- commented edit made by the spec: a namespace added, a user given access to it, a group
-- removed), then its Lua block, in a fresh process from another directory, against an
-- emulator named by the environment, with bin/ on the PATH.
local helpers = require "helpers"
local S = require "11-desired.support"
local T = require "06-tools.support.tools"
local desired = require "cloudops.desired"

local q = helpers.sh_quote
local README = assert(helpers.read_file(helpers.ROOT .. "README.md"))

local function section()
  return assert(README:match("\n## Desired state\n(.-)\n## "), "the README has no section \"Desired state\"")
end

--- Whether this tree has `cloudops rehearse` (issue 18's command, built on another branch).
local function has_rehearse()
  return package.searchpath("cloudops.rehearse", package.path) ~= nil
end

describe("the README's Desired state section", function()
  local session, emu, dir, sh

  lazy_setup(function()
    session = S.session()                               -- an account with a bit of everything
    emu, dir, sh = session.emu, session.dir, session.sh
  end)

  lazy_teardown(function()
    if session then session.stop() end
    helpers.cleanup()
  end)

  it("runs its commands as written: export, edit, plan, rehearse, apply, plan", function()
    local lines = {}
    for line in assert(section():match("\n```sh\n(.-)\n```"), "no sh block"):gmatch("[^\n]+") do
      lines[#lines + 1] = line
    end
    local expected = { export = 0, plan = { 2, 0 }, rehearse = 2, apply = 2 }
    local plans = 0
    for _, line in ipairs(lines) do
      local command = line:match("^cloudops (%a+)")
      if line:match("^# edit account%.json") then
        -- the edit the comment describes
        local d = assert(desired.load(dir .. "/account.json"))
        d.namespaces[#d.namespaces + 1] = { name = "orders", retention_days = 14,
          replicas = { { region = "aws-us-east-1" } }, api_key_auth = { enabled = true } }
        for _, u in ipairs(d.users) do
          if u.email == "alice@example.com" then
            u.access.namespace_accesses.orders = { permission = "PERMISSION_READ" }
          end
        end
        d.user_groups = {}
        helpers.write_file(dir .. "/account.json", desired.encode(d))
      elseif command == "rehearse" and not has_rehearse() then
        print("\n(" .. line .. ": skipped, this tree has no cloudops rehearse yet)")
      else
        assert.is_not_nil(command, line)
        local out, err, status = sh(line)
        local want = expected[command]
        if command == "plan" then
          plans = plans + 1
          want = want[plans]
        end
        assert.equal(want, status, line .. "\n" .. out .. err)
        if command == "plan" and plans == 1 then
          assert.matches("^Changes: 1 to create, 1 to update, 1 to delete\n", out)
          assert.matches("\n  %+ orders\n", out)
          assert.matches("\n      spec%.access%.namespace_accesses%[orders%]: %(none%) %-> " ..
            "{\"permission\":\"PERMISSION_READ\"}\n", out)
          assert.matches("\nuser_group\n  %- engineering ", out)
        end
      end
    end
    assert.equal(2, plans)
    -- made for real: the namespace, the access, the group gone
    local c = S.client(emu)
    assert.equal(1, #assert(c:get_namespaces{ name = "orders" }).namespaces)
    assert.same({}, assert(c:get_user_groups{}).groups)
    c:close()
  end)

  it("runs its Lua block as written, against an account of its own", function()
    local own = T.emulator()
    finally(function() own.stop() end)
    local block = assert(section():match("\n```lua\n(.-)\n```"), "no lua block")
    local paths = README:match('\n(export LUA_PATH="$PWD/lua/[^\n]+)\n')
    if jit then paths = paths:gsub("/build/lua/", "/build/luajit/lua/") end
    helpers.write_file(dir .. "/block.lua", block)
    local out, err, status = T.run("sh -c " .. q("cd " .. q(helpers.ROOT) .. " && " .. paths .. " && cd " ..
      q(dir) .. " && " .. T.LUA .. " block.lua"), { TEMPORAL_CLOUD_ENDPOINT = own.endpoint,
        TEMPORAL_CLOUD_API_KEY = own.api_key, TEMPORAL_CLOUD_INSECURE = "1" })
    assert.equal(0, status, err)
    assert.equal("", err)
    assert.matches("\nnamespace\n  %+ orders\n", out)
    assert.matches("\ncreate\tuser\tdana@example%.com\tdone\n", out)
  end)
end)
