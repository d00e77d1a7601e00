--- cloudops.kinds: one table of facts per resource kind, behind snapshot, twin, diff, plan,
-- apply and export (docs/design.md "Rehearsal and desired state"). What the schema says is
-- derived from it, as `update`'s kinds are (cloudops.schema); what it cannot say (natural keys,
-- references by id, the dependency order) is written here, once.
--
--   local kinds = require "cloudops.kinds"
--   for _, k in ipairs(kinds.list) do ... end       -- every kind, in dependency order
--   local k = kinds.get("namespaces")                -- by snapshot name or by kind ("namespace")
--
-- A kind (a plain table; read it, do not change it):
--   name        the snapshot's (and a desired state's) array: "namespaces"; "account" is a
--               singleton, not an array (k.singleton)
--   kind        singular snake_case, as changes and client:update name it: "namespace"
--   order       its place in the dependency order (1 first); deletes go in reverse order
--   message     the resource message: "temporal.api.cloud.namespace.v1.Namespace"
--   spec        the Spec message its `spec` field holds (where the spec lives: res.spec)
--   get         { method = "GetNamespace", field = "namespace" (the response field holding
--               it), ids = { "namespace" } (the request's id fields) }
--   list        nil for the account, else { method = "GetNamespaces", items = "namespaces",
--               page_size = 1000 (the documented maximum), parent = nil or the kind whose
--               every resource is listed on its own (export sinks: "namespaces"),
--               parent_field = the request field naming that parent ("namespace") }
--   create, update, delete   { method = "CreateNamespace", ids = { request id fields },
--               extras = { request fields outside the spec that the resource also holds:
--               "project_id", "tags" } (create only) }, or nil where the API has none
--   parent_field  for a kind listed per parent, the field under which a snapshot entry
--               records its parent's id (export sinks: "namespace", the namespace id)
--   extras      fields a snapshot entry holds beside the message's own: { members = ... }
--               for user groups (the members' user ids, GetUserGroupMembers), { namespace }
--               for export sinks; each { method, items, value } where read by another RPC
--   server_owned  set of the message's top-level fields the server sets (ids, versions,
--               states, times, derived status): never compared, never written
--   compared    the top-level fields a diff compares, in order: spec, the create extras,
--               fields changed by dedicated RPCs (a namespace's active_region), the extras
--   fold        set of paths compared case-insensitively ({ ["spec.email"] = true })
--   refs        references made by id, which a desired state writes by name: each
--               { path = "spec.access.namespace_accesses{}", to = "namespaces" } (see
--               kinds.map_refs for the path syntax; `to` may be a function(res) -> name)
--   key(res, name_of)   the natural key (namespace spec.name, user email lowercased, ...):
--               name_of(kind_name, id) gives the natural key of a resource referred to by id
--               (the export sink's namespace), and may return the id itself when unknown
--   id(res)     the resource's identity in a snapshot: what its Get request names (for an
--               export sink "<namespace id>/<name>")
--
-- Functions:
--   kinds.get(name)                       the kind by "namespaces" or "namespace", or nil
--   kinds.request_ids(k, op, res)         the id fields of k[op]'s request for res
--                                         ("get", "create", "update", "delete")
--   kinds.map_refs(k, res, fn)            a copy of res with every reference v replaced by
--                                         fn(to, v), map keys included
--   kinds.names(snapshot)                 a name_of function over a snapshot's resources
--   kinds.READS                           the set of RPCs a snapshot may send (reads only)
--   kinds.DESIRED                         the kinds a desired state holds, in dependency order
--
-- A kind a desired state holds (cloudops.plan, cloudops.apply, `cloudops export`) also has:
--   desired     true
--   create.result  the field of the Create response that holds the new resource's id
--               ("namespace", "user_id"), or nil (an export sink is known by its name)
--   delete_protection  true when its spec has lifecycle.enable_delete_protection (namespaces,
--               projects): such a resource with it on is never deleted by a prune
local schema = require "cloudops.schema"
local core = require "cloudops.core"
local copy = require "cloudops.deep_copy"

local ipairs, pairs, type, error, tostring = ipairs, pairs, type, error, tostring
local sort, concat = table.sort, table.concat
local describe = core.describe

local kinds = {}

local PAGE_SIZE = 1000 -- the documented maximum page size of every list RPC
local NOT_IDS = { spec = true, resource_version = true, async_operation_id = true }

local function lower(s) return type(s) == "string" and s:lower() or s end

local function spec_field(name)
  return function(res) return res.spec and res.spec[name] or nil end
end

-- The natural key of a connectivity rule: its project and what it connects (one public rule,
-- or a private one by region and endpoint).
local function rule_key(res, name_of)
  local s = res.spec or {}
  local where = name_of("projects", res.project_id or "") .. "/"
  if s.public_rule then return where .. "public" end
  local p = s.private_rule or {}
  local endpoint = p.connection_id
  if endpoint == nil or endpoint == "" then endpoint = p.azure_pe_resource_id or "" end
  return where .. "private/" .. (p.region or "") .. "/" .. endpoint
end

local function owner_kind(res)
  local t = res.spec and res.spec.owner_type
  if t == "OWNER_TYPE_SERVICE_ACCOUNT" then return "service_accounts" end
  return "users"
end

local ACCESS_REFS = {
  { path = "spec.access.namespace_accesses{}", to = "namespaces" },
  { path = "spec.access.project_accesses{}", to = "projects" },
  { path = "spec.access.account_access.custom_roles[]", to = "custom_roles" },
}

local function with(list, more)
  local out = {}
  for _, r in ipairs(list) do out[#out + 1] = r end
  for _, r in ipairs(more or {}) do out[#out + 1] = r end
  return out
end

-- What the schema cannot say, in dependency order: a kind's resources may refer to those of
-- kinds before it (a group's members, users, excepted: memberships come after both).
local DEFS = {
  { name = "account", Kind = "Account", singleton = true, key = function(res) return res.id end },
  { name = "projects", Kind = "Project", key = spec_field("display_name") },
  { name = "custom_roles", Kind = "CustomRole", key = spec_field("name") },
  { name = "connectivity_rules", Kind = "ConnectivityRule", key = rule_key,
    refs = { { path = "project_id", to = "projects" } } },
  { name = "namespaces", Kind = "Namespace", key = spec_field("name"),
    -- FailoverNamespaceRegion changes it; it is no part of the spec.
    also_compared = { "active_region" },
    refs = { { path = "project_id", to = "projects" },
             { path = "spec.connectivity_rule_ids[]", to = "connectivity_rules" } } },
  { name = "namespace_export_sinks", Kind = "NamespaceExportSink",
    key = function(res, name_of) return name_of("namespaces", res.namespace or "") .. "/" .. (res.name or "") end,
    refs = { { path = "namespace", to = "namespaces" } } },
  { name = "nexus_endpoints", Kind = "NexusEndpoint", key = spec_field("name"),
    refs = { { path = "project_id", to = "projects" },
             { path = "spec.target_spec.worker_target_spec.namespace_id", to = "namespaces" },
             { path = "spec.policy_specs[].allowed_cloud_namespace_policy_spec.namespace_id", to = "namespaces" } } },
  { name = "user_groups", Kind = "UserGroup", key = spec_field("display_name"),
    members = { method = "GetUserGroupMembers", request_field = "group_id" },
    refs = with(ACCESS_REFS, { { path = "members[]", to = "users" } }) },
  { name = "users", Kind = "User", key = function(res) return lower(res.spec and res.spec.email) end,
    fold = { ["spec.email"] = true }, refs = ACCESS_REFS },
  { name = "service_accounts", Kind = "ServiceAccount", key = spec_field("name"),
    refs = with(ACCESS_REFS, {
      { path = "spec.namespace_scoped_access.namespace", to = "namespaces" },
      { path = "spec.project_scoped_access.project_id", to = "projects" },
      { path = "spec.project_scoped_access.namespace_accesses{}", to = "namespaces" } }) },
  -- API keys have no natural key (display names repeat): their id stands for one.
  { name = "api_keys", Kind = "ApiKey", key = function(res) return res.id end,
    refs = { { path = "spec.owner_id", to = owner_kind } } },
  { name = "account_audit_log_sinks", Kind = "AccountAuditLogSink", key = function(res) return res.name end },
}

local function fields_of(type_name)
  local d = describe(type_name)
  if not d or not d.fields then error("cloudops.kinds: the schema has no message " .. tostring(type_name)) end
  return d.fields
end

local function field_set(type_name)
  local set = {}
  for _, f in ipairs(fields_of(type_name)) do set[f.name] = f end
  return set
end

-- The request's id fields of method m (those that are not the spec, the version or the
-- operation id), in schema order; `skip` leaves out more (create's extras).
local function id_fields(m, skip)
  local ids = {}
  for _, f in ipairs(fields_of(m.input)) do
    if not NOT_IDS[f.name] and not (skip and skip[f.name]) then ids[#ids + 1] = f.name end
  end
  return ids
end

local function build(def, order)
  local kind = schema.snake_case(def.Kind)
  local get = schema.method("Get" .. def.Kind)
  if not get then error("cloudops.kinds: the schema has no Get" .. def.Kind) end
  local k = { name = def.name, kind = kind, order = order, singleton = def.singleton or nil,
              key = def.key, fold = def.fold or {}, refs = def.refs or {} }
  -- The resource: the one message field of the Get response.
  for _, f in ipairs(fields_of(get.output)) do
    if f.type == "message" and f.label ~= "repeated" then
      k.message, k.get = f.type_name, { method = get.name, field = f.name }
    end
  end
  local res_fields = field_set(k.message)
  k.spec = res_fields.spec and res_fields.spec.type_name
  k.get.ids = id_fields(get)
  -- A Get id field the resource lacks, beside one it has, names its parent (an export sink's
  -- namespace); a lone one is the resource's `id`.
  local own
  for _, f in ipairs(k.get.ids) do
    if res_fields[f] then own = f elseif #k.get.ids > 1 then k.parent_field = f end
  end
  k.id_field = own or (res_fields.id and "id") or nil
  local list = not def.singleton and schema.method("Get" .. def.Kind .. "s")
  if list then
    if not list.items then error("cloudops.kinds: Get" .. def.Kind .. "s is not paged") end
    k.list = { method = list.name, items = list.items, page_size = PAGE_SIZE }
    if k.parent_field then
      k.list.parent_field = k.parent_field
      for _, p in ipairs(DEFS) do
        if schema.method("Get" .. p.Kind) and id_fields(schema.method("Get" .. p.Kind))[1] == k.parent_field
           and p.name ~= def.name then
          k.list.parent = p.name
        end
      end
    end
  end
  -- Create, update and delete, where the API has them; create's fields outside the spec
  -- that the resource holds too (project_id, tags) are settable, not server-owned.
  local extras = {}
  local create = schema.method("Create" .. def.Kind)
  if create then
    local in_fields = field_set(create.input)
    local skip = {}
    for name in pairs(in_fields) do
      if res_fields[name] and not NOT_IDS[name] then extras[#extras + 1] = name; skip[name] = true end
    end
    sort(extras)
    k.create = { method = create.name, ids = id_fields(create, skip), extras = extras }
  end
  for _, op in ipairs { "update", "delete" } do
    local m = schema.method((op == "update" and "Update" or "Delete") .. def.Kind)
    if m then k[op] = { method = m.name, ids = id_fields(m) } end
  end
  -- What a snapshot entry holds beside the message's own fields.
  k.extras = {}
  if k.parent_field then k.extras[k.parent_field] = { kind = "id" } end
  if def.members then
    local m = schema.method(def.members.method)
    k.extras.members = { method = m.name, items = m.items, request_field = def.members.request_field,
                         page_size = PAGE_SIZE, kind = "ids" }
  end
  -- Compared: the spec, the settable extras, what dedicated RPCs change, and the entry's
  -- own extras; the rest of the message is the server's.
  k.compared = {}
  local compared = {}
  local function compare(name)
    if not compared[name] then compared[name] = true; k.compared[#k.compared + 1] = name end
  end
  if k.spec then compare("spec") end
  for _, name in ipairs(extras) do compare(name) end
  for _, name in ipairs(def.also_compared or {}) do compare(name) end
  local extra_names = {}
  for name in pairs(k.extras) do extra_names[#extra_names + 1] = name end
  sort(extra_names)
  for _, name in ipairs(extra_names) do compare(name) end
  k.server_owned = {}
  for name in pairs(res_fields) do
    if not compared[name] then k.server_owned[name] = true end
  end
  return k
end

kinds.list = {}
local by_name = {}
for i, def in ipairs(DEFS) do
  local k = build(def, i)
  kinds.list[i] = k
  by_name[k.name], by_name[k.kind] = k, k
end

--- The kind named "namespaces" or "namespace", or nil.
function kinds.get(name)
  return by_name[name]
end

--- The identity of a snapshot entry: the value its Get request names ("<ns id>/<name>" for
-- an export sink).
function kinds.id(k, res)
  local own = k.id_field and res[k.id_field]
  if k.parent_field then return tostring(res[k.parent_field]) .. "/" .. tostring(own) end
  return own
end
for _, k in ipairs(kinds.list) do
  k.id = function(res) return kinds.id(k, res) end
end

-- The value of request id field `f` for res: its parent's id, the field of that name, or
-- its id. Sinks whose update names them through the spec (spec.name) need no id beyond
-- their parent.
local function id_value(k, res, f)
  if f == k.parent_field then return res[f] end
  if res[f] ~= nil then return res[f] end
  return res[k.id_field or "id"]
end

--- The id fields of the request of k's operation `op` ("get", "create", "update",
-- "delete") for the snapshot entry res: { namespace = "dev.acct" }, ...
function kinds.request_ids(k, op, res)
  local m = k[op]
  if not m then error("cloudops.kinds: " .. k.kind .. " has no " .. tostring(op) .. " RPC", 2) end
  local req = {}
  for _, f in ipairs(m.ids) do req[f] = id_value(k, res, f) end
  return req
end

-- ---- references ------------------------------------------------------------------------------

-- A path is dot-separated field names; "name[]" is every element of a repeated field, and
-- "name{}" every key of a map field (the reference is the key).
local function split(path)
  local parts = {}
  for part in path:gmatch("[^.]+") do parts[#parts + 1] = part end
  return parts
end


local function map_path(t, parts, i, fn, to)
  if type(t) ~= "table" then return end
  local part = parts[i]
  local name, mark = part:match("^([%w_]+)(.*)$")
  local v = t[name]
  if v == nil then return end
  local last = i == #parts
  if mark == "[]" then
    if type(v) ~= "table" then return end
    for j = 1, #v do
      if last then v[j] = fn(to, v[j]) else map_path(v[j], parts, i + 1, fn, to) end
    end
  elseif mark == "{}" then
    if type(v) ~= "table" then return end
    local keys = {}
    for key in pairs(v) do keys[#keys + 1] = key end
    local out = {}
    for _, key in ipairs(keys) do
      local value = v[key]
      if not last then map_path(value, parts, i + 1, fn, to) end
      out[fn(to, key)] = value
    end
    t[name] = out
  elseif last then
    t[name] = fn(to, v)
  else
    map_path(v, parts, i + 1, fn, to)
  end
end

--- A copy of res with every reference v of kind k replaced by fn(to, v) (to: the kind name
-- referred to, "namespaces"), map keys included: ids to names for a desired state's form,
-- and back.
function kinds.map_refs(k, res, fn)
  local out = copy(res)
  for _, r in ipairs(k.refs) do
    local to = type(r.to) == "function" and r.to(res) or r.to
    map_path(out, split(r.path), 1, fn, to)
  end
  return out
end

--- A name_of(kind_name, id) function over a snapshot: the natural key of the resource of
-- that id (a user's email for a member), or the id itself when the snapshot lacks it.
function kinds.names(snap)
  local index = {}
  local function name_of(kind_name, id)
    local by_id = index[kind_name]
    if not by_id then
      by_id = {}
      index[kind_name] = by_id
      local k = by_name[kind_name]
      for _, res in ipairs(k and not k.singleton and snap[k.name] or {}) do
        by_id[kinds.id(k, res)] = res
      end
    end
    local res = by_id[id]
    if res == nil then return id end
    local key = by_name[kind_name].key(res, name_of)
    if key == nil or key == "" then return id end
    return key
  end
  return name_of
end

-- ---- the reads a snapshot sends ----------------------------------------------------------

--- Every RPC a snapshot may send: the kinds' list and get RPCs, their extras' lists, and
-- GetCurrentIdentity. Each is checked here to be a read (no async_operation_id).
kinds.READS = { GetCurrentIdentity = true }
for _, k in ipairs(kinds.list) do
  kinds.READS[k.get.method] = true
  if k.list then kinds.READS[k.list.method] = true end
  for _, e in pairs(k.extras) do if e.method then kinds.READS[e.method] = true end end
end
for name in pairs(kinds.READS) do
  local m = schema.method(name)
  if not m or m.mutation or not name:find("^Get") then
    error("cloudops.kinds: " .. name .. " is not a read")
  end
end

-- ---- desired state ---------------------------------------------------------------------------

-- Every kind made by a Create* from its spec, but the API keys (no natural key, and a secret
-- that exists only in the answer of the create) and the audit log sinks (account settings).
local NOT_DESIRED = { api_keys = true, account_audit_log_sinks = true }

local function has_delete_protection(spec_type)
  local lifecycle = spec_type and field_set(spec_type).lifecycle
  return lifecycle ~= nil and lifecycle.type_name ~= nil
    and field_set(lifecycle.type_name).enable_delete_protection ~= nil
end

kinds.DESIRED = {}
for _, k in ipairs(kinds.list) do
  if k.create and k.spec and not k.singleton and not NOT_DESIRED[k.name] then
    k.desired = true
    kinds.DESIRED[#kinds.DESIRED + 1] = k
    for _, f in ipairs(fields_of(schema.method(k.create.method).output)) do
      if f.type == "string" then k.create.result = f.name end
    end
    k.delete_protection = has_delete_protection(k.spec) or nil
  end
end

--- The names of every kind, in dependency order (for messages).
function kinds.names_list()
  local names = {}
  for i, k in ipairs(kinds.list) do names[i] = k.name end
  return concat(names, ", ")
end

return kinds
