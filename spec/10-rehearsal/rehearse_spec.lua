-- cloudops.rehearse(fn, opts): fn runs against a twin; the plan says what it changed (checked
-- against what fn itself sent), the mutations in order with their outcomes, the errors met,
-- and a summary; the real account is only ever read.
local helpers = require "helpers"
local R = require "10-rehearsal.support"
local cloudops = require "cloudops"
local changes = require "cloudops.changes"
local kinds = require "cloudops.kinds"
local schema = require "cloudops.schema"

-- The twin's timings for the specs: the fast profile, operations over in a blink.
local FAST = { profile = "fast", emulator = { op_duration = 0.05, op_pending = 0.01 } }

local function opts(extra)
  local o = { profile = FAST.profile, emulator = FAST.emulator }
  for k, v in pairs(extra) do o[k] = v end
  return o
end

local function find(list, kind, action, name)
  for _, c in ipairs(list) do
    if c.kind == kind and c.action == action and (name == nil or c.name == name) then return c end
  end
end

describe("cloudops.rehearse", function()
  local account = R.seeded_account()
  local emu, c, made, snap, file

  lazy_setup(function()
    emu, c, made = account.emu, account.c, account.made
    snap = assert(cloudops.snapshot(c))
    file = helpers.tmpdir() .. "/account.json"
    assert(cloudops.snapshot.save(snap, file))
  end)

  it("plans creates, updates and deletes of several kinds, and the mutations as they were sent", function()
    local sent = {}
    local plan = assert(cloudops.rehearse(function(tc)
      -- what the function sends, as it sends it, to check the plan against
      local function call(method, req)
        local r, err = tc:call(method, req)
        if schema.method(method).mutation then sent[#sent + 1] = { method = method, ok = r ~= nil } end
        return r, err
      end
      for i = 1, 3 do
        local r = assert(call("CreateUser", { spec = { email = "new" .. i .. "@example.com",
          access = { account_access = { role = "ROLE_DEVELOPER" } } } }))
        assert(tc:wait(r, { min_poll = 0.02 }))
      end
      local ns = assert(tc:get_namespace{ namespace = made.ops }).namespace
      ns.spec.retention_days = 14
      assert(tc:wait(assert(call("UpdateNamespace", { namespace = made.ops, spec = ns.spec,
        resource_version = ns.resource_version })), { min_poll = 0.02 }))
      local g = assert(tc:get_user_group{ group_id = made.group }).group
      assert(call("DeleteUserGroup", { group_id = made.group, resource_version = g.resource_version }))
      local _, err = call("DeleteNamespace", { namespace = made.pay }) -- delete-protected: refused
      assert.equal("FAILED_PRECONDITION", err.name)
      assert(call("CreateProject", { spec = { display_name = "Research" } }))
    end, opts{ snapshot = file }))
    assert.is_nil(plan.failed)
    -- what changed, kind by kind, in dependency order
    local order = {}
    for _, ch in ipairs(plan.changes) do order[#order + 1] = ch.action .. " " .. ch.kind .. " " .. ch.name end
    assert.same({ "create project Research", "update namespace ops", "delete user_group engineering",
      "create user new1@example.com", "create user new2@example.com", "create user new3@example.com" }, order)
    assert.same({ { path = "spec.retention_days", before = 7, after = 14 } },
      find(plan.changes, "namespace", "update").fields)
    assert.same({ { path = "spec.email", after = "new2@example.com" },
                  { path = "spec.access.account_access.role", after = "ROLE_DEVELOPER" } },
      find(plan.changes, "user", "create", "new2@example.com").fields)
    -- the mutations, exactly as the function sent them, with how each ended
    assert.equal(#sent, #plan.calls)
    for i, s in ipairs(sent) do
      assert.equal(s.method, plan.calls[i].method)
      assert.equal(s.ok and "OK" or "FAILED_PRECONDITION", plan.calls[i].code)
    end
    assert.equal("STATE_FULFILLED", plan.calls[1].operation_state)          -- waited for
    assert.is_truthy(plan.calls[5].operation_state)                          -- the group's delete
    assert.is_nil(plan.calls[6].operation_state)                             -- refused: none
    assert.same({ { method = "DeleteNamespace", code = "FAILED_PRECONDITION", count = 1 } }, plan.errors)
    local s = plan.summary
    assert.same({ 4, 1, 1, 7, 0, "fast" }, { s.create, s.update, s.delete, s.mutations, s.refused, s.profile })
    assert.is_true(s.calls > s.mutations)                                    -- the reads and the polls too
    assert.equal(2, changes.exit_status(plan))
    -- the text form says all of it
    local text = changes.text(plan)
    assert.matches("\nnamespace\n  ~ ops %(ops%.emu01%)\n      spec%.retention_days: 7 %-> 14\n", text)
    assert.matches("\nuser_group\n  %- engineering ", text)
    assert.matches("\n    6 DeleteNamespace%s+FAILED_PRECONDITION", text)
  end)

  it("never writes the account it reads: a snapshot of the live account takes reads only", function()
    local before = #R.requests(emu)
    local plan = assert(cloudops.rehearse(function(tc)
      assert(tc:create_user{ spec = { email = "x@example.com", access = { account_access = { role = "ROLE_READ" } } } })
    end, opts{ client = c }))
    assert.equal(1, #plan.changes)
    local log = R.requests(emu)
    assert.is_true(#log > before)
    for i = before + 1, #log do
      assert.is_true(kinds.READS[log[i].method] == true, log[i].method)
    end
    assert.same({}, cloudops.diff(snap, assert(cloudops.snapshot(c))))       -- the account as it was
  end)

  it("exits 0 when nothing would change, 1 when the script fails", function()
    local plan = assert(cloudops.rehearse(function(tc)
      assert(tc:get_namespaces())
      assert(tc:get_users())
    end, opts{ snapshot = snap }))
    assert.same({}, plan.changes)
    assert.same({}, plan.calls)
    assert.same({}, plan.errors)
    assert.equal(0, changes.exit_status(plan))
    assert.equal("No changes.", changes.text(plan):match("\n(No changes%.)\n"))
    -- a script that raises: the changes it made before are still shown
    plan = assert(cloudops.rehearse(function(tc)
      assert(tc:create_project{ spec = { display_name = "Half done" } })
      error("something broke")
    end, opts{ snapshot = snap }))
    assert.matches("^the function raised: .*something broke$", plan.failed)
    assert.matches("something broke", plan.errors[#plan.errors].message)
    assert.equal("create", plan.changes[1].action)
    assert.equal(1, changes.exit_status(plan))
    assert.matches("\nThe rehearsal failed: ", changes.text(plan))
    -- one that returns nil, err fails too
    plan = assert(cloudops.rehearse(function(tc)
      return tc:get_namespace{ namespace = "nothing.emu01" }
    end, opts{ snapshot = snap }))
    assert.equal("the function returned an error: GetNamespace: NOT_FOUND (5): namespace not found: nothing.emu01",
      plan.failed)
    assert.same({ method = "GetNamespace", code = "NOT_FOUND", count = 1 }, plan.errors[1])
    assert.equal(1, changes.exit_status(plan))
  end)

  it("counts the refusals under the twin's limits, and estimates the time under the real ones", function()
    -- a twin allowing 5 requests/s, sent 15 at once by a client starting at the documented 40/s
    local plan = assert(cloudops.rehearse(function(tc)
      local results = cloudops.map(function() return tc:get_regions() end, { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 })
      for i = 1, 12 do assert(results[i]) end
      local r = assert(tc:create_user{ spec = { email = "w@example.com",
        access = { account_access = { role = "ROLE_READ" } } } })
      assert(tc:wait(r, { min_poll = 0.02 }))
    end, opts{ snapshot = snap, emulator = { op_duration = 0.05, op_pending = 0.01,
                                             rate_limits = { user = 5, account = 100 } } }))
    local s = plan.summary
    assert.is_true(s.refused >= 5, "refused " .. s.refused)
    assert.is_true(s.estimated)
    -- the user's invitation was waited for: at least its realistic 8 s, whatever the twin took
    assert.is_true(s.seconds >= 8, "seconds " .. s.seconds)
    assert.matches("^fast profile: the larger of", s.how)
  end)

  it("measures the time on a twin with realistic timings", function()
    local plan = assert(cloudops.rehearse(function(tc) assert(tc:get_account()) end, { snapshot = snap }))
    local s = plan.summary
    assert.equal("realistic", s.profile)
    assert.is_false(s.estimated)
    assert.equal("measured on the twin, with realistic timings and the documented limits", s.how)
    -- its one call: an "auto" limit asks the identity only once the rate matters
    -- (docs/reference.md "Limits that follow the service": a call on a fresh client is sent alone)
    assert.equal(1, s.calls)
    assert.is_true(s.seconds > 0)
  end)

  it("raises for programming mistakes", function()
    assert.has_error(function() cloudops.rehearse(nil, { snapshot = snap }) end,
      "cloudops.rehearse expects a function, got nil")
    assert.has_error(function() cloudops.rehearse(function() end, {}) end,
      "cloudops.rehearse: needs opts.snapshot (a snapshot or its file) or opts.client (the account to snapshot)")
    assert.has_error(function() cloudops.rehearse(function() end, { snapshot = snap, profile = "slow" }) end,
      "cloudops.rehearse: profile must be \"fast\" or \"realistic\", got slow")
    assert.has_error(function() cloudops.rehearse(function() end, { snapshot = snap, twin = true }) end,
      "cloudops.rehearse: unknown option 'twin'")
    local none, err = cloudops.rehearse(function() end, { snapshot = "/nonexistent/account.json" })
    assert.is_nil(none)
    assert.matches("^/nonexistent/account%.json: ", err)
  end)
end)
