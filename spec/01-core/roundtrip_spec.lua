-- Every message type of the schema, every field filled (spec/support/fill.lua): encode, decode,
-- and get the same table back.
local helpers = require "helpers"
local core = require "cloudops.core"
local fill = require "support.fill"

local PLAIN_FORMS = { ["google.protobuf.Struct"] = true, ["google.protobuf.Value"] = true,
                      ["google.protobuf.ListValue"] = true }

local function assert_plain(t, path)
  if type(t) ~= "table" then return end
  assert(getmetatable(t) == nil, path .. " has a metatable")
  for k, v in pairs(t) do assert_plain(v, path .. "." .. tostring(k)) end
end

describe("round trip of every message type", function()
  local names = fill.message_names()
  local filler = fill.new(core)

  it("the fill sets every field of every type (a oneof: its first member)", function()
    -- Guards the round trips below against a fill that leaves fields out.
    local filled_fields = 0
    for _, name in ipairs(names) do
      if not PLAIN_FORMS[name] then
        local t = filler:message(name)
        local oneofs = {}
        for _, f in ipairs(core.describe(name).fields) do
          local v = t[f.name]
          if f.oneof then
            if v ~= nil then
              assert(not oneofs[f.oneof], name .. ": two members of oneof " .. f.oneof)
              oneofs[f.oneof] = true
            end
          elseif f.label == "repeated" or f.label == "map" then
            local n = 0
            for _ in pairs(v) do n = n + 1 end
            assert(n == 2, name .. "." .. f.name .. " has " .. n .. " elements")
          else
            assert(v ~= nil, name .. "." .. f.name .. " is not filled")
          end
          filled_fields = filled_fields + 1
        end
        for _, f in ipairs(core.describe(name).fields) do
          if f.oneof then assert(oneofs[f.oneof], name .. ": oneof " .. f.oneof .. " has no member set") end
        end
      end
    end
    assert.is_true(filled_fields > 800)
  end)

  for _, name in ipairs(names) do
    it(name, function()
      local t = filler:message(name)
      local bytes = core.encode(name, t)
      local back, err = core.decode(name, bytes)
      assert(back ~= nil, "decode failed: " .. tostring(err))
      local same, why = helpers.deep_equal(t, back)
      assert(same, "decoded table differs: " .. tostring(why))
      assert_plain(back, name)
      -- and the decoded table encodes again to bytes that decode the same
      local again = core.decode(name, core.encode(name, back))
      same, why = helpers.deep_equal(t, again)
      assert(same, "re-encoded table differs: " .. tostring(why))
    end)
  end
end)
