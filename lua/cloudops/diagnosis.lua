--- What a mistake most likely was, said so that the person who made it can fix it.
--
-- A failure to reach the server: gRPC reports every one as UNAVAILABLE, the code that is
-- retried, yet retrying cannot cure a plaintext server, a port nobody listens on or a host
-- name that does not exist: those fail at once, their message led by the likely cause and
-- what to change. What to change is said to the reader: a script's author sets connect's
-- options (`insecure = true`), a command-line user gives flags (`--insecure`).
--
-- A mistyped client method: the nearest one is named, where Lua would only say "attempt to
-- call a nil value" (docs/reference.md "The client").
local nearest = require "cloudops.nearest"
local schema = require "cloudops.schema"

local type, ipairs, pairs, tostring, error, setmetatable, getmetatable =
  type, ipairs, pairs, tostring, error, setmetatable, getmetatable
local find, sub, match, gsub, lower = string.find, string.sub, string.match, string.gsub, string.lower

local diagnosis = {}

local UNAVAILABLE = 14

-- connect's options as a script writes them, and the flags of bin/cloudops and
-- bin/cloudops-repl that set them (cloudops.cli.args): whole phrases first, then the names.
local AS_FLAGS = {
  { "connect with insecure = true", "add --insecure" },
  { "connect without insecure = true", "leave out --insecure" },
  { "give that CA as tls.ca_file", "give that CA with --ca-file" },
  { "set tls.server_name to a name", "give --server-name a name" },
  { "insecure = true", "--insecure" },
  { "tls.server_name", "--server-name" },
  { "tls.ca_file", "--ca-file" },
  { "api_version", "--api-version" },
}

-- gRPC's (1.51) words for each mistake, and the cause to name (for a script's author).
local CAUSES = {
  { "wrong version number", "the server answered the TLS handshake in plaintext: for a " ..
    "plaintext server such as a local emulator, connect with insecure = true" },
  { "certificate verify failed", "the server's TLS certificate is not signed by a CA this " ..
    "client trusts: give that CA as tls.ca_file" },
  { "is not in peer certificate", "the server's TLS certificate is not for this host name: " ..
    "check the endpoint, or set tls.server_name to a name the certificate holds" },
  { "Socket closed", "the server closed the connection while it was being set up: if it " ..
    "speaks TLS (Temporal Cloud does), connect without insecure = true" },
  { "Connection refused", "nothing accepts connections at the endpoint: is the server " ..
    "running, and is the port the one it listens on?" },
  { "Domain name not found", "the endpoint's host name does not resolve: check its spelling" },
}

--- Text written for a script's author (connect's options named as Lua writes them), said to
-- `audience`: "lua" (as it is) or "cli" (the flags instead: `--insecure`, `--ca-file`, ...).
function diagnosis.phrase(text, audience)
  if audience ~= "cli" then return text end
  for _, w in ipairs(AS_FLAGS) do
    text = gsub(text, gsub(w[1], "[%.%-]", "%%%0"), w[2])
  end
  -- connect's messages about its endpoint option begin with its name
  return (gsub(text, "^endpoint ", "--endpoint "))
end

--- The likely cause of a failed call (code, message), or nil when retrying may help. Only
-- gRPC's own connection failures count: a server (or a proxy) saying the same words in a
-- status of its own may be over a transient fault. audience: "lua" (default) or "cli".
function diagnosis.cause(code, message, audience)
  if code ~= UNAVAILABLE or type(message) ~= "string" then return nil end
  if not (find(message, "^failed to connect to all addresses") or find(message, "^DNS resolution failed")) then
    return nil
  end
  for _, c in ipairs(CAUSES) do
    if find(message, c[1], 1, true) then return diagnosis.phrase(c[2], audience) end
  end
  return nil
end

--- The text of an error (a client's error value, or a message) for a command-line user: what
-- the client wrote about connect's options (an INVALID_OPTION, the cause leading a connection
-- failure) names the flags instead; what the server wrote is left as it is.
function diagnosis.for_cli(err)
  if type(err) ~= "table" then return diagnosis.phrase(tostring(err), "cli") end
  local message = err.message
  if type(message) == "string" then
    if err.code == nil then
      message = diagnosis.phrase(message, "cli") -- made by the client, every word
    elseif err.code == UNAVAILABLE then
      for _, c in ipairs(CAUSES) do
        if sub(message, 1, #c[2]) == c[2] then
          message = diagnosis.phrase(c[2], "cli") .. sub(message, #c[2] + 1)
          break
        end
      end
    end
  end
  if message == err.message then return tostring(err) end
  local copy = setmetatable({}, getmetatable(err)) -- printed as the error prints itself
  for k, v in pairs(err) do copy[k] = v end
  copy.message = message
  return tostring(copy)
end

-- ---- mistyped methods --------------------------------------------------------------------------

local method_names -- snake_case names of the RPCs, and the client's helpers
local HELPERS = { "call", "paginate", "pages", "wait", "update", "map", "close" }
local function client_methods()
  if not method_names then
    method_names = {}
    for _, m in ipairs(schema.methods()) do method_names[#method_names + 1] = m.snake end
    for _, h in ipairs(HELPERS) do method_names[#method_names + 1] = h end
  end
  return method_names
end

-- The first words of the RPC names (get, create, update, ...): a name beginning with one is
-- meant as a method.
local verbs
local function is_verb(word)
  if not verbs then
    verbs = {}
    for _, m in ipairs(schema.methods()) do verbs[match(m.snake, "^[^_]+")] = true end
    verbs.list = true -- other SDKs' word for what the API calls Get*s
  end
  return verbs[lower(word)] == true
end

--- The message for a method name the client does not have: the RPC written in CamelCase, or
-- the nearest method named.
function diagnosis.unknown_method(name)
  local m = schema.method(name)
  if m then
    return "the client has no method '" .. name .. "': its methods are snake_case, client:" .. m.snake .. "(...)"
  end
  local hint = nearest.hint(name, client_methods())
  return "the client has no method '" .. name .. "'" ..
    (hint ~= "" and hint or " (cloudops.methods() lists the RPCs)")
end

--- The value of a key the client has not (the __index of its class), so that a mistyped
-- method raises naming the nearest one. A key that reads as a method (its first word is an
-- RPC's: `get_namespacez`, `GetNamespaces`) gives a function raising that error when called;
-- any other key gives nil, as a table would, so that code testing a field (`client.foo`,
-- private `_fields` not set) works as before.
function diagnosis.missing_method(_, key)
  if type(key) ~= "string" or sub(key, 1, 1) == "_" then return nil end
  local first = match(key, "^(%a%l*)[_%u]") or match(key, "^(%a+)$")
  if not (first and is_verb(first)) then return nil end
  local message = diagnosis.unknown_method(key)
  return function() error(message, 2) end
end

return diagnosis
