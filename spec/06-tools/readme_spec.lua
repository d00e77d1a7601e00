-- The README tour's Lua blocks run as they are written, in a fresh process from another directory,
-- with the README's own LUA_PATH line for the source tree, against an emulator serving TLS
-- (its CA trusted through gRPC's GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), the key and the endpoint
-- in TEMPORAL_CLOUD_API_KEY and TEMPORAL_CLOUD_ENDPOINT: what a user with an account sets.
local helpers = require "helpers"
local T = require "06-tools.support.tools"
local cloudops = require "cloudops"

local q = helpers.sh_quote
local README = assert(helpers.read_file(helpers.ROOT .. "README.md"))

-- The Lua blocks of the tour (the section "A quick tour"; other sections hold fragments).
local function lua_blocks(text)
  local tour = assert(text:match("\n## A quick tour\n(.-)\n## "), "the README has no section \"A quick tour\"")
  local blocks = {}
  for block in tour:gmatch("\n```lua\n(.-)\n```") do blocks[#blocks + 1] = block end
  return blocks
end

describe("the README", function()
  local certs, emu

  lazy_setup(function()
    certs = helpers.make_certs()
    emu = T.emulator{ tls = { cert_file = certs.cert, key_file = certs.key } }
  end)

  lazy_teardown(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("has a tour, and a LUA_PATH line for a script in the source tree", function()
    assert.is_true(#lua_blocks(README) >= 1)
    assert.matches('\nexport LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;" LUA_CPATH="$PWD/build/lua/?.so;;"\n',
      README, 1, true)
  end)

  it("tour runs as written", function()
    local paths = README:match('\n(export LUA_PATH="$PWD/lua/[^\n]+)\n')
    if jit then paths = paths:gsub("/build/lua/", "/build/luajit/lua/") end
    for i, block in ipairs(lua_blocks(README)) do
      local dir = helpers.tmpdir()
      helpers.write_file(dir .. "/block.lua", block)
      local out, err, status = T.run("sh -c " .. q("cd " .. q(helpers.ROOT) .. " && " .. paths .. " && cd " ..
        q(dir) .. " && " .. T.LUA .. " block.lua"), {
          TEMPORAL_CLOUD_API_KEY = emu.api_key, TEMPORAL_CLOUD_ENDPOINT = emu.endpoint,
          GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = certs.ca })
      assert.equal(0, status, "README block " .. i .. " failed:\n" .. block .. "\n" .. err)
      assert.equal("", err)
      if block:find("create_namespace", 1, true) then
        assert.matches("created\tdev%.emu01\n", out)
        assert.matches("owner@example%.com\n", out) -- the users listed
      end
    end
    -- what the tour did is there: the namespace, its retention updated
    local c = assert(cloudops.connect{ endpoint = emu.endpoint, api_key = emu.api_key, tls = { ca_file = certs.ca } })
    local ns = assert(c:get_namespace{ namespace = "dev.emu01" }).namespace
    c:close()
    assert.equal(14, ns.spec.retention_days)
    assert.equal("aws-us-east-1", ns.spec.replicas[1].region)
  end)
end)
