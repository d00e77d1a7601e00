local helpers = require "helpers"

-- Runs a Lua 5.4 chunk in a fresh process with the in-tree module; returns stdout, stderr.
local function run_lua(code, env)
  local d = helpers.tmpdir()
  local prelude = ("package.path = %q .. 'lua/?.lua;' .. %q .. 'lua/?/init.lua;' .. package.path\n" ..
                   "package.cpath = %q .. ';' .. package.cpath\n"):format(helpers.ROOT, helpers.ROOT,
                                                                           helpers.CORE_CPATH)
  helpers.write_file(d .. "/chunk.lua", prelude .. code)
  local out = helpers.run((env or "") .. " " .. helpers.LUA .. " " .. d .. "/chunk.lua 2>" .. d .. "/err")
  return out, helpers.read_file(d .. "/err")
end

describe("the process", function()
  lazy_teardown(helpers.cleanup)

  it("starts gRPC only with the first client, not when the module loads (fork safety)", function()
    local out = run_lua([[
      local function threads()
        local n = 0
        for line in io.lines("/proc/self/status") do n = tonumber(line:match("^Threads:%s*(%d+)")) or n end
        return n
      end
      local cloudops = require "cloudops"
      io.write(threads(), " ")
      local c = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "k" })
      io.write(threads())
      c:close()
    ]])
    local before, after = out:match("^(%d+) (%d+)$")
    assert.equal("1", before)
    assert.is_true(tonumber(after) > 1)
  end)

  it("keeps gRPC's log quiet unless GRPC_VERBOSITY asks for it", function()
    local code = [[
      local cloudops = require "cloudops"
      local c = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "k", retry = false })
      local resp, err = c:get_namespaces{}
      io.write(err.name)
    ]]
    local out, err = run_lua(code)
    assert.equal("UNAVAILABLE", out)
    assert.equal("", err)
    out, err = run_lua(code, "GRPC_VERBOSITY=debug")
    assert.equal("UNAVAILABLE", out)
    assert.is_true(#err > 0)
  end)
end)
