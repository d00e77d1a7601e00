-- The README's tour, done as a new user does it: the emulator started with the README's
-- command, the export line it prints pasted into a shell with the README's LUA_PATH line, and
-- the tour's Lua block saved in another directory and run there (plaintext, through
-- TEMPORAL_CLOUD_INSECURE=1). Then the path to Temporal Cloud: connect() with no options and no
-- TEMPORAL_CLOUD_INSECURE is TLS, verified with the default roots.
local helpers = require "helpers"
local T = require "06-tools.support.tools"
local cloudops = require "cloudops"

local q = helpers.sh_quote
local README = assert(helpers.read_file(helpers.ROOT .. "README.md"))

-- The section "A quick tour", and its blocks of one language.
local function tour()
  return assert(README:match("\n## A quick tour\n(.-)\n## "), "the README has no section \"A quick tour\"")
end
local function blocks(lang)
  local list = {}
  for block in tour():gmatch("\n```" .. lang .. "\n(.-)\n```") do list[#list + 1] = block end
  return list
end

-- The environment of a fresh shell: none of the variables the tour sets.
local CLEAN = { TEMPORAL_CLOUD_API_KEY = false, TEMPORAL_CLOUD_ENDPOINT = false, TEMPORAL_CLOUD_INSECURE = false,
                LUA_PATH = false, LUA_CPATH = false }

-- Runs `script` (Lua) saved in a directory of its own, after the shell lines `setup` run in
-- the source tree; returns stdout, stderr, status.
local function run_elsewhere(setup, script, env)
  local dir = helpers.tmpdir()
  helpers.write_file(dir .. "/tour.lua", script)
  local e = {}
  for k, v in pairs(CLEAN) do e[k] = v end
  for k, v in pairs(env or {}) do e[k] = v end
  return T.run("sh -c " .. q("cd " .. q(helpers.ROOT) .. " && " .. setup .. " && cd " .. q(dir) .. " && " ..
    T.LUA .. " tour.lua"), e)
end

-- The README's LUA_PATH line for the source tree (for LuaJIT: its build of the core).
local function paths_line()
  local line = assert(README:match('\n(export LUA_PATH="$PWD/lua/[^\n]+)\n'), "no LUA_PATH line in the README")
  if jit then line = line:gsub("/build/lua/", "/build/luajit/lua/") end
  return line
end

describe("the README's tour", function()
  local emu

  lazy_teardown(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("shows the emulator's command, its export line and the LUA_PATH line, then one Lua block", function()
    local sh = blocks("sh")
    assert.are.equal("bin/cloudops-emulator", sh[1])
    assert.matches("^export TEMPORAL_CLOUD_ENDPOINT=127%.0%.0%.1:PORT TEMPORAL_CLOUD_API_KEY=emu_%.%.%. " ..
      "TEMPORAL_CLOUD_INSECURE=1\n", sh[2])
    assert.are.equal('export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;" LUA_CPATH="$PWD/build/lua/?.so;;"',
      sh[2]:match("\n(.*)$"))
    assert.are.equal(1, #blocks("lua"))
  end)

  it("runs as written against the emulator the README starts, with the line it prints", function()
    -- the README's command, under the Lua of this run; its export line read from its output
    emu = helpers.spawn(T.LUA .. " " .. q(helpers.ROOT .. blocks("sh")[1]),
      "\n  (export TEMPORAL_CLOUD_ENDPOINT=[^\n]+)\nready: ")
    local export = emu.match[1]
    -- the README shows that line's shape
    local shown = blocks("sh")[2]:match("^[^\n]+")
    local shape = "^" .. shown:gsub("[%.%-%+%[%]%(%)%%%?%*%^%$]", "%%%0"):gsub("PORT", "%%d+"):gsub("emu_%%%.%%%.%%%.",
      "emu_%%x+") .. "$"
    assert.matches(shape, export)
    local block = blocks("lua")[1]
    local out, err, status = run_elsewhere(export .. " && " .. paths_line(), block)
    assert.are.equal(0, status, "the tour failed:\n" .. block .. "\n" .. err)
    assert.are.equal("", err)
    assert.matches("created\tdev%.emu01\n", out)
    assert.matches("owner@example%.com\n", out) -- the users listed
    -- what the tour did is there: the namespace, its retention updated
    local endpoint, key = export:match("TEMPORAL_CLOUD_ENDPOINT=(%S+) TEMPORAL_CLOUD_API_KEY=(%S+)")
    local c = assert(cloudops.connect { endpoint = endpoint, api_key = key, insecure = true })
    finally(function() c:close() end)
    local ns = assert(c:get_namespace { namespace = "dev.emu01" }).namespace
    assert.are.equal(14, ns.spec.retention_days)
    assert.are.equal("aws-us-east-1", ns.spec.replicas[1].region)
  end)

  it("connects over TLS, verified with the default roots, without TEMPORAL_CLOUD_INSECURE", function()
    -- what a user with an account runs: the CA of the server among the default roots (gRPC's
    -- GRPC_DEFAULT_SSL_ROOTS_FILE_PATH stands in for the system's), no TLS option anywhere
    local certs = helpers.make_certs()
    local tls = T.emulator { tls = { cert_file = certs.cert, key_file = certs.key } }
    finally(tls.stop)
    local script = 'local c = assert(require("cloudops").connect())\n' ..
      'local id, err = c:get_current_identity()\n' ..
      'if not id then error(tostring(err)) end\n' ..
      'print(id.user.spec.email)\n'
    local out, err, status = run_elsewhere(paths_line(), script, {
      TEMPORAL_CLOUD_API_KEY = tls.api_key, TEMPORAL_CLOUD_ENDPOINT = tls.endpoint,
      GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = certs.ca })
    assert.are.equal(0, status, err)
    assert.are.equal("owner@example.com\n", out)
    -- the same without the CA: not trusted, said at once
    out, err, status = run_elsewhere(paths_line(), script, {
      TEMPORAL_CLOUD_API_KEY = tls.api_key, TEMPORAL_CLOUD_ENDPOINT = tls.endpoint })
    assert.are_not.equal(0, status)
    assert.are.equal("", out)
    assert.matches("not signed by a CA this client trusts", err)
  end)
end)
