-- gRPC status codes and the error tables handlers return: nil, { code =, message = }.
-- Helpers return (nil, err) so a handler can write `return errors.not_found(...)`.
local format = string.format

local M = {}

local codes = {
  OK = 0, CANCELLED = 1, UNKNOWN = 2, INVALID_ARGUMENT = 3, DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5, ALREADY_EXISTS = 6, PERMISSION_DENIED = 7, RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9, ABORTED = 10, OUT_OF_RANGE = 11, UNIMPLEMENTED = 12,
  INTERNAL = 13, UNAVAILABLE = 14, DATA_LOSS = 15, UNAUTHENTICATED = 16,
}
local names = {}
for name, num in pairs(codes) do names[num] = name end
M.codes, M.names = codes, names

-- Accepts a code name ("UNAVAILABLE", "unavailable") or number; raises on anything else,
-- since a bad code is a programming (or flag) mistake.
function M.code(c)
  if type(c) == "number" and names[c] then return c end
  if type(c) == "string" then
    local n = codes[c:upper()] or (tonumber(c) and names[tonumber(c)] and tonumber(c))
    if n then return n end
  end
  error("unknown gRPC status code: " .. tostring(c), 2)
end

function M.new(code, fmt, ...)
  return { code = M.code(code), message = select("#", ...) > 0 and format(fmt, ...) or fmt }
end

local function maker(code)
  return function(fmt, ...) return nil, M.new(code, fmt, ...) end
end

M.invalid = maker("INVALID_ARGUMENT")
M.not_found = maker("NOT_FOUND")
M.exists = maker("ALREADY_EXISTS")
M.denied = maker("PERMISSION_DENIED")
M.precondition = maker("FAILED_PRECONDITION")
M.unimplemented = maker("UNIMPLEMENTED")
M.unauthenticated = maker("UNAUTHENTICATED")

return M
