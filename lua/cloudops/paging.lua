--- client:paginate and client:pages (docs/reference.md "Helpers"): lazy iterators over a paged RPC, one
-- page fetched only when the previous one is used up, ending on an empty next_page_token.
-- A generic `for` stops at a nil first value, so a failure is yielded as `false, err`, once.
local core = require "cloudops.core"
local schema = require "cloudops.schema"
local internal = require "cloudops.client.internal"

local type, pairs, pcall, error, tostring = type, pairs, pcall, error, tostring
local encode = core.encode

local paging = {}

-- The paged method for `method`, its request copied (the caller's table is left alone), and
-- the options checked, or raises at the user's call site (level 3: the helper's caller).
local function prepare(self, what, method, req, opts)
  local m = type(method) == "string" and schema.method(method)
  if not m then error(what .. ": unknown method '" .. tostring(method) .. "'", 3) end
  if not m.items then
    error(what .. ": " .. m.name .. " is not a paged method (no page_token/next_page_token)", 3)
  end
  if req ~= nil and type(req) ~= "table" then
    error(what .. ": the request must be a table or nil, got " .. type(req), 3)
  end
  local ok, err = internal.of(self).check_options(opts)
  if not ok then error(what .. ": " .. err, 3) end
  -- Checked now so that a bad request raises here, not at the first turn of the loop.
  local fits, why = pcall(encode, m.input, req)
  if not fits then error(why, 3) end
  local copy = {}
  for k, v in pairs(req or {}) do copy[k] = v end
  return m, copy
end

-- An iterator over whole responses: resp, nil, info for each page; false, err once on a
-- failure; then nil.
local function page_iterator(self, m, req, opts)
  local done = false
  return function()
    if done then return nil end
    local resp, err, info = self:call(m.name, req, opts)
    if not resp then
      done = true
      return false, err
    end
    local token = resp.next_page_token
    if token == nil or token == "" then
      done = true
    else
      req.page_token = token
    end
    return resp, nil, info
  end
end

--- for resp, err in client:pages("get_users", req, opts) do ... end
function paging.pages(self, method, req, opts)
  local m, copy = prepare(self, "pages", method, req, opts)
  return page_iterator(self, m, copy, opts)
end

--- for item, err in client:paginate("get_users", req, opts) do ... end
function paging.paginate(self, method, req, opts)
  local m, copy = prepare(self, "paginate", method, req, opts)
  local next_page = page_iterator(self, m, copy, opts)
  local items, i = {}, 0
  return function()
    i = i + 1
    -- An empty page that still has a next token is skipped, not taken for the end.
    while items[i] == nil do
      local resp, err = next_page()
      if not resp then return resp, err end
      items, i = resp[m.items] or {}, 1
    end
    return items[i]
  end
end

return paging
