-- The RPCs of temporal.api.cloud.cloudservice.v1.CloudService as the emulator serves them,
-- in schema order, from what cloudops.schema derives from the schema built into the core
-- (so a newer schema's RPC is listed as soon as it is built): name, index, input and output
-- types; mutation (the request has async_operation_id, GetAsyncOperation excepted, as
-- docs/reference.md "Calls" defines it); paged (the request has page_token); kind, for an
-- Update<Kind> whose request carries resource_version, the schema.kind table (its Get<Kind>
-- and the fields that name one).
local core = require "cloudops.core"
local schema = require "cloudops.schema"

local M = { by_name = {} }

local function has_field(type_name, name)
  for _, f in ipairs(core.describe(type_name).fields) do
    if f.name == name then return true end
  end
  return false
end

for i, s in ipairs(schema.methods()) do
  local updated = s.name:match("^Update(.+)$")
  local m = {
    name = s.name, index = i, input = s.input, output = s.output,
    mutation = s.mutation or nil,
    paged = has_field(s.input, "page_token") or nil,
    kind = updated and schema.kind(schema.snake_case(updated)) or nil,
  }
  M[i] = m
  M.by_name[m.name] = m
end

return M
