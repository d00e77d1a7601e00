--- The command lines of bin/cloudops and bin/cloudops-repl, parsed by Debian's lua-argparse:
-- GNU-style long options (`--name value`, `--name=value`, `--` ends them) anywhere among the
-- arguments, the connection flags of docs/reference.md "bin/cloudops", and those flags turned into
-- cloudops.connect options.
local argparse = require "argparse"

local tonumber, getenv = tonumber, os.getenv

local args = {}

--- A converter for argparse of the flag `flag`'s value, a number of seconds: positive and
-- finite, or nil and a message naming the flag.
function args.seconds(flag)
  return function(text)
    local v = tonumber(text)
    if not v or v <= 0 or v ~= v or v == math.huge then
      return nil, flag .. " needs a positive number of seconds, got '" .. text .. "'"
    end
    return v
  end
end

--- A parser for the tool `name`, with the connection flags; add the tool's own, then parse.
-- `epilog` is printed after the flags by --help.
function args.parser(name, description, epilog)
  local p = argparse(name, description, epilog):add_help(false)
    :help_max_width(96):usage_max_width(96):help_description_margin(26)
  p:option("--endpoint", "the API endpoint (default: TEMPORAL_CLOUD_ENDPOINT, else " ..
    "saas-api.tmprl.cloud:443)"):argname("HOST:PORT")
  p:flag("--insecure", "plaintext, for a local emulator (the key is sent in clear)")
  p:option("--ca-file", "trust this CA (PEM) for TLS"):argname("FILE")
  p:option("--server-name", "the TLS server name to verify (default: the endpoint's host)"):argname("NAME")
  p:option("--api-version", "the temporal-cloud-api-version header (default: the built-in schema's)")
    :argname("V")
  p:option("--timeout", "deadline of each RPC attempt (default 30)"):argname("SECONDS")
    :convert(args.seconds("--timeout"))
  p:flag("--no-retry", "one attempt per RPC (by default UNAVAILABLE, RESOURCE_EXHAUSTED and a " ..
    "read's DEADLINE_EXCEEDED are retried with backoff, up to 8 attempts)")
  return p
end

--- The parsed flags of argv (names with "_" for "-": ca_file), or nil, message.
function args.parse(parser, argv)
  local ok, r = parser:pparse(argv)
  if not ok then return nil, r end
  return r
end

--- The --help text of a parser.
function args.help(parser)
  return (parser:get_help():gsub("^Usage:", "usage:")) .. "\n"
end

--- cloudops.connect options from parsed flags; the key comes from TEMPORAL_CLOUD_API_KEY
-- (connect's default) unless api_key is given, the endpoint from TEMPORAL_CLOUD_ENDPOINT.
function args.connect_options(opts, api_key)
  local o = {
    endpoint = opts.endpoint,
    insecure = opts.insecure or nil,
    api_version = opts.api_version,
    timeout = opts.timeout,
    api_key = api_key,
  }
  if opts.no_retry then o.retry = false end
  if opts.ca_file or opts.server_name then
    o.tls = { ca_file = opts.ca_file, server_name = opts.server_name }
  end
  return o
end

--- Whether an API key is there to connect with (flags never carry one).
function args.has_key(api_key)
  local k = api_key or getenv("TEMPORAL_CLOUD_API_KEY")
  return k ~= nil and k ~= ""
end

return args
