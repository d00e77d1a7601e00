-- Paging like the service: page_size 0 means the default (100), more than the maximum
-- (1000) is INVALID_ARGUMENT; next_page_token is opaque, empty on the last page. A token
-- names the list it belongs to and the sort key of the last item served, so a page is
-- stable when items are added or removed between calls.
local util = require "cloudops.emulator.util"
local errors = require "cloudops.emulator.errors"

local M = {}

local PREFIX = "cpt1:"

local function encode(scope, key)
  return util.hex(PREFIX .. scope .. "\0" .. key)
end

local function decode(token)
  local raw = util.unhex(token)
  if not raw or raw:sub(1, #PREFIX) ~= PREFIX then return nil end
  local scope, key = raw:sub(#PREFIX + 1):match("^([^%z]*)%z(.*)$")
  return scope, key
end

-- items: array sorted by keys[item] (strings, ascending). Returns the page (an array) and
-- the next token ("" at the end), or nil, err.
function M.page(items, keys, req, scope, cfg)
  local size = req.page_size or 0
  if size < 0 then
    return errors.invalid("page_size must not be negative, got %d", size)
  end
  if size > cfg.max_page_size then
    return errors.invalid("page_size cannot exceed %d, got %d", cfg.max_page_size, size)
  end
  if size == 0 then size = cfg.default_page_size end
  local first = 1
  local token = req.page_token
  if token ~= nil and token ~= "" then
    local tscope, after = decode(token)
    if tscope ~= scope then return errors.invalid("invalid page_token") end
    first = #items + 1
    for i, item in ipairs(items) do
      if keys[item] > after then first = i break end
    end
  end
  local page = {}
  local last = first + size - 1
  for i = first, math.min(last, #items) do page[#page + 1] = items[i] end
  local next_token = ""
  if last < #items then next_token = encode(scope, keys[items[last]]) end
  return page, next_token
end

return M
