--- Command line parsing shared by bin/cloudops and bin/cloudops-repl: GNU-style long options
-- (`--name value`, `--name=value`, `--` ends the options) anywhere among the arguments, and
-- the connection flags of API.md "Tools" turned into cloudops.connect options.
local tonumber, pairs = tonumber, pairs
local match, sub = string.match, string.sub

local args = {}

--- The connection flags both tools take: name -> "value" or "flag".
args.CONNECTION = {
  endpoint = "value", insecure = "flag", ["ca-file"] = "value", ["server-name"] = "value",
  ["api-version"] = "value", timeout = "number", ["no-retry"] = "flag",
}

--- Parses argv against spec (option name -> "value" | "number" | "flag"; short aliases as
-- spec.aliases = { h = "help" }). Returns options (flags true, values strings or numbers,
-- keyed by option name) and the positional arguments, or nil, message.
function args.parse(argv, spec)
  local opts, positional = {}, {}
  local aliases = spec.aliases or {}
  local i, n = 1, #argv
  local only_positional = false
  while i <= n do
    local a = argv[i]
    if only_positional or a == "-" or sub(a, 1, 1) ~= "-" then
      positional[#positional + 1] = a
    elseif a == "--" then
      only_positional = true
    else
      local name, value = match(a, "^%-%-([^=]+)=(.*)$")
      if not name then name = match(a, "^%-%-(.+)$") or aliases[sub(a, 2)] end
      local kind = name and spec[name]
      if not kind or name == "aliases" then return nil, "unknown option " .. a end
      if kind == "flag" then
        if value then return nil, "option --" .. name .. " takes no value" end
        opts[name] = true
      else
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, "option --" .. name .. " needs a value" end
        end
        if kind == "number" then
          local v = tonumber(value)
          if not v or v <= 0 then return nil, "option --" .. name .. " needs a positive number, got '" .. value .. "'" end
          value = v
        end
        opts[name] = value
      end
    end
    i = i + 1
  end
  return opts, positional
end

--- A spec with the connection flags and `extra` ones.
function args.spec(extra)
  local s = { aliases = extra.aliases }
  for k, v in pairs(args.CONNECTION) do s[k] = v end
  for k, v in pairs(extra) do if k ~= "aliases" then s[k] = v end end
  return s
end

--- cloudops.connect options from parsed flags; the key comes from TEMPORAL_CLOUD_API_KEY
-- (connect's default) unless api_key is given.
function args.connect_options(opts, api_key)
  local o = {
    endpoint = opts.endpoint,
    insecure = opts.insecure or nil,
    api_version = opts["api-version"],
    timeout = opts.timeout,
    api_key = api_key,
  }
  if opts["no-retry"] then o.retry = false end
  if opts["ca-file"] or opts["server-name"] then
    o.tls = { ca_file = opts["ca-file"], server_name = opts["server-name"] }
  end
  return o
end

--- The usage lines of the connection flags.
args.CONNECTION_HELP = [[
  --endpoint HOST:PORT   the API endpoint (default saas-api.tmprl.cloud:443)
  --insecure             plaintext, for a local emulator (the key is sent in clear)
  --ca-file FILE         trust this CA (PEM) for TLS
  --server-name NAME     the TLS server name to verify (default: the endpoint's host)
  --api-version V        the temporal-cloud-api-version header (default: the built-in schema's)
  --timeout SECONDS      deadline of each RPC attempt (default 30)
  --no-retry             one attempt per RPC (by default UNAVAILABLE, RESOURCE_EXHAUSTED and a
                         read's DEADLINE_EXCEEDED are retried with backoff, up to 8 attempts)]]

return args
