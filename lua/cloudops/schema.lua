--- What the Lua layer knows of the RPCs, derived once from the schema built into the C core:
-- names (CamelCase and snake_case), mutations, paged RPCs and their items, updatable kinds.
local core = require "cloudops.core"

local ipairs, pairs = ipairs, pairs

local schema = {}

local function snake_case(name)
  return (name:gsub("(%l)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower())
end
schema.snake_case = snake_case

local function fields_of(type_name)
  local by_name = {}
  for _, f in ipairs(core.describe(type_name).fields) do by_name[f.name] = f end
  return by_name
end

-- The one repeated (non-map) field of a paged response, or nil when there is not exactly one.
local function items_field(response)
  local found
  for _, f in ipairs(core.describe(response).fields) do
    if f.label == "repeated" then
      if found then return nil end
      found = f.name
    end
  end
  return found
end

local by_name = {}   -- "GetNamespaces" and "get_namespaces" -> method
local list = {}      -- in schema order
for i, name in ipairs(core.methods()) do
  local info = core.method(name)
  local input = fields_of(info.input)
  local output = fields_of(info.output)
  local m = {
    name = name,
    snake = snake_case(name),
    index = info.index,
    input = info.input,
    output = info.output,
    path = info.path,
    -- a mutation's request has async_operation_id, GetAsyncOperation's excepted
    -- (docs/reference.md "Calls")
    mutation = input.async_operation_id ~= nil and name ~= "GetAsyncOperation",
    encode = core.encoder(info.input), -- the request's encoder, its type looked up once
    has_resource_version = input.resource_version ~= nil,
  }
  if input.page_token and output.next_page_token then m.items = items_field(info.output) end
  list[i] = m
  by_name[name] = m
  by_name[m.snake] = m
end

--- The method for "GetNamespaces" or "get_namespaces", or nil.
function schema.method(name)
  return by_name[name]
end

--- Every method, in schema order.
function schema.methods()
  return list
end

-- Updatable kinds: a Get<Kind>/Update<Kind> pair whose Update request carries resource_version.
local kinds = {}
for _, m in ipairs(list) do
  local kind = m.name:match("^Update(.+)$")
  local get = kind and by_name["Get" .. kind]
  if get and m.has_resource_version then
    local get_input = core.describe(get.input).fields
    local id_fields = {}
    for _, f in ipairs(get_input) do id_fields[#id_fields + 1] = f.name end
    kinds[snake_case(kind)] = { name = kind, get = get, update = m, id_fields = id_fields }
  end
end

--- The updatable kind ("namespace", "user", ...) or nil.
function schema.kind(name)
  return kinds[name]
end

--- The names of every updatable kind, sorted.
function schema.kinds()
  local names = {}
  for k in pairs(kinds) do names[#names + 1] = k end
  table.sort(names)
  return names
end

return schema
