--- connect's options (API.md "Loading and connecting"): their names, their types, and the
-- channel options of the C core made from them. Every check returns nil, message for a bad
-- option (connect turns it into its `nil, err`).
local type, pairs, tostring = type, pairs, tostring
local open = io.open

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

--- Whether md is a table of lowercase header names to string values (nil is fine).
function options.check_metadata(md, what)
  if md == nil then return true end
  if type(md) ~= "table" then return nil, what .. " must be a table of header names to values" end
  for k, v in pairs(md) do
    if type(k) ~= "string" or type(v) ~= "string" then
      return nil, what .. " must map header names (strings) to values (strings)"
    end
    if k ~= k:lower() then return nil, what .. ": header name '" .. k .. "' must be lowercase" end
  end
  return true
end

--- Whether every option is known and of the type it must have.
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
  if o.timeout and not (o.timeout > 0) then return nil, "timeout must be positive" end
  if o.proxy ~= nil and o.proxy ~= false and type(o.proxy) ~= "string" then
    return nil, "proxy must be a URL string or false"
  end
  local k = o.api_key
  if k ~= nil and type(k) ~= "string" and type(k) ~= "function" then
    return nil, "api_key must be a string or a function returning one"
  end
  return true
end

--- The channel options for the C core from connect's options, or nil, message. version: the
-- module's, for the user agent.
function options.channel_options(o, version)
  local ch = { insecure = o.insecure == true, proxy = o.proxy }
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
