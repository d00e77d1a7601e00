-- cloudops.apply interrupted or failed half-way, and run again: it finishes the job, because
-- the plan is made again from the account (what an earlier run left in flight is waited on
-- first). And the limits it keeps: operations in flight, the options it takes.
local helpers = require "helpers"
local S = require "11-desired.support"
local T = require "06-tools.support.tools"
local cloudops = require "cloudops"

local q = helpers.sh_quote

-- A desired state of n namespaces and m users, each with access to one, all in one group.
local function team(n, m)
  local d = { namespaces = {}, users = {}, user_groups = { { display_name = "team", cloud_group = {}, members = {} } } }
  for i = 1, n do
    d.namespaces[i] = { name = string.format("team-%d", i), retention_days = 7,
                        replicas = { { region = "aws-us-east-1" } }, api_key_auth = { enabled = true } }
  end
  for i = 1, m do
    local email = string.format("member%02d@example.com", i)
    d.users[i] = { email = email, access = { account_access = { role = "ROLE_READ" },
      namespace_accesses = { [string.format("team-%d", (i - 1) % n + 1)] = { permission = "PERMISSION_WRITE" } } } }
    d.user_groups[1].members[i] = email
  end
  return d
end

local function all_ok(result)
  for _, ch in ipairs(result.changes) do
    assert.is_true(ch.ok, ch.kind .. " " .. ch.name .. ": " .. tostring(ch.err))
  end
end

