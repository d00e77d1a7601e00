-- Generates build/gen/registry.c: what the C core needs to know about the schema beyond
-- protobuf-c's descriptors.
--
--   lua proto/gen_registry.lua DESCRIPTOR_SET API_VERSION OUT.c HEADER.pb-c.h...
--
-- protobuf-c's descriptors lack oneof names, the map-entry flag, json names and lookup by full
-- name. `protoc --descriptor_set_out` has them all; this reads that FileDescriptorSet (a small
-- protobuf wire reader: descriptor.proto's field numbers are stable) and writes them as C tables.
-- The descriptor symbols themselves are taken from the protoc-c headers, so no guess is made
-- about how protoc-c mangles names.

local byte, sub, format, concat = string.byte, string.sub, string.format, table.concat

-- Wire reading -------------------------------------------------------------------------------

local function varint(buf, pos)
  local result, scale = 0, 1
  while true do
    local b = byte(buf, pos)
    if not b then error("truncated varint") end
    pos = pos + 1
    result = result + (b % 128) * scale
    if b < 128 then return result, pos end
    scale = scale * 128
  end
end

-- Calls on_field(number, value) for every field of the message in buf; value is a number for
-- varints and a string for length-delimited fields (fixed-width fields are skipped).
local function each_field(buf, on_field)
  local pos, len = 1, #buf
  while pos <= len do
    local key
    key, pos = varint(buf, pos)
    local number, wire = math.floor(key / 8), key % 8
    if wire == 0 then
      local v
      v, pos = varint(buf, pos)
      on_field(number, v)
    elseif wire == 2 then
      local n
      n, pos = varint(buf, pos)
      on_field(number, sub(buf, pos, pos + n - 1))
      pos = pos + n
    elseif wire == 1 then
      pos = pos + 8
    elseif wire == 5 then
      pos = pos + 4
    else
      error("unsupported wire type " .. wire)
    end
  end
end

-- Reads a message into a table by a field map { [number] = { name, kind, repeated } }, where
-- kind is "string", "int", "packed" (repeated varints, packed or not) or a nested field map.
local function read(buf, fields)
  local t = {}
  each_field(buf, function(number, value)
    local f = fields[number]
    if not f then return end
    local name, kind, repeated = f[1], f[2], f[3]
    if kind == "packed" then
      local list = t[name] or {}
      t[name] = list
      if type(value) == "number" then list[#list + 1] = value return end
      local pos = 1
      while pos <= #value do list[#list + 1], pos = varint(value, pos) end
      return
    end
    if type(kind) == "table" then value = read(value, kind) end
    if repeated then
      t[name] = t[name] or {}
      t[name][#t[name] + 1] = value
    else
      t[name] = value
    end
  end)
  return t
end

-- The parts of descriptor.proto used here.
local FIELD = {
  [1] = { "name", "string" }, [3] = { "number", "int" }, [4] = { "label", "int" },
  [5] = { "type", "int" }, [6] = { "type_name", "string" }, [9] = { "oneof_index", "int" },
  [10] = { "json_name", "string" }, [17] = { "proto3_optional", "int" },
}
local MESSAGE = {}
MESSAGE[1] = { "name", "string" }
MESSAGE[2] = { "field", FIELD, true }
MESSAGE[3] = { "nested_type", MESSAGE, true }
MESSAGE[7] = { "options", { [7] = { "map_entry", "int" } } }
MESSAGE[8] = { "oneof_decl", { [1] = { "name", "string" } }, true }
-- SourceCodeInfo.Location: the comments protoc --include_source_info keeps (versioning.lua).
local LOCATION = { [1] = { "path", "packed" }, [3] = { "leading_comments", "string" },
                   [4] = { "trailing_comments", "string" } }
local FILE = {
  [1] = { "name", "string" }, [2] = { "package", "string" }, [4] = { "message_type", MESSAGE, true },
  [9] = { "source_code_info", { [1] = { "location", LOCATION, true } } },
}
local FILE_SET = { [1] = { "file", FILE, true } }

-- Generation --------------------------------------------------------------------------------

local function c_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return format("\\%03o", byte(c)) end) .. '"'
end

local function collect_messages(set)
  local out = {}
  local function walk(prefix, msg)
    local full = prefix .. msg.name
    out[#out + 1] = { full = full, msg = msg }
    for _, nested in ipairs(msg.nested_type or {}) do walk(full .. ".", nested) end
  end
  for _, file in ipairs(set.file or {}) do
    local prefix = file.package and (file.package .. ".") or ""
    for _, msg in ipairs(file.message_type or {}) do walk(prefix, msg) end
  end
  table.sort(out, function(a, b) return a.full < b.full end)
  return out
end

local function symbols_in(headers, kind)
  local syms = {}
  for _, path in ipairs(headers) do
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    for sym in text:gmatch("extern const " .. kind .. "%s+([%w_]+);") do
      syms[#syms + 1] = sym
    end
  end
  return syms
end

local versioning = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/versioning.lua")

local function generate(set, api_version, headers)
  local versions = versioning.collect(set)   -- before the fields are sorted below
  local messages = collect_messages(set)
  local lines = {
    "/* Generated by proto/gen_registry.lua from the schema's descriptor set. Do not edit. */",
    '#include "schema.h"',
  }
  for _, h in ipairs(headers) do lines[#lines + 1] = format('#include "%s"', h) end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "const char co_api_version[] = " .. c_string(api_version) .. ";"
  lines[#lines + 1] = ""

  for i, m in ipairs(messages) do
    local fields = m.msg.field or {}
    table.sort(fields, function(a, b) return a.number < b.number end)
    if #fields > 0 then
      local oneofs, jsons = {}, {}
      for j, f in ipairs(fields) do
        local decl = f.oneof_index and m.msg.oneof_decl[f.oneof_index + 1]
        if f.proto3_optional == 1 then decl = nil end -- a synthetic oneof is not a user's oneof
        oneofs[j] = decl and c_string(decl.name) or "NULL"
        jsons[j] = c_string(f.json_name or f.name)
      end
      lines[#lines + 1] = format("static const char *const oneofs_%d[] = { %s };", i, concat(oneofs, ", "))
      lines[#lines + 1] = format("static const char *const jsons_%d[] = { %s };", i, concat(jsons, ", "))
    end
    local v = versions[m.full]
    if v then
      local function range(r)
        r = r or {}
        local function s(x) return x and c_string(x) or "NULL" end
        return format("{ %s, %s, %s }", s(r.min), s(r.max), s(r.replaced_by))
      end
      local ranges = { range(v) }
      for j, f in ipairs(fields) do ranges[j + 1] = range(v.fields[f.name]) end
      lines[#lines + 1] = format("static const CoVersionRange versions_%d[] = { %s };", i, concat(ranges, ", "))
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "const CoMessageExtra co_message_extra[] = {"
  for i, m in ipairs(messages) do
    local opts = m.msg.options or {}
    local n = #(m.msg.field or {})
    lines[#lines + 1] = format("  { %s, %d, %d, %s, %s, %s },", c_string(m.full), n,
      opts.map_entry == 1 and 1 or 0,
      n > 0 and ("oneofs_" .. i) or "NULL", n > 0 and ("jsons_" .. i) or "NULL",
      versions[m.full] and ("versions_" .. i) or "NULL")
  end
  lines[#lines + 1] = "};"
  lines[#lines + 1] = format("const size_t co_n_message_extra = %d;", #messages)
  lines[#lines + 1] = ""

  local function symbol_table(ctype, name, syms)
    lines[#lines + 1] = format("const %s *const %s[] = {", ctype, name)
    for _, s in ipairs(syms) do lines[#lines + 1] = "  &" .. s .. "," end
    lines[#lines + 1] = "};"
    lines[#lines + 1] = format("const size_t %s_count = %d;", name, #syms)
  end
  local message_syms = symbols_in(headers, "ProtobufCMessageDescriptor")
  local enum_syms = symbols_in(headers, "ProtobufCEnumDescriptor")
  local service_syms = symbols_in(headers, "ProtobufCServiceDescriptor")
  -- Every message of the descriptor set must have its protoc-c descriptor, and the other way.
  if #message_syms ~= #messages or #enum_syms == 0 or #service_syms == 0 then
    error(format("protoc-c headers declare %d messages, %d enums, %d services; the descriptor set has %d messages",
      #message_syms, #enum_syms, #service_syms, #messages))
  end
  symbol_table("ProtobufCMessageDescriptor", "co_message_descs", message_syms)
  symbol_table("ProtobufCEnumDescriptor", "co_enum_descs", enum_syms)
  symbol_table("ProtobufCServiceDescriptor", "co_service_descs", service_syms)
  return concat(lines, "\n") .. "\n"
end

local set_path, api_version, out_path = arg[1], arg[2], arg[3]
local headers = {}
for i = 4, #arg do headers[#headers + 1] = arg[i] end
if not (set_path and api_version and out_path) or #headers == 0 then
  io.stderr:write("usage: lua gen_registry.lua DESCRIPTOR_SET API_VERSION OUT.c HEADER...\n")
  os.exit(2)
end
local f = assert(io.open(set_path, "rb"))
local set = read(f:read("*a"), FILE_SET)
f:close()
local out = assert(io.open(out_path, "wb"))
out:write(generate(set, api_version, headers))
out:close()
