-- Namespaces: create, read, update, delete, search attribute rename, tags, replicas
-- (regions: add, delete, failover) and capacity. The fields the service derives from the
-- spec (endpoints, replicas' status, region_status, active_region, connectivity_rules)
-- are derived again after every change by `refresh`.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local regions = require "cloudops.emulator.regions"
local statelib = require "cloudops.emulator.state"
local C = require "cloudops.emulator.handlers.common"
local connectivity = require "cloudops.emulator.handlers.connectivity"

local copy, ts = util.copy, util.ts

local H = {}

H.MAX_REPLICAS = 2
local APS_LIMIT = 500
local VALID_TRU = { 2, 4, 6, 8, 10, 12, 16, 20, 24, 32 }

local SA_TYPES = {
  SEARCH_ATTRIBUTE_TYPE_TEXT = "text", SEARCH_ATTRIBUTE_TYPE_KEYWORD = "keyword",
  SEARCH_ATTRIBUTE_TYPE_INT = "int", SEARCH_ATTRIBUTE_TYPE_DOUBLE = "double",
  SEARCH_ATTRIBUTE_TYPE_BOOL = "bool", SEARCH_ATTRIBUTE_TYPE_DATETIME = "datetime",
  SEARCH_ATTRIBUTE_TYPE_KEYWORD_LIST = "keyword_list",
}
local SA_FROM_STRING = {}
for k, v in pairs(SA_TYPES) do SA_FROM_STRING[v] = k end
SA_FROM_STRING.keywordlist = "SEARCH_ATTRIBUTE_TYPE_KEYWORD_LIST"

local function mtls_enabled(spec)
  local m = spec.mtls_auth
  return m ~= nil and (m.enabled or (m.accepted_client_ca_deprecated or "") ~= "")
end

local function api_key_enabled(spec)
  return spec.api_key_auth ~= nil and spec.api_key_auth.enabled == true
end

-- The region ids a spec asks for: replicas, or the deprecated regions list.
local function wanted_regions(spec)
  local list = {}
  if spec.replicas and #spec.replicas > 0 then
    for i, r in ipairs(spec.replicas) do list[i] = r.region end
  elseif spec.regions then
    for i, r in ipairs(spec.regions) do list[i] = r end
  end
  return list
end

-- Fills what the service computes from the spec and the replicas.
function H.refresh(st, ns)
  local spec = ns.spec
  local primary
  ns.region_status = {}
  for _, rep in ipairs(ns.replicas) do
    if rep.is_primary then primary = rep.region end
    local s = rep.state == "REPLICA_STATE_ADDING" and "STATE_ADDING"
      or rep.state == "REPLICA_STATE_REMOVING" and "STATE_REMOVING"
      or rep.state == "REPLICA_STATE_FAILED" and "STATE_FAILED"
      or (rep.is_primary and "STATE_ACTIVE" or "STATE_PASSIVE")
    -- two replicas of one region (same-region replication): the map shows the active one
    if rep.is_primary or not ns.region_status[rep.region] then
      ns.region_status[rep.region] = { state = s, state_deprecated = s:sub(7):lower() }
    end
  end
  ns.active_region = primary
  -- Keep the spec's lists in step with the replicas that exist or are being added.
  local regs, reps = {}, {}
  for _, rep in ipairs(ns.replicas) do
    if rep.state ~= "REPLICA_STATE_REMOVING" then
      regs[#regs + 1] = rep.region
      reps[#reps + 1] = { region = rep.region }
    end
  end
  spec.replicas = reps
  if spec.regions and #spec.regions > 0 then spec.regions = regs end
  local r = primary and regions.by_id[primary]
  ns.endpoints = {
    web_address = "https://cloud.temporal.io/namespaces/" .. ns.namespace,
    grpc_address = api_key_enabled(spec) and r and
      (r.cloud_provider_region .. "." .. r.cloud_provider_deprecated .. ".api.temporal.io:7233") or nil,
    mtls_grpc_address = mtls_enabled(spec) and (ns.namespace .. ".tmprl.cloud:7233") or nil,
  }
  ns.connectivity_rules = {}
  for _, id in ipairs(spec.connectivity_rule_ids or {}) do
    if st.rules[id] then ns.connectivity_rules[#ns.connectivity_rules + 1] = copy(st.rules[id]) end
  end
  local cap = spec.capacity_spec
  local req = ns.capacity and ns.capacity.latest_request
  if not (req and req.state == "STATE_CAPACITY_REQUEST_IN_PROGRESS") then
    if cap and cap.provisioned then
      ns.capacity = { provisioned = { current_value = cap.provisioned.value }, latest_request = req }
    else
      ns.capacity = { on_demand = {}, latest_request = req }
    end
  end
  ns.limits = { actions_per_second_limit = APS_LIMIT }
end

-- Custom search attributes, docs.temporal.io/cloud/limits: "Custom Search Attribute names":
-- "Maximum characters: 64", "Allowed characters: [a-zA-Z0-9.,:-_\/@ ]" (read as those
-- characters, ':', '-' and '_' among them, not as the range from ':' to '_'); "Number of Custom
-- Search Attributes": at most so many of each type per namespace.
local SA_NAME, SA_NAME_MAX = "^[%w%.,:_/@ %-]+$", 64
H.SA_PER_TYPE = {
  SEARCH_ATTRIBUTE_TYPE_BOOL = 20, SEARCH_ATTRIBUTE_TYPE_DATETIME = 20, SEARCH_ATTRIBUTE_TYPE_DOUBLE = 20,
  SEARCH_ATTRIBUTE_TYPE_INT = 20, SEARCH_ATTRIBUTE_TYPE_KEYWORD = 40, SEARCH_ATTRIBUTE_TYPE_KEYWORD_LIST = 5,
  SEARCH_ATTRIBUTE_TYPE_TEXT = 5,
}

local function check_search_attribute_name(name, what)
  if type(name) ~= "string" or #name > SA_NAME_MAX or not name:match(SA_NAME) then
    return errors.invalid("%s: invalid search attribute name %q: at most %d of a-z, A-Z, 0-9 and . , : - _ / @ space",
      what, tostring(name), SA_NAME_MAX)
  end
  return true
end

local function check_search_attributes(spec)
  local types = {}
  for name, t in pairs(spec.search_attributes or {}) do
    local ok, err = check_search_attribute_name(name, "spec.search_attributes")
    if not ok then return nil, err end
    if not SA_TYPES[t] then
      return errors.invalid("spec.search_attributes[%s]: a type is required", name)
    end
    types[name] = t
  end
  for name, t in pairs(spec.custom_search_attributes or {}) do
    local ok, err = check_search_attribute_name(name, "spec.custom_search_attributes")
    if not ok then return nil, err end
    if not SA_FROM_STRING[t:lower()] then
      return errors.invalid("spec.custom_search_attributes[%s]: unknown type %q", name, t)
    end
    types[name] = types[name] or SA_FROM_STRING[t:lower()]
  end
  local counts = {}
  for _, t in pairs(types) do counts[t] = (counts[t] or 0) + 1 end
  for t, n in pairs(counts) do
    if n > H.SA_PER_TYPE[t] then
      return errors.invalid("spec.search_attributes: at most %d of type %s per namespace, got %d",
        H.SA_PER_TYPE[t], SA_TYPES[t], n)
    end
  end
  return true
end

local function check_spec(ctx, spec, current)
  if spec == nil then return errors.invalid("spec is required") end
  if current == nil then
    -- docs.temporal.io/cloud/namespaces, "What is a Cloud Namespace Name?": 2 to 39
    -- characters, lowercase letters, digits and single hyphens, beginning with a letter and
    -- ending with a letter or digit.
    local name = spec.name or ""
    if #name < 2 or #name > 39 or not name:match("^[a-z][a-z0-9%-]*[a-z0-9]$")
      or name:find("--", 1, true) then
      return errors.invalid("spec.name must be 2 to 39 lowercase letters, digits or single hyphens, " ..
        "beginning with a letter and ending with a letter or digit")
    end
  elseif spec.name ~= nil and spec.name ~= "" and spec.name ~= current.spec.name then
    return errors.invalid("spec.name cannot be changed")
  end
  local want = wanted_regions(spec)
  if current == nil and #want == 0 then
    return errors.invalid("spec.replicas: at least one replica (region) is required")
  end
  if #want > H.MAX_REPLICAS then
    return errors.invalid("spec.replicas: at most %d replicas are supported", H.MAX_REPLICAS)
  end
  local seen = {}
  for _, r in ipairs(want) do
    if not regions.by_id[r] then return errors.invalid("unknown region: %s", tostring(r)) end
    if seen[r] and not regions.same_region(r) then
      return errors.invalid("region %s is listed twice: same-region replication is not available there", r)
    end
    seen[r] = true
  end
  -- "You cannot disable automatic failovers for a Same-region Replication Namespace"
  -- (docs.temporal.io/cloud/high-availability/enable, "Enable or disable automatic failovers").
  if #want == 2 and want[1] == want[2] and spec.high_availability
    and spec.high_availability.disable_managed_failover then
    return errors.invalid("spec.high_availability.disable_managed_failover: automatic failovers are always " ..
      "enabled for same-region replication")
  end
  if #want == 2 and not regions.can_replicate(want[1], want[2]) then
    return errors.invalid(
      "a namespace cannot have replicas in both %s and %s (see the regions page's replication lists)",
      want[1], want[2])
  end
  local days = spec.retention_days or 0
  if days < 1 or days > 90 then
    return errors.invalid("spec.retention_days must be between 1 and 90, got %d", days)
  end
  if spec.mtls_auth and spec.mtls_auth.enabled and (spec.mtls_auth.accepted_client_ca or "") == ""
    and (spec.mtls_auth.accepted_client_ca_deprecated or "") == "" then
    return errors.invalid("spec.mtls_auth.accepted_client_ca is required when mTLS is enabled")
  end
  if not mtls_enabled(spec) and not api_key_enabled(spec) then
    return errors.invalid("spec: at least one of mtls_auth and api_key_auth must be enabled")
  end
  local ok, err = check_search_attributes(spec)
  if not ok then return nil, err end
  local codec = spec.codec_server
  if codec and (codec.endpoint or "") ~= "" and not codec.endpoint:match("^https://") then
    return errors.invalid("spec.codec_server.endpoint must be an https:// URL")
  end
  -- A private rule serves a namespace in its own region only ("Must be the same region as
  -- the Namespace"), at most 5 of them on a namespace (docs.temporal.io/cloud/connectivity).
  local in_region, private = {}, 0
  for _, r in ipairs(#want > 0 and want or wanted_regions(current.spec)) do in_region[r] = true end
  for _, id in ipairs(spec.connectivity_rule_ids or {}) do
    local rule = ctx.st.rules[id]
    if not rule then return errors.invalid("connectivity rule not found: %s", id) end
    local p = rule.spec.private_rule
    if p then
      private = private + 1
      if not in_region[p.region] then
        return errors.invalid("connectivity rule %s is a private rule in %s, not a region of this namespace",
          id, p.region)
      end
    end
  end
  if private > connectivity.MAX_PRIVATE_PER_NAMESPACE then
    return errors.precondition(
      "spec.connectivity_rule_ids: at most %d private connectivity rules per namespace, got %d",
      connectivity.MAX_PRIVATE_PER_NAMESPACE, private)
  end
  local cap = spec.capacity_spec
  if cap and cap.provisioned then
    local valid = false
    for _, v in ipairs(VALID_TRU) do if v == cap.provisioned.value then valid = true end end
    if not valid then
      return errors.invalid(
        "spec.capacity_spec.provisioned.value must be one of the valid TRU values (GetNamespaceCapacityInfo)")
    end
  end
  return true
end

-- The spec as stored: search attributes in the enum form (the deprecated string map is
-- folded in) and both region lists in step.
local function normalize(spec)
  spec = copy(spec)
  spec.search_attributes = spec.search_attributes or {}
  for name, t in pairs(spec.custom_search_attributes or {}) do
    spec.search_attributes[name] = spec.search_attributes[name] or SA_FROM_STRING[t:lower()]
  end
  spec.custom_search_attributes = nil
  return spec
end

local function ca_plan(ctx, spec)
  local ca = spec.mtls_auth and spec.mtls_auth.accepted_client_ca
  if ca and ca ~= "" and not ca:find("-----BEGIN CERTIFICATE-----", 1, true) then
    ctx:plan_outcome("STATE_FAILED", "invalid accepted_client_ca: no PEM certificate found")
  end
end

local function new_replica(region, primary, state)
  return { id = util.id(16), is_primary = primary, state = state, region = region }
end

-- A namespace as seeding creates it: active at once, created `created` (default now).
function H.build(st, now, spec, tags, created)
  spec = normalize(spec)
  local id = spec.name .. "." .. st.account.id
  local ns = {
    namespace = id, resource_version = util.id(16), spec = spec, project_id = st.default_project or nil,
    state = "RESOURCE_STATE_ACTIVE", state_deprecated = "active",
    created_time = ts(created or now), tags = copy(tags or {}), replicas = {},
  }
  for i, r in ipairs(wanted_regions(spec)) do
    ns.replicas[i] = new_replica(r, i == 1, "REPLICA_STATE_ACTIVE")
  end
  H.refresh(st, ns)
  st.namespaces[id] = ns
  return ns
end

-- What goes with a namespace: its export sinks, the service accounts scoped to it with
-- their API keys ("When a Namespace is deleted, all associated Namespace-scoped Service
-- Accounts and their associated API keys are automatically deleted", docs.temporal.io/cloud/
-- manage-access/service-accounts), and the access others had to it.
ops.on_remove.namespaces = function(st, id)
  for key in pairs(st.sinks) do
    if key:sub(1, #id + 1) == id .. "/" then st.sinks[key] = nil end
  end
  local scoped = {}
  for sid, sa in pairs(st.service_accounts) do
    local nsa = sa.spec.namespace_scoped_access
    if nsa and nsa.namespace == id then scoped[#scoped + 1] = sid end
  end
  for _, sid in ipairs(scoped) do ops.remove(st, "service_accounts", sid) end
  C.each_access(st, function(a)
    if a.namespace_accesses then a.namespace_accesses[id] = nil end
  end)
end

-- Replicas being added become active, those being removed go, when the operation is
-- fulfilled; a failed operation leaves them FAILED.
ops.finalizers.ns_replicas = function(st, eff, outcome, op)
  local ns = st.namespaces[eff.key]
  if not ns or not ops.owns(st, eff, op) then return end
  local keep = {}
  for _, rep in ipairs(ns.replicas) do
    if rep.state == "REPLICA_STATE_ADDING" then
      rep.state = outcome == "STATE_FULFILLED" and "REPLICA_STATE_ACTIVE" or "REPLICA_STATE_FAILED"
    elseif rep.state == "REPLICA_STATE_REMOVING" then
      if outcome == "STATE_FULFILLED" then rep = nil else rep.state = "REPLICA_STATE_FAILED" end
    end
    keep[#keep + 1] = rep
  end
  ns.replicas = keep
  if eff.failover_to and outcome == "STATE_FULFILLED" then
    for _, rep in ipairs(ns.replicas) do
      if eff.failover_to_id then rep.is_primary = rep.id == eff.failover_to_id
      else rep.is_primary = rep.region == eff.failover_to end   -- a state of an older emulator
    end
  end
  if ns.capacity and ns.capacity.latest_request
    and ns.capacity.latest_request.async_operation_id == op.id then
    local lr = ns.capacity.latest_request
    lr.state = outcome == "STATE_FULFILLED" and "STATE_CAPACITY_REQUEST_COMPLETED"
      or "STATE_CAPACITY_REQUEST_FAILED"
    lr.end_time = ts(op.t2)
  end
  H.refresh(st, ns)
end

-- Tags, as docs.temporal.io/cloud/namespaces "How to tag a Namespace" says: at most 10 on
-- a namespace, keys and values 1 to 63 characters of a-z 0-9 . _ - @, and only Account Admins
-- (Global Admins) and Account Owners create and edit them.
H.MAX_TAGS = 10
local TAG_TEXT = "^[a-z0-9%._%-@]+$"

local function check_tag_editor(ctx)
  local role = ctx.identity.role
  if role ~= "ROLE_OWNER" and role ~= "ROLE_ADMIN" then
    return errors.denied("permission denied: only account admins and owners can set namespace tags")
  end
  return true
end

local function check_tags(tags, what)
  local n = 0
  for k, v in pairs(tags) do
    n = n + 1
    for _, s in ipairs { k, v } do
      if #s < 1 or #s > 63 or not s:match(TAG_TEXT) then
        return errors.invalid(
          "%s: tag keys and values must be 1 to 63 characters of a-z, 0-9, '.', '_', '-' and '@', got %q", what, s)
      end
    end
  end
  if n > H.MAX_TAGS then
    return errors.invalid("%s: a namespace has at most %d tags, got %d", what, H.MAX_TAGS, n)
  end
  return true
end

local function get_ns(ctx, id)
  return C.namespace(ctx, id)
end

function H.GetNamespaces(ctx, req)
  local name = req.name ~= "" and req.name or nil
  local id = ctx.identity
  local items, keys = C.list(ctx.st.namespaces, function(ns) return ns.namespace end,
    function(ns)
      return auth.can_see(id, ns.namespace) and (not name or ns.spec.name == name)
        and C.in_project(ns, req.project_id)
    end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { namespaces = page, next_page_token = token }
end

function H.GetNamespace(ctx, req)
  local ns, err = get_ns(ctx, req.namespace)
  if not ns then return nil, err end
  return { namespace = copy(ns) }
end

-- The account's namespace allowance (docs.temporal.io/evaluate/cloud/limits, "Namespaces"):
-- "By default, each account is provisioned with ten Namespaces. As you start using Namespaces
-- by scheduling Workflows, Temporal Cloud automatically raises your allowance. This automatic
-- adjustment happens whenever all your Namespaces are in use, up to a maximum of 100
-- Namespaces"; beyond, support raises it. The allowance starts at max_namespaces (default
-- 10) and rises by one for a new namespace while every namespace is in use and the account
-- holds fewer than 100. The emulator runs no workflows: a namespace is in use once its usage
-- report (GetUsage) holds a whole day of it, i.e. it was made before today (UTC) and is not
-- being created or deleted. Returns the allowance the new namespace makes, or nil, err.
H.AUTO_ALLOWANCE_MAX = 100
local NOT_IN_USE = {
  RESOURCE_STATE_ACTIVATING = true, RESOURCE_STATE_ACTIVATION_FAILED = true,
  RESOURCE_STATE_DELETING = true, RESOURCE_STATE_DELETED = true,
}

local function allowance_for_one_more(ctx)
  local st, today = ctx.st, math.floor(ctx.now / 86400) * 86400
  local n, idle = 0, 0
  for _, ns in pairs(st.namespaces) do
    n = n + 1
    if NOT_IN_USE[ns.state] or (util.to_seconds(ns.created_time) or 0) >= today then idle = idle + 1 end
  end
  local allowance = math.max(st.namespace_allowance or 0, ctx.cfg.max_namespaces)
  if n < allowance then return allowance end
  if idle == 0 and n < H.AUTO_ALLOWANCE_MAX then return n + 1 end
  return errors.precondition("the account has %d namespaces, its allowance of %d: Temporal Cloud raises it " ..
    "(up to %d) once every namespace is in use, %d here %s not; beyond, ask support", n, allowance,
    H.AUTO_ALLOWANCE_MAX, idle, idle == 1 and "is" or "are")
end

function H.CreateNamespace(ctx, req)
  local project, err = C.project_of(ctx, req.project_id)
  if not project then return nil, err end
  local ok
  ok, err = C.require_role(ctx, "ROLE_DEVELOPER")
  if not ok then return nil, err end
  ok, err = check_spec(ctx, req.spec)
  if not ok then return nil, err end
  if next(req.tags or {}) ~= nil then
    ok, err = check_tag_editor(ctx)
    if not ok then return nil, err end
    ok, err = check_tags(req.tags, "tags")
    if not ok then return nil, err end
  end
  local spec = normalize(req.spec)
  local id = spec.name .. "." .. ctx.st.account.id
  if ctx.st.namespaces[id] then return errors.exists("namespace already exists: %s", id) end
  local allowance
  allowance, err = allowance_for_one_more(ctx)
  if not allowance then return nil, err end
  ca_plan(ctx, spec)
  local ns = { namespace = id, spec = spec, tags = copy(req.tags or {}), replicas = {},
               project_id = project.id }
  for i, r in ipairs(wanted_regions(spec)) do
    ns.replicas[i] = new_replica(r, i == 1, "REPLICA_STATE_ADDING")
  end
  H.refresh(ctx.st, ns)
  R.create(ctx, "namespaces", id, ns, { { fn = "ns_replicas", coll = "namespaces", key = id } })
  ctx.st.namespace_allowance = allowance
  -- A developer who creates a namespace administers it.
  if ctx.identity.role == "ROLE_DEVELOPER" then
    local p = ctx.identity.principal
    p.resource_version = statelib.version()
    p.spec.access = p.spec.access or {}
    C.set_namespace_access(p.spec.access, id, { permission = "PERMISSION_ADMIN" })
  end
  ctx.audit_details = { namespace = id }
  return { namespace = id }
end

local function begin(ctx, req)
  local ns, err = get_ns(ctx, req.namespace)
  if not ns then return nil, err end
  local ok
  ok, err = C.require_ns_admin(ctx, ns.namespace)
  if not ok then return nil, err end
  ok, err = R.check_version(ns, req.resource_version, "namespace")
  if not ok then return nil, err end
  ctx.audit_details = { namespace = ns.namespace }
  return ns
end

local function update(ctx, ns, fn)
  return R.update(ctx, "namespaces", ns.namespace, ns, function(r)
    fn(r)
    H.refresh(ctx.st, r)
  end, { { fn = "ns_replicas", coll = "namespaces", key = ns.namespace } })
end

-- What going from the namespace's replicas to the wanted regions (a list, a region twice for
-- same-region replication) takes: the ids of the replicas to remove (passive ones first) and
-- the regions to add, in the wanted order; or nil, err when the active replica would go. A
-- replica being removed stays so.
local function replica_changes(ns, want)
  local need, have = {}, {}
  for _, r in ipairs(want) do need[r] = (need[r] or 0) + 1 end
  for _, rep in ipairs(ns.replicas) do have[rep.region] = (have[rep.region] or 0) + 1 end
  local removed, added = {}, {}
  for region in pairs(have) do
    local excess = -(need[region] or 0)
    for _, rep in ipairs(ns.replicas) do
      if rep.region == region and rep.state ~= "REPLICA_STATE_REMOVING" then excess = excess + 1 end
    end
    for pass = 1, 2 do   -- passive replicas first, then the active one
      for _, rep in ipairs(ns.replicas) do
        if excess > 0 and rep.region == region and rep.state ~= "REPLICA_STATE_REMOVING"
          and (rep.is_primary == true) == (pass == 2) then
          if rep.is_primary then
            return errors.precondition("cannot remove the active replica %s; fail over first", region)
          end
          removed[rep.id], excess = true, excess - 1
        end
      end
    end
  end
  local kept = {}
  for _, r in ipairs(want) do
    kept[r] = (kept[r] or 0) + 1
    if kept[r] > (have[r] or 0) then added[#added + 1] = r end
  end
  return removed, added
end

function H.UpdateNamespace(ctx, req)
  local ns, err = begin(ctx, req)
  if not ns then return nil, err end
  local ok
  ok, err = check_spec(ctx, req.spec, ns)
  if not ok then return nil, err end
  local spec = normalize(req.spec)
  spec.name = ns.spec.name
  local cur = {}
  for _, rep in ipairs(ns.replicas) do
    if rep.state ~= "REPLICA_STATE_REMOVING" then cur[#cur + 1] = rep.region end
  end
  if req.spec.regions and #req.spec.regions > 0 and not util.same(req.spec.regions, cur) then
    return errors.invalid("spec.regions cannot be changed; use spec.replicas")
  end
  local want = wanted_regions(spec)
  if #want == 0 then want = cur end
  local removed, added = replica_changes(ns, want)
  if not removed then return nil, added end
  for name, t in pairs(ns.spec.search_attributes or {}) do
    local nt = spec.search_attributes[name]
    if nt == nil then
      return errors.invalid("search attribute %s cannot be deleted", name)
    elseif nt ~= t then
      return errors.invalid("the type of search attribute %s cannot be changed", name)
    end
  end
  local function without_regions(s)
    s = copy(s)
    s.regions, s.replicas = nil, nil
    return s
  end
  if util.same(without_regions(spec), without_regions(ns.spec)) and next(removed) == nil and #added == 0 then
    return errors.invalid("nothing to change: the namespace's spec is already as requested")
  end
  local cap_changed = not util.same(spec.capacity_spec, ns.spec.capacity_spec)
  local lr = ns.capacity and ns.capacity.latest_request
  if cap_changed and lr and lr.state == "STATE_CAPACITY_REQUEST_IN_PROGRESS" then
    return errors.precondition("a capacity change is already in progress")
  end
  ca_plan(ctx, spec)
  update(ctx, ns, function(r)
    for _, rep in ipairs(r.replicas) do
      if removed[rep.id] then rep.state = "REPLICA_STATE_REMOVING" end
    end
    for _, reg in ipairs(added) do r.replicas[#r.replicas + 1] = new_replica(reg, false, "REPLICA_STATE_ADDING") end
    if spec.regions and #spec.regions == 0 then spec.regions = nil end
    if r.spec.regions and #r.spec.regions > 0 then spec.regions = copy(r.spec.regions) end
    r.spec = spec
    if cap_changed then
      local c = r.capacity or {}
      c.latest_request = { state = "STATE_CAPACITY_REQUEST_IN_PROGRESS", start_time = ts(ctx.now),
                           async_operation_id = ctx.op.id, spec = copy(spec.capacity_spec) }
      r.capacity = c
    end
  end)
  return {}
end

function H.RenameCustomSearchAttribute(ctx, req)
  local ns, err = begin(ctx, req)
  if not ns then return nil, err end
  local old, new = req.existing_custom_search_attribute_name, req.new_custom_search_attribute_name
  local attrs = ns.spec.search_attributes or {}
  if old == nil or old == "" then
    return errors.invalid("existing_custom_search_attribute_name is required")
  end
  if attrs[old] == nil then return errors.not_found("search attribute not found: %s", old) end
  local ok
  ok, err = check_search_attribute_name(new, "new_custom_search_attribute_name")
  if not ok then return nil, err end
  if attrs[new] ~= nil then return errors.exists("search attribute already exists: %s", new) end
  update(ctx, ns, function(r)
    local a = r.spec.search_attributes
    a[new], a[old] = a[old], nil
  end)
  return {}
end

function H.DeleteNamespace(ctx, req)
  local ns, err = begin(ctx, req)
  if not ns then return nil, err end
  if ns.spec.lifecycle and ns.spec.lifecycle.enable_delete_protection then
    return errors.precondition("namespace %s has delete protection enabled", ns.namespace)
  end
  for _, e in pairs(ctx.st.nexus) do
    local w = e.spec.target_spec and e.spec.target_spec.worker_target_spec
    if w and w.namespace_id == ns.namespace then
      return errors.precondition("namespace %s is the target of Nexus endpoint %s", ns.namespace, e.spec.name)
    end
  end
  R.delete(ctx, "namespaces", ns.namespace, ns)
  return {}
end

-- The replica a request names by region (or, with by_id, by replica id): the passive one of a
-- region with two (same-region replication), else the one there.
local function passive_in(ns, region, by_id)
  local found
  for _, rep in ipairs(ns.replicas) do
    if rep.region == region or (by_id and rep.id == region) then
      if not found or found.is_primary then found = rep end
    end
  end
  return found
end

function H.FailoverNamespaceRegion(ctx, req)
  local ns, err = begin(ctx, req)
  if not ns then return nil, err end
  if req.region == nil or req.region == "" then return errors.invalid("region is required") end
  if #ns.replicas < 2 then
    return errors.precondition("namespace %s has a single replica: there is nothing to fail over to", ns.namespace)
  end
  local target = passive_in(ns, req.region, true)
  if not target then
    return errors.invalid("namespace %s has no replica in region %s", ns.namespace, req.region)
  end
  if target.state ~= "REPLICA_STATE_ACTIVE" then
    return errors.precondition("the replica in %s is not active (%s)", target.region, target.state)
  end
  local op = update(ctx, ns, function() end)
  local eff = op.effects[#op.effects]
  eff.failover_to, eff.failover_to_id = target.region, target.id
  return {}
end

function H.AddNamespaceRegion(ctx, req)
  local ns, err = begin(ctx, req)
  if not ns then return nil, err end
  if not regions.by_id[req.region or ""] then
    return errors.invalid("unknown region: %s", tostring(req.region))
  end
  for _, rep in ipairs(ns.replicas) do
    if rep.region == req.region and not regions.same_region(req.region) then
      return errors.exists("namespace %s is already in region %s (same-region replication is not available there)",
        ns.namespace, req.region)
    end
  end
  if #ns.replicas >= H.MAX_REPLICAS then
    return errors.precondition("namespace %s already has %d replicas", ns.namespace, #ns.replicas)
  end
  for _, rep in ipairs(ns.replicas) do
    if not regions.can_replicate(rep.region, req.region) then
      return errors.invalid("namespace %s in %s cannot have a replica in %s", ns.namespace, rep.region, req.region)
    end
  end
  update(ctx, ns, function(r)
    r.replicas[#r.replicas + 1] = new_replica(req.region, false, "REPLICA_STATE_ADDING")
    if r.spec.regions and #r.spec.regions > 0 then r.spec.regions[#r.spec.regions + 1] = req.region end
  end)
  return {}
end

function H.DeleteNamespaceRegion(ctx, req)
  local ns, err = begin(ctx, req)
  if not ns then return nil, err end
  local target = passive_in(ns, req.region)
  if not target then
    return errors.invalid("namespace %s has no replica in region %s", ns.namespace, tostring(req.region))
  end
  if target.is_primary then
    return errors.precondition("cannot remove the active replica %s; fail over first", target.region)
  end
  update(ctx, ns, function(r)
    for _, rep in ipairs(r.replicas) do
      if rep.id == target.id then rep.state = "REPLICA_STATE_REMOVING" end
    end
  end)
  return {}
end

function H.UpdateNamespaceTags(ctx, req)
  local ns, err = get_ns(ctx, req.namespace)
  if not ns then return nil, err end
  local ok
  ok, err = check_tag_editor(ctx)
  if not ok then return nil, err end
  local up, rm = req.tags_to_upsert or {}, req.tags_to_remove or {}
  if next(up) == nil and #rm == 0 then
    return errors.invalid("at least one of tags_to_upsert and tags_to_remove must be specified")
  end
  ok, err = check_tags(up, "tags_to_upsert")
  if not ok then return nil, err end
  local tags = copy(ns.tags or {})
  for _, k in ipairs(rm) do tags[k] = nil end
  for k, v in pairs(up) do tags[k] = v end
  ok, err = check_tags(tags, "the namespace's tags after this change")
  if not ok then return nil, err end
  ok, err = R.check_changes(ns.tags, tags, "namespace's tags")
  if not ok then return nil, err end
  ctx.audit_details = { namespace = ns.namespace }
  update(ctx, ns, function(r) r.tags = tags end)
  return {}
end

-- A number from a name, so that seeded statistics stay the same between runs.
local function hash(s)
  local h = 7
  for i = 1, #s do h = (h * 31 + s:byte(i)) % 1000003 end
  return h
end
H.hash = hash

function H.GetNamespaceCapacityInfo(ctx, req)
  local ns, err = get_ns(ctx, req.namespace)
  if not ns then return nil, err end
  local mean = 5 + hash(ns.namespace) % 50
  return { capacity_info = {
    namespace = ns.namespace,
    has_legacy_limits = false,
    current_capacity = copy(ns.capacity),
    mode_options = {
      provisioned = { valid_tru_values = copy(VALID_TRU), max_available_tru_value = 16 },
      on_demand = { aps_limit = APS_LIMIT },
    },
    stats = { aps = { mean = mean, p90 = mean * 1.8, p99 = mean * 3.1 } },
  } }
end

return H
