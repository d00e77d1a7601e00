-- The twin: an emulator serving a snapshot's account. An emulator seeded with every kind is
-- snapshot and twinned; every Get* of every resource must answer the same on both, and every
-- principal gets a local key acting with its own permissions.
local helpers = require "helpers"
local R = require "10-rehearsal.support"
local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local kinds = require "cloudops.kinds"

local function without_taken_at(text)
  return (text:gsub('"taken_at": "[^"]*"', ""))
end

describe("a twin", function()
  local account = R.seeded_account()
  local emu, c, made, snap, twin, tc

  lazy_setup(function()
    emu, c, made = account.emu, account.c, account.made
    snap = assert(cloudops.snapshot(c))
    twin = assert(emulator.spawn{ twin = snap, profile = "fast", rate_limits = false,
                                  op_duration = 0.05, op_pending = 0.01 })
    tc = R.client(twin)
  end)

  lazy_teardown(function()
    if tc then tc:close() end
    if twin then twin.stop() end
  end)

  it("answers every Get* of every resource as the account did", function()
    local compared = 0
    for _, k in ipairs(kinds.list) do
      local list = k.singleton and { snap[k.name] } or snap[k.name]
      for _, res in ipairs(list) do
        local req = kinds.request_ids(k, "get", res)
        local want = assert(c:call(k.get.method, req))
        local got = assert(tc:call(k.get.method, req))
        assert.same(want, got, k.get.method)
        compared = compared + 1
      end
    end
    assert.is_true(compared >= 20)
    -- the members, the time each joined aside (a snapshot does not hold it)
    for _, g in ipairs(snap.user_groups) do
      local function ids(client)
        local out = {}
        for m in client:paginate("GetUserGroupMembers", { group_id = g.id }) do
          out[#out + 1] = assert(m).member_id.user_id
        end
        table.sort(out)
        return out
      end
      assert.same(ids(c), ids(tc))
    end
    -- the identity is itself, with its own API key
    assert.same(assert(c:get_current_identity()), assert(tc:get_current_identity()))
  end)

  it("answers every list as the account did: its snapshot is the same, byte for byte", function()
    local again = assert(cloudops.snapshot(tc))
    assert.equal(without_taken_at(cloudops.snapshot.encode(snap)), without_taken_at(cloudops.snapshot.encode(again)))
    assert.same({}, cloudops.diff(snap, again))
  end)

  it("gives every user and service account a key of its own, with that principal's permissions", function()
    local names = {}
    for name in pairs(twin.keys) do names[#names + 1] = name end
    table.sort(names)
    assert.same({ "Bob@Example.com", "alice@example.com", "ci", "developer@example.com", "emulator-admin",
                  "owner@example.com", "pay-worker", "payments-bot", "reader@example.com" }, names)
    assert.equal(twin.keys["owner@example.com"], twin.api_key)
    for name, token in pairs(twin.keys) do
      local k = R.client(twin, token)
      local who = assert(k:get_current_identity())
      k:close()
      local principal = who.user or who.service_account
      assert.equal(name, principal.spec.email or principal.spec.name)
    end
    -- the same answers as the account gives the same principal
    local function outcome(client, method, req)
      local resp, err = client:call(method, req)
      return resp and "OK" or err.name
    end
    -- a key the account has for a service account scoped to one namespace, beside the twin's
    local k = assert(c:create_api_key{ spec = { owner_id = made.scoped, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
      display_name = "scoped", expiry_time = cloudops.time.from_unix(os.time() + 86400) } })
    assert(c:wait(k, { min_poll = 0.02 }))
    local pairs_of = { { "reader", "reader@example.com" }, { "developer", "developer@example.com" },
                       { "admin", "emulator-admin" }, { k.token, "pay-worker" } }
    local outcomes = {}
    for _, p in ipairs(pairs_of) do
      local real, copy = R.client(emu, p[1]), R.client(twin, twin.keys[p[2]])
      for _, call in ipairs { { "GetCustomRoles", {} }, { "GetAccountAuditLogSinks", {} },
                              { "GetApiKeys", {} }, { "GetNamespace", { namespace = made.pay } },
                              { "GetConnectivityRules", {} }, { "GetUsers", {} } } do
        local want = outcome(real, call[1], call[2])
        assert.equal(want, outcome(copy, call[1], call[2]), p[2] .. " " .. call[1])
        outcomes[want] = true
      end
      real:close()
      copy:close()
    end
    assert.is_true(outcomes.OK and outcomes.PERMISSION_DENIED)
    -- the account's new key aside, nothing changed there
    assert(c:delete_api_key{ key_id = k.key_id })
  end)

  it("is changed by mutations, and the account is not", function()
    local r = assert(tc:create_user{ spec = { email = "carol@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })
    assert(tc:wait(r, { min_poll = 0.02 }))
    assert.truthy(tc:get_user{ user_id = r.user_id })
    local none, err = c:get_user{ user_id = r.user_id }
    assert.is_nil(none)
    assert.equal("NOT_FOUND", err.name)
    local after = assert(cloudops.snapshot(tc))
    local list = cloudops.diff(snap, after)
    assert.equal(1, #list)
    assert.same({ kind = "user", action = "create", name = "carol@example.com" },
      { kind = list[1].kind, action = list[1].action, name = list[1].name })
  end)
end)

describe("a twin's settings", function()
  local snap

  lazy_setup(function()
    local emu = R.emulator()
    local c = R.client(emu)
    snap = assert(cloudops.snapshot(c))
    c:close()
    emu.stop()
  end)

  lazy_teardown(helpers.cleanup)

  it("are the realistic timings and the documented limits unless told otherwise", function()
    local e = emulator.new{ twin = snap }
    assert.equal(0.25, e.cfg.latency)
    assert.equal(60, e.cfg.op_durations.CreateNamespace)
    assert.same({ user = 40, service_account = 80, account = 160 }, e.cfg.rate_limits)
    assert.equal(10, e.cfg.max_operations)
    assert.equal(5, e.cfg.max_projects)
    assert.equal("emu01", e.st.account.id)
    -- an account holding more than a quota allows had it raised: so has its twin
    local big = {}
    for k, v in pairs(snap) do big[k] = v end
    big.projects = {}
    for i = 1, 7 do big.projects[i] = { id = "p" .. i, spec = { display_name = "project " .. i },
                                        state = "RESOURCE_STATE_ACTIVE" } end
    assert.equal(7, emulator.new{ twin = big }.cfg.max_projects)
    local fast = emulator.new{ twin = snap, profile = "fast", latency = 0.1 }
    assert.equal(0.1, fast.cfg.latency)
    assert.equal(2, fast.cfg.op_duration)
  end)

  it("serve the snapshot's identity with a given key, and refuse a state file or a bad snapshot", function()
    local e = emulator.new{ twin = snap, api_key = "my-token" }
    local who = assert(e:client("my-token"):call("GetCurrentIdentity", {}))
    assert.equal(snap.identity.id, who.user.id)
    assert.equal(snap.identity.key_id, who.principal_api_key.id)
    assert.has_error(function() emulator.new{ twin = snap, state_file = "/tmp/x.state" } end,
      "a twin starts from its snapshot: --twin and --state do not go together")
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/bad.json", '{"format": "something else"}')
    assert.has_error(function() emulator.new{ twin = dir .. "/bad.json" } end,
      "cannot load the twin's snapshot: " .. dir .. "/bad.json: not a lua-cloudops snapshot " ..
      "(no \"format\": \"lua-cloudops-snapshot/1\")")
  end)

  it("start from the command line, the identity's key printed first", function()
    local dir = helpers.tmpdir()
    assert(cloudops.snapshot.save(snap, dir .. "/account.json"))
    local out = helpers.run(helpers.LUA .. " " .. helpers.sh_quote(helpers.ROOT .. "bin/cloudops-emulator") ..
      " --twin " .. helpers.sh_quote(dir .. "/account.json") .. " --log none --stop-file " ..
      helpers.sh_quote(dir .. "/account.json") .. " 2>&1")
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.matches("^listening on 127%.0%.0%.1:%d+$", lines[1])
    assert.matches("^twin of account emu01, snapshot taken %d%d%d%d%-.-Z by owner@example%.com$", lines[2])
    assert.matches("^api key owner@example%.com: emu_%x+ " ..
      "%(user owner@example%.com, ROLE_OWNER, the snapshot's identity%)$", lines[3])
    assert.matches("\napi key emulator%-admin: emu_%x+ %(service account emulator%-admin, ROLE_ADMIN%)\n", out)
    assert.matches("\nready: account emu01, plaintext", out)
  end)
end)
