local helpers = require "helpers"
local cloudops = require "cloudops"

describe("cloudops-emulator and signals", function()
  lazy_teardown(helpers.cleanup)

  for _, sig in ipairs{ "TERM", "INT" } do
    it("shuts down cleanly on SIG" .. sig .. ", saving its state", function()
      local dir = helpers.tmpdir()
      local state = dir .. "/state.lua"
      local proc = helpers.spawn(helpers.LUA .. " " .. helpers.ROOT .. "bin/cloudops-emulator --port 0 --log none" ..
        " --op-duration 0 --op-pending 0 --api-key spec-owner-key --state " .. state, "ready:")
      finally(proc.stop)
      local port = assert((helpers.read_file(proc.log) or ""):match("listening on 127%.0%.0%.1:(%d+)"))
      local c = assert(cloudops.connect{ endpoint = "127.0.0.1:" .. port, insecure = true,
                                         api_key = "spec-owner-key", rate_limit = false })
      assert(c:create_user{ spec = { email = "signal-" .. sig:lower() .. "@example.com",
                                     access = { account_access = { role = "ROLE_READ" } } } })
      c:close()
      os.execute("kill -" .. sig .. " " .. proc.pid)
      local core = require "cloudops.core"
      local deadline = core.now() + 5
      while proc.alive() and core.now() < deadline do core.sleep(0.02) end
      assert.is_false(proc.alive())
      assert.matches("stopped: signal " .. sig, helpers.read_file(proc.log))
      assert.matches("signal%-" .. sig:lower() .. "@example%.com", helpers.read_file(state) or "")
    end)
  end
end)
