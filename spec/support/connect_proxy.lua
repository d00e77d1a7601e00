--- A minimal HTTP CONNECT proxy (luasocket), to check that the client's `proxy` option routes
-- the channel through a proxy. Prints "listening on 127.0.0.1:<port>", then one line
-- "CONNECT <target>" per tunnel it opens.
local socket = require "socket"

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
io.stdout:write("listening on 127.0.0.1:", port, "\n")
io.stdout:flush()
server:settimeout(0)

local pairs_of = {} -- socket -> its peer in the tunnel
local watched = { server }

local function drop(s)
  local peer = pairs_of[s]
  for i = #watched, 1, -1 do
    if watched[i] == s or watched[i] == peer then table.remove(watched, i) end
  end
  s:close()
  if peer then peer:close() end
  pairs_of[s], pairs_of[peer or s] = nil, nil
end

while true do
  local readable = socket.select(watched, nil, 1)
  for _, s in ipairs(readable) do
    if s == server then
      local c = server:accept()
      if c then
        c:settimeout(5)
        local line = c:receive("*l") or ""
        local target = line:match("^CONNECT (%S+) HTTP")
        repeat local h = c:receive("*l") until not h or h == ""
        local host, p = (target or ""):match("^(.*):(%d+)$")
        local up = host and socket.connect(host, tonumber(p))
        if up then
          io.stdout:write("CONNECT ", target, "\n")
          io.stdout:flush()
          c:send("HTTP/1.1 200 Connection established\r\n\r\n")
          c:settimeout(0)
          up:settimeout(0)
          pairs_of[c], pairs_of[up] = up, c
          watched[#watched + 1] = c
          watched[#watched + 1] = up
        else
          c:send("HTTP/1.1 502 Bad Gateway\r\n\r\n")
          c:close()
        end
      end
    elseif pairs_of[s] then
      local data, err, partial = s:receive(65536)
      data = data or partial
      if data and #data > 0 then pairs_of[s]:send(data) end
      if err == "closed" then drop(s) end
    end
  end
end
