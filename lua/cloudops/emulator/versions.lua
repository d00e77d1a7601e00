-- The API version of a call (its temporal-cloud-api-version header) against the versions the
-- schema's comments give the fields (`temporal:versioning:min_version`/`max_version`, and the
-- field that replaced a dropped one: `temporal:enums:replaces`, "Use X instead"). The service
-- "will use the version to safely mutate resources" (the schema's README, "API Version"):
--   * a request setting a field added after its version, or dropped before it, is
--     INVALID_ARGUMENT naming the field to use instead (stricter than the service, which may
--     accept such a field and ignore it: a script tried here does not rely on a field its
--     version lacks);
--   * a request giving a dropped field and not its replacement has the replacement filled
--     from it (`regions` -> `replicas`, a role string -> the role enum);
--   * an update keeps the fields its version does not know: what a caller of an older version
--     read-modify-writes comes back without them, and must not erase them (an UpdateUser at
--     v0.17.1 keeps the user's project_accesses, added in v0.18.0);
--   * an answer is in the version's form: a field of the version that the model holds only in
--     its newer (or older) form is filled from it (`spec.regions` from `spec.replicas` at
--     v0.10.0), and the fields outside the version are left out, so that what a caller reads
--     it may send back.
-- The conversions follow the two fields' types, not their names: a string and an enum (the
-- enum's value names without their common prefix, compared without case, '_' or '-'); a list
-- of strings and a list of messages of one string field; a map of each. Pairs of other types
-- (a map of region statuses and a list of replicas) are not converted.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"

local tonumber, tostring, type, pairs, ipairs, next = tonumber, tostring, type, pairs, ipairs, next

local M = {}

-- "v0.19.1" -> { 0, 19, 1 }, or nil for text that is no version.
function M.parse(text)
  local a, b, c = tostring(text):match("^v?(%d+)%.(%d+)%.?(%d*)$")
  if not a then return nil end
  return { tonumber(a), tonumber(b), tonumber(c) or 0 }
end

-- -1, 0 or 1 as version a is before, equal to or after b.
local function compare(a, b)
  for i = 1, 3 do
    if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
  end
  return 0
end
M.compare = compare

-- Whether a field holds something the wire would carry: a message is set when present; a
-- repeated or map field when not empty; a scalar when not its default.
local function is_set(f, v)
  if v == nil then return false end
  if f.label ~= "singular" then return type(v) == "table" and next(v) ~= nil end
  if f.type == "message" then return true end
  if v == false or v == 0 or v == "" then return false end
  if f.type == "enum" and type(v) == "string" and v:find("_UNSPECIFIED$") then return false end
  return true
end

-- Where the field's version range leaves `version`: "before" its first version, "after" its
-- last, or nil when it is in range.
local function outside(v, version)
  if v.min and compare(version, v.min) < 0 then return "before" end
  if v.max and compare(version, v.max) > 0 then return "after" end
  return nil
end

-- Text compared without case, '_', '-' or spaces: "service-account" = "SERVICE_ACCOUNT".
local function loose(s)
  return (s:lower():gsub("[^%w]", ""))
end

-- out[key] = value, out being orig until the first change, then a copy of it: the tables a
-- caller passed are never changed.
local function put(orig, out, key, value)
  if out == orig then
    out = {}
    for k, x in pairs(orig) do out[k] = x end
  end
  out[key] = value
  return out
end

-- Over a describe function (the core's): see new's return.
function M.new(describe)
  -- The element conversions of one field's values into another's: a function, or nil when
  -- the two types do not convert.
  local function element(from, to)
    local function enum(type_name)
      local d = describe(type_name)
      local zero = d and d.values and d.values[1] and d.values[1].name or ""
      local prefix = zero:match("^(.-)UNSPECIFIED$") or ""
      local by_loose = {}
      for _, v in ipairs(d and d.values or {}) do by_loose[loose(v.name:sub(#prefix + 1))] = v.name end
      return prefix, by_loose
    end
    -- a message of exactly one field, a string: its name
    local function one_string(type_name)
      local d = describe(type_name)
      local f = d and d.fields and #d.fields == 1 and d.fields[1]
      return f and f.type == "string" and f.label == "singular" and f.name or nil
    end
    if from.type == "string" and to.type == "enum" then
      local _, by_loose = enum(to.type_name)
      return function(v) return type(v) == "string" and by_loose[loose(v)] or nil end
    elseif from.type == "enum" and to.type == "string" then
      local prefix = enum(from.type_name)
      return function(v)
        if type(v) ~= "string" or v:sub(1, #prefix) ~= prefix or v:find("_UNSPECIFIED$") then return nil end
        return loose(v:sub(#prefix + 1))
      end
    elseif from.type == "string" and to.type == "message" then
      local name = one_string(to.type_name)
      return name and function(v) return type(v) == "string" and { [name] = v } or nil end
    elseif from.type == "message" and to.type == "string" then
      local name = one_string(from.type_name)
      return name and function(v) return type(v) == "table" and v[name] or nil end
    end
    return nil
  end

  -- A field's whole value converted into another field's (the same label: one value, a list
  -- or a map), or nil when the two do not convert.
  local function converter(from, to)
    if from.label ~= to.label then return nil end
    local each = element(from, to)
    if not each then return nil end
    if from.label == "singular" then return each end
    return function(v)
      if type(v) ~= "table" then return nil end
      local out = {}
      if from.label == "repeated" then
        for _, x in ipairs(v) do out[#out + 1] = each(x) end
      else
        for k, x in pairs(v) do out[k] = each(x) end
      end
      return next(out) ~= nil and out or nil
    end
  end

  -- type name -> { versioned = { {name, field, min, max}... }, nested = { field... },
  -- pairs = { {old =, new =, up =, down =}... }, newest = the latest min_version below } for
  -- the types with a versioned field somewhere below; false for the others (most of them),
  -- so that a walk skips them whole.
  local plans = {}
  local function plan_of(type_name)
    local p = plans[type_name]
    if p ~= nil then return p end
    plans[type_name] = false   -- while in progress: a recursive type adds nothing more
    local d = describe(type_name)
    if not (d and d.kind == "message") or type_name:find("^google%.protobuf%.") then return false end
    local versioned, nested, pairs_, by_name, newest = {}, {}, {}, {}, nil
    local function later(v) if v and (not newest or compare(v, newest) > 0) then newest = v end end
    for _, f in ipairs(d.fields) do
      by_name[f.name] = f
      if f.min_version or f.max_version then
        local v = { name = f.name, field = f, min = f.min_version and M.parse(f.min_version),
                    max = f.max_version and M.parse(f.max_version) }
        versioned[#versioned + 1] = v
        later(v.min)
      end
      if f.type == "message" then
        local sub = plan_of(f.type_name)
        if sub then
          nested[#nested + 1] = f
          later(sub.newest)
        end
      end
    end
    local range = {}
    for _, v in ipairs(versioned) do range[v.name] = v end
    for _, f in ipairs(d.fields) do
      local new = f.replaced_by and by_name[f.replaced_by]
      if new then
        local up, down = converter(f, new), converter(new, f)
        if up and down then
          pairs_[#pairs_ + 1] = { old = f, new = new, up = up, down = down,
                                  old_range = range[f.name] or {}, new_range = range[new.name] or {} }
        end
      end
    end
    p = (#versioned > 0 or #nested > 0) and
      { versioned = versioned, nested = nested, pairs = pairs_, newest = newest } or false
    plans[type_name] = p
    return p
  end

  local function check(type_name, tbl, version, text, path)
    local p = plan_of(type_name)
    if not p or type(tbl) ~= "table" then return true end
    for _, v in ipairs(p.versioned) do
      local f = v.field
      if is_set(f, tbl[f.name]) then
        local where = outside(v, version)
        if where == "before" then
          return errors.invalid("%s%s was added in API version %s; this request's temporal-cloud-api-version is %s",
            path, f.name, f.min_version, text)
        elseif where == "after" then
          return errors.invalid(
            "%s%s is not supported after API version %s (this request's temporal-cloud-api-version is %s)%s",
            path, f.name, f.max_version, text, f.replaced_by and ("; use " .. f.replaced_by .. " instead") or "")
        end
      end
    end
    for _, f in ipairs(p.nested) do
      local v = tbl[f.name]
      if is_set(f, v) then
        local ok, err
        if f.label == "singular" then
          ok, err = check(f.type_name, v, version, text, path .. f.name .. ".")
        else
          for k, item in pairs(v) do
            ok, err = check(f.type_name, item, version, text, path .. f.name .. "[" .. tostring(k) .. "].")
            if not ok then break end
          end
        end
        if not ok then return nil, err end
      end
    end
    return true
  end

  -- Walks tbl of type_name with each(plan, orig, out) -> out applied to every message that has
  -- a plan, innermost first; returns tbl itself when nothing changed, else a copy of what
  -- changed.
  local function walk(type_name, tbl, each)
    local p = plan_of(type_name)
    if not p or type(tbl) ~= "table" then return tbl end
    local out = tbl
    for _, f in ipairs(p.nested) do
      local v = tbl[f.name]
      if type(v) == "table" then
        local s = v
        if f.label == "singular" then
          s = walk(f.type_name, v, each)
        else
          for k, item in pairs(v) do
            local w = walk(f.type_name, item, each)
            if w ~= item then s = put(v, s, k, w) end
          end
        end
        if s ~= v then out = put(tbl, out, f.name, s) end
      end
    end
    return each(p, tbl, out)
  end

  -- A request's dropped fields given without their replacements: the replacements filled.
  local function upgrade(p, orig, out)
    for _, pair in ipairs(p.pairs) do
      local old, new = pair.old.name, pair.new.name
      if is_set(pair.old, out[old]) and not is_set(pair.new, out[new]) then
        local v = pair.up(out[old])
        if v ~= nil then out = put(orig, out, new, v) end
      end
    end
    return out
  end

  -- An answer in a version's form: the version's field of a pair filled from the other, then
  -- what is outside the version left out.
  local function answer_at(version)
    return function(p, orig, out)
      for _, pair in ipairs(p.pairs) do
        local old, new = pair.old.name, pair.new.name
        if not outside(pair.old_range, version) and not is_set(pair.old, out[old])
          and is_set(pair.new, out[new]) then
          local v = pair.down(out[new])
          if v ~= nil then out = put(orig, out, old, v) end
        elseif not outside(pair.new_range, version) and not is_set(pair.new, out[new])
          and is_set(pair.old, out[old]) then
          local v = pair.up(out[old])
          if v ~= nil then out = put(orig, out, new, v) end
        end
      end
      for _, v in ipairs(p.versioned) do
        if out[v.name] ~= nil and outside(v, version) then out = put(orig, out, v.name, nil) end
      end
      return out
    end
  end

  -- req (a message of type_name) with the fields `version` does not know taken from cur (the
  -- same message as the model holds it) where req does not set them; into the messages both
  -- hold, and the map entries both hold. (Elements of a list have no identity to match.)
  local function keep(type_name, req, cur, version)
    local p = plan_of(type_name)
    if not p or type(req) ~= "table" or type(cur) ~= "table" then return req end
    local out = req
    for _, v in ipairs(p.versioned) do
      if v.min and compare(version, v.min) < 0 and not is_set(v.field, req[v.name])
        and is_set(v.field, cur[v.name]) then
        out = put(req, out, v.name, util.copy(cur[v.name]))
      end
    end
    for _, f in ipairs(p.nested) do
      local rv, cv = out[f.name], cur[f.name]
      if type(rv) == "table" and type(cv) == "table" and f.label ~= "repeated" then
        local s = rv
        if f.label == "singular" then
          s = keep(f.type_name, rv, cv, version)
        else
          for k, item in pairs(rv) do
            local w = cv[k] ~= nil and keep(f.type_name, item, cv[k], version) or item
            if w ~= item then s = put(rv, s, k, w) end
          end
        end
        if s ~= rv then out = put(req, out, f.name, s) end
      end
    end
    return out
  end

  local V = {}

  -- true, or nil and the INVALID_ARGUMENT error for a field set outside the header's version.
  function V.check(type_name, tbl, header)
    local version = M.parse(header)
    if not version then return true end   -- no version to compare with: nothing to check
    return check(type_name, tbl, version, header, "")
  end

  -- The request with the replacements of the dropped fields it gives filled in.
  function V.request(type_name, tbl)
    return walk(type_name, tbl, upgrade)
  end

  -- The answer in the header's version's form (tbl itself is left as it is).
  function V.answer(type_name, tbl, header)
    local version = M.parse(header)
    if not version then return tbl end
    return walk(type_name, tbl, answer_at(version))
  end

  -- Whether a request of type_name at this header may lack fields a newer version has: only
  -- then does `keep` have work.
  function V.older(type_name, header)
    local version = M.parse(header)
    local p = plan_of(type_name)
    return version ~= nil and p and p.newest ~= nil and compare(version, p.newest) < 0 or false
  end

  -- An update request (request_type) with what its version does not know kept from the
  -- resource it changes (resource_type, as the model holds it): each message field of the
  -- request that the resource has too, of the same type (`spec`), merged as `keep` says.
  function V.keep(request_type, req, resource_type, resource, header)
    local version = M.parse(header)
    local rd = describe(resource_type)
    if not version or type(resource) ~= "table" or not (rd and rd.fields) then return req end
    local types = {}
    for _, f in ipairs(rd.fields) do
      if f.type == "message" and f.label == "singular" then types[f.name] = f.type_name end
    end
    local out = req
    for _, f in ipairs(describe(request_type).fields) do
      if f.type == "message" and f.label == "singular" and types[f.name] == f.type_name then
        local k = keep(f.type_name, req[f.name], resource[f.name], version)
        if k ~= req[f.name] then out = put(req, out, f.name, k) end
      end
    end
    return out
  end

  return V
end

return M