describe("cloudops.apply, interrupted", function()
  local emu, c

  after_each(function()
    if c then c:close() end
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("is finished by running it again, after what the first run left in flight has ended", function()
    emu = S.emulator{ op_duration = 0.6, op_pending = 0.05 }
    c = S.client(emu)
    local dir = helpers.tmpdir()
    local file = dir .. "/team.json"
    helpers.write_file(file, require("cloudops.desired").encode(team(3, 14)))
    -- `cloudops apply FILE --yes` in a child process, killed once a few users are being made
    local cmd = table.concat({ "env TEMPORAL_CLOUD_API_KEY=" .. q(emu.api_key), T.LUA, q(T.ROOT .. "bin/cloudops"),
      "apply", q(file), "--yes", "--endpoint", q(emu.endpoint), "--insecure" }, " ")
    local proc = helpers.spawn(cmd, "Changes: ")     -- the plan, printed before the changes are made
    finally(function() proc.stop("KILL") end)
    assert.is_true(helpers.eventually(function() return S.count(S.requests(emu), "CreateUser", "OK") >= 4 end, 30))
    proc.stop("KILL")
    local log = S.requests(emu)
    local made = S.count(log, "CreateUser", "OK")
    assert.is_true(made < 14, "the first run was not interrupted before the end")
    assert.equal(0, S.count(log, "AddUserGroupMember"))
    -- what is left is planned again from the account
    local p = assert(cloudops.plan(c, team(3, 14)))
    local creates = 0
    for _, ch in ipairs(p.changes) do if ch.action == "create" and ch.kind == "user" then creates = creates + 1 end end
    assert.equal(14 - made, creates)
    local result, err = cloudops.apply(c, team(3, 14))
    assert.is_nil(err, tostring(err))
    all_ok(result)
    assert.same({}, assert(cloudops.plan(c, team(3, 14))).changes)
    log = S.requests(emu)
    assert.equal(14, S.count(log, "CreateUser", "OK"))
    assert.equal(0, S.count(log, "CreateUser", "ALREADY_EXISTS") + S.count(log, "CreateNamespace", "ALREADY_EXISTS"))
    assert.equal(14, S.count(log, "AddUserGroupMember", "OK"))
    assert.equal(0, S.count(log, "AddUserGroupMember", "NOT_FOUND"))
  end)

  it("reports the change that failed, skips what needs it, and is finished by running it again", function()
    emu = S.emulator{ faults = { { method = "CreateUser", code = "INTERNAL", skip = 2, times = 1,
                                   message = "injected" } } }
    c = S.client(emu)
    local seen = {}
    local result, err = cloudops.apply(c, team(2, 5), { on_change = function(ch) seen[#seen + 1] = ch end })
    assert.equal("APPLY_FAILED", err.name)
    assert.matches("^2 of 8 changes failed; the first: ", err.message)
    assert.equal(2, err.failed)
    local failed_user, group
    for _, ch in ipairs(result.changes) do
      if ch.kind == "user" and not ch.ok then failed_user = ch end
      if ch.kind == "user_group" then group = ch end
    end
    assert.equal("INTERNAL", failed_user.err.name)
    assert.is_false(group.ok)
    assert.equal("not applied: it needs user " .. failed_user.name .. ", which failed", group.err)
    assert.equal(8, #seen)
    assert.equal(1, require("cloudops.changes").exit_status(result))
    -- the group was made, four of its members added; the run again adds the rest
    local again, err2 = cloudops.apply(c, team(2, 5))
    assert.is_nil(err2, tostring(err2))
    all_ok(again)
    assert.same({ "update user_group team", "create user " .. failed_user.name }, (function()
      local out = {}
      for _, ch in ipairs(again.changes) do out[#out + 1] = ch.action .. " " .. ch.kind .. " " .. ch.name end
      return out
    end)())
    assert.same({}, assert(cloudops.plan(c, team(2, 5))).changes)
  end)

  it("reports an operation that failed, with the operation", function()
    emu = S.emulator{ faults = { { method = "CreateNamespace", operation = "STATE_FAILED", reason = "no capacity" } } }
    c = S.client(emu)
    local result, err = cloudops.apply(c, team(1, 1))
    assert.equal("APPLY_FAILED", err.name)
    local ns = result.changes[1]
    assert.equal("namespace", ns.kind)
    assert.is_false(ns.ok)
    assert.equal("OPERATION_FAILED", ns.err.name)
    assert.equal("STATE_FAILED", ns.operation.state)
    assert.equal("no capacity", ns.operation.failure_reason)
    assert.equal("not applied: it needs namespace team-1, which failed", result.changes[3].err)
  end)
end)

describe("cloudops.apply's limits", function()
  local emu, c

  after_each(function()
    if c then c:close() end
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("keeps at most max_operations operations in flight, the account's limit", function()
    -- The server refuses a third operation in flight; the client's own slots would allow 10.
    emu = S.emulator{ max_operations = 2, op_duration = 0.2 }
    c = S.client(emu)
    local result, err = cloudops.apply(c, team(1, 8), { max_operations = 2 })
    assert.is_nil(err, tostring(err))
    all_ok(result)
    local log = S.requests(emu)
    assert.equal(0, S.count(log, "CreateUser", "RESOURCE_EXHAUSTED"))
    assert.equal(8, S.count(log, "CreateUser", "OK"))
  end)

  it("refuses options and desired states that are mistakes, saying what to write", function()
    emu = S.emulator()
    c = S.client(emu)
    assert.has_error(function() cloudops.apply(c, {}, { prun = true }) end, "cloudops.apply: unknown option 'prun'")
    assert.has_error(function() cloudops.plan(c, {}, { yes = true }) end, "cloudops.plan: unknown option 'yes'")
    assert.has_error(function() cloudops.apply(c, {}, { concurrency = 0 }) end,
      "cloudops.apply: concurrency must be a whole number, at least 1")
    assert.has_error(function() cloudops.apply(c, {}, { on_change = true }) end,
      "cloudops.apply: on_change must be a function")
    assert.has_error(function() cloudops.apply(nil, {}) end,
      "cloudops.apply expects a client (cloudops.connect), got nil")
    assert.has_error(function() cloudops.plan(c, { users = { { email = "a@x.com", acess = {} } } }) end,
      "cloudops.plan: users[1]: unknown field 'acess' in temporal.api.cloud.identity.v1.UserSpec " ..
      "(did you mean 'access'?)")
    -- an on_change that raises: the apply goes on, and says so
    local result, err = cloudops.apply(c, team(1, 1), { on_change = function() error("oops") end })
    assert.equal(3, #result.changes)
    assert.matches("^on_change raised: .*oops", err.message)
  end)
end)
