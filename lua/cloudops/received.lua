--- When a response table was received, on the client's clock: the call path marks each
-- response (and the AsyncOperation it holds), and `wait` counts an operation's check_duration
-- from that moment (docs/reference.md "Helpers"), so an operation received long ago is polled
-- at once.
-- The tables are weak keys: marking keeps nothing alive.
local setmetatable, type = setmetatable, type

local at = setmetatable({}, { __mode = "k" })

local received = {}

--- Notes that resp was received at time t (the client's clock).
function received.mark(resp, t)
  at[resp] = t
  local op = resp.async_operation
  if type(op) == "table" then at[op] = t end
end

--- When t (a response or an AsyncOperation) was received, or nil if not known.
function received.at(t)
  return at[t]
end

return received
