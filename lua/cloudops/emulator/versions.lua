-- The API version of a call (its temporal-cloud-api-version header) against the versions the
-- schema's comments give the fields: a request setting a field added after that version, or
-- dropped before it, is INVALID_ARGUMENT naming the field to use instead, and a response
-- leaves such fields out (so what a caller reads it may send back). The service may accept
-- some of these requests and ignore the field; refusing them is stricter, so that a script
-- tried here does not rely on a field its version does not have.
local errors = require "cloudops.emulator.errors"

local tonumber, type, pairs, ipairs, next = tonumber, type, pairs, ipairs, next

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

local function outside(f, version)
  return (f.min_version and compare(version, M.parse(f.min_version)) < 0)
    or (f.max_version and compare(version, M.parse(f.max_version)) > 0)
end

-- Over a describe function (the core's): check(type_name, tbl, header) returns true, or nil
-- and the INVALID_ARGUMENT error; strip(type_name, tbl, header) removes, in place, the fields
-- of tbl outside the version.
function M.new(describe)
  local cache = {}
  local function fields_of(type_name)
    local f = cache[type_name]
    if f == nil then
      local d = describe(type_name)
      f = d and d.kind == "message" and d.fields or false
      cache[type_name] = f
    end
    return f or nil
  end

  local function walk(type_name, tbl, version, text, path)
    local fields = fields_of(type_name)
    if not fields or type(tbl) ~= "table" then return true end
    for _, f in ipairs(fields) do
      local v = tbl[f.name]
      if is_set(f, v) then
        local where = path .. f.name
        if f.min_version and compare(version, M.parse(f.min_version)) < 0 then
          return errors.invalid("%s was added in API version %s; this request's temporal-cloud-api-version is %s",
            where, f.min_version, text)
        end
        if f.max_version and compare(version, M.parse(f.max_version)) > 0 then
          return errors.invalid("%s is not supported after API version %s (this request's temporal-cloud-api-version is %s)%s",
            where, f.max_version, text, f.replaced_by and ("; use " .. f.replaced_by .. " instead") or "")
        end
        local inner = f.type == "message" and f.type_name
        if inner and not inner:find("^google%.protobuf%.") then
          local ok, err
          if f.label == "singular" then
            ok, err = walk(inner, v, version, text, where .. ".")
          else
            for k, item in pairs(v) do
              ok, err = walk(inner, item, version, text, where .. "[" .. tostring(k) .. "].")
              if not ok then break end
            end
          end
          if ok == nil then return nil, err end
        end
      end
    end
    return true
  end

  local function strip(type_name, tbl, version)
    local fields = fields_of(type_name)
    if not fields or type(tbl) ~= "table" then return end
    for _, f in ipairs(fields) do
      local v = tbl[f.name]
      if v ~= nil then
        if outside(f, version) then
          tbl[f.name] = nil
        elseif f.type == "message" and not f.type_name:find("^google%.protobuf%.") then
          if f.label == "singular" then
            strip(f.type_name, v, version)
          elseif type(v) == "table" then
            for _, item in pairs(v) do strip(f.type_name, item, version) end
          end
        end
      end
    end
  end

  return {
    check = function(type_name, tbl, header)
      local version = M.parse(header)
      if not version then return true end   -- no version to compare with: nothing to check
      return walk(type_name, tbl, version, header, "")
    end,
    strip = function(type_name, tbl, header)
      local version = M.parse(header)
      if version then strip(type_name, tbl, version) end
      return tbl
    end,
  }
end

return M
