--- connect's options (docs/reference.md "The client"): their names, their types, and the
-- channel options of the C core made from them. Every check returns nil, message for a bad
-- option (connect turns it into its `nil, err`).
local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local open, getenv, huge = io.open, os.getenv, math.huge

local options = {}

options.OPTIONS = {
  api_key = true, endpoint = true, api_version = true, insecure = true, tls = true, timeout = true,
  retry = true, rate_limit = true, auto_operation_id = true, user_agent = true, metadata = true,
  keepalive = true, max_receive_size = true, proxy = true, on_event = true, max_operations = true,
}
options.TLS_OPTIONS = { ca_file = true, server_name = true, cert_file = true, key_file = true }
local TLS_OPTIONS = options.TLS_OPTIONS

--- The contents of a file, or nil, message naming the option it came from.
function options.read_file(path, what)
  local f, err = open(path, "rb")
  if not f then return nil, "cannot read " .. what .. ": " .. tostring(err) end
  local text = f:read("*a")
  f:close()
  return text
end
local read_file = options.read_file

-- Why a header value cannot be sent as it is, or nil: gRPC carries printable ASCII only.
-- The value itself is never quoted (it may be a key).
local function header_value_problem(v)
  local at = v:find("[^\32-\126]")
  if not at then return nil end
  local c = v:byte(at)
  local what = c == 10 and "a newline" or c == 13 and "a carriage return" or c == 0 and "a NUL byte"
    or c < 32 and ("control character " .. c) or c == 127 and "a DEL" or "a non-ASCII byte"
  local hint = (c == 10 or c == 13) and at >= #v - 1 and " (read from a file? strip the line end)" or ""
  return what .. " at byte " .. at .. hint
end

--- Whether md is a table of header names (lowercase letters, digits, "-", "_", ".") to
-- values a header can carry (printable ASCII; any bytes under a name ending in "-bin").
function options.check_metadata(md, what)
  if md == nil then return true end
  if type(md) ~= "table" then return nil, what .. " must be a table of header names to values" end
  for k, v in pairs(md) do
    if type(k) ~= "string" or type(v) ~= "string" then
      return nil, what .. " must map header names (strings) to values (strings)"
    end
    if k ~= k:lower() then return nil, what .. ": header name '" .. k .. "' must be lowercase" end
    if k == "" or k:find("[^%w%-_%.]") or k:sub(1, 1) == ":" then
      return nil, what .. ": '" .. k .. "' is not a header name (lowercase letters, digits, '-', '_', '.')"
    end
    local problem = not k:find("%-bin$") and header_value_problem(v)
    if problem then return nil, what .. ": the value of '" .. k .. "' holds " .. problem end
  end
  return true
end

-- A positive, finite number of seconds (or bytes), or nil, message naming `what`.
local function check_positive(v, what, whole)
  if type(v) ~= "number" or not (v > 0) or v == huge or (whole and v % 1 ~= 0) then
    return nil, what .. " must be a positive " .. (whole and "whole number" or "number") ..
      ", got " .. (v ~= v and "NaN" or type(v) == "number" and tostring(v) or type(v))
  end
  return true
end

local function check_keepalive(ka)
  if ka == nil or ka == false then return true end
  if type(ka) ~= "table" then return nil, "keepalive must be a table { time =, timeout = } or false" end
  for k, v in pairs(ka) do
    if k ~= "time" and k ~= "timeout" then return nil, "unknown keepalive setting '" .. tostring(k) .. "'" end
    local ok, err = check_positive(v, "keepalive." .. k)
    if not ok then return nil, err .. " (seconds)" end
  end
  return true
end

-- gRPC takes the receive limit as a C int.
local MAX_RECEIVE_SIZE = 2 ^ 31 - 1

--- Whether every option is known and of the type it must have, within its range.
function options.check_types(o)
  for k in pairs(o) do
    if not options.OPTIONS[k] then return nil, "unknown option '" .. tostring(k) .. "'" end
  end
  local expect = {
    endpoint = "string", api_version = "string", insecure = "boolean", timeout = "number",
    auto_operation_id = "boolean", user_agent = "string", max_receive_size = "number",
    on_event = "function",
  }
  for k, t in pairs(expect) do
    if o[k] ~= nil and type(o[k]) ~= t then return nil, k .. " must be a " .. t end
  end
  local ok, err = true, nil
  if o.timeout ~= nil then ok, err = check_positive(o.timeout, "timeout") end
  if ok and o.max_receive_size ~= nil then
    ok, err = check_positive(o.max_receive_size, "max_receive_size", true)
    if ok and o.max_receive_size > MAX_RECEIVE_SIZE then
      ok, err = nil, "max_receive_size must be at most " .. MAX_RECEIVE_SIZE .. " bytes"
    end
  end
  if ok then ok, err = check_keepalive(o.keepalive) end
  if not ok then return nil, err end
  if o.proxy ~= nil and o.proxy ~= false and (type(o.proxy) ~= "string" or o.proxy == "") then
    return nil, "proxy must be a URL string (\"http://host:port\") or false"
  end
  for _, k in ipairs { "api_version", "user_agent", "proxy" } do
    local problem = type(o[k]) == "string" and header_value_problem(o[k])
    if problem then return nil, k .. " holds " .. problem end
  end
  local key = o.api_key
  if key ~= nil and type(key) ~= "string" and type(key) ~= "function" then
    return nil, "api_key must be a string or a function returning one"
  end
  return true
end

