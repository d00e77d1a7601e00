-- The twin: the emulator's state made from a snapshot of a real account (cloudops.snapshot),
-- so that a script can be rehearsed against that very account. It serves the same account id,
-- resources, ids, names, states, resource versions, group memberships and access maps, and
-- gives a local API key to the snapshot's identity and to every user and service account in
-- it, each acting with that principal's own permissions (auth.lua reads them as it reads any
-- key's owner).
--
--   emulator.new{ twin = "account.json" }          -- or a snapshot table; see M.options
--   bin/cloudops-emulator --twin account.json      -- prints the identity's key first
--
-- The identity's key is its own API key (the snapshot's identity.key_id) when the snapshot
-- holds it and it is usable, so that GetCurrentIdentity answers as the service did; every
-- other local key is a twin key: kept in st.twin_keys, never listed by GetApiKeys, so that
-- the twin's reads answer as the account's did. What a snapshot cannot hold, the twin cannot
-- serve: secrets (the keys' tokens), audit logs, usage, billing reports, operations of the
-- past, and the time each member joined its group (GetUserGroupMembers answers the time the
-- twin started).
local statelib = require "cloudops.emulator.state"
local util = require "cloudops.emulator.util"
local api_keys = require "cloudops.emulator.handlers.api_keys"
local auth = require "cloudops.emulator.auth"
local kinds = require "cloudops.kinds"

local copy, ts = util.copy, util.ts
local format = string.format

local M = {}

-- Where each kind of a snapshot lives in the model, and under which key.
local COLLECTIONS = {
  { kind = "namespaces", coll = "namespaces", key = function(r) return r.namespace end },
  { kind = "users", coll = "users", key = function(r) return r.id end },
  { kind = "user_groups", coll = "groups", key = function(r) return r.id end },
  { kind = "service_accounts", coll = "service_accounts", key = function(r) return r.id end },
  { kind = "api_keys", coll = "api_keys", key = function(r) return r.id end },
  { kind = "nexus_endpoints", coll = "nexus", key = function(r) return r.id end },
  { kind = "connectivity_rules", coll = "rules", key = function(r) return r.id end },
  { kind = "namespace_export_sinks", coll = "sinks", key = function(r) return r.namespace .. "/" .. r.name end },
  { kind = "projects", coll = "projects", key = function(r) return r.id end },
  { kind = "custom_roles", coll = "custom_roles", key = function(r) return r.id end },
  { kind = "account_audit_log_sinks", coll = "audit_sinks", key = function(r) return r.name end },
}

local YEAR = 365 * 86400
local DEFAULT_PROJECT = "Default Project"
-- The emulator's per-account quotas, and the kinds they count: a twin's are no lower than what
-- the account holds (support raises them; the account's own are not in a snapshot).
local QUOTAS = { max_projects = "projects", max_users = "users", max_namespaces = "namespaces",
                 max_nexus_endpoints = "nexus_endpoints" }

local function load_snapshot(twin)
  if type(twin) == "table" then return twin end
  if type(twin) ~= "string" then error("emulator option 'twin' must be a snapshot file or table", 4) end
  local snapshot = require "cloudops.snapshot"
  local snap, err = snapshot.load(twin)
  if not snap then error("cannot load the twin's snapshot: " .. tostring(err), 0) end
  return snap
end

--- The emulator options for a twin: `twin` loaded (a path becomes the snapshot table), the
-- realistic timings unless a profile is given, and each quota the emulator has (projects,
-- users, ...) no lower than what the account holds. A twin starts from the snapshot, not from
-- a state file.
function M.options(opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.twin = load_snapshot(opts.twin)
  if type(o.twin.format) ~= "string" or not o.twin.format:find("^lua%-cloudops%-snapshot/") then
    error("the twin's snapshot is not a lua-cloudops snapshot", 0)
  end
  if o.state_file then error("a twin starts from its snapshot: --twin and --state do not go together", 0) end
  if o.profile == nil then o.profile = "realistic" end
  local defaults = require("cloudops.emulator.config").defaults
  for option, kind in pairs(QUOTAS) do
    if o[option] == nil and type(defaults[option]) == "number" then
      o[option] = math.max(defaults[option], #(o.twin[kind] or {}))
    end
  end
  return o
end

-- The account id: the snapshot's account, else the suffix of a namespace id ("name.acct").
local function account_id(snap, cfg)
  if snap.account and snap.account.id then return snap.account.id end
  for _, ns in ipairs(snap.namespaces or {}) do
    local id = ns.namespace and ns.namespace:match("^[^.]+%.(.+)$")
    if id then return id end
  end
  return cfg.account_id
end

-- The Default Project: the project of that name; else the one most namespaces are in; else
-- none (creating without a project_id then fails, as it does in an account without one).
local function default_project(snap)
  for _, p in ipairs(snap.projects or {}) do
    if p.spec and p.spec.display_name == DEFAULT_PROJECT then return p.id end
  end
  local count, best = {}, nil
  for _, ns in ipairs(snap.namespaces or {}) do
    local pid = ns.project_id
    if pid and pid ~= "" then
      count[pid] = (count[pid] or 0) + 1
      if not best or count[pid] > count[best] then best = pid end
    end
  end
  return best or false
end

-- The resource of a snapshot entry, without what the snapshot holds beside it (its kind's
-- extras: a group's members, an export sink's namespace).
local function without_extras(kind, res)
  local r = copy(res)
  for k in pairs(kinds.get(kind).extras) do r[k] = nil end
  return r
end

-- Whether key k lets its owner in now (auth.identify's checks).
local function usable(k, owner_id, now)
  if not k or k.spec.owner_id ~= owner_id then return false end
  if k.state ~= "RESOURCE_STATE_ACTIVE" and k.state ~= "RESOURCE_STATE_UPDATING" then return false end
  if k.spec.disabled then return false end
  local exp = util.to_seconds(k.spec.expiry_time)
  return exp == nil or exp > now
end

-- A local key of the twin for a principal: authenticates as it, listed nowhere.
local function twin_key(kind, principal, now)
  local spec = {
    owner_id = principal.id,
    owner_type = kind == "user" and "OWNER_TYPE_USER" or "OWNER_TYPE_SERVICE_ACCOUNT",
    display_name = "twin key (local)",
    expiry_time = ts(now + YEAR),
    disabled = false,
  }
  return { id = "twin-" .. util.id(24), resource_version = statelib.version(), spec = spec,
            state = "RESOURCE_STATE_ACTIVE", created_time = ts(now) }
end

--- The model of the snapshot's account, and its keys: returns st, keys ({ [email or name] =
-- token }), and info { identity = principal entry, principals = { { name, token, kind, role,
-- identity } ... } in the order to print: the identity first, then users by email, then
-- service accounts by name }.
function M.state(twin, cfg, now)
  local snap = load_snapshot(twin)
  local st = statelib.new(account_id(snap, cfg), now)
  if snap.account then st.account = copy(snap.account) end
  for _, c in ipairs(COLLECTIONS) do
    for _, res in ipairs(snap[c.kind] or {}) do
      local ok, key = pcall(c.key, res)
      -- An entry without its id cannot be served (a snapshot edited by hand).
      if ok and key ~= nil and key ~= "" then st[c.coll][key] = without_extras(c.kind, res) end
    end
  end
  for _, g in ipairs(snap.user_groups or {}) do
    local members = {}
    for _, uid in ipairs(g.members or {}) do
      if st.users[uid] then members[uid] = now end
    end
    st.members[g.id] = members
  end
  -- Set before the emulator's bootstrap runs, so that it makes no project of its own.
  st.default_project = default_project(snap)
  st.twin_keys = {}
  local principals = {}
  local function add(kind, principal, name, is_identity)
    local token = (is_identity and cfg.api_key) or api_keys.new_token(cfg.random)
    local own = is_identity and snap.identity and snap.identity.key_id and st.api_keys[snap.identity.key_id]
    if usable(own, principal.id, now) then
      st.tokens[token] = own.id
    else
      st.twin_keys[token] = twin_key(kind, principal, now)
    end
    local role = kind == "service_account" and principal.spec.namespace_scoped_access and "namespace-scoped"
      or auth.role_of(principal.spec.access)
    local p = { name = name, token = token, kind = kind, role = role, identity = is_identity or nil }
    principals[#principals + 1] = p
    return p
  end
  local users, sas = {}, {}
  for _, u in pairs(st.users) do users[#users + 1] = u end
  for _, sa in pairs(st.service_accounts) do sas[#sas + 1] = sa end
  table.sort(users, function(a, b) return (a.spec.email or a.id) < (b.spec.email or b.id) end)
  table.sort(sas, function(a, b) return (a.spec.name or a.id) < (b.spec.name or b.id) end)
  local id = snap.identity or {}
  local me = id.kind == "service_account" and st.service_accounts[id.id or ""] or st.users[id.id or ""]
  local info = {}
  if me then
    info.identity = add(id.kind == "service_account" and "service_account" or "user", me,
      id.kind == "service_account" and me.spec.name or me.spec.email, true)
  end
  for _, u in ipairs(users) do if u ~= me then add("user", u, u.spec.email or u.id) end end
  for _, sa in ipairs(sas) do if sa ~= me then add("service_account", sa, sa.spec.name or sa.id) end end
  info.principals = principals
  local keys = {}
  for i = #principals, 1, -1 do keys[principals[i].name] = principals[i].token end
  -- The bootstrap's "owner" entry (seeded audit records are made as it) is the identity.
  st.bootstrap = { owner = info.identity and info.identity.token or nil }
  info.taken_at, info.by = snap.taken_at, id.name
  return st, keys, info
end

--- The line that describes a principal's key in the banner: " (user x@y, ROLE_OWNER)".
function M.describe(p)
  return format(" (%s %s, %s%s)", p.kind == "user" and "user" or "service account", p.name, p.role,
    p.identity and ", the snapshot's identity" or "")
end

return M
