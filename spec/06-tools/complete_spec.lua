-- The REPL's tab completion as a function of the line (repl_spec drives it through readline).
local cloudops = require "cloudops"
local complete = require "cloudops.repl.complete"
local typed = require "cloudops.repl.typed"

describe("REPL completion", function()
  local env, client

  lazy_setup(function()
    -- a client that is never called: completion only looks at names
    client = assert(cloudops.connect { endpoint = "127.0.0.1:9", insecure = true, api_key = "k" })
    env = setmetatable({ cloudops = cloudops, client = typed.wrap(client), describe = print, help = print },
                       { __index = _G })
  end)

  lazy_teardown(function() client:close() end)

  -- The candidates for the word at the end of line (as readline splits words).
  local function candidates(line)
    local word = line:match("[%w_]*$")
    return complete.candidates(env, line, #line - #word + 1, #line)
  end

  it("completes the client's methods after client:", function()
    assert.are.same({ "get_current_identity" }, candidates("client:get_current_ide"))
    local users = candidates("client:get_user")
    assert.are.equal("get_user", users[1])          -- sorted
    assert.are.equal("get_users", users[#users])
    assert.are.equal(9, #users)
    local all = candidates("client:")
    assert.is_true(#all > #cloudops.methods())
    for _, name in ipairs { "paginate", "pages", "wait", "update", "call", "create_namespace" } do
      assert.truthy(table.concat(all, " "):find("%f[%w_]" .. name .. "%f[^%w_]"), name)
    end
  end)

  it("completes table keys after a dot, and only functions after a colon", function()
    assert.are.same({ "time" }, candidates("cloudops.ti"))
    assert.are.same({ "to_rfc3339", "to_seconds", "to_unix" }, candidates("cloudops.time.to_"))
    assert.are.same({}, candidates("cloudops.nothing.x"))
    local t = { str = "x" }
    env.t = t
    assert.are.same({ "str" }, candidates("t.s"))
    assert.are.same({}, candidates("t:s"))
    assert.are.same({ "sub" }, candidates("string.su"))
  end)

  it("completes request fields inside a method's table constructor, following nested messages", function()
    assert.are.same({ "page_size", "page_token" }, candidates("client:get_users{ pa"))
    assert.are.same({ "page_size", "page_token" }, candidates("client:get_users({ email = 'x', pa"))
    assert.are.same({ "name" }, candidates("client:create_namespace{ spec = { na"))
    assert.are.same({ "region" }, candidates("client:create_namespace{ spec = { replicas = { { reg"))
    assert.are.same({ "enabled" }, candidates("client:create_namespace{ spec = { api_key_auth = { ena"))
    assert.are.same({ "spec" }, candidates('client:call("CreateNamespace", { sp'))
    assert.are.same({ "spec" }, candidates('r = client:create_namespace{ async_operation_id = "}{", sp'))
    -- a value, not a key: names of variables, not fields
    assert.are.same({ "package", "pairs" }, candidates("client:get_users{ page_size = pa"))
    assert.are.same({}, candidates("client:create_namespace{ spec = { name = 'x' }, zz"))
  end)

  it("completes method and type names inside describe(\"...\"), help and call", function()
    local names = candidates('describe("CreateNamespaceR')
    assert.are.same({ "CreateNamespaceRequest", "CreateNamespaceResponse" }, names)
    assert.are.same({ "GetUsers", "get_users" }, (function()
      local r = {}
      for _, n in ipairs(candidates('help("')) do if n == "GetUsers" or n == "get_users" then r[#r + 1] = n end end
      return r
    end)())
    assert.are.same({ "GetUsers" }, candidates('client:call("GetUsers'))
    for _, n in ipairs(candidates('client:paginate("get_')) do
      assert.truthy(require("cloudops.schema").method(n).items, n .. " is not paged")
    end
  end)

  it("completes global names otherwise", function()
    assert.are.same({ "cloudops" }, candidates("cloudo"))
    assert.are.same({ "client" }, candidates("x = cli"))
    assert.are.same({ "ipairs" }, candidates("ipai"))
  end)

  it("gives readline word-break characters that split at . : { ( and quotes", function()
    for _, c in ipairs { ".", ":", "{", "(", '"', "'", " ", "," } do
      assert.truthy(complete.WORD_BREAKS:find(c, 1, true), c)
    end
    assert.falsy(complete.WORD_BREAKS:find("_", 1, true))
  end)
end)
