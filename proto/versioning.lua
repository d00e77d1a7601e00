-- The API versions the schema's comments give its messages and fields, for proto/gen_registry.lua.
--
-- The Cloud schema marks what a version added or dropped in comments, not options:
--   // temporal:versioning:min_version=v0.13.0       (added in v0.13.0)
--   // temporal:versioning:max_version=v0.15.0       (not supported after v0.15.0)
--   // temporal:enums:replaces=role_deprecated       (on the field that took another's place)
-- and a dropped field's comment often says what to use instead ("Use replicas field instead").
-- `protoc --include_source_info` keeps the comments in the descriptor set, by the path of the
-- element they precede: [4, message index, (3, nested index)..., 2, field index].
local M = {}

local function tag(text, name)
  return text:match("temporal:versioning:" .. name .. "=(v[%d%.]+)")
end

-- comments: path ("4,0,2,1") -> comment text. Returns { [full message name] = { min =, max =,
-- fields = { [field name] = { min =, max =, replaced_by = } } } } for what is versioned.
local function walk(out, comments, prefix, path, msg)
  local full = prefix .. msg.name
  local text = comments[path] or ""
  local entry = { min = tag(text, "min_version"), max = tag(text, "max_version"), fields = {} }
  local names, any = {}, entry.min or entry.max
  for _, f in ipairs(msg.field or {}) do names[f.name] = true end
  for i, f in ipairs(msg.field or {}) do
    local ftext = comments[path .. ",2," .. (i - 1)] or ""
    local v = { min = tag(ftext, "min_version"), max = tag(ftext, "max_version") }
    local replaced = ftext:match("temporal:enums:replaces=([%w_]+)")
    if replaced and names[replaced] then
      entry.fields[replaced] = entry.fields[replaced] or {}
      entry.fields[replaced].replaced_by = f.name
    end
    if v.max and not (entry.fields[f.name] or {}).replaced_by then
      local use = ftext:match("[Uu]se ([%w_]+) field instead") or ftext:match("[Uu]se ([%w_]+) instead")
      if use and names[use] then v.replaced_by = use end
    end
    if v.min or v.max or v.replaced_by then
      local e = entry.fields[f.name] or {}
      e.min, e.max = v.min, v.max
      e.replaced_by = e.replaced_by or v.replaced_by
      entry.fields[f.name] = e
      any = true
    end
  end
  if any or next(entry.fields) then out[full] = entry end
  for j, nested in ipairs(msg.nested_type or {}) do
    walk(out, comments, full .. ".", path .. ",3," .. (j - 1), nested)
  end
end

-- set: a FileDescriptorSet read with each file's source_code_info (see gen_registry.lua).
function M.collect(set)
  local out = {}
  for _, file in ipairs(set.file or {}) do
    local comments = {}
    local info = file.source_code_info
    for _, loc in ipairs(info and info.location or {}) do
      comments[table.concat(loc.path or {}, ",")] = (loc.leading_comments or "") .. "\n"
        .. (loc.trailing_comments or "")
    end
    local prefix = file.package and (file.package .. ".") or ""
    for i, msg in ipairs(file.message_type or {}) do walk(out, comments, prefix, "4," .. (i - 1), msg) end
  end
  return out
end

return M
