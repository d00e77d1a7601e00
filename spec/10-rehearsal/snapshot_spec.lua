-- cloudops.snapshot: every kind the key can read, by reads only (checked against the
-- emulator's request log), paged and in flight, no secrets, saved as stable JSON and loaded back.
local helpers = require "helpers"
local R = require "10-rehearsal.support"
local cloudops = require "cloudops"
local kinds = require "cloudops.kinds"
local schema = require "cloudops.schema"

-- Every string anywhere in a table, for looking for secrets.
local function strings(t, out)
  out = out or {}
  for k, v in pairs(t) do
    if type(k) == "string" then out[#out + 1] = k end
    if type(v) == "string" then out[#out + 1] = v elseif type(v) == "table" then strings(v, out) end
  end
  return out
end

local by = helpers.find_by

describe("cloudops.snapshot", function()
  local account = R.seeded_account()
  local emu, c, made, snap, logged_before

  lazy_setup(function()
    emu, c, made, logged_before = account.emu, account.c, account.made, account.seeded
    snap = assert(cloudops.snapshot(c))
  end)

  it("holds every kind the key can read, each as its Get* RPC returns it", function()
    assert.equal("lua-cloudops-snapshot/1", snap.format)
    assert.equal(cloudops.API_VERSION, snap.api_version)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", snap.taken_at)
    assert.same({}, snap.unreadable)
    assert.equal("user", snap.identity.kind)
    assert.equal("owner@example.com", snap.identity.name)
    local me = assert(c:get_current_identity())
    assert.equal(me.user.id, snap.identity.id)
    assert.equal(me.principal_api_key.id, snap.identity.key_id)
    assert.equal("emu01", snap.account.id)
    assert.equal("https://emu01.tmprl.cloud/prometheus", snap.account.metrics.uri)
    for _, k in ipairs(kinds.list) do
      if not k.singleton then
        assert.is_true(#snap[k.name] >= 1, k.name .. " is empty")
        -- each entry is what Get* answers for it, beside the snapshot's extras
        for _, res in ipairs(snap[k.name]) do
          local got = assert(c:call(k.get.method, kinds.request_ids(k, "get", res)))[k.get.field]
          local own = {}
          for f, v in pairs(res) do if not k.extras[f] then own[f] = v end end
          assert.same(got, own, k.name)
        end
      end
    end
    assert.equal(2, #snap.projects)                        -- the Default Project and Payments
    assert.equal(5, #snap.users)                           -- the emulator's 3, and alice, bob
    local group = by(snap.user_groups, "id", made.group)
    local members = { made.alice, made.bob }
    table.sort(members)
    assert.same(members, group.members)                    -- user ids, sorted
    local sink = snap.namespace_export_sinks[1]
    assert.equal(made.pay, sink.namespace)
    assert.equal("history", sink.name)
    assert.equal(made.pay, by(snap.namespaces, "spec.name", "pay").namespace)
    assert.equal("ROLE_DEVELOPER", by(snap.users, "spec.email", "alice@example.com").spec.access.account_access.role)
  end)

  it("keeps every kind sorted by id", function()
    for _, k in ipairs(kinds.list) do
      if not k.singleton then
        for i = 2, #snap[k.name] do
          assert.is_true(k.id(snap[k.name][i - 1]) < k.id(snap[k.name][i]), k.name)
        end
      end
    end
  end)

  it("sends reads only: the request log holds nothing but the allowed Get* RPCs", function()
    local sent = {}
    local log = R.requests(emu)
    assert.is_true(#log > logged_before)
    for i = logged_before + 1, #log do
      local m = log[i].method
      sent[m] = (sent[m] or 0) + 1
      assert.is_true(kinds.READS[m] == true, m .. " is not an allowed read")
      assert.is_false(schema.method(m).mutation, m)
      assert.equal("OK", log[i].code, m)
      assert.is_nil(log[i].operation, m)
    end
    -- one list call per kind (one page each), one per group and one per namespace
    assert.equal(1, sent.GetUsers)
    assert.equal(#snap.user_groups, sent.GetUserGroupMembers)
    assert.equal(#snap.namespaces, sent.GetNamespaceExportSinks)
  end)

  it("refuses, in code, to send anything but an allowed read", function()
    local read = cloudops.snapshot.reader(c)
    assert.has_error(function() read("CreateNamespace", {}) end,
      "cloudops.snapshot: CreateNamespace is not among the reads a snapshot may send")
    assert.has_error(function() read("GetAsyncOperation", {}) end,
      "cloudops.snapshot: GetAsyncOperation is not among the reads a snapshot may send")
    assert.truthy(read("GetAccount", {}))
  end)

  it("holds no secret: no API key token, in the table or in its JSON", function()
    local text = assert(cloudops.snapshot.encode(snap))
    local tokens = { made.key.token }
    for _, t in pairs(emu.keys) do tokens[#tokens + 1] = t end
    for _, token in ipairs(tokens) do
      assert.is_nil(text:find(token, 1, true))
      for _, s in ipairs(strings(snap)) do assert.is_nil(s:find(token, 1, true)) end
    end
    for _, key in ipairs(snap.api_keys) do
      assert.is_nil(key.token)
      assert.is_nil(key._unknown)
    end
  end)

  it("saves stable JSON that loads back as the same snapshot, every kind included", function()
    local dir = helpers.tmpdir()
    assert.is_true(cloudops.snapshot.save(snap, dir .. "/a.json"))
    local loaded = assert(cloudops.snapshot.load(dir .. "/a.json"))
    assert.same(snap, loaded)
    -- written again, the same bytes
    assert.is_true(cloudops.snapshot.save(loaded, dir .. "/b.json"))
    assert.equal(helpers.read_file(dir .. "/a.json"), helpers.read_file(dir .. "/b.json"))
    -- the proto3 JSON mapping: json names, times as RFC 3339, enums by name
    local text = helpers.read_file(dir .. "/a.json")
    assert.matches('\n      "resourceVersion": "', text, 1, true)
    assert.matches('"state": "RESOURCE_STATE_ACTIVE"', text, 1, true)
    assert.matches('"createdTime": "%d%d%d%d%-%d%d%-%d%dT', text)
    assert.same({}, cloudops.diff(snap, loaded))
  end)

  it("taken again of an unchanged account, differs from the first in taken_at at most", function()
    local again = assert(cloudops.snapshot(c))
    local a = cloudops.snapshot.encode(snap):gsub('"taken_at": "[^"]*"', "")
    local b = cloudops.snapshot.encode(again):gsub('"taken_at": "[^"]*"', "")
    assert.equal(a, b)
  end)

  it("reads page by page, and the per-parent lists with calls in flight", function()
    local emu2, c2 = R.emulator{ latency = 0.4, seed = { namespaces = 7 } }, nil
    -- (one finally a test: busted keeps the last one given)
    finally(function()
      if c2 then c2:close() end
      emu2.stop()
    end)
    c2 = R.client(emu2)
    local s = assert(cloudops.snapshot(c2, { page_size = 3, concurrency = 8 }))
    assert.equal(7, #s.namespaces)
    local list_calls = 0
    for _, e in ipairs(R.requests(emu2)) do
      if e.method == "GetNamespaces" then list_calls = list_calls + 1 end
    end
    assert.equal(3, list_calls)                        -- 3 + 3 + 1
    -- answers are 0.4 s away: on the emulator's clock, the 7 sink lists all reached it before
    -- the first of their answers went out, so they were in flight together
    local together, n, why = helpers.all_in_flight(emu2.log, "GetNamespaceExportSinks")
    assert.equal(7, n)
    assert.is_true(together, why)
  end)

  it("lists what the key may not read, and still makes the snapshot", function()
    -- a read-only user may not read custom roles, connectivity rules (developers and up) nor
    -- audit log sinks (owners and admins)
    local reader = R.client(emu, "reader")
    local s = assert(cloudops.snapshot(reader))
    reader:close()
    local kinds_unread = {}
    for i, u in ipairs(s.unreadable) do
      kinds_unread[i] = u.kind
      assert.equal("PERMISSION_DENIED", u.code)
      assert.matches("^permission denied: user reader@example.com %(ROLE_READ%) is not allowed to Get", u.message)
    end
    assert.same({ "custom_roles", "connectivity_rules", "account_audit_log_sinks" }, kinds_unread)
    assert.same({}, s.account_audit_log_sinks)
    assert.equal(#snap.namespaces, #s.namespaces)
    -- an unreadable kind is not compared: it did not vanish
    assert.same({}, cloudops.diff(snap, s, { kinds = { "account_audit_log_sinks" } }))
    -- a namespace-scoped service account reads little
    local k = assert(c:create_api_key{ spec = { owner_id = made.scoped, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
      display_name = "scoped", expiry_time = cloudops.time.from_unix(os.time() + 86400) } })
    assert(c:wait(k, { min_poll = 0.02 }))
    local scoped = R.client(emu, k.token)
    local t = assert(cloudops.snapshot(scoped, { kinds = { "users", "namespaces" } }))
    scoped:close()
    assert.equal("service_account", t.identity.kind)
    assert.equal("pay-worker", t.identity.name)
    assert.is_nil(t.api_keys)                              -- not asked for
    assert.is_nil(t.account)
  end)

  it("reads only the kinds asked for, and fails on what is not a read failure", function()
    local s = assert(cloudops.snapshot(c, { kinds = { "namespace_export_sinks", "user" } }))
    assert.equal(1, #s.namespace_export_sinks)
    assert.is_true(#s.users >= 5)
    assert.is_nil(s.namespaces)                            -- listed for their sinks, not kept
    assert.is_nil(s.account)
    local progress = {}
    assert(cloudops.snapshot(c, { kinds = { "projects" }, on_progress = function(kind, n) progress[kind] = n end }))
    assert.same({ projects = 2 }, progress)
    -- an unknown key is no read failure
    local bad = R.client(emu, "not-a-key")
    local none, err = cloudops.snapshot(bad)
    bad:close()
    assert.is_nil(none)
    assert.equal("UNAUTHENTICATED", err.name)
  end)

  it("raises for programming mistakes", function()
    assert.has_error(function() cloudops.snapshot(nil) end,
      "cloudops.snapshot expects a client (cloudops.connect), got nil")
    assert.has_error(function() cloudops.snapshot(c, { kind = { "users" } }) end,
      "cloudops.snapshot: unknown option 'kind'")
    assert.has_error(function() cloudops.snapshot(c, { kinds = { "billing" } }) end,
      "cloudops.snapshot: unknown kind 'billing' (one of: " .. kinds.names_list() .. ")")
    assert.has_error(function() cloudops.snapshot(c, { page_size = 5000 }) end,
      "cloudops.snapshot: page_size must be a whole number from 1 to 1000")
    assert.has_error(function() cloudops.snapshot.encode({}) end,
      "cloudops.snapshot: expected a snapshot (format lua-cloudops-snapshot/1)")
  end)
end)

describe("cloudops.snapshot of a server answering what no server should", function()
  -- A stand-in client: answers from a table of functions by method, an empty page otherwise.
  local function fake(answers)
    local sent = {}
    return { sent = sent, call = function(_, method, req)
      sent[#sent + 1] = method
      local f = answers[method]
      if f then return f(req) end
      if method == "GetCurrentIdentity" then return { user = { id = "u1", spec = { email = "a@x.com" } } } end
      if method == "GetAccount" then return { account = { id = "acct" } } end
      return {}
    end }
  end

  it("fails on a page token handed back twice, instead of reading forever", function()
    local c = fake{ GetUsers = function() return { users = { { id = "u1" } }, next_page_token = "again" } end }
    local none, err = cloudops.snapshot(c, { kinds = { "users" } })
    assert.is_nil(none)
    assert.equal("INTERNAL", err.name)
    assert.equal("GetUsers: INTERNAL (13): GetUsers answered a next_page_token it had answered before: " ..
      "the list would never end", tostring(err))
    assert.is_true(#c.sent <= 4)
  end)

  it("keeps the members that have an id, and the pages that end", function()
    local pages = { [""] = { groups = { { id = "g1", spec = { display_name = "a" } } }, next_page_token = "p2" },
                    p2 = { groups = { { id = "g2", spec = { display_name = "b" } } } } }
    local c = fake{
      GetUserGroups = function(req) return pages[req.page_token or ""] end,
      GetUserGroupMembers = function(req)
        if req.group_id == "g1" then
          return { members = { { member_id = { user_id = "u2" } }, {}, { member_id = {} },
                               { member_id = { user_id = "u1" } } } }
        end
        return { members = {} }
      end,
    }
    local s = assert(cloudops.snapshot(c, { kinds = { "user_groups" } }))
    assert.same({ "u1", "u2" }, s.user_groups[1].members)
    assert.same({}, s.user_groups[2].members)
  end)
end)

describe("cloudops.snapshot.load", function()
  lazy_teardown(helpers.cleanup)

  it("refuses what is not a snapshot, saying where", function()
    local dir = helpers.tmpdir()
    local function load(text)
      helpers.write_file(dir .. "/s.json", text)
      return cloudops.snapshot.load(dir .. "/s.json")
    end
    local none, err = load("{ not json")
    assert.is_nil(none)
    assert.matches("s%.json: not JSON", err)
    none, err = load('{"namespaces": []}')
    assert.is_nil(none)
    assert.matches('not a lua%-cloudops snapshot %(no "format": "lua%-cloudops%-snapshot/1"%)', err)
    none, err = load('{"format": "lua-cloudops-snapshot/1", "namespaces": [{"spec": {"retentionDays": "many"}}]}')
    assert.is_nil(none)
    assert.matches("namespaces%[1%]: ", err)
    none, err = load('{"format": "lua-cloudops-snapshot/1", "user_groups": [{"id": "g", "members": [1]}]}')
    assert.is_nil(none)
    assert.matches("user_groups%[1%]%.members%[1%]: expected an id", err)
    none, err = cloudops.snapshot.load(dir .. "/nothing.json")
    assert.is_nil(none)
    assert.matches("No such file", err)
    local ok = load('{"format": "lua-cloudops-snapshot/1", "users": [], "unreadable": []}')
    assert.same({}, ok.users)
  end)
end)
