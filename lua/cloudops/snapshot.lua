--- cloudops.snapshot: every resource an API key can read, by reads only, as one plain table;
-- saved and loaded as stable, diffable JSON (docs/reference.md "Rehearsal").
--
--   local snap, err = cloudops.snapshot(client, { kinds = nil, concurrency = 8, on_progress = nil })
--   assert(cloudops.snapshot.save(snap, "account.json"))
--   local again = assert(cloudops.snapshot.load("account.json"))
--   cloudops.snapshot.kinds_of(snap)   -- the names of the kinds it holds ({ "namespaces", ... })
--
-- snap = { format = "lua-cloudops-snapshot/1", taken_at = RFC 3339, api_version = the schema
--   version it was read and is written with, identity = { kind = "user"|"service_account",
--   id, name (email or name), key_id (the API key used) }, account = Account, one array per
--   kind of cloudops.kinds (namespaces, users, user_groups with `members`: user ids, ...,
--   namespace_export_sinks with `namespace`: the namespace id), each sorted by id,
--   unreadable = { { kind, code (its name), message } } }.
--
-- Reads only: every request goes through snapshot.reader, which refuses any RPC outside
-- kinds.READS (the kinds' Get* and list RPCs and GetCurrentIdentity, each checked there to
-- carry no async_operation_id). Lists are read in pages of the documented maximum (1000;
-- opts.page_size for a server that allows less), the kinds
-- at once and then the per-parent lists (each group's members, each namespace's export
-- sinks) as cloudops.map tasks, `concurrency` at a time, within the client's rate limit.
-- A kind the key may not read (PERMISSION_DENIED, or UNIMPLEMENTED from a server without it)
-- is listed in `unreadable`, its array left empty; any other failure fails the snapshot
-- (nil, err). A resource that vanished between the list and its per-parent read (NOT_FOUND)
-- is skipped. No secrets: reads return no token; API keys are also stripped of fields this
-- schema does not know (`_unknown`), which a newer server could use for one.
-- The reads take time: the snapshot is of each kind as it was when read, not one instant.
local kinds = require "cloudops.kinds"
local map = require "cloudops.map"
local codes = require "cloudops.codes"
local core = require "cloudops.core"
local errors = require "cloudops.errors"

local ipairs, pairs, type, tostring, error, setmetatable, pcall = ipairs, pairs, type, tostring, error,
  setmetatable, pcall
local sort, concat = table.sort, table.concat
local format = string.format

local snapshot = { FORMAT = "lua-cloudops-snapshot/1" }

local OPTIONS = { kinds = true, concurrency = true, on_progress = true, page_size = true }
-- What a key that may not read a kind is answered.
local UNREADABLE = { [codes.PERMISSION_DENIED] = true, [codes.UNIMPLEMENTED] = true }

-- ---- reading -------------------------------------------------------------------------------

--- The only way a snapshot sends a request: read(method, req) calls client:call for the
-- methods of kinds.READS and raises for any other.
local function reader(client)
  return function(method, req)
    if not kinds.READS[method] then
      error("cloudops.snapshot: " .. tostring(method) .. " is not among the reads a snapshot may send", 2)
    end
    return client:call(method, req)
  end
end

