--- A small Redis client over lua-socket (RESP2), for Lua 5.4 and LuaJIT scripts: the few
-- commands the shared rate limit sends (EVALSHA, SCRIPT LOAD, AUTH, SELECT), each bounded by a
-- timeout, every failure returned as nil, err (luv's style), never raised.
--
-- Why not Debian's lua-redis: it is packaged for Lua 5.1-5.3 only (not on Lua 5.4's path), has
-- not changed since 2014, and raises on a failed command; the limiter needs a short timeout on
-- every step and a failure it can act on (fall back to a local bucket), in a few dozen lines.
local type, require, pcall, tostring, tonumber, setmetatable, select =
  type, require, pcall, tostring, tonumber, setmetatable, select
local concat, sub, byte = table.concat, string.sub, string.byte

local Conn = {}
Conn.__index = Conn

local resp = {}

-- An error reply from Redis (a command it refused, NOSCRIPT...), told apart from a transport
-- failure (the connection is then unusable) by this table's `redis` field.
local function redis_error(text)
  return { redis = true, message = text }
end

--- Connects to host:port within `timeout` seconds. Returns the connection or nil, err (text).
function resp.connect(host, port, timeout)
  -- lua-socket is needed only here, by a client with a Redis limit (loaded on first use).
  local has_socket, socket = pcall(require, "socket")
  if not has_socket then return nil, "lua-socket is not installed for this Lua (needed for rate_limit.redis)" end
  local s, err = socket.tcp()
  if not s then return nil, "socket: " .. tostring(err) end
  s:settimeout(timeout)
  local ok, cerr = s:connect(host, port)
  if not ok then
    s:close()
    return nil, "connect " .. host .. ":" .. tostring(port) .. ": " .. tostring(cerr)
  end
  s:setoption("tcp-nodelay", true)
  return setmetatable({ sock = s, timeout = timeout }, Conn)
end

-- One command as a RESP array of bulk strings.
local function encode(args, n)
  local out = { "*" .. n .. "\r\n" }
  for i = 1, n do
    local a = tostring(args[i])
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return concat(out)
end

-- Reads one reply: its value, or nil, err (text: the connection failed) or nil, error table
-- (Redis answered an error). Nested arrays keep Redis' error replies as error tables.
local function read(s)
  local line, err = s:receive("*l")
  if not line then return nil, "receive: " .. tostring(err) end
  local kind, rest = byte(line, 1), sub(line, 2)
  if kind == 43 then return rest end                          -- + simple string
  if kind == 45 then return nil, redis_error(rest) end        -- - error
  if kind == 58 then return tonumber(rest) end                -- : integer
  if kind == 36 then                                          -- $ bulk string
    local n = tonumber(rest)
    if not n then return nil, "bad bulk length: " .. line end
    if n < 0 then return false end
    local data, rerr = s:receive(n + 2)
    if not data then return nil, "receive: " .. tostring(rerr) end
    return sub(data, 1, n)
  end
  if kind == 42 then                                          -- * array
    local n = tonumber(rest)
    if not n then return nil, "bad array length: " .. line end
    if n < 0 then return false end
    local arr = {}
    for i = 1, n do
      local v, verr = read(s)
      if v == nil then
        if type(verr) ~= "table" then return nil, verr end
        v = verr
      end
      arr[i] = v
    end
    return arr
  end
  return nil, "not a Redis reply: " .. line
end

--- Sends one command (its words as arguments) and returns the reply, or nil, err: err is a
-- table { redis = true, message = } when Redis answered an error (the connection stays
-- usable), else text (timeout, closed: the connection is closed and must not be used again).
-- A nil bulk reply is false.
function Conn:command(...)
  local s = self.sock
  if not s then return nil, "closed" end
  local n = select("#", ...)
  local ok, err = s:send(encode({ ... }, n))
  if not ok then
    self:close()
    return nil, "send: " .. tostring(err)
  end
  local v, rerr = read(s)
  if v == nil and type(rerr) ~= "table" then self:close() end
  return v, rerr
end

function Conn:close()
  local s = self.sock
  if s then
    self.sock = nil
    s:close()
  end
end

resp.Conn = Conn
return resp
