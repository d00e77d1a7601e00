--- cloudops.changes: the one diff of two account states kind by kind, the one renderer of a plan
-- (text and JSON), and the one exit-status rule (0 nothing / 2 changes / 1 failed), behind
-- cloudops.diff, cloudops.rehearse, cloudops.plan and their commands (docs/reference.md
-- "Rehearsal").
--
--   local changes = require "cloudops.changes"
--   local list = changes.diff(before, after)                 -- two snapshots (or states)
--   io.write(changes.text{ changes = list })                 -- the plan's text form
--   os.exit(changes.exit_status{ changes = list })           -- 0 or 2 (1: plan.failed)
--
-- A state is a table of arrays by kind name (a snapshot: `namespaces`, `users`, ...; `account`
-- is one table), each entry a resource as its Get* RPC returns it plus the kind's extras
-- (cloudops.kinds); a kind listed in either state's `unreadable` is not compared. A change
-- (docs/reference.md "Rehearsal"):
--   { kind = "namespace", id = "dev.acct", name = "dev", action = "create"|"update"|"delete",
--     fields = { { path = "spec.retention_days", before = 7, after = 14 }, ... } }
-- Only the kind's `compared` fields count (the spec, what requests set beside it, the extras);
-- what the server owns (versions, states, times) never does. Values are in the proto3 JSON
-- form with proto field names (enums by name, times as RFC 3339), nil where absent; a field at
-- its default equals one left out. References by id (a namespace in an access map, a group's
-- members, a project_id) are shown by the natural key of what they name, as a desired state
-- writes them. Paths: field names joined by ".", a map's key in brackets
-- (`spec.access.namespace_accesses[dev].permission`); a repeated field is compared whole.
-- For a create every field set is listed (before nil), for a delete every field it had.
--
-- changes.diff(before, after, opts) -> array of changes, in dependency order of their kinds,
--   by name within a kind. opts: match = "id" (default: the same resource across two reads of
--   one account) or "key" (by natural key: a desired state against the account); partial =
--   true (compare only the fields `after` gives: a desired entry leaves the rest as it is);
--   prune = true (with partial: also delete what `after` does not name; without partial,
--   deletes are always listed); whole_maps = true (with partial: a map field `after` gives is
--   compared whole, a key only `before` has being a change, as a desired state's
--   namespace_accesses or tags say all there is); kinds = { "users", ... } (only these);
--   name_of = { before = fn|false, after = fn|false }
--   (how references are named; default kinds.names of each state, false: leave them as they
--   are, for a state already written with names).
-- changes.compare(k, before_res, after_res, opts) -> fields: one resource pair (either side
--   nil), entries already in the form to compare (references named); opts.partial and
--   opts.whole_maps as above.
-- changes.count(list) -> { create = n, update = n, delete = n }
-- changes.text(plan) -> the text form: changes grouped by kind, `+` create, `~` update, `-`
--   delete, one line per changed field (none under a delete); then, where the plan has them,
--   the mutations sent, the errors met and the summary.
-- changes.json(plan) -> the JSON form (for --json): the plan's fields, keys sorted.
-- changes.exit_status(plan) -> 1 when plan.failed, else 2 when it changes anything (a change,
--   or a mutation whose operation did not fail), else 0: `terraform plan -detailed-exitcode`.
local kinds = require "cloudops.kinds"
local core = require "cloudops.core"

local ipairs, pairs, type, tostring, error, next = ipairs, pairs, type, tostring, error, next
local sort, concat = table.sort, table.concat
local format = string.format

local changes = {}

-- ---- values --------------------------------------------------------------------------------

local fields_cache = {}
local function fields_of(type_name)
  local fs = fields_cache[type_name]
  if not fs then
    local d = core.describe(type_name)
    fs = d and d.fields or {}
    fields_cache[type_name] = fs
  end
  return fs
end

local enum_zero = {}
local function zero_of(enum_name)
  local z = enum_zero[enum_name]
  if z == nil then
    z = false
    local d = core.describe(enum_name)
    for _, v in ipairs(d and d.values or {}) do if v.number == 0 then z = v.name end end
    enum_zero[enum_name] = z
  end
  return z