local function check_options(client, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error("cloudops.snapshot expects a client (cloudops.connect), got " .. type(client), 3)
  end
  if opts == nil then return {} end
  if type(opts) ~= "table" then error("cloudops.snapshot: options must be a table, got " .. type(opts), 3) end
  for k in pairs(opts) do
    if not OPTIONS[k] then error("cloudops.snapshot: unknown option '" .. tostring(k) .. "'", 3) end
  end
  if opts.kinds ~= nil then
    if type(opts.kinds) ~= "table" then error("cloudops.snapshot: kinds must be a list of kind names", 3) end
    for _, name in ipairs(opts.kinds) do
      local k = kinds.get(name)
      if not k then
        error("cloudops.snapshot: unknown kind '" .. tostring(name) .. "' (one of: " .. kinds.names_list() .. ")", 3)
      end
    end
  end
  local size = opts.page_size
  if size ~= nil and (type(size) ~= "number" or size < 1 or size > 1000 or size % 1 ~= 0) then
    error("cloudops.snapshot: page_size must be a whole number from 1 to 1000", 3)
  end
  if opts.on_progress ~= nil and type(opts.on_progress) ~= "function" then
    error("cloudops.snapshot: on_progress must be a function", 3)
  end
  return opts
end

-- The kinds to read: those asked for (by either name), each once.
local function wanted(opts)
  local set = {}
  if opts.kinds == nil then
    for _, k in ipairs(kinds.list) do set[k.name] = true end
  else
    for _, name in ipairs(opts.kinds) do set[kinds.get(name).name] = true end
  end
  return set
end

-- Every item of every page of a list: items, or nil, err. A server that hands back the token
-- it was given would have the snapshot read forever: that is an error.
local function read_list(read, method, items_field, req, page_size)
  local out, seen = {}, {}
  req.page_size = page_size
  while true do
    local resp, err = read(method, req)
    if not resp then return nil, err end
    for _, item in ipairs(resp[items_field] or {}) do out[#out + 1] = item end
    local token = resp.next_page_token
    if token == nil or token == "" then return out end
    if seen[token] then
      return nil, errors.new("INTERNAL", method .. " answered a next_page_token it had answered before: " ..
        "the list would never end", { code = codes.INTERNAL, method = method, retryable = false })
    end
    seen[token] = true
    req.page_token = token
  end
end

local function strip_unknown(t)
  if type(t) ~= "table" then return end
  t._unknown = nil
  for _, v in pairs(t) do strip_unknown(v) end
end

-- The identity that takes the snapshot: { kind, id, name, key_id } or nil, err.
local function identity_of(read)
  local who, err = read("GetCurrentIdentity", {})
  if not who then return nil, err end
  local key = who.principal_api_key
  local id
  if who.service_account then
    local sa = who.service_account
    id = { kind = "service_account", id = sa.id, name = sa.spec and sa.spec.name }
  elseif who.user then
    local u = who.user
    id = { kind = "user", id = u.id, name = u.spec and u.spec.email }
  else
    return nil, "GetCurrentIdentity named no principal"
  end
  id.key_id = key and key.id or nil
  return id
end

local function sort_by_id(k, list)
  sort(list, function(a, b) return tostring(k.id(a)) < tostring(k.id(b)) end)
end

-- Task results: "ok"; "unreadable", err; or nil, err.
local function classify(err)
  if type(err) == "table" and UNREADABLE[err.code] then return "unreadable" end
  return nil
end

--- cloudops.snapshot(client, opts) -> snap | nil, err
local function take(client, opts)
  opts = check_options(client, opts)
  local read = reader(client)
  local want = wanted(opts)
  local progress = opts.on_progress
  local concurrency = opts.concurrency or 8
  local id, ierr = identity_of(read)
  if not id then return nil, ierr end
  local snap = {
    format = snapshot.FORMAT,
    taken_at = core.format_rfc3339(os.time(), 0),
    api_version = core.API_VERSION,
    identity = id,
    unreadable = {},
  }
  local failed
  local unreadable = {}
  local function cannot(k, err)
    if unreadable[k.name] then return end
    unreadable[k.name] = true
    snap.unreadable[#snap.unreadable + 1] = { kind = k.name, code = err.name or tostring(err.code),
                                              message = err.message }
  end
  -- 1. The account and every list of its own, at once. A per-parent kind needs its parents
  -- listed, wanted or not.
  local first = {}
  for _, k in ipairs(kinds.list) do
    if k.singleton and want[k.name] then first[#first + 1] = k
    elseif k.list and not k.list.parent and (want[k.name]
      or (k.name == "namespaces" and want.namespace_export_sinks)) then
      first[#first + 1] = k
    end
  end
  local lists = {}
  local _, errs = map(function(k)
    local items, err
    if k.singleton then
      local resp
      resp, err = read(k.get.method, {})
      items = resp and { resp[k.get.field] }
    else
      items, err = read_list(read, k.list.method, k.list.items, {}, opts.page_size or k.list.page_size)
    end
    if not items then
      if classify(err) then cannot(k, err); return true end
      return nil, err
    end
    lists[k.name] = items
    if progress then progress(k.name, #items) end
    return true
  end, first, { concurrency = concurrency })
  for i = 1, #first do if errs[i] ~= nil then failed = failed or errs[i] end end
  if failed then return nil, failed end
  -- 2. What is read per resource: each group's members, each namespace's export sinks.
  local per, per_items = {}, {}
  local groups = kinds.get("user_groups")
  if want.user_groups and lists.user_groups then
    for _, g in ipairs(lists.user_groups) do per[#per + 1] = { kind = groups, extra = "members", res = g } end
  end
  local sinks = kinds.get("namespace_export_sinks")
  local sink_list = {}
  if want.namespace_export_sinks then
    if lists.namespaces then
      for _, ns in ipairs(lists.namespaces) do per[#per + 1] = { kind = sinks, res = ns } end
    elseif unreadable.namespaces then
      cannot(sinks, { name = "PERMISSION_DENIED",
                      message = "the namespaces, whose export sinks they are, are unreadable" })
    end
  end
  _, errs = map(function(job)
    local k, res = job.kind, job.res
    local items, err
    if job.extra then
      local e = k.extras[job.extra]
      items, err = read_list(read, e.method, e.items, { [e.request_field] = res.id }, opts.page_size or e.page_size)
    else
      local parent = kinds.id(kinds.get(k.list.parent), res)
      items, err = read_list(read, k.list.method, k.list.items, { [k.list.parent_field] = parent },
        opts.page_size or k.list.page_size)
    end
    if not items then
      if type(err) == "table" and err.code == codes.NOT_FOUND then return true end
      if classify(err) then cannot(k, err); return true end
      return nil, err
    end
    per_items[job] = items
    return true
  end, per, { concurrency = concurrency })
  for i = 1, #per do if errs[i] ~= nil then failed = failed or errs[i] end end
  if failed then return nil, failed end
  for _, job in ipairs(per) do
    local items = per_items[job]
    if job.extra then
      -- Left out (nil, not empty) when they could not be read.
      if items then
        local ids = {}
        for _, m in ipairs(items) do
          local uid = m.member_id and m.member_id.user_id
          if uid and uid ~= "" then ids[#ids + 1] = uid end
        end
        sort(ids)
        job.res.members = ids
      end
    elseif items then
      local nsid = kinds.id(kinds.get("namespaces"), job.res)
      for _, s in ipairs(items) do
        s[job.kind.parent_field] = nsid
        sink_list[#sink_list + 1] = s
      end
    end
  end
  lists.namespace_export_sinks = want.namespace_export_sinks and sink_list or nil
  -- 3. The snapshot: every kind asked for, sorted by id; none holding a secret.
  for _, k in ipairs(kinds.list) do
    if want[k.name] then
      if k.singleton then
        snap[k.name] = lists[k.name] and lists[k.name][1] or nil
      else
        local list = lists[k.name] or {}
        sort_by_id(k, list)
        snap[k.name] = list
        if progress and k.list.parent then progress(k.name, #list) end
      end
    end
  end
  sort(snap.unreadable, function(a, b) return kinds.get(a.kind).order < kinds.get(b.kind).order end)
  for _, key in ipairs(snap.api_keys or {}) do
    strip_unknown(key)
    -- Reads carry no token (ApiKey has no such field): a table that did would not have
    -- decoded. Checked all the same, since a snapshot is written to files.
    if key.token ~= nil then error("cloudops.snapshot: an API key read held a token") end
  end
  return snap
end

--- The names of the kinds a snapshot holds, in dependency order: what to read again to
-- compare with it (diff's drift, a rehearsal's twin after the run).
function snapshot.kinds_of(snap)
  local list = {}
  for _, k in ipairs(kinds.list) do
    if snap[k.name] ~= nil then list[#list + 1] = k.name end
  end
  return list
end

-- ---- JSON ----------------------------------------------------------------------------------

local json
local function json_module()
  json = json or require "cloudops.json"
  return json
end

-- The JSON text of one entry: the resource's own fields (proto3 JSON, field-number order),
-- then its extras, all indented by `pad`.
local function entry_text(k, res, pad)
  local j = json_module()
  local own, extras = res, nil
  for name in pairs(k.extras) do
    if res[name] ~= nil then
      if own == res then
        own = {}
        for f, v in pairs(res) do own[f] = v end
      end
      own[name] = nil
      extras = extras or {}
      extras[#extras + 1] = name
    end
  end
  local text, err = j.encode(k.message, own, { indent = 2 })
  if not text then return nil, err end
  if extras then
    sort(extras)
    local parts = {}
    for i, name in ipairs(extras) do
      local v = res[name]
      if type(v) == "table" and #v == 0 then v = core.empty_array end
      -- One id a line: a member added or removed is a line of a diff.
      parts[i] = format("  %s: %s", j.encode_value(name), (j.encode_value(v, { indent = 2 }):gsub("\n", "\n  ")))
    end
    local body = text:match("^{(.*)\n}$")
    text = "{" .. (body and body .. "," or "") .. "\n" .. concat(parts, ",\n") .. "\n}"
  end
  return (text:gsub("\n", "\n" .. pad))
end

--- The JSON text of a snapshot: its own keys first, then the kinds in dependency order,
-- each resource in the proto3 JSON mapping, keys in a stable order; nil, err for a value JSON
-- cannot hold. Raises for what is not a snapshot.
function snapshot.encode(snap)
  if type(snap) ~= "table" or snap.format ~= snapshot.FORMAT then
    error("cloudops.snapshot: expected a snapshot (format " .. snapshot.FORMAT .. ")", 2)
  end
  local j = json_module()
  local out = { "{" }
  local function add(key, text) out[#out + 1] = format("  %s: %s,", j.encode_value(key), text) end
  for _, key in ipairs { "format", "taken_at", "api_version" } do
    if snap[key] ~= nil then add(key, j.encode_value(snap[key])) end
  end
  if snap.identity then add("identity", (j.encode_value(snap.identity, { indent = 2 }):gsub("\n", "\n  "))) end
  for _, k in ipairs(kinds.list) do
    local v = snap[k.name]
    if v ~= nil then
      if k.singleton then
        local text, err = entry_text(k, v, "  ")
        if not text then return nil, k.name .. ": " .. tostring(err) end
        add(k.name, text)
      elseif #v == 0 then
        add(k.name, "[]")
      else
        local items = {}
        for i, res in ipairs(v) do
          local text, err = entry_text(k, res, "    ")
          if not text then return nil, format("%s[%d]: %s", k.name, i, tostring(err)) end
          items[i] = "    " .. text
        end
        add(k.name, "[\n" .. concat(items, ",\n") .. "\n  ]")
      end
    end
  end
  local unreadable = snap.unreadable or {}
  out[#out + 1] = format("  \"unreadable\": %s", #unreadable == 0 and "[]"
    or (j.encode_value(unreadable, { indent = 2 }):gsub("\n", "\n  ")))
  out[#out + 1] = "}"
  return concat(out, "\n") .. "\n"
end

-- One entry from its JSON value: the message's fields decoded as cloudops.decode would give
-- them, the extras kept as they are.
local function entry_of(k, v, where)
  local j = json_module()
  if type(v) ~= "table" then return nil, where .. ": expected an object" end
  local own, extras = {}, {}
  for f, x in pairs(v) do
    if k.extras[f] then extras[f] = x else own[f] = x end
  end
  local text = j.encode_value(own)
  local res, err = j.decode(k.message, text or "{}")
  if not res then return nil, where .. ": " .. tostring(err) end
  for f, x in pairs(extras) do
    if x == core.empty_array then x = {} end
    if k.extras[f].kind == "ids" then
      if type(x) ~= "table" then return nil, where .. "." .. f .. ": expected a list of ids" end
      for i, id in ipairs(x) do
        if type(id) ~= "string" then return nil, format("%s.%s[%d]: expected an id", where, f, i) end
      end
    elseif type(x) ~= "string" then
      return nil, where .. "." .. f .. ": expected an id"
    end
    res[f] = x
  end
  return res
end

--- The snapshot in JSON text `text`, or nil, err.
function snapshot.decode(text)
  if type(text) ~= "string" then error("cloudops.snapshot.decode expects JSON text, got " .. type(text), 2) end
  local j = json_module()
  local doc, err = j.decode_value(text)
  if doc == nil then return nil, "not JSON: " .. tostring(err) end
  if type(doc) ~= "table" or doc.format ~= snapshot.FORMAT then
    return nil, "not a lua-cloudops snapshot (no \"format\": \"" .. snapshot.FORMAT .. "\")"
  end
  local snap = { format = doc.format, taken_at = doc.taken_at, api_version = doc.api_version,
                 identity = type(doc.identity) == "table" and doc.identity or nil, unreadable = {} }
  for _, k in ipairs(kinds.list) do
    local v = doc[k.name]
    if v ~= nil then
      if k.singleton then
        local res, rerr = entry_of(k, v, k.name)
        if not res then return nil, rerr end
        snap[k.name] = res
      else
        if v == core.empty_array then v = {} end
        if type(v) ~= "table" then return nil, k.name .. ": expected a list" end
        local list = {}
        for i, x in ipairs(v) do
          local res, rerr = entry_of(k, x, format("%s[%d]", k.name, i))
          if not res then return nil, rerr end
          list[i] = res
        end
        snap[k.name] = list
      end
    end
  end
  local unreadable = doc.unreadable
  if type(unreadable) == "table" and unreadable ~= core.empty_array then
    for i, u in ipairs(unreadable) do
      if type(u) ~= "table" or not kinds.get(u.kind or "") then
        return nil, format("unreadable[%d]: expected { kind, code, message }", i)
      end
      snap.unreadable[i] = { kind = u.kind, code = u.code, message = u.message }
    end
  end
  return snap
end

--- Writes snap to path as JSON (beside it first, then renamed: never half a file); true or
-- nil, err.
function snapshot.save(snap, path)
  if type(path) ~= "string" or path == "" then error("cloudops.snapshot.save expects a path", 2) end
  local ok, text, err = pcall(snapshot.encode, snap)
  if not ok then error(text, 2) end
  if not text then return nil, err end
  local tmp = path .. ".tmp"
  local f, ferr = io.open(tmp, "wb")
  if not f then return nil, ferr end
  local wok, werr = f:write(text)
  f:close()
  if not wok then os.remove(tmp); return nil, werr end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); return nil, rerr end
  return true
end

--- The snapshot saved at path, or nil, err.
function snapshot.load(path)
  if type(path) ~= "string" or path == "" then error("cloudops.snapshot.load expects a path", 2) end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local snap, derr = snapshot.decode(text or "")
  if not snap then return nil, path .. ": " .. tostring(derr) end
  return snap
end

snapshot.reader = reader

return setmetatable(snapshot, { __call = function(_, client, opts) return take(client, opts) end })
