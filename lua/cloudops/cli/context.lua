--- What the commands of bin/cloudops share (docs/reference.md "bin/cloudops"): a context per
-- run holding the streams, the parsed flags and the command's arguments, with the exit
-- statuses, the JSON output, the request input, and the client the flags ask for.
local cloudops = require "cloudops"
local json = require "cloudops.json"
local args = require "cloudops.cli.args"
local schema = require "cloudops.schema"
local diagnosis = require "cloudops.diagnosis"
local nearest = require "cloudops.nearest"

local tostring, type, ipairs, setmetatable = tostring, type, ipairs, setmetatable
local sub, find = string.sub, string.find

local context = {}
context.__index = context

-- The exit statuses: 0 success, 1 an RPC or operation error (its code name on stderr), 2 a
-- usage error, 3 a timeout (DEADLINE_EXCEEDED, or the end of --wait-timeout).
context.OK, context.FAILED, context.USAGE, context.TIMEOUT = 0, 1, 2, 3

--- A context: io_ { stdin, stdout, stderr }, opts (the parsed flags), words (the command's
-- arguments, after its name), argv (the whole command line, for a command that runs what
-- follows "--"). ctx.usage_status, when set, is the exit status of a usage error (the plan
-- commands: 1, as 2 means "changes" there).
function context.new(io_, opts, words, argv)
  return setmetatable({ io = io_, opts = opts, words = words, argv = argv or {} }, context)
end

--- Adds option (or flag, when argname is nil) `name` to parser p unless `declared` has it:
-- a flag several commands take is declared once.
function context.option(p, declared, name, help, argname)
  local key = name:gsub("^%-%-", ""):gsub("%-", "_")
  if declared[key] then return end
  declared[key] = true
  if argname then p:option(name, help):argname(argname) else p:flag(name, help) end
end

-- ---- output --------------------------------------------------------------------------------

--- A usage error on stderr; returns the status to exit with.
function context:usage_error(message)
  self.io.stderr:write("cloudops: ", tostring(message), "\n(cloudops --help for usage)\n")
  return self.usage_status or context.USAGE
end

--- A failure of the command (not the RPC's error form): its message on stderr; exit status 1.
function context:fail(message)
  self.io.stderr:write("cloudops: ", tostring(message), "\n")
  return context.FAILED
end

--- An RPC or operation error on stderr, its code name first, then what it says (the hints
-- naming flags, not connect's options); returns the status to exit with.
function context:rpc_error(err)
  local stderr = self.io.stderr
  local name = type(err) == "table" and err.name or "UNKNOWN"
  stderr:write(tostring(name), ": ", diagnosis.for_cli(err), "\n")
  if type(err) == "table" and type(err.details) == "table" and #err.details > 0 then
    local text = json.encode_value(err.details)
    if text then stderr:write("details: ", text, "\n") end
  end
  if name == "DEADLINE_EXCEEDED" then return context.TIMEOUT end
  return context.FAILED
end

--- The JSON options the flags ask for (--pretty, --proto-names); one_line: never indented.
function context:json_options(one_line)
  return { indent = (self.opts.pretty and not one_line) and 2 or nil, proto_names = self.opts.proto_names or nil }
end

--- Prints message t of type type_name as JSON on stdout; false (said on stderr) when it cannot.
function context:print_message(type_name, t, one_line)
  local text, err = json.encode(type_name, t, self:json_options(one_line))
  if not text then
    self.io.stderr:write("cloudops: cannot print the ", type_name, " as JSON: ", tostring(err), "\n")
    return false
  end
  self.io.stdout:write(text, "\n")
  return true
end

-- ---- input ---------------------------------------------------------------------------------

--- Fails (a usage error's message) when the command was given more than n arguments.
function context:at_most(n)
  local extra = self.words[n + 1]
  if extra then return nil, "unexpected argument '" .. extra .. "'" end
  return true
end

-- The request text: inline JSON, @FILE, or @- (stdin); nil for none. Or nil, message.
local function request_text(io_, arg)
  if arg == nil then return nil end
  if sub(arg, 1, 1) ~= "@" then return arg end
  local path = sub(arg, 2)
  if path == "-" then return io_.stdin:read("a") or "" end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read the request: " .. tostring(err) end
  local text = f:read("a")
  f:close()
  return text
end

local method_names
--- The method named by `name` (GetNamespaces or get_namespaces), or nil, message naming the
-- nearest one.
function context.method(name)
  local m = schema.method(name)
  if m then return m end
  if not method_names then
    method_names = {}
    for _, x in ipairs(schema.methods()) do
      method_names[#method_names + 1] = x.name
      method_names[#method_names + 1] = x.snake
    end
  end
  local hint = nearest.hint(name, method_names)
  return nil, "unknown method '" .. name .. "'" .. (hint ~= "" and hint or " (cloudops methods lists them)")
end

--- The method of the first argument and its request table (the second: JSON, @FILE or @-),
-- or nil, message (a usage error). what: the command's name, for the message.
function context:method_and_request(what)
  local name = self.words[1]
  if not name then return nil, what .. " needs a METHOD" end
  local ok, extra = self:at_most(2)
  if not ok then return nil, extra end
  local m, merr = context.method(name)
  if not m then return nil, merr end
  local text, terr = request_text(self.io, self.words[2])
  if terr then return nil, terr end
  if text == nil or find(text, "^%s*$") then return m, {} end
  local req, err = json.decode(m.input, text)
  if not req then return nil, "bad request for " .. m.name .. ": " .. tostring(err) end
  return m, req
end

--- The client the flags ask for, or nil, message (a usage error: no key, a bad flag; connect's
-- options named as the flags that set them).
function context:connect()
  if not args.has_key() then return nil, "no API key: set TEMPORAL_CLOUD_API_KEY" end
  local client, err = cloudops.connect(args.connect_options(self.opts))
  if not client then return nil, diagnosis.for_cli(type(err) == "table" and err.message or err) end
  return client
end

return context