end

local WKT = {
  ["google.protobuf.Timestamp"] = true, ["google.protobuf.Duration"] = true,
  ["google.protobuf.Struct"] = true, ["google.protobuf.Value"] = true,
  ["google.protobuf.ListValue"] = true, ["google.protobuf.Any"] = true,
}

local json -- cloudops.json, loaded on first use (it needs lua-cjson)
local function json_module()
  json = json or require "cloudops.json"
  return json
end

-- A scalar at its default is absent (proto3); an enum's zero value too.
local function scalar(f, v)
  if v == nil or v == "" or v == false or v == 0 then return nil end
  if f.type == "enum" and v == zero_of(f.type_name) then return nil end
  if f.type == "bytes" then return require("cloudops.json.base64").encode(v) end
  return v
end

-- One value of field f (an element, for repeated and map fields) in its JSON form.
local function plain(f, v)
  if v == nil then return nil end
  if f.type ~= "message" then return scalar(f, v) end
  local j = json_module()
  local text = j.encode(f.type_name, v, { proto_names = true })
  if not text then return nil end
  local value = j.decode_value(text)
  if type(value) == "table" and next(value) == nil then return {} end
  return value
end

local function list_plain(f, list)
  if list == nil or #list == 0 then return nil end
  local out = {}
  for i = 1, #list do out[i] = plain(f, list[i]) end
  return out
end

local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function key_text(k)
  return type(k) == "string" and k or tostring(k)
end

