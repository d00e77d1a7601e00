--- What a failure to reach the server most likely means. gRPC reports every one of them as
-- UNAVAILABLE, the code that is retried, yet retrying cannot cure a plaintext server, a port
-- nobody listens on or a host name that does not exist: those fail at once, their message led
-- by the likely cause and what to change.
local type, ipairs = type, ipairs
local find = string.find

local diagnosis = {}

local UNAVAILABLE = 14

-- gRPC's (1.51) words for each mistake, and the cause to name.
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

--- The likely cause of a failed call (code, message), or nil when retrying may help. Only
-- gRPC's own connection failures count: a server (or a proxy) saying the same words in a
-- status of its own may be over a transient fault.
function diagnosis.cause(code, message)
  if code ~= UNAVAILABLE or type(message) ~= "string" then return nil end
  if not (find(message, "^failed to connect to all addresses") or find(message, "^DNS resolution failed")) then
    return nil
  end
  for _, c in ipairs(CAUSES) do
    if find(message, c[1], 1, true) then return c[2] end
  end
  return nil
end

return diagnosis
