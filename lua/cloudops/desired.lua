--- cloudops.desired: the desired-state form of an account (docs/reference.md "Desired state"):
-- what cloudops.plan and cloudops.apply take and `cloudops export` writes.
--
--   local desired = require "cloudops.desired"
--   local state, kinds_listed = desired.check(d)       -- or nil, message
--   local d = assert(desired.load("account.json"))     -- JSON (proto3 mapping) or a .lua file
--   local d = assert(desired.export(client))           -- the account as it is, in this form
--   io.write(desired.encode(d))                        -- stable JSON
--
-- A desired state `d` holds arrays by kind (cloudops.kinds.DESIRED: projects, custom_roles,
-- connectivity_rules, namespaces, namespace_export_sinks, nexus_endpoints, user_groups, users,
-- service_accounts); each entry is that kind's Spec message as create_* takes it, plus the
-- create request's fields outside the spec (`project_id`, a namespace's `tags`), a group's
-- `members` (user emails); an export sink is `{ namespace = name, spec = ExportSinkSpec }`.
-- Names stand for ids wherever the API takes ids (kinds' refs). A field an entry leaves out is
-- left as it is; a map it gives (an access map, tags) is the whole map.
--
-- desired.check(d) -> state, listed | nil, message: the entries in the form of a snapshot's
--   resources (`{ spec =, project_id =, tags =, members = }`, an export sink `{ namespace,
--   name, spec }`), a user's email and members lowercased as their natural keys are, enums by
--   name, each a copy; `listed`: the kind names d holds, in dependency order.
-- desired.decode(text) -> d | nil, err: from JSON (kinds snake_case or lowerCamelCase; each
--   entry in the proto3 JSON mapping, `projectId` or `project_id`).
-- desired.load(path) -> d | nil, err: a JSON file, or a Lua file (*.lua) returning the table.
-- desired.from_snapshot(snap, { kinds = nil }) -> d: a snapshot's resources in this form,
--   references by name, entries sorted by natural key, deprecated fields left out (where
--   their successor is set), resources being deleted left out.
-- desired.encode(d) -> JSON text: kinds in dependency order, each entry's spec fields in
--   field-number order then its other fields; raises for what check refuses.
-- desired.export(client, { kinds = nil, concurrency = 8 }) -> d, nil, { unreadable = {...} }
--   | nil, err: a snapshot (reads only) of the kinds asked for, and of those their references
--   name, in this form. Kinds the key may not read are left out (listed in `unreadable`),
--   unless they were asked for by name: then it fails.
local kinds = require "cloudops.kinds"
local core = require "cloudops.core"
local json = require "cloudops.json"
local types = require "cloudops.json.types"
local decoder = require "cloudops.json.decode"
local deep_copy = require "cloudops.deep_copy"

local ipairs, pairs, type, tostring, pcall, error, next = ipairs, pairs, type, tostring, pcall, error, next
local sort, concat = table.sort, table.concat
local format = string.format
local null, empty_array = core.null, core.empty_array

local desired = {}

local SINKS = "namespace_export_sinks"
local GONE = { RESOURCE_STATE_DELETING = true, RESOURCE_STATE_DELETED = true }

local function camel(name)
  return (name:gsub("_(%l)", function(c) return c:upper() end))
end

-- The desired kinds by name, by lowerCamelCase name, and by singular kind.
local KINDS = {}
local KIND_NAMES = {}
for _, k in ipairs(kinds.DESIRED) do
  KINDS[k.name], KINDS[camel(k.name)], KINDS[k.kind] = k, k, k
  KIND_NAMES[#KIND_NAMES + 1] = k.name
end
desired.KIND_NAMES = concat(KIND_NAMES, ", ")

--- The desired kind named "namespaces", "namespace" or "userGroups", or nil.
function desired.kind(name)
  return type(name) == "string" and KINDS[name] or nil
end

-- What an entry holds beside its spec's fields: field -> "string" | "tags" | "emails".
local EXTRA_TYPES = { project_id = "string", tags = "tags" }
local function extras_of(k)
  local set = {}
  for _, f in ipairs(k.create.extras) do set[f] = EXTRA_TYPES[f] or "string" end
  if k.extras.members then set.members = "emails" end
  return set
end

-- The natural key's field, for messages about an entry that lacks it.
local KEY_FIELD = {
  projects = "display_name", custom_roles = "name", namespaces = "name", nexus_endpoints = "name",
  user_groups = "display_name", users = "email", service_accounts = "name",
}

local function lower(s) return type(s) == "string" and s:lower() or s end

--- How a reference to a resource of kind `to` is written to match its natural key: a user's
-- email lowercased, any other name as it is.
function desired.canonical(to, name)
  if to == "users" then return lower(name) end
  return name
end

-- ---- schema walks ----------------------------------------------------------------------------


-- A copy of message t of type `type_name` with enums given by number named (so that they
-- compare with what reads return), and, with `drop`, the deprecated fields whose successor is
-- set left out (drop(m, t) -> set of field names to leave out).
local function canon(type_name, t, drop)
  local m = types.message(type_name)
  if not m or type(t) ~= "table" or types.WKT[m.name] then return deep_copy(t) end
  local skip = drop and drop(m, t) or {}
  local out = {}
  for key, v in pairs(t) do
    local f = m.by_name[key]
    if skip[key] then
      out[key] = nil
    elseif f then
      local function one(x)
        if f.type == "enum" and type(x) == "number" then return types.enum(f.type_name).by_number[x] or x end
        if f.type == "message" then return canon(f.type_name, x, drop) end
        return x
      end
      if f.label == "repeated" or f.label == "map" then
        local c = {}
        for i, x in pairs(v) do c[i] = one(x) end
        out[key] = c
      else
        out[key] = one(v)
      end
    else
      out[key] = deep_copy(v)  -- _unknown: kept as it is
    end
  end
  return out
end

-- Deprecated fields and what replaced them (the schema's comments say so); a field named
-- *_deprecated is replaced by the field of the name without the suffix.
local SUCCESSOR = {
  ["temporal.api.cloud.namespace.v1.NamespaceSpec"] = { regions = "replicas",
    custom_search_attributes = "search_attributes" },
}

local function is_set(v)
  if v == nil or v == false or v == "" or v == 0 then return false end
  if type(v) == "table" and next(v) == nil then return false end
  return true
end

local function deprecated(m, t)
  local skip = {}
  local named = SUCCESSOR[m.name] or {}
  for key in pairs(t) do
    local successor = named[key] or key:match("^(.*)_deprecated$")
    if key == "_unknown" or (successor and m.by_name[successor] and (is_set(t[successor]) or not is_set(t[key]))) then
      skip[key] = true
    end
  end
  return skip
end

-- ---- check -----------------------------------------------------------------------------------

local function is_array(v)
  if v == empty_array then return true end
  if type(v) ~= "table" then return false end
  for key in pairs(v) do
    if type(key) ~= "number" then return false end
  end
  return true
end

-- The spec part of an entry checked against the schema: a normalized copy, or nil, message.
local function spec_of(k, t, where)
  local ok, err = pcall(core.encode, k.spec, t)
  if not ok then return nil, where .. (tostring(err):match("^[%w_]+([:.%[].*)$") or (": " .. tostring(err))) end
  return canon(k.spec, t)
end

local function check_extra(kind, v, where)
  if kind == "string" then
    if type(v) ~= "string" then return nil, where .. ": expected a name, got " .. type(v) end
    return v
  elseif kind == "tags" then
    if type(v) ~= "table" or v == empty_array then return nil, where .. ": expected a table of tags" end
    local out = {}
    for key, x in pairs(v) do
      if type(key) ~= "string" or type(x) ~= "string" then
        return nil, where .. ": tags are strings, keys and values"
      end
      out[key] = x
    end
    return out
  end
  if not is_array(v) then return nil, where .. ": expected a list of user emails" end
  local out = {}
  for i, x in ipairs(v == empty_array and {} or v) do
    if type(x) ~= "string" or x == "" then return nil, format("%s[%d]: expected a user's email", where, i) end
    out[i] = x:lower()
  end
  return out
end

-- An export sink entry holds its namespace and its spec, nothing else: true, or nil, message.
local function sink_keys(e, where)
  for key in pairs(e) do
    if key ~= "namespace" and key ~= "spec" then
      return nil, where .. ": an export sink is { namespace = name, spec = ExportSinkSpec }, not '"
        .. tostring(key) .. "'"
    end
  end
  return true
end

-- One entry in the resource form, or nil, message.
local function entry(k, e, where)
  if type(e) ~= "table" or e == empty_array then
    return nil, where .. ": expected a table (a " .. k.spec:match("[^.]+$") .. ")"
  end
  if k.name == SINKS then
    local ok, kerr = sink_keys(e, where)
    if not ok then return nil, kerr end
    if type(e.namespace) ~= "string" or e.namespace == "" then
      return nil, where .. ".namespace: the namespace's name is required"
    end
    if type(e.spec) ~= "table" then return nil, where .. ".spec: an ExportSinkSpec is required" end
    local spec, err = spec_of(k, e.spec, where .. ".spec")
    if not spec then return nil, err end
    if type(spec.name) ~= "string" or spec.name == "" then
      return nil, where .. ".spec.name: the sink's name is required"
    end
    return { namespace = e.namespace, name = spec.name, spec = spec }
  end
  local extra = extras_of(k)
  local spec, res = {}, {}
  for key, v in pairs(e) do
    if extra[key] then
      local x, err = check_extra(extra[key], v, where .. "." .. tostring(key))
      if x == nil then return nil, err end
      res[key] = x
    else
      spec[key] = v
    end
  end
  local err
  res.spec, err = spec_of(k, spec, where)
  if not res.spec then return nil, err end
  local key_field = KEY_FIELD[k.name]
  if key_field and not is_set(res.spec[key_field]) then
    return nil, where .. ": " .. key_field .. " is required (it names the " .. k.kind:gsub("_", " ") .. ")"
  end
  if k.name == "connectivity_rules" and not (res.spec.public_rule or res.spec.private_rule) then
    return nil, where .. ": public_rule or private_rule is required"
  end
  return res
end

local function by_order(a, b) return kinds.get(a).order < kinds.get(b).order end

local function same_name(_, v) return v end

--- The entries of desired state d in the resource form, and the kinds d lists; or nil, message.
function desired.check(d)
  if type(d) ~= "table" or d == empty_array then
    return nil, "a desired state is a table of arrays by kind (" .. desired.KIND_NAMES .. "), got " .. type(d)
  end
  local state, listed = {}, {}
  for name, list in pairs(d) do
    local k = desired.kind(name)
    if not k or name == k.kind then
      return nil, "unknown kind '" .. tostring(name) .. "' in the desired state (one of: " .. desired.KIND_NAMES .. ")"
    end
    if state[k.name] then return nil, "kind " .. k.name .. " is given twice" end
    if not is_array(list) then return nil, k.name .. ": expected an array of entries" end
    local out, seen = {}, {}
    for i, e in ipairs(list == empty_array and {} or list) do
      local where = format("%s[%d]", k.name, i)
      local res, err = entry(k, e, where)
      if not res then return nil, err end
      local key = k.key(res, same_name)
      if seen[key] then
        return nil, format("%s: %s is there twice (also %s[%d])", where, tostring(key), k.name, seen[key])
      end
      seen[key] = i
      out[i] = res
    end
    state[k.name] = out
    listed[#listed + 1] = k.name
  end
  sort(listed, by_order)
  return state, listed
end

-- ---- JSON ------------------------------------------------------------------------------------

local JSON_EXTRA = { projectId = "project_id", project_id = "project_id", tags = "tags", members = "members" }

local function spec_from_json(k, v, where)
  if v == nil or v == null then return nil end
  if type(v) ~= "table" or v == empty_array then return nil, where .. ": expected an object" end
  local t, err = decoder.message(types.message(k.spec), v)
  if not t then return nil, where .. (tostring(err):match("^[%w_]+([:.%[].*)$") or (": " .. tostring(err))) end
  return t
end

local function plain_list(v)
  if v == empty_array then return {} end
  return v
end

--- The desired state in JSON text, or nil, err.
function desired.decode(text)
  if type(text) ~= "string" then error("cloudops.desired.decode expects JSON text, got " .. type(text), 2) end
  local doc, err = json.decode_value(text)
  if doc == nil then return nil, "not JSON: " .. tostring(err) end
  if type(doc) ~= "table" or doc == empty_array or doc[1] ~= nil then
    return nil, "a desired state is an object of arrays by kind (" .. desired.KIND_NAMES .. ")"
  end
  local d = {}
  for name, list in pairs(doc) do
    local k = desired.kind(name)
    if not k or name == k.kind then
      return nil, "unknown kind '" .. tostring(name) .. "' (one of: " .. desired.KIND_NAMES .. ")"
    end
    if not is_array(list) then return nil, tostring(name) .. ": expected an array" end
    local out = {}
    for i, e in ipairs(plain_list(list)) do
      local where = format("%s[%d]", k.name, i)
      if type(e) ~= "table" or e == empty_array then return nil, where .. ": expected an object" end
      local x
      if k.name == SINKS then
        x = { namespace = e.namespace ~= null and e.namespace or nil }
        local ok, kerr = sink_keys(e, where)
        if not ok then return nil, kerr end
        local spec, serr = spec_from_json(k, e.spec, where .. ".spec")
        if serr then return nil, serr end
        x.spec = spec
      else
        local rest = {}
        x = {}
        for key, v in pairs(e) do
          local f = JSON_EXTRA[key]
          if f and extras_of(k)[f] then
            if v ~= null then x[f] = f == "members" and plain_list(v) or v end
          else
            rest[key] = v
          end
        end
        local spec, serr = spec_from_json(k, rest, where)
        if serr then return nil, serr end
        for f, v in pairs(spec) do x[f] = v end
      end
      out[i] = x
    end
    d[k.name] = out
  end
  return d
end

--- The desired state in file `path`: JSON, or a Lua file (*.lua) returning the table.
function desired.load(path)
  if type(path) ~= "string" or path == "" then error("cloudops.desired.load expects a path", 2) end
  if path:find("%.lua$") then
    -- Its own globals (reading the standard ones), so that the file cannot change ours.
    local chunk, err = loadfile(path, "t", setmetatable({}, { __index = _G }))
    if not chunk then return nil, err end
    local ok, d = pcall(chunk)
    if not ok then return nil, path .. ": " .. tostring(d) end
    if type(d) ~= "table" then return nil, path .. ": expected the file to return a table, got " .. type(d) end
    return d
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local d, derr = desired.decode(text or "")
  if not d then return nil, path .. ": " .. tostring(derr) end
  return d
end

-- The JSON text of one entry (Lua form) of kind k, indented by pad.
local function entry_text(k, e, pad)
  local text
  if k.name == SINKS then
    local spec = assert(json.encode(k.spec, e.spec, { indent = 2 }))
    text = format("{\n  \"namespace\": %s,\n  \"spec\": %s\n}", json.encode_value(e.namespace),
      (spec:gsub("\n", "\n  ")))
  else
    local extra = extras_of(k)
    local spec, parts = {}, {}
    for key, v in pairs(e) do
      if not extra[key] then spec[key] = v end
    end
    text = assert(json.encode(k.spec, spec, { indent = 2 }))
    for _, f in ipairs { "project_id", "tags", "members" } do
      local v = extra[f] and e[f]
      if v ~= nil then
        if f == "members" and #v == 0 then v = empty_array end
        parts[#parts + 1] = format("  %s: %s", json.encode_value(camel(f)),
          (assert(json.encode_value(v, { indent = 2 })):gsub("\n", "\n  ")))
      end
    end
    if #parts > 0 then
      local body = text:match("^{(.*)\n}$")
      text = "{" .. (body and body .. "," or "") .. "\n" .. concat(parts, ",\n") .. "\n}"
    end
  end
  return (text:gsub("\n", "\n" .. pad))
end

--- The JSON text of desired state d (stable: kinds in dependency order, entries as given).
function desired.encode(d)
  local state, listed = desired.check(d)
  if not state then error("cloudops.desired.encode: " .. tostring(listed), 2) end
  local out = {}
  for _, name in ipairs(listed) do
    local k = kinds.get(name)
    local list = d[name] ~= nil and d[name] or d[camel(name)]
    local items = {}
    for i, e in ipairs(list == empty_array and {} or list) do items[i] = "    " .. entry_text(k, e, "    ") end
    out[#out + 1] = format("  %s: %s", json.encode_value(name), #items == 0 and "[]"
      or "[\n" .. concat(items, ",\n") .. "\n  ]")
  end
  if #out == 0 then return "{}\n" end
  return "{\n" .. concat(out, ",\n") .. "\n}\n"
end

-- ---- from a snapshot -------------------------------------------------------------------------

--- The desired state a snapshot's resources make (every desired kind it holds, or those of
-- opts.kinds).
function desired.from_snapshot(snap, opts)
  if type(snap) ~= "table" then error("cloudops.desired.from_snapshot expects a snapshot, got " .. type(snap), 2) end
  local only
  if opts and opts.kinds then
    only = {}
    for _, name in ipairs(opts.kinds) do
      local k = desired.kind(name)
      if not k then
        error("cloudops.desired: unknown kind '" .. tostring(name) .. "' (one of: " .. desired.KIND_NAMES .. ")", 2)
      end
      only[k.name] = true
    end
  end
  local unread = {}
  for _, u in ipairs(snap.unreadable or {}) do unread[u.kind] = true end
  local name_of = kinds.names(snap)
  local function named(to, v)
    if type(v) ~= "string" or v == "" then return v end
    return name_of(to, v)
  end
  local d = {}
  for _, k in ipairs(kinds.DESIRED) do
    if (not only or only[k.name]) and snap[k.name] ~= nil and not unread[k.name] then
      local rows = {}
      for _, res in ipairs(snap[k.name]) do
        if not GONE[res.state] then
          local r = kinds.map_refs(k, res, named)
          local spec = canon(k.spec, r.spec or {}, deprecated)
          local e
          if k.name == SINKS then
            e = { namespace = r.namespace, spec = spec }
          else
            e = spec
            for f in pairs(extras_of(k)) do
              local v = r[f]
              if f == "members" then
                if type(v) == "table" then
                  e.members = {}
                  for i, m in ipairs(v) do e.members[i] = m end
                  sort(e.members)
                end
              elseif is_set(v) then
                e[f] = deep_copy(v)
              end
            end
          end
          rows[#rows + 1] = { key = tostring(k.key(r, same_name)), entry = e }
        end
      end
      sort(rows, function(a, b) return a.key < b.key end)
      local list = {}
      for i, row in ipairs(rows) do list[i] = row.entry end
      d[k.name] = list
    end
  end
  return d
end

--- The kinds a snapshot must read for kinds `names` to be written by name: those, and every
-- kind their references (and those kinds' natural keys) name.
function desired.kinds_to_read(names)
  local want, out = {}, {}
  local function add(name)
    if want[name] then return end
    want[name] = true
    local k = kinds.get(name)
    for _, r in ipairs(k.refs) do
      if type(r.to) == "string" then add(r.to) end
    end
    -- A connectivity rule's natural key names its project.
    if name == "connectivity_rules" then add("projects") end
  end
  for _, name in ipairs(names) do add(kinds.get(name).name) end
  for _, k in ipairs(kinds.list) do if want[k.name] then out[#out + 1] = k.name end end
  return out
end

--- The account in the desired form: see the header.
function desired.export(client, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("cloudops.desired.export: options must be a table", 2) end
  for key in pairs(opts) do
    if key ~= "kinds" and key ~= "concurrency" then
      error("cloudops.desired.export: unknown option '" .. tostring(key) .. "'", 2)
    end
  end
  local asked = opts.kinds
  local names = {}
  for _, name in ipairs(asked or KIND_NAMES) do
    local k = desired.kind(name)
    if not k then
      error("cloudops.desired.export: unknown kind '" .. tostring(name) .. "' (one of: " .. desired.KIND_NAMES
        .. ")", 2)
    end
    names[#names + 1] = k.name
  end
  local snap, err = require("cloudops.snapshot")(client, { kinds = desired.kinds_to_read(names),
                                                           concurrency = opts.concurrency })
  if not snap then return nil, err end
  local unreadable = {}
  local wanted = {}
  for _, name in ipairs(names) do wanted[name] = true end
  for _, u in ipairs(snap.unreadable) do
    if wanted[u.kind] then
      if asked then
        return nil, format("cannot read %s: %s %s", u.kind, tostring(u.code), tostring(u.message or ""))
      end
      unreadable[#unreadable + 1] = u
    end
  end
  return desired.from_snapshot(snap, { kinds = names }), nil, { unreadable = unreadable }
end

return desired
