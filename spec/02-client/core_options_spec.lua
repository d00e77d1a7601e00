-- The core reads its options safely (issue 11, items 3 and 10): strings an options table makes
-- afresh on every read (an __index) stay alive while gRPC reads them, with the garbage collector
-- running all the time (make test-asan turns a use after free into a failure); a server says
-- the host it bound.
local core = require "cloudops.core"
local schema = require "cloudops.schema"

-- A table whose every read of `fields` makes a new string, nothing else referring to it.
local function fresh(fields)
  return setmetatable({}, { __index = function(_, k)
    local v = fields[k]
    if type(v) == "string" then return (v .. " "):sub(1, -2) end
    return v
  end })
end

-- Runs f with the collector running between every few allocations.
local function under_gc_pressure(f)
  if jit then collectgarbage("setpause", 0) else collectgarbage("incremental", 0, 1000) end
  local ok, err = pcall(f)
  if jit then collectgarbage("setpause", 200) else collectgarbage("incremental", 200, 100) end
  assert(ok, err)
end

describe("the core's options", function()
  it("channel strings made afresh by an __index are kept alive while the channel is made", function()
    local srv = assert(core.server{ address = "127.0.0.1:0" })
    under_gc_pressure(function()
      for _ = 1, 20 do
        local ch = core.channel("127.0.0.1:" .. srv.port, fresh{
          insecure = true, user_agent = "agent/1.0", server_name = "localhost", proxy = false,
        })
        ch:close()
      end
    end)
    -- and the options were used: the user agent reaches the server
    local ch = core.channel("127.0.0.1:" .. srv.port, fresh{ insecure = true, user_agent = "fresh-agent/2" })
    local m = schema.method("GetNamespaces")
    local h = ch:start(m.index, "", 5)
    local req = srv:next(5)
    assert.matches("^fresh%-agent/2", req.metadata["user-agent"])
    req.call:finish(0, "", core.encode(m.output, {}))
    while not h:done() do core.poll(1) end
    assert.equal(0, select(2, h:result()))
    ch:close()
    srv:shutdown()
  end)

  it("server address and TLS strings made afresh are kept alive too", function()
    under_gc_pressure(function()
      for _ = 1, 10 do
        local srv = assert(core.server(fresh{ address = "127.0.0.1:0" }))
        srv:shutdown()
      end
    end)
    under_gc_pressure(function()
      for _ = 1, 5 do
        -- read, kept, handed to gRPC, which refuses them: a runtime failure, nil and err
        local srv, err = core.server{ address = "127.0.0.1:0", tls = fresh{ cert = "not a pem", key = "nor this" } }
        assert.is_nil(srv)
        assert.matches("cannot listen on 127.0.0.1:0 %(or the TLS certificate/key is invalid%)", err)
      end
    end)
  end)

  it("refuses option strings holding NUL and a target that is not one string", function()
    local bad_target = "bad argument #1 to 'channel' (bad target (empty, too long, or holding a NUL))"
    assert.has_error(function() core.channel("127.0.0.1:1\0x", { insecure = true }) end, bad_target)
    assert.has_error(function() core.channel("", { insecure = true }) end, bad_target)
    assert.has_error(function() core.channel(string.rep("a", 300), { insecure = true }) end, bad_target)
    assert.has_error(function() core.channel("127.0.0.1:1", { insecure = true, user_agent = "a\0b" }) end,
      "channel option 'user_agent' holds a NUL byte")
    assert.has_error(function() core.channel("127.0.0.1:1", { insecure = true, max_receive_size = 0 / 0 }) end,
      "channel option 'max_receive_size' must be a non-negative number")
  end)

  it("a server shows the host it bound", function()
    local srv = assert(core.server{ address = "127.0.0.2:0" })
    assert.equal("cloudops server (127.0.0.2:" .. srv.port .. ", serving)", tostring(srv))
    srv:shutdown()
    assert.equal("cloudops server (127.0.0.2:" .. srv.port .. ", shut down)", tostring(srv))
  end)
end)
