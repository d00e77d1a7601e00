--- Readable descriptions of the schema for people: a message's fields in proto syntax (types,
-- numbers, oneofs, maps), an enum's values, a method's request and response and how the
-- client calls it. Used by the REPL's describe() and `cloudops describe`.
local cloudops_core = require "cloudops.core"
local schema = require "cloudops.schema"

local type, tostring, ipairs, max = type, tostring, ipairs, math.max
local format, match = string.format, string.match
local concat, sort = table.concat, table.sort

local M = {}

local function short(full)
  return match(full, "([^%.]+)$") or full
end

local function package_of(full)
  return match(full, "^(.*)%.[^%.]+$") or ""
end

-- How a field's values may be written in Lua, for the well-known types.
local HINTS = {
  ["google.protobuf.Timestamp"] = "RFC 3339 text or Unix seconds accepted",
  ["google.protobuf.Duration"] = "\"1.5s\" text or seconds accepted",
  ["google.protobuf.Struct"] = "a plain Lua table",
  ["google.protobuf.Value"] = "any plain Lua value",
  ["google.protobuf.ListValue"] = "a plain Lua array",
  ["google.protobuf.Any"] = "cloudops.pack_any(type, table)",
}

local function type_text(f)
  local t = f.type_name and short(f.type_name) or f.type
  if f.label == "map" then return "map<" .. tostring(f.key_type) .. ", " .. t .. ">" end
  if f.label == "repeated" then return "repeated " .. t end
  return t
end

-- The API versions a field or message is for, from the schema's comments: "since v0.13.0",
-- "until v0.15.0, use replicas".
local function versions_text(d)
  local parts = {}
  if d.min_version then parts[#parts + 1] = "since " .. d.min_version end
  if d.max_version then
    parts[#parts + 1] = "until " .. d.max_version .. (d.replaced_by and (", use " .. d.replaced_by) or "")
  end
  if #parts == 0 then return nil end
  return concat(parts, ", ")
end

local function message_text(d, indent)
  indent = indent or ""
  local fields = {}
  for i, f in ipairs(d.fields) do fields[i] = f end
  sort(fields, function(a, b) return a.number < b.number end)
  local width = 0
  for _, f in ipairs(fields) do width = max(width, #type_text(f)) end
  local own = package_of(d.name)
  local lines = { indent .. "message " .. d.name .. " {" }
  local since = versions_text(d)
  if since then lines[1] = lines[1] .. "  -- " .. since end
  for _, f in ipairs(fields) do
    local notes = {}
    notes[#notes + 1] = versions_text(f)
    if f.oneof then notes[#notes + 1] = "oneof " .. f.oneof end
    if f.type_name and package_of(f.type_name) ~= own then notes[#notes + 1] = f.type_name end
    if f.type_name and HINTS[f.type_name] then notes[#notes + 1] = HINTS[f.type_name] end
    if f.type == "enum" then
      local e = cloudops_core.describe(f.type_name)
      if e and e.values and #e.values <= 8 then
        local names = {}
        for i, v in ipairs(e.values) do names[i] = v.name end
        notes[#notes + 1] = concat(names, " | ")
      end
    end
    local line = format("%s  %-" .. width .. "s %s = %d;", indent, type_text(f), f.name, f.number)
    if #notes > 0 then line = line .. "  -- " .. concat(notes, "; ") end
    lines[#lines + 1] = line
  end
  lines[#lines + 1] = indent .. "}"
  return concat(lines, "\n")
end

local function enum_text(d)
  local lines = { "enum " .. d.name .. " {" }
  for _, v in ipairs(d.values) do lines[#lines + 1] = format("  %s = %d;", v.name, v.number) end
  lines[#lines + 1] = "}"
  return concat(lines, "\n")
end

local function method_text(m)
  local lines = {
    format("rpc %s(%s) returns (%s)", m.name, short(m.input), short(m.output)),
    format("  client:%s(req, opts)  or  client:call(%q, req, opts)", m.snake, m.name),
  }
  if m.mutation then
    lines[#lines + 1] = "  a mutation: async_operation_id is filled when empty; client:wait(resp) waits for it"
  end
  if m.items then
    lines[#lines + 1] = format("  paged: for item in client:paginate(%q, req) yields each of %s", m.snake, m.items)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = message_text(cloudops_core.describe(m.input))
  lines[#lines + 1] = ""
  lines[#lines + 1] = message_text(cloudops_core.describe(m.output))
  return concat(lines, "\n")
end

--- The text describing `name`: a method ("CreateNamespace", "create_namespace"), a message or
-- an enum (full or unique short name); or nil, err.
function M.describe(name)
  if type(name) ~= "string" then error("describe expects a name, got " .. type(name), 2) end
  local m = schema.method(name)
  if m then return method_text(m) end
  local d, err = cloudops_core.describe(name)
  if not d then return nil, err or ("nothing named '" .. name .. "' in the schema") end
  if d.kind == "enum" then return enum_text(d) end
  if d.kind == "message" then return message_text(d) end
  return nil, "cannot describe a " .. tostring(d.kind)
end

M.short = short

return M
