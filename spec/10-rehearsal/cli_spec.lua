-- bin/cloudops snapshot, diff and rehearse: what they print, their exit statuses (0 no change,
-- 2 changes, 1 failed), --json, drift against the live account, and that the real account is
-- only ever read.
local helpers = require "helpers"
local T = require "06-tools.support.tools"
local R = require "10-rehearsal.support"
local cloudops = require "cloudops"
local json = require "cloudops.json"
local kinds = require "cloudops.kinds"

-- bin/cloudops with these arguments, the environment naming emu (as a user's shell would; not
-- flags, which would follow rehearse's COMMAND).
local function cloudops_cli(emu, argv)
  return T.cli(nil, argv, { env = { TEMPORAL_CLOUD_ENDPOINT = emu and emu.endpoint or false,
    TEMPORAL_CLOUD_API_KEY = emu and emu.api_key or false, TEMPORAL_CLOUD_INSECURE = emu and "1" or false } })
end

-- A script that uses cloudops.connect() as it would against Temporal Cloud.
local function script(body)
  return (helpers.script("local cloudops = require 'cloudops'\n" ..
    "local c = assert(cloudops.connect())\n" .. body))
end

local function only_reads(emu, from)
  local log = R.requests(emu)
  for i = from + 1, #log do
    if not kinds.READS[log[i].method] then return false, log[i].method end
  end
  return true
end

describe("bin/cloudops snapshot, diff and rehearse", function()
  local emu, c, made, file

  local account = R.seeded_account()

  lazy_setup(function()
    emu, c, made = account.emu, account.c, account.made
    file = helpers.tmpdir() .. "/account.json"
  end)

  it("snapshot writes the account, by reads only, into a file or onto stdout", function()
    local _
    local before = #R.requests(emu)
    local out, err, status = cloudops_cli(emu, { "snapshot", file })
    assert.equal(0, status, err)
    assert.equal("", out)
    assert.matches("reading the account at 127%.0%.0%.1:%d+ %(reads only%)", err)
    assert.is_true(only_reads(emu, before))
    local snap = assert(cloudops.snapshot.load(file))
    assert.same({}, cloudops.diff(snap, assert(cloudops.snapshot(c))))
    out, err, status = cloudops_cli(emu, { "snapshot", "--kinds", "users,projects" })
    assert.equal(0, status, err)
    local part = assert(cloudops.snapshot.decode(out))
    assert.equal(5, #part.users)
    assert.equal(2, #part.projects)
    assert.is_nil(part.namespaces)
    _, err, status = cloudops_cli(emu, { "snapshot", "--kinds", "billing" })
    assert.equal(2, status) -- a usage error, found before connecting
    assert.matches("unknown kind 'billing'", err)
    _, err, status = cloudops_cli(nil, { "snapshot" })
    assert.equal(1, status)
    assert.matches("no API key", err)
  end)

  it("diff compares two snapshots: 0 the same, 2 they differ, 1 it cannot", function()
    local a = helpers.tmpdir() .. "/a.json"
    assert(cloudops.snapshot.save(assert(cloudops.snapshot(c)), a))
    local _, err, status = cloudops_cli(nil, { "diff", a, a })
    assert.equal(0, status, err)
    -- a user invited, then the difference
    local r = assert(c:create_user{ spec = { email = "dora@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })
    assert(c:wait(r, { min_poll = 0.02 }))
    local b = helpers.tmpdir() .. "/b.json"
    assert(cloudops.snapshot.save(assert(cloudops.snapshot(c)), b))
    local out
    out, err, status = cloudops_cli(nil, { "diff", a, b })
    assert.equal(2, status, err)
    assert.matches("^Changes: 1 to create, 0 to update, 0 to delete\n\nuser\n  %+ dora@example%.com %(%x+%)\n" ..
      "      spec%.email: \"dora@example%.com\"\n      spec%.access%.account_access%.role: \"ROLE_READ\"\n$", out)
    out, err, status = cloudops_cli(nil, { "diff", a, b, "--json" })
    assert.equal(2, status, err)
    local doc = assert(json.decode_value(out))
    assert.equal(2, doc.exit_status)
    local first = doc.changes[1]
    assert.same({ "user", "create", "dora@example.com" }, { first.kind, first.action, first.name })
    -- what cannot be compared
    _, err, status = cloudops_cli(nil, { "diff", a, "/nonexistent.json" })
    assert.equal(1, status)
    assert.matches("/nonexistent%.json", err)
    _, err, status = cloudops_cli(nil, { "diff" })
    assert.equal(1, status)
    assert.matches("diff needs a snapshot file", err)
    _, _, status = cloudops_cli(nil, { "diff", "--profile" })       -- a flag without its value
    assert.equal(1, status)
    assert(c:wait(assert(c:delete_user{ user_id = r.user_id }), { min_poll = 0.02 }))
  end)

  it("diff against the live account shows drift, by reads only", function()
    local a = helpers.tmpdir() .. "/a.json"
    assert(cloudops.snapshot.save(assert(cloudops.snapshot(c, { kinds = { "namespaces", "users" } })), a))
    local _, err, status = cloudops_cli(emu, { "diff", a })
    assert.equal(0, status, err)
    -- someone changes a namespace in the web UI
    local u = assert(c:update("namespace", made.ops, function(ns) ns.spec.retention_days = 21 end))
    assert(c:wait(u, { min_poll = 0.02 }))
    local before = #R.requests(emu)
    local out
    out, err, status = cloudops_cli(emu, { "diff", a })
    assert.equal(2, status, err)
    assert.matches("\nnamespace\n  ~ ops %(ops%.emu01%)\n      spec%.retention_days: 7 %-> 21\n", out)
    assert.is_true(only_reads(emu, before))
    -- only the snapshot's kinds were read
    for i = before + 1, #R.requests(emu) do
      assert.is_nil(R.requests(emu)[i].method:find("Group"))
    end
    assert(c:wait(assert(c:update("namespace", made.ops, function(ns) ns.spec.retention_days = 7 end)),
      { min_poll = 0.02 }))
  end)

  it("rehearse runs a command, unchanged, against a twin and prints what it would change", function()
    assert(cloudops.snapshot.save(assert(cloudops.snapshot(c)), file))
    local path = script([[
for i = 1, 5 do
  assert(c:create_user{ spec = { email = "hire" .. i .. "@example.com",
    access = { account_access = { role = "ROLE_DEVELOPER" } } } })
end
local ns = assert(c:get_namespace{ namespace = "ops.emu01" }).namespace
ns.spec.retention_days = 30
assert(c:update_namespace{ namespace = ns.namespace, spec = ns.spec, resource_version = ns.resource_version })
print("done")
]])
    local before = #R.requests(emu)
    local out, err, status = cloudops_cli(emu, { "rehearse", "--snapshot", file, "--profile", "fast", "--",
                                                T.LUA, path })
    assert.equal(2, status, err)
    assert.matches("^Changes: 5 to create, 1 to update, 0 to delete\n", out)
    assert.matches("\nnamespace\n  ~ ops %(ops%.emu01%)\n      spec%.retention_days: 7 %-> 30\n", out)
    assert.matches("\n  %+ hire3@example%.com %(%x+%)\n      spec%.email: \"hire3@example%.com\"\n", out)
    assert.matches("\nMutations sent, in order:\n    1 CreateUser%s+OK%s+STATE_", out)
    assert.matches("\n    6 UpdateNamespace%s+OK%s+STATE_", out)
    assert.matches("\nErrors met: none%.\n", out)
    assert.matches("\nSummary: 5 to create, 1 to update, 0 to delete; %d+ calls, 0 refused", out)
    assert.matches("done\n", err)                                   -- the command's own output
    -- with --snapshot the real account is not even read
    assert.equal(before, #R.requests(emu))
    assert.is_nil(c:get_users{ email = "hire1@example.com" }.users[1])
    -- --json for CI: the plan alone on stdout
    out, err, status = cloudops_cli(emu, { "rehearse", "--snapshot", file, "--profile", "fast", "--json", "--",
                                           T.LUA, path })
    assert.equal(2, status, err)
    local plan = assert(json.decode_value(out))
    assert.equal(6, #plan.changes)
    assert.equal(6, #plan.calls)
    assert.equal("UpdateNamespace", plan.calls[6].method)
    assert.equal(5, plan.summary.create)
    assert.is_true(plan.summary.estimated)
    assert.equal(2, plan.exit_status)
  end)

  it("rehearse reads the live account when given no snapshot, and never writes it", function()
    local path = script([[assert(c:create_project{ spec = { display_name = "Lab" } })]])
    local before = #R.requests(emu)
    local out, err, status = cloudops_cli(emu, { "rehearse", "--profile", "fast", "--", T.LUA, path })
    assert.equal(2, status, err)
    assert.matches("\nproject\n  %+ Lab %(%x+%)\n", out)
    assert.is_true(only_reads(emu, before))
    for _, p in ipairs(assert(c:get_projects()).projects) do assert.not_equal("Lab", p.spec.display_name) end
  end)

  it("rehearse exits 0 when nothing would change and 1 when the command fails", function()
    local _
    local reads = script([[assert(c:get_namespaces()) print("read")]])
    local fast = { "rehearse", "--snapshot", file, "--profile", "fast", "--" }
    local out, err, status = cloudops_cli(emu, { fast[1], fast[2], fast[3], fast[4], fast[5], fast[6], T.LUA, reads })
    assert.equal(0, status, err)
    assert.matches("^Changes: 0 to create, 0 to update, 0 to delete\nNo changes%.\n", out)
    local failing = script([[assert(c:create_project{ spec = { display_name = "Half" } }) os.exit(3)]])
    out, err, status = cloudops_cli(emu, { fast[1], fast[2], fast[3], fast[4], fast[5], fast[6], T.LUA, failing })
    assert.equal(1, status, err)
    assert.matches("\nThe rehearsal failed: the command exited with status 3\n", out)
    assert.matches("\nproject\n  %+ Half ", out)                    -- what it did before failing
    out, _, status = cloudops_cli(emu, { fast[1], fast[2], fast[3], fast[4], fast[5], fast[6], "no-such-command-here" })
    assert.equal(1, status)
    assert.matches("The rehearsal failed: the command was not found: no%-such%-command%-here", out)
    -- usage errors are failures too (2 would say "changes")
    _, err, status = cloudops_cli(emu, { "rehearse", "--snapshot", file })
    assert.equal(1, status)
    assert.matches("rehearse needs a command after %-%-", err)
    _, err, status = cloudops_cli(emu, { "rehearse", "--snapshot", file, "--profile", "slow", "--", "true" })
    assert.equal(1, status)
    assert.matches("%-%-profile must be fast or realistic, got 'slow'", err)
    _, err, status = cloudops_cli(emu, { "rehearse", "--snapshot", "/nonexistent.json", "--", "true" })
    assert.equal(1, status)
    assert.matches("/nonexistent%.json", err)
  end)

  it("lists the commands in --help", function()
    local out, _, status = cloudops_cli(nil, { "--help" })
    assert.equal(0, status)
    assert.matches("\n  snapshot %[FILE%] %[%-%-kinds a,b%]", out)
    assert.matches("\n  diff OLD%.json %[NEW%.json%]", out)
    assert.matches("\n  rehearse %[%-%-snapshot FILE%] %[%-%-profile fast|realistic%] %-%- COMMAND %[ARGS%.%.%.%]", out)
    assert.matches("diff, rehearse, plan and apply: 0 no change, 2 changes, 1 failed", out)
  end)
end)