--- Why an API key cannot be sent in a header, or nil (for the key function's result too).
function options.key_problem(key)
  local problem = header_value_problem(key)
  return problem and ("the API key holds " .. problem)
end

--- The endpoint to connect to: the option, else TEMPORAL_CLOUD_ENDPOINT, else the default;
-- or nil, message saying what to write instead. gRPC would take "127.0.0.1" as port 0 and
-- "http://host:port" as a host name to resolve, and fail only at the first call.
function options.endpoint(e, default)
  local from = "endpoint"
  if e == nil then
    e = getenv("TEMPORAL_CLOUD_ENDPOINT")
    if e == nil or e == "" then return default end
    from = "TEMPORAL_CLOUD_ENDPOINT"
  end
  local function bad(why, instead)
    return nil, from .. " " .. why .. (instead and ("; write " .. instead) or "")
  end
  if e == "" then return bad("is empty", "\"host:port\", e.g. \"" .. default .. "\"") end
  if #e > 255 then return bad("is longer than 255 characters") end
  if e:find("[%z%s%c]") then return bad("holds a space or a control character") end
  local scheme, rest = e:match("^(%a[%w+.-]*)://(.*)$")
  if scheme then
    local hostport = rest:match("^([^/]*)")
    local plain = scheme:lower() == "http"
    return bad("is a URL, not host:port", "\"" .. hostport .. "\"" ..
      (plain and " with insecure = true (plaintext)" or ""))
  end
  local host, port = e:match("^%[([%x:%.]+)%]:(%d+)$")
  if not host then host, port = e:match("^([%w%-_%.]+):(%d+)$") end
  if not host then
    if e:match("^[%w%-_%.]+$") or e:match("^%[[%x:%.]+%]$") then
      return bad("\"" .. e .. "\" has no port", "\"" .. e .. ":443\" for TLS, or the port your " ..
        "server listens on (the emulator prints it: \"listening on 127.0.0.1:PORT\")")
    end
    return bad("\"" .. e .. "\" is not host:port", "e.g. \"" .. default .. "\" or \"127.0.0.1:7233\"")
  end
  local n = tonumber(port)
  if n < 1 or n > 65535 then return bad("has port " .. port .. ", not 1 to 65535") end
  return e
end

-- Whether host (of a host:port endpoint) is this machine's loopback: 127.0.0.0/8, ::1, localhost.
local function is_loopback(endpoint)
  local host = endpoint:match("^%[([%x:%.]+)%]:%d+$") or endpoint:match("^(.*):%d+$") or endpoint
  host = host:lower()
  if host == "localhost" or host == "::1" or host == "0:0:0:0:0:0:0:1" then return true end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return a ~= nil and tonumber(a) == 127 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256
end
options.is_loopback = is_loopback

local ENV_TRUE = { ["1"] = true, ["true"] = true, yes = true }
local ENV_FALSE = { ["0"] = true, ["false"] = true, no = true, [""] = true }

--- Whether the channel is plaintext: the option when given; else TEMPORAL_CLOUD_INSECURE=1, for
-- a loopback endpoint only, so that a stray variable never sends a key in the clear (reference
-- "Loading and connecting"). Returns nil, message when the variable cannot be honoured.
function options.insecure(o, endpoint)
  if o.insecure ~= nil then return o.insecure end
  local v = getenv("TEMPORAL_CLOUD_INSECURE")
  if v == nil or ENV_FALSE[v:lower()] then return false end
  if not ENV_TRUE[v:lower()] then
    return nil, "TEMPORAL_CLOUD_INSECURE must be 1 (plaintext, for a local server) or 0, got \"" .. v .. "\""
  end
  if not is_loopback(endpoint) then
    return nil, "TEMPORAL_CLOUD_INSECURE=1 asks for plaintext, which is only allowed to a loopback " ..
      "endpoint (127.0.0.1, ::1, localhost), not " .. endpoint .. ": unset it, or pass insecure = true " ..
      "if you really mean to send the key in the clear"
  end
  return true
end

--- The channel options for the C core from connect's options, or nil, message. version: the
-- module's, for the user agent; insecure: options.insecure's answer.
function options.channel_options(o, version, insecure)
  local ch = { insecure = insecure == true, proxy = o.proxy }
  local tls = o.tls or {}
  if type(tls) ~= "table" then return nil, "tls must be a table" end
  for k in pairs(tls) do
    if not TLS_OPTIONS[k] then return nil, "unknown tls option '" .. tostring(k) .. "'" end
  end
  if tls.ca_file then
    local pem, err = read_file(tls.ca_file, "tls.ca_file")
    if not pem then return nil, err end
    ch.root_certs = pem
  end
  if (tls.cert_file == nil) ~= (tls.key_file == nil) then
    return nil, "tls.cert_file and tls.key_file go together"
  end
  if tls.cert_file then
    local cert, err = read_file(tls.cert_file, "tls.cert_file")
    if not cert then return nil, err end
    local key, kerr = read_file(tls.key_file, "tls.key_file")
    if not key then return nil, kerr end
    ch.cert_chain, ch.private_key = cert, key
  end
  ch.server_name = tls.server_name
  ch.user_agent = (o.user_agent and (o.user_agent .. " ") or "") .. "lua-cloudops/" .. version
  local ka = o.keepalive
  if ka == nil then ka = { time = 30, timeout = 15 } end
  if ka then
    if type(ka) ~= "table" then return nil, "keepalive must be a table or false" end
    ch.keepalive_time, ch.keepalive_timeout = ka.time or 30, ka.timeout or 15
  end
  ch.max_receive_size = o.max_receive_size or 128 * 1024 * 1024
  return ch
end

return options
