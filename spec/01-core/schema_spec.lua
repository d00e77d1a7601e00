-- What the conversion specs rely on from the schema access (docs/reference.md "describe"):
-- describe() of every message and enum, the message list, the methods.
local core = require "cloudops.core"
local cloudops = require "cloudops"
local fill = require "support.fill"

local SCALARS = { int32 = true, sint32 = true, sfixed32 = true, int64 = true, sint64 = true, sfixed64 = true,
                  uint32 = true, fixed32 = true, uint64 = true, fixed64 = true, float = true, double = true,
                  bool = true, string = true, bytes = true }

describe("the schema built in", function()
  local names = fill.message_names()

  it("lists every message type of the build (core.messages() and the generated registry agree)", function()
    assert.is_true(#names > 300)
    local registry = fill.registry_names()
    table.sort(registry)
    local sorted = {}
    for i, n in ipairs(names) do sorted[i] = n end
    table.sort(sorted)
    assert.are.same(registry, sorted)
  end)

  it("describes every message with well-formed fields", function()
    for _, name in ipairs(names) do
      local d = assert(core.describe(name), name)
      assert.are.equal("message", d.kind)
      assert.are.equal(name, d.name)
      assert.are.equal(name:match("([^.]+)$"), d.short_name)
      assert.is_nil(getmetatable(d))
      local numbers = {}
      for _, f in ipairs(d.fields) do
        local where = name .. "." .. tostring(f.name)
        assert(type(f.name) == "string" and f.name ~= "", where)
        assert(type(f.number) == "number" and f.number >= 1 and not numbers[f.number], where .. ": number")
        numbers[f.number] = true
        assert(type(f.json_name) == "string", where .. ": json_name")
        assert(f.label == "singular" or f.label == "repeated" or f.label == "map", where .. ": label")
        if f.type == "message" or f.type == "enum" then
          assert(type(f.type_name) == "string", where .. ": type_name")
        else
          assert(SCALARS[f.type], where .. ": type " .. tostring(f.type))
        end
        if f.label == "map" then
          assert(SCALARS[f.key_type], where .. ": key_type")
        end
        -- proto3 `optional` makes synthetic oneofs ("_name"): none may show
        if f.oneof then assert(f.oneof:sub(1, 1) ~= "_", where .. ": synthetic oneof " .. f.oneof) end
      end
    end
  end)

  it("describes every enum a field uses, with its values", function()
    local seen, missing = {}, {}
    for _, name in ipairs(names) do
      for _, f in ipairs(core.describe(name).fields) do
        if f.type == "enum" and not seen[f.type_name] then
          seen[f.type_name] = true
          local e = core.describe(f.type_name)
          if not (e and e.kind == "enum" and e.name == f.type_name and #e.values > 0) then
            missing[#missing + 1] = f.type_name
          end
        end
      end
    end
    assert(next(seen), "no enum fields found")
    assert(#missing == 0, "describe() does not know these enums:\n  " .. table.concat(missing, "\n  "))
  end)

  it("describes the oneofs users set, by name", function()
    local by_name = {}
    for _, f in ipairs(core.describe("temporal.api.common.v1.ResetOptions").fields) do by_name[f.name] = f end
    assert.are.equal("target", by_name.build_id.oneof)
    assert.are.equal("target", by_name.first_workflow_task.oneof)
    assert.is_nil(by_name.reset_reapply_type.oneof)
  end)

  it("describes a map field with its key and value types", function()
    for _, f in ipairs(core.describe("NamespaceSpec").fields) do
      if f.name == "search_attributes" then
        assert.are.same({ "map", "string", "enum",
                          "temporal.api.cloud.namespace.v1.NamespaceSpec.SearchAttributeType" },
          { f.label, f.key_type, f.type, f.type_name })
        return
      end
    end
    error("NamespaceSpec.search_attributes not found")
  end)

  it("lists 88 methods whose input and output types describe", function()
    local methods = core.methods()
    assert.are.equal(88, #methods)
    assert.are.same(methods, cloudops.methods())
    for _, m in ipairs(methods) do
      local info = assert(core.method(m))
      assert.are.equal("message", core.describe(info.input).kind)
      assert.are.equal("message", core.describe(info.output).kind)
      assert.are.equal("/temporal.api.cloud.cloudservice.v1.CloudService/" .. m, info.path)
    end
  end)

  it("returns nil, err for unknown or ambiguous names", function()
    local d, err = core.describe("NoSuchThing")
    assert.is_nil(d)
    assert.matches("NoSuchThing", err, 1, true)
    d, err = core.describe("Provisioned")
    assert.is_nil(d)
    assert.matches("ambiguous", err, 1, true)
  end)
end)
