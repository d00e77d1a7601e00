-- `cloudops plan FILE`, `cloudops apply FILE [--prune] [--yes] [--json]` and `cloudops export
-- [--kinds a,b]` against the emulator: their output, their exit statuses (0 nothing to
-- change, 2 changes, 1 failed; a usage error of plan and apply is a failure), asking before
-- applying on a terminal, and the progress line there.
local helpers = require "helpers"
local S = require "11-desired.support"
local T = require "06-tools.support.tools"
local desired = require "cloudops.desired"
local json = require "cloudops.json"
local cloudops = require "cloudops"

describe("cloudops plan | apply | export", function()
  local emu, dir, file

  before_each(function()
    -- operations as quick as S.emulator's: each apply waits for them, kind after kind
    emu = T.emulator{ op_duration = 0.05, op_pending = 0.01 }
    dir = helpers.tmpdir()
    file = dir .. "/account.json"
    helpers.write_file(file, desired.encode(S.every_kind()))
  end)

  after_each(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  local function cli(argv, opts) return T.cli(emu, argv, opts) end

  it("plans (2: changes), applies with --yes (2), then finds nothing (0)", function()
    local out, err, status = cli{ "plan", file }
    assert.equal(2, status, err)
    assert.matches("^Changes: 13 to create, 0 to update, 0 to delete\n\nproject\n  %+ Payments\n", out)
    assert.matches("\nuser\n  %+ alice@example%.com\n      spec%.email: \"alice@example%.com\"\n", out)
    out, err, status = cli{ "apply", file, "--yes" }
    assert.equal(2, status, err)
    assert.matches("^Changes: 13 to create", out)
    assert.matches("\nApplied: 13 created, 0 updated, 0 deleted; 0 failed\n  %+ project Payments: done\n", out)
    assert.equal("", err)                                     -- no progress line: stderr is no terminal
    out, err, status = cli{ "plan", file }
    assert.equal(0, status, err)
    assert.equal("Changes: 0 to create, 0 to update, 0 to delete\nNo changes.\n", out)
    out, err, status = cli{ "apply", file, "--yes" }
    assert.equal(0, status, err)
    assert.equal("Changes: 0 to create, 0 to update, 0 to delete\nNo changes.\n", out)
  end)

  it("writes JSON for CI with --json: the changes, then each one's outcome", function()
    local out, err, status = cli{ "plan", file, "--json" }
    assert.equal(2, status, err)
    local doc = assert(json.decode_value(out))
    assert.equal(2, doc.exit_status)
    assert.equal(13, #doc.changes)
    assert.same({ kind = "namespace", name = "pay", action = "create" },
      { kind = doc.changes[5].kind, name = doc.changes[5].name, action = doc.changes[5].action })
    out, err, status = cli{ "apply", file, "--yes", "--json" }
    assert.equal(2, status, err)
    doc = assert(json.decode_value(out))
    assert.equal(2, doc.exit_status)
    for _, c in ipairs(doc.changes) do
      assert.is_true(c.ok)
      assert.equal("STATE_FULFILLED", c.operation.state)
    end
    assert.equal(15, #doc.calls)                              -- the mutations sent, in order
    assert.same({ method = "CreateProject", code = "OK", operation_state = "STATE_FULFILLED" }, doc.calls[1])
    out, err, status = cli{ "apply", file, "--yes", "--json" }
    assert.equal(0, status, err)
    doc = assert(json.decode_value(out))
    assert.equal(json.decode_value("[]"), doc.changes)
    assert.equal(0, doc.exit_status)
  end)

  it("prunes with --prune, and lists what it keeps", function()
    assert.equal(2, select(3, cli{ "apply", file, "--yes" }))
    local d = S.every_kind()
    d.users = { d.users[1] }
    helpers.write_file(file, desired.encode{ users = d.users })
    local out, err, status = cli{ "plan", file, "--prune" }
    assert.equal(2, status, err)
    assert.matches("^Changes: 0 to create, 0 to update, 3 to delete\n\nuser\n  %- bob@example%.com %(%w+%)\n" ..
      "  %- developer@example%.com %(%w+%)\n  %- reader@example%.com %(%w+%)\n\nKept, though the desired state " ..
      "does not name them:\n  user owner@example%.com %(%w+%): the identity applying the desired state\n$", out)
    out, err, status = cli{ "apply", file, "--prune", "--yes" }
    assert.equal(2, status, err)
    assert.matches("\nApplied: 0 created, 0 updated, 3 deleted; 0 failed\n", out)
    assert.equal(0, select(3, cli{ "plan", file, "--prune" }))
  end)

  it("asks on a terminal before applying, and shows a progress line there", function()
    local env = { TEMPORAL_CLOUD_API_KEY = emu.api_key }
    local argv = { "apply", file, "--endpoint", emu.endpoint, "--insecure" }
    -- (expect: Python regular expressions)
    local r = S.pty({ { expect = "Apply these 13 changes to 127\\.0\\.0\\.1:\\d+\\? Only 'yes' goes on: " },
                      { send = "no\n" }, { expect = "Not applied\\." } }, argv, env)
    assert.equal(cloudops.null, r.failed, r.transcript)     -- every step met (ok would also need status 0)
    assert.equal(1, r.status)
    assert.equal(2, select(3, cli{ "plan", file }))           -- nothing was made
    r = S.pty({ { expect = "Only 'yes' goes on: " }, { send = "yes\n" },
                { expect = "\\[13/13\\] " }, { expect = "Applied: 13 created" } }, argv, env)
    assert.equal(cloudops.null, r.failed, r.transcript)
    assert.equal(2, r.status)
    assert.matches("\r\27%[K%[1/13%] %+ ", r.transcript)       -- the line rewritten as changes end
  end)

  it("does not apply without --yes where it cannot ask", function()
    local out, err, status = cli({ "apply", file }, { stdin = "yes\n" })
    assert.equal(1, status)
    assert.matches("^Changes: 13 to create", out)
    assert.equal("cloudops: not applied: stdin is not a terminal to ask on; pass --yes to apply without asking\n", err)
    assert.equal(2, select(3, cli{ "plan", file }))
  end)

  it("fails (1) on a usage error or a file that is no desired state, as on a failed change", function()
    local _, err, status = cli{ "plan" }
    assert.equal(1, status)
    assert.equal("cloudops: plan needs a FILE (a desired state: JSON, or a .lua file)\n"
      .. "(cloudops --help for usage)\n", err)
    _, err, status = cli{ "apply", file, "--yse" }
    assert.equal(1, status)
    assert.matches("^cloudops: unknown option '%-%-yse'", err)
    helpers.write_file(dir .. "/bad.json", '{"namespaces": [{"name": "x", "retentionDayz": 3}]}')
    _, err, status = cli{ "plan", dir .. "/bad.json" }
    assert.equal(1, status)
    assert.equal("cloudops: cannot read the desired state: " .. dir .. "/bad.json: namespaces[1].retentionDayz: " ..
      "no such field in temporal.api.cloud.namespace.v1.NamespaceSpec (did you mean 'retentionDays'?)\n", err)
    helpers.write_file(dir .. "/ref.json", '{"users": [{"email": "a@x.com", "access": {"accountAccess": ' ..
      '{"role": "ROLE_READ"}, "namespaceAccesses": {"nope": {"permission": "PERMISSION_READ"}}}}]}')
    _, err, status = cli{ "plan", dir .. "/ref.json" }
    assert.equal(1, status)
    assert.equal("cloudops: cannot plan: users[a@x.com]: no namespace named 'nope' in the account or in the " ..
      "desired state\n", err)
    _, err, status = T.cli(nil, { "plan", file })
    assert.equal(1, status)
    assert.equal("cloudops: no API key: set TEMPORAL_CLOUD_API_KEY\n", err)
    -- a change that fails: 1, after what could be done was done
    helpers.write_file(dir .. "/dup.json", '{"users": [{"email": "x@example.com", "access": {"accountAccess": ' ..
      '{"role": "ROLE_OWNER"}}}]}')
    local out
    out, err, status = cli({ "apply", dir .. "/dup.json", "--yes" }, { api_key = emu.keys.admin })
    assert.equal(1, status)
    assert.matches("\n  %+ user x@example%.com: FAILED: CreateUser: PERMISSION_DENIED", out)
    assert.matches("^cloudops: APPLY_FAILED: 1 of 1 changes failed", err)
  end)

  it("applies examples/desired_state.json, a payments team's account, then plans nothing", function()
    local example = T.ROOT .. "examples/desired_state.json"
    local out, err, status = cli{ "apply", example, "--yes" }
    assert.equal(2, status, err)
    assert.matches("\nApplied: 13 created, 0 updated, 0 deleted; 0 failed\n", out)
    assert.equal(0, select(3, cli{ "plan", example }))
    -- its users compared by email whatever the letter case: Marco@Acme.example is marco@
    out = cli{ "export", "--kinds", "users" }
    assert.matches('"email": "Marco@Acme%.example"', out)
  end)

  it("takes a Lua file that returns the desired state", function()
    helpers.write_file(dir .. "/team.lua", [[
      local users = {}
      for i = 1, 3 do
        users[i] = { email = ("dev%d@example.com"):format(i),
                     access = { account_access = { role = "ROLE_DEVELOPER" } } }
      end
      return { users = users }]])
    local out, err, status = cli{ "apply", dir .. "/team.lua", "--yes" }
    assert.equal(2, status, err)
    assert.matches("Applied: 3 created", out)
    assert.equal(0, select(3, cli{ "plan", dir .. "/team.lua" }))
  end)

  it("exports the account as a desired state that plans nothing, or only the kinds asked for", function()
    assert.equal(2, select(3, cli{ "apply", file, "--yes" }))
    local out, err, status = cli{ "export" }
    assert.equal(0, status, err)
    helpers.write_file(dir .. "/exported.json", out)
    local d = assert(desired.decode(out))
    assert.equal(4, #d.service_accounts)                      -- the emulator's own admin too
    assert.equal(0, select(3, cli{ "plan", dir .. "/exported.json", "--prune" }))
    out, err, status = cli{ "export", "--kinds", "users,user_groups" }
    assert.equal(0, status, err)
    local keys = {}
    for k in pairs(assert(json.decode_value(out))) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "user_groups", "users" }, keys)
    assert.matches('"namespaceAccesses": {\n%s+"pay": {', out)  -- by name
    out, err, status = cli{ "export", "--kinds", "billing" }
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("^cloudops: unknown kind 'billing'", err)
    -- a key that may not read a kind: left out, and said, unless asked for by name
    out, err, status = cli({ "export" }, { api_key = emu.keys.reader })
    assert.equal(0, status, err)
    assert.equal("cloudops: left out custom_roles: the key may not read them (PERMISSION_DENIED)\n" ..
      "cloudops: left out connectivity_rules: the key may not read them (PERMISSION_DENIED)\n", err)
    assert.is_nil(assert(json.decode_value(out)).custom_roles)
    assert.equal(2, #assert(json.decode_value(out)).namespaces)
    out, err, status = cli({ "export", "--kinds", "custom_roles" }, { api_key = emu.keys.reader })
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^cloudops: cannot export: cannot read custom_roles: PERMISSION_DENIED", err)
  end)
end)
