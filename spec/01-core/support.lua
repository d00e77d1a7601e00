--- What the core specs that go through a client share: spec/support/test_server.lua, with
-- clients of it.
local helpers = require "helpers"
local cloudops = require "cloudops"

local S = {}

--- { setup, teardown (for lazy_setup and lazy_teardown), server (from setup on), connect(metadata)
-- (a client of it with neither rate limit nor retries, closed at teardown) }.
function S.test_server()
  local s = { clients = {} }
  function s.setup() s.server = helpers.test_server() end
  function s.teardown()
    for _, c in ipairs(s.clients) do c:close() end
    if s.server then s.server.stop() end
    helpers.cleanup()
  end
  function s.connect(metadata)
    local c = assert(cloudops.connect{ endpoint = s.server.endpoint, insecure = true, api_key = "spec-key",
                                       rate_limit = false, retry = false, metadata = metadata })
    s.clients[#s.clients + 1] = c
    return c
  end
  return s
end

return S
