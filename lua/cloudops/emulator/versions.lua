-- The API version of a call (its temporal-cloud-api-version header) against the versions the
-- schema's comments give the fields: a request setting a field added after that version, or
-- dropped before it, is INVALID_ARGUMENT naming the field to use instead, and a response
-- leaves such fields out (so what a caller reads it may send back). The service may accept
-- some of these requests and ignore the field; refusing them is stricter, so that a script
-- tried here does not rely on a field its version does not have.
local errors = require "cloudops.emulator.errors"

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
local function outside(f, version)
  if f.min and compare(version, f.min) < 0 then return "before" end
  if f.max and compare(version, f.max) > 0 then return "after" end
  return nil
end

-- Over a describe function (the core's): check(type_name, tbl, header) returns true, or nil
-- and the INVALID_ARGUMENT error; strip(type_name, tbl, header) returns tbl without the fields
-- outside the version (tables on the way to one are copied, tbl itself is left as it is).
function M.new(describe)
  -- type name -> { versioned = { field... }, nested = { field... } }: only the fields with a
  -- version range, and the message fields under which there is one; false for a type with
  -- neither (most of them), so a walk skips it whole.
  local plans = {}
  local function plan_of(type_name)
    local p = plans[type_name]
    if p ~= nil then return p end
    plans[type_name] = false   -- while in progress: a recursive type adds nothing more
    local d = describe(type_name)
    if not (d and d.kind == "message") or type_name:find("^google%.protobuf%.") then return false end
    local versioned, nested = {}, {}
    for _, f in ipairs(d.fields) do
      if f.min_version or f.max_version then
        versioned[#versioned + 1] = { name = f.name, field = f, min = f.min_version and M.parse(f.min_version),
          max = f.max_version and M.parse(f.max_version) }
      end
      if f.type == "message" and plan_of(f.type_name) then nested[#nested + 1] = f end
    end
    p = (#versioned > 0 or #nested > 0) and { versioned = versioned, nested = nested } or false
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
          return errors.invalid("%s%s is not supported after API version %s (this request's temporal-cloud-api-version is %s)%s",
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

  local strip
  -- The elements of a repeated or map field of messages, stripped: the same table when none
  -- changed.
  local function strip_all(type_name, list, version)
    local out = list
    for k, item in pairs(list) do
      local s = strip(type_name, item, version)
      if s ~= item then out = put(list, out, k, s) end
    end
    return out
  end

  function strip(type_name, tbl, version)
    local p = plan_of(type_name)
    if not p or type(tbl) ~= "table" then return tbl end
    local out = tbl
    for _, v in ipairs(p.versioned) do
      if tbl[v.name] ~= nil and outside(v, version) then out = put(tbl, out, v.name, nil) end
    end
    for _, f in ipairs(p.nested) do
      local v = out[f.name]
      if type(v) == "table" then
        local s
        if f.label == "singular" then s = strip(f.type_name, v, version)
        else s = strip_all(f.type_name, v, version) end
        if s ~= v then out = put(tbl, out, f.name, s) end
      end
    end
    return out
  end

  return {
    check = function(type_name, tbl, header)
      local version = M.parse(header)
      if not version then return true end   -- no version to compare with: nothing to check
      return check(type_name, tbl, version, header, "")
    end,
    strip = function(type_name, tbl, header)
      local version = M.parse(header)
      if not version then return tbl end
      return strip(type_name, tbl, version)
    end,
  }
end

return M
