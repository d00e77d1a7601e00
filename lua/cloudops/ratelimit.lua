--- A client-side token bucket: `rate` requests per second, bursts of at most `burst`.
-- take() reserves a token and returns how long to wait before using it, so that callers that
-- sleep that long send at the allowed rate, in order, without polling.
local min = math.min

local Bucket = {}
Bucket.__index = Bucket

local ratelimit = {}

--- clock: a function returning monotonic seconds.
function ratelimit.new(rate, burst, clock)
  return setmetatable({ rate = rate, burst = burst, tokens = burst, last = clock(), clock = clock }, Bucket)
end

function Bucket:take()
  local now = self.clock()
  self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate) - 1
  self.last = now
  if self.tokens >= 0 then return 0 end
  return -self.tokens / self.rate
end

return ratelimit
