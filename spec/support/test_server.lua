--- A gRPC server for the client specs, on the core's server binding. Each request is answered
-- as its x-test-* headers ask, and every header it received is echoed back as an
-- "x-echo-<name>" trailer, so a spec can see exactly what the client sent.
--
--   lua spec/support/test_server.lua [--port N] [--log FILE] [--tls-cert F --tls-key F] [--no-echo]
--
-- --no-echo leaves the x-echo-* trailers out, as a real server would (for benchmarks).
--
-- x-test-code: N            answer with status N ("requested status N")
-- x-test-retry-after: S     put a google.rpc.RetryInfo of S seconds in the status details
-- x-test-retry-info: S,N    ... a RetryInfo of exactly S seconds and N nanos (any int64/int32,
--                           negative or absurd: what a broken server may send)
-- x-test-retry-after-header: T  with x-test-code, a "retry-after: T" trailer (T as it is)
-- x-test-delay: S           answer after S seconds (a timer: other calls go on meanwhile)
-- x-test-fail-first: K:N:C  the first N calls carrying key K fail with status C (with
--                           x-test-retry-after or x-test-retry-info: that RetryInfo too)
-- x-test-items: N           GetNamespaces answers N namespaces
-- x-test-raw: 1             answer with bytes that are not a valid response
-- x-test-payload-bin: B     answer with the bytes B as the response message
-- x-test-die: 1             exit at once, the call unanswered (a server dying mid-call)
-- x-test-big: N             GetNamespaces answers one namespace whose name is N bytes long
-- x-test-answer-<method>-bin: B  answer <method> (its name in lower case) with the bytes B,
--                            the other methods as usual
-- x-test-answer-repeat: N    ... repeated N times (a large answer, headers being small)
-- x-test-details-bin: B      with x-test-code, send B as the grpc-status-details-bin trailer
-- x-test-echo-request: 1     echo the request's bytes in an "x-echo-request-bin" trailer
--
-- The --log FILE has a line per request: the method path, then tab-separated name=value for
-- each header received, and request.async_operation_id=ID when the request carries one.
local dir = arg[0]:match("^(.*)spec/support/test_server%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. package.path
local core_cpath = os.getenv("CLOUDOPS_CORE_CPATH")
package.cpath = (core_cpath and (core_cpath .. ";") or (dir .. (jit and "build/luajit/lua/?.so;" or "build/lua/?.so;")))
  .. package.cpath
local core = require "cloudops.core"

local log_path, cert, key, no_echo
local port = 0
local i = 1
while arg[i] do
  if arg[i] == "--log" then log_path = arg[i + 1]; i = i + 2
  elseif arg[i] == "--port" then port = tonumber(arg[i + 1]); i = i + 2
  elseif arg[i] == "--no-echo" then no_echo = true; i = i + 1
  elseif arg[i] == "--tls-cert" then cert = arg[i + 1]; i = i + 2
  elseif arg[i] == "--tls-key" then key = arg[i + 1]; i = i + 2
  else error("unknown argument " .. arg[i]) end
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local srv = assert(core.server{ address = "127.0.0.1:" .. port, tls = cert and { cert = read(cert), key = read(key) } })
io.stdout:write("listening on 127.0.0.1:", srv.port, "\n")
io.stdout:flush()
local log = log_path and assert(io.open(log_path, "a"))

local methods = {}
for _, name in ipairs(core.methods()) do
  local m = core.method(name)
  methods[m.path] = m
end

local failures = {} -- x-test-fail-first counts, by key
local timers = {}

-- The grpc-status-details-bin a failure with `code` carries: a RetryInfo (and an ErrorInfo)
-- when x-test-retry-after or x-test-retry-info asks for one, else nil.
local function retry_details(md, code)
  local ra = tonumber(md["x-test-retry-after"] or "")
  local raw_s, raw_n = (md["x-test-retry-info"] or ""):match("^(%-?%d+),(%-?%d+)$")
  if not (ra or raw_s) then return nil end
  local s, n
  -- (LuaJIT: an int64 past 2^53 goes to the encoder as its decimal string)
  if raw_s then s, n = (jit and #raw_s > 15) and raw_s or tonumber(raw_s), tonumber(raw_n)
  else s, n = core.parse_duration(ra) end
  return core.encode("google.rpc.Status", { code = code, message = "slow down", details = {
    { type_url = "type.googleapis.com/google.rpc.RetryInfo",
      value = core.encode("google.rpc.RetryInfo", { retry_delay = { seconds = s, nanos = n } }) },
    { type_url = "type.googleapis.com/google.rpc.ErrorInfo",
      value = core.encode("google.rpc.ErrorInfo", { reason = "TEST", domain = "spec", metadata = { a = "b" } }) },
  } })
end

local function answer(req)
  local md = req.metadata
  local m = methods[req.method]
  local trailers = {}
  for k, v in pairs(no_echo and {} or md) do
    if not k:match("^grpc%-") and not k:match("%-bin$") and k ~= "user-agent" then trailers["x-echo-" .. k] = v end
  end
  if not no_echo then
    trailers["x-echo-user-agent"] = md["user-agent"]
    trailers["x-echo-peer"] = req.peer
  end
  if md["x-test-echo-request"] then trailers["x-echo-request-bin"] = req.payload or "" end
  if not m then return 12, "unknown method " .. req.method, nil, trailers end
  local ok, decoded = pcall(core.decode, m.input, req.payload or "")
  if not ok or not decoded then return 3, "request does not decode as " .. m.input, nil, trailers end
  if md["x-test-raw"] then return 0, "", "\255\255\255\255", trailers end
  if md["x-test-payload-bin"] then return 0, "", md["x-test-payload-bin"], trailers end
  local chosen = md["x-test-answer-" .. m.name:lower() .. "-bin"]
  if chosen then return 0, "", chosen:rep(tonumber(md["x-test-answer-repeat"] or "1")), trailers end
  local ff = md["x-test-fail-first"]
  if ff then
    local k, n, c = ff:match("^(.-):(%d+):(%d+)$")
    failures[k] = (failures[k] or 0) + 1
    if failures[k] <= tonumber(n) then
      return tonumber(c), "failing on purpose (" .. failures[k] .. "/" .. n .. ")", nil, trailers,
        retry_details(md, tonumber(c))
    end
  end
  local code = tonumber(md["x-test-code"] or "0")
  if code ~= 0 then
    if md["x-test-retry-after-header"] then trailers["retry-after"] = md["x-test-retry-after-header"] end
    return code, "requested status " .. code, nil, trailers, md["x-test-details-bin"] or retry_details(md, code)
  end
  local resp = {}
  if m.name == "GetNamespaces" then
    resp.namespaces = {}
    for j = 1, tonumber(md["x-test-items"] or "0") do
      resp.namespaces[j] = { namespace = "ns-" .. j, state = "RESOURCE_STATE_ACTIVATING" }
    end
    local big = tonumber(md["x-test-big"] or "")
    if big then resp.namespaces[#resp.namespaces + 1] = { namespace = string.rep("n", big) } end
  elseif m.name == "GetAsyncOperation" then
    resp.async_operation = { id = decoded.async_operation_id, state = "STATE_FULFILLED" }
  elseif decoded.async_operation_id then
    resp.async_operation = { id = decoded.async_operation_id, state = "STATE_PENDING" }
  end
  local okr, payload = pcall(core.encode, m.output, resp)
  if not okr then return 13, payload, nil, trailers end
  return 0, "", payload, trailers
end

while true do
  local wait = 1
  local t = core.now()
  for _, tm in ipairs(timers) do wait = math.min(wait, math.max(0, tm.at - t)) end
  local req = srv:next(wait)
  if req then
    if log then
      local parts = { req.method }
      for k, v in pairs(req.metadata) do parts[#parts + 1] = k .. "=" .. v end
      -- The operation id each attempt carried, for the specs of retried mutations.
      local m = methods[req.method]
      local okd, decoded = pcall(core.decode, m and m.input or "", req.payload or "")
      if okd and type(decoded) == "table" and decoded.async_operation_id then
        parts[#parts + 1] = "request.async_operation_id=" .. decoded.async_operation_id
      end
      log:write(table.concat(parts, "\t"), "\n")
      log:flush()
    end
    if req.metadata["x-test-die"] then os.exit(1, false) end
    local delay = tonumber(req.metadata["x-test-delay"] or "")
    local r = { req.call, answer(req) }
    if delay then
      timers[#timers + 1] = { at = core.now() + delay, r = r }
    else
      r[1]:finish((table.unpack or unpack)(r, 2, 6))
    end
  end
  local keep = {}
  for _, tm in ipairs(timers) do
    if core.now() >= tm.at then
      tm.r[1]:finish((table.unpack or unpack)(tm.r, 2, 6))
    else
      keep[#keep + 1] = tm
    end
  end
  timers = keep
end