local function sorted_keys(a, b)
  local keys, seen = {}, {}
  for _, t in ipairs { a or {}, b or {} } do
    for k in pairs(t) do
      if not seen[k] then seen[k] = true; keys[#keys + 1] = k end
    end
  end
  sort(keys, function(x, y)
    if type(x) == type(y) then return x < y end
    return type(x) < type(y)
  end)
  return keys
end

-- ---- the diff of one resource ----------------------------------------------------------------

-- ctx: { out = fields, partial = bool, fold = set of paths }
local function leaf(ctx, path, before, after)
  if ctx.fold[path] then
    if type(before) == "string" and type(after) == "string" and before:lower() == after:lower() then return end
  end
  if not same(before, after) then
    ctx.out[#ctx.out + 1] = { path = path, before = before, after = after }
  end
end

local message_diff -- forward

local function field_diff(ctx, f, path, a, b)
  if ctx.partial and b == nil then return end
  if f.label == "repeated" then
    leaf(ctx, path, list_plain(f, a), list_plain(f, b))
  elseif f.label == "map" then
    for _, key in ipairs(sorted_keys(a, b)) do
      local p = path .. "[" .. key_text(key) .. "]"
      local va, vb = a and a[key], b and b[key]
      if not (ctx.partial and vb == nil and not (ctx.whole_maps and b ~= nil)) then
        if f.type == "message" and not WKT[f.type_name] then
          -- A key present on one side only is a change even when its value is empty.
          if (va == nil) ~= (vb == nil) then
            ctx.out[#ctx.out + 1] = { path = p, before = plain(f, va), after = plain(f, vb) }
          else
            message_diff(ctx, f.type_name, p, va, vb)
          end
        else
          leaf(ctx, p, plain(f, va), plain(f, vb))
        end
      end
    end
  elseif f.type == "message" and not WKT[f.type_name] then
    local n = #ctx.out
    message_diff(ctx, f.type_name, path, a, b)
    -- One member of a oneof set instead of none (or another): its presence is the change,
    -- even when it holds nothing (a Cloud group's cloud_group = {}).
    if #ctx.out == n and f.oneof and (a == nil) ~= (b == nil) then
      ctx.out[#ctx.out + 1] = { path = path, before = plain(f, a), after = plain(f, b) }
    end
  else
    leaf(ctx, path, plain(f, a), plain(f, b))
  end
end

function message_diff(ctx, type_name, path, a, b)
  if a == nil and b == nil then return end
  for _, f in ipairs(fields_of(type_name)) do
    field_diff(ctx, f, path == "" and f.name or path .. "." .. f.name, a and a[f.name], b and b[f.name])
  end
end

local ID_FIELD = { type = "string" }

--- The field changes between two entries of kind k (either may be nil).
function changes.compare(k, a, b, opts)
  local ctx = { out = {}, partial = opts and opts.partial or false, fold = k.fold,
                whole_maps = opts and opts.whole_maps or false }
  local top = {}
  for _, f in ipairs(fields_of(k.message)) do top[f.name] = f end
  for _, name in ipairs(k.compared) do
    local va, vb = a and a[name], b and b[name]
    local extra = k.extras[name]
    if top[name] then
      field_diff(ctx, top[name], name, va, vb)
    elseif extra and not (ctx.partial and vb == nil) then
      if extra.kind == "ids" then
        -- A set: compared, and shown, sorted.
        local sa, sb
        if va and #va > 0 then sa = {}; for i, v in ipairs(va) do sa[i] = v end; sort(sa) end
        if vb and #vb > 0 then sb = {}; for i, v in ipairs(vb) do sb[i] = v end; sort(sb) end
        leaf(ctx, name, sa, sb)
      else
        leaf(ctx, name, scalar(ID_FIELD, va), scalar(ID_FIELD, vb))
      end
    end
  end
  return ctx.out
end

-- ---- the diff of two states ------------------------------------------------------------------

-- The entries of kind k in a state, as an array.
local function entries(state, k)
  local v = state and state[k.name]
  if v == nil then return {} end
  if k.singleton then return { v } end
  return v
end

-- A resource being deleted is gone, as far as a plan is concerned.
local GONE = { RESOURCE_STATE_DELETING = true, RESOURCE_STATE_DELETED = true }

local function index(k, list, match, name_of)
  local by, order = {}, {}
  for _, res in ipairs(list) do
    if not GONE[res.state] then
      local id = match == "key" and k.key(res, name_of or function(_, x) return x end) or k.id(res)
      if id ~= nil and by[id] == nil then
        by[id] = res
        order[#order + 1] = id
      end
    end
  end
  return by, order
end

local function named(k, res, name_of)
  if res == nil or not name_of then return res end
  return kinds.map_refs(k, res, function(to, v)
    if type(v) ~= "string" or v == "" then return v end
    return name_of(to, v)
  end)
end

local ACTION_ORDER = { create = 1, update = 2, delete = 3 }

--- The changes that turn state `before` into state `after`, kind by kind.
function changes.diff(before, after, opts)
  opts = opts or {}
  if type(before) ~= "table" or type(after) ~= "table" then
    error("changes.diff expects two states (tables), got " .. type(before) .. " and " .. type(after), 2)
  end
  local match = opts.match or "id"
  if match ~= "id" and match ~= "key" then error("changes.diff: match must be \"id\" or \"key\"", 2) end
  local only
  if opts.kinds then
    only = {}
    for _, name in ipairs(opts.kinds) do
      local k = kinds.get(name)
      if not k then
        error("changes.diff: unknown kind '" .. tostring(name) .. "' (one of: " .. kinds.names_list() .. ")", 2)
      end
      only[k.name] = true
    end
  end
  local names = opts.name_of or {}
  local name_before = names.before
  if name_before == nil then name_before = kinds.names(before) end
  local name_after = names.after
  if name_after == nil then name_after = kinds.names(after) end
  -- A kind either state could not read is not compared: its empty list says nothing.
  local unread = {}
  for _, state in ipairs { before, after } do
    for _, u in ipairs(type(state.unreadable) == "table" and state.unreadable or {}) do
      if type(u) == "table" and u.kind then unread[u.kind] = true end
    end
  end
  local out = {}
  for _, k in ipairs(kinds.list) do
    if (not only or only[k.name]) and not unread[k.name] then
      local a, a_order = index(k, entries(before, k), match, name_before or nil)
      local b, b_order = index(k, entries(after, k), match, name_after or nil)
      local group = {}
      local function add(action, id, ra, rb, fields)
        local res = rb or ra
        local name = k.key(res, (rb and name_after or name_before) or function(_, x) return x end)
        -- The id is the account's: a desired entry has none.
        local rid = (ra and k.id(ra)) or (rb and k.id(rb)) or id
        group[#group + 1] = { kind = k.kind, id = rid, name = name, action = action, fields = fields }
      end
      for _, id in ipairs(b_order) do
        local rb = named(k, b[id], name_after)
        if a[id] == nil then
          add("create", id, nil, b[id], changes.compare(k, nil, rb))
        else
          local fields = changes.compare(k, named(k, a[id], name_before), rb, opts)
          if #fields > 0 then add("update", id, a[id], b[id], fields) end
        end
      end
      if not opts.partial or opts.prune then
        for _, id in ipairs(a_order) do
          if b[id] == nil then add("delete", id, a[id], nil, changes.compare(k, named(k, a[id], name_before), nil)) end
        end
      end
      sort(group, function(x, y)
        local nx, ny = tostring(x.name), tostring(y.name)
        if nx ~= ny then return nx < ny end
        if x.action ~= y.action then return ACTION_ORDER[x.action] < ACTION_ORDER[y.action] end
        return tostring(x.id) < tostring(y.id)
      end)
      for _, c in ipairs(group) do out[#out + 1] = c end
    end
  end
  return out
end

--- { create = n, update = n, delete = n } of a list of changes.
function changes.count(list)
  local n = { create = 0, update = 0, delete = 0 }
  for _, c in ipairs(list or {}) do n[c.action] = (n[c.action] or 0) + 1 end
  return n
end

-- ---- the exit status -------------------------------------------------------------------------

local FAILED_OPERATION = { STATE_FAILED = true, STATE_REJECTED = true, STATE_CANCELLED = true }

--- Whether a mutation of the plan's calls took effect, or may yet: answered OK, and its
-- operation not ended FAILED, REJECTED or CANCELLED.
local function mutated(call)
  return (call.code == nil or call.code == "OK" or call.code == 0)
    and not FAILED_OPERATION[call.operation_state or ""]
end

--- 1 when the plan failed, 2 when it changes something, 0 when it changes nothing.
function changes.exit_status(plan)
  if type(plan) ~= "table" or plan.failed then return 1 end
  if plan.changes and #plan.changes > 0 then return 2 end
  for _, call in ipairs(plan.calls or {}) do
    if call.mutation ~= false and mutated(call) then return 2 end
  end
  return 0
end

-- ---- text ------------------------------------------------------------------------------------

local function show(v)
  if v == nil then return "(none)" end
  return json_module().encode_value(v) or tostring(v)
end

local SIGN = { create = "+", update = "~", delete = "-" }

--- "1 call", "2 calls": n and the word, plural past one.
function changes.counted(n, word)
  return format("%d %s%s", n, word, n == 1 and "" or "s")
end

local function count_line(n)
  return format("%d to create, %d to update, %d to delete", n.create, n.update, n.delete)
end

local function changes_text(out, list)
  local by_kind, kinds_seen = {}, {}
  for _, c in ipairs(list) do
    if not by_kind[c.kind] then by_kind[c.kind] = {}; kinds_seen[#kinds_seen + 1] = c.kind end
    local group = by_kind[c.kind]
    group[#group + 1] = c
  end
  if #list == 0 then
    out[#out + 1] = "No changes."
    return
  end
  for _, kind in ipairs(kinds_seen) do
    out[#out + 1] = ""
    out[#out + 1] = kind
    for _, c in ipairs(by_kind[kind]) do
      local label = tostring(c.name)
      if c.id ~= nil and tostring(c.id) ~= label then label = label .. " (" .. tostring(c.id) .. ")" end
      out[#out + 1] = format("  %s %s", SIGN[c.action] or "?", label)
      if c.action ~= "delete" then
        for _, f in ipairs(c.fields or {}) do
          if c.action == "create" then
            out[#out + 1] = format("      %s: %s", f.path, show(f.after))
          else
            out[#out + 1] = format("      %s: %s -> %s", f.path, show(f.before), show(f.after))
          end
        end
      end
    end
  end
end

-- Appends text to out in lines of at most `width` characters, each starting with `indent`.
local function wrap(out, text, indent, width)
  local line = indent
  for word in text:gmatch("%S+") do
    if #line > #indent and #line + 1 + #word > width then
      out[#out + 1] = line
      line = indent
    end
    line = line .. (#line > #indent and " " or "") .. word
  end
  if #line > #indent then out[#out + 1] = line end
end

--- The text form of a plan: { changes, calls, errors, summary, failed } (all but changes
-- optional).
function changes.text(plan)
  if type(plan) ~= "table" then error("changes.text expects a plan (a table)", 2) end
  local list = plan.changes or {}
  local out = { "Changes: " .. count_line(changes.count(list)) }
  changes_text(out, list)
  if plan.calls then
    out[#out + 1] = ""
    local muts = 0
    for _, c in ipairs(plan.calls) do if c.mutation ~= false then muts = muts + 1 end end
    if muts == 0 then
      out[#out + 1] = "Mutations sent: none."
    else
      out[#out + 1] = "Mutations sent, in order:"
      local i = 0
      for _, c in ipairs(plan.calls) do
        if c.mutation ~= false then
          i = i + 1
          out[#out + 1] = format("  %3d %-34s %-20s %s", i, c.method, tostring(c.code or "OK"),
            c.operation_state or (c.code == "OK" and "(no operation)" or ""))
        end
      end
    end
  end
  if plan.errors then
    out[#out + 1] = ""
    if #plan.errors == 0 then
      out[#out + 1] = "Errors met: none."
    else
      out[#out + 1] = "Errors met:"
      for _, e in ipairs(plan.errors) do
        local what = e.method and (e.method .. ": ") or ""
        local more = e.message and (" " .. tostring(e.message))
          or (e.count and e.count > 1 and format(" (%d times)", e.count)) or ""
        out[#out + 1] = format("  %s%s%s", what, tostring(e.code or "ERROR"), more)
      end
    end
  end
  local s = plan.summary
  if s then
    out[#out + 1] = ""
    out[#out + 1] = format("Summary: %s; %s, %d refused (RESOURCE_EXHAUSTED)", count_line(s),
      changes.counted(s.calls or 0, "call"), s.refused or 0)
    if s.seconds then
      out[#out + 1] = format("  would take %s%.1f s under the real limits", s.estimated and "at least " or "",
        s.seconds)
      if s.how then wrap(out, "(" .. s.how .. ")", "    ", 96) end
    end
  end
  if plan.failed then
    out[#out + 1] = ""
    out[#out + 1] = "The rehearsal failed: " .. tostring(plan.failed)
  end
  return concat(out, "\n") .. "\n"
end

-- ---- JSON ------------------------------------------------------------------------------------

local function array(list)
  if list == nil or #list == 0 then return core.empty_array end
  return list
end

--- The JSON form of a plan (keys sorted; empty lists as []).
function changes.json(plan)
  if type(plan) ~= "table" then error("changes.json expects a plan (a table)", 2) end
  local doc = {}
  for k, v in pairs(plan) do doc[k] = v end
  local list = {}
  for i, c in ipairs(plan.changes or {}) do
    local fields = {}
    for j, f in ipairs(c.fields or {}) do
      fields[j] = { path = f.path, before = f.before, after = f.after }
    end
    list[i] = { kind = c.kind, id = c.id, name = c.name, action = c.action, fields = array(fields) }
  end
  doc.changes = array(list)
  if plan.calls then doc.calls = array(plan.calls) end
  if plan.errors then doc.errors = array(plan.errors) end
  doc.exit_status = changes.exit_status(plan)
  if doc.failed ~= nil then doc.failed = tostring(doc.failed) end
  local text, err = json_module().encode_value(doc, { indent = 2 })
  if not text then error("changes.json: " .. tostring(err), 2) end
  return text .. "\n"
end

return changes
