-- Every RPC of the schema has a handler; the method list, derived from the schema built into the
-- core, matches the prepared schema's text.
local S = require "03-emulator.emu_support"
local methods = require "cloudops.emulator.methods"
local handlers = require "cloudops.emulator.handlers"
local helpers = require "helpers"

-- The schema the build used, as it prepared it (build/schema: the files service.proto needs).
local SCHEMA_DIR = helpers.ROOT .. "build/schema"

describe("emulator method list", function()
  it("has the 88 RPCs of service.proto in schema order", function()
    local text = assert(helpers.read_file(SCHEMA_DIR
      .. "/temporal/api/cloud/cloudservice/v1/service.proto"), "no prepared schema in " .. SCHEMA_DIR .. ": run make")
    local names = {}
    for name in text:gmatch("\n%s*rpc%s+(%w+)%s*%(") do names[#names + 1] = name end
    assert.are.equal(88, #names)
    assert.are.equal(#names, #methods)
    for i, name in ipairs(names) do assert.are.equal(name, methods[i].name) end
  end)

  it("marks as mutations exactly the requests with async_operation_id", function()
    local text = assert(helpers.read_file(SCHEMA_DIR
      .. "/temporal/api/cloud/cloudservice/v1/request_response.proto"))
    for _, m in ipairs(methods) do
      local body = text:match("\nmessage " .. m.name .. "Request%s*(%b{})")
      assert.is_truthy(body, m.name)
      local has = body:find("async_operation_id", 1, true) ~= nil and m.name ~= "GetAsyncOperation"
      assert.are.equal(has, m.mutation == true, m.name)
      assert.are.equal(body:find("page_token", 1, true) ~= nil, m.paged == true, m.name)
    end
  end)

  it("has a handler for every method", function()
    for _, m in ipairs(methods) do assert.is_function(handlers[m.name], m.name) end
  end)

  it("serves every RPC: none answers UNIMPLEMENTED, even to an empty request", function()
    local emu = S.new()
    for _, m in ipairs(methods) do
      local resp, err = emu.owner:call(m.name, {})
      -- An empty request may be invalid, but never "not implemented" nor a handler error.
      assert.is_true(resp ~= nil or (err.code ~= 12 and err.code ~= 13),
        m.name .. ": " .. tostring(err and err.message))
    end
  end)

  it("answers UNIMPLEMENTED for an unknown method", function()
    local emu = S.new()
    local err = S.fails("UNIMPLEMENTED", emu.owner:call("NoSuchThing", {}))
    assert.matches("unknown method", err.message)
  end)
end)
