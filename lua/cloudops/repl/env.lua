--- The REPL's global environment: the connected client and the helpers a user types
-- (help, describe, methods, pp), over the real globals.
local cloudops = require "cloudops"
local pretty = require "cloudops.pretty"
local schema = require "cloudops.schema"
local typed = require "cloudops.repl.typed"

local type, tostring, setmetatable, ipairs, print = type, tostring, setmetatable, ipairs, print
local find, lower = string.find, string.lower

local env = {}

local HELP = [[
cloudops REPL: Lua 5.4 with a connected client. Type an expression to see its value.

  client:get_namespaces{ page_size = 10 }     every RPC is a method, its name in snake_case
  client:call("GetNamespaces", req)          the same, by name
  for u in client:paginate("get_users") do print(u.spec.email) end
  r = client:create_namespace{ spec = { name = "dev", replicas = { { region = "aws-us-east-1" } },
        retention_days = 7, api_key_auth = { enabled = true } } }
  client:wait(r)                              wait for the operation it started
  client:update("namespace", "dev.emu01", function(ns) ns.spec.retention_days = 14 end)

  help()                 this text          help("get_users")    a method, message or enum
  describe("X")          fields and types   methods("user")      method names with "user"
  pp(value, "Type")      print a value, as message Type (Timestamps as text, ...)
  json.encode("Type", t) / json.decode("Type", text)              the proto3 JSON mapping
  _                      the last value     exit()               leave (also Ctrl-D)

Also here: cloudops, time (cloudops.time), null, empty_array, emu (with --emulator).
Tab completes method names, table keys, request fields and names in describe("...").
A failed call returns nil, err: err prints as its code and message; its fields are
err.code, err.name, err.message, err.details.]]

--- Builds the environment. state: { client = real client or nil, emulator = handle or nil,
-- connect_error = text when there is no client }. Sets state.exit when exit() is called.
function env.new(state)
  local e = {}
  e.cloudops = cloudops
  e.json = require "cloudops.json"
  e.time = cloudops.time
  e.null, e.empty_array = cloudops.null, cloudops.empty_array
  e.pretty = pretty
  if state.client then e.client = typed.wrap(state.client) end
  if state.emulator then
    e.emu = { endpoint = state.emulator.endpoint, api_key = state.emulator.api_key, keys = state.emulator.keys }
  end

  function e.help(what)
    if what == nil then
      print(HELP)
      if not state.client then print("\n(no client: " .. tostring(state.connect_error) .. ")") end
      return
    end
    if type(what) ~= "string" then
      print("help(name): name is a method, message or enum name, e.g. help(\"get_users\")")
      return
    end
    e.describe(what)
  end

  function e.describe(name)
    local text, err = pretty.describe(name)
    print(text or ("describe: " .. tostring(err)))
  end

  function e.methods(filter)
    local names = {}
    local f = filter and lower(filter)
    for _, m in ipairs(schema.methods()) do
      if not f or find(m.snake, f, 1, true) or find(lower(m.name), f, 1, true) then
        names[#names + 1] = m.snake
      end
    end
    return names
  end

  function e.pp(v, type_name)
    print(pretty.format(v, { type = type_name or typed.type_of(v) }))
  end

  function e.exit()
    state.exit = true
  end
  e.quit = e.exit

  return setmetatable(e, { __index = _G })
end

return env
