-- 64-bit integers at the boundaries (docs/reference.md "Messages as tables"), under Lua 5.4 and
-- under LuaJIT (OpenResty's Lua): on LuaJIT a value with |v| <= 2^53 is a number and a larger
-- one its decimal string; both forms are accepted on input; nothing is rounded silently. On
-- Lua 5.4 every int64 is an integer. (The Cloud schema has int64 fields but no uint64 one.)
require "helpers"
local cloudops = require "cloudops"

local JIT = rawget(_G, "jit") ~= nil
local T = "temporal.api.common.v1.Payload.ExternalPayloadDetails"   -- int64 size_bytes = 1
local math_type = math.type or function() return nil end

local function roundtrip(v)
  return cloudops.decode(T, cloudops.encode(T, { size_bytes = v })).size_bytes
end

-- The values at the edges, given as decimal strings (the one form both Luas read exactly).
local EDGES = {
  { "9007199254740992", true },       -- 2^53: still a number on LuaJIT
  { "-9007199254740992", true },      -- -2^53
  { "9007199254740993", false },      -- 2^53 + 1: a string on LuaJIT
  { "-9007199254740993", false },     -- -2^53 - 1
  { "9223372036854775807", false },   -- int64 max
  { "-9223372036854775808", false },  -- int64 min
}

describe("64-bit integers (" .. (JIT and "LuaJIT" or _VERSION) .. ")", function()
  for _, e in ipairs(EDGES) do
    local text, fits_double = e[1], e[2]
    local what = JIT and (fits_double and " -> a number" or " -> its decimal string") or " -> an integer"
    it("decode " .. text .. what, function()
      local v = roundtrip(text)
      if JIT then
        if fits_double then
          assert.equal("number", type(v))
          assert.equal(text, ("%.0f"):format(v))
        else
          assert.equal(text, v)
        end
      else
        assert.equal("integer", math_type(v))
        assert.equal(text, tostring(v))
      end
      -- what decode gave is accepted back as is, and encodes to the same bytes
      assert.equal(cloudops.encode(T, { size_bytes = text }), cloudops.encode(T, { size_bytes = v }))
    end)
  end

  it("accepts numbers and decimal strings alike up to 2^53", function()
    for _, v in ipairs { 0, 1, -1, 4096, 2 ^ 53, -(2 ^ 53) } do
      local s = ("%.0f"):format(v)
      assert.equal(cloudops.encode(T, { size_bytes = v }), cloudops.encode(T, { size_bytes = s }))
      -- (0 is proto3's default: not on the wire, absent when decoded)
      assert.equal(s, ("%.0f"):format(roundtrip(s) or 0))
    end
  end)

  it("decodes small values as numbers on both Luas", function()
    assert.equal(1, roundtrip("1"))
    assert.equal(-42, roundtrip(-42))
    if not JIT then assert.equal("integer", math_type(roundtrip(7))) end
  end)

  it("refuses what is out of range, with the field's path", function()
    for _, v in ipairs { "9223372036854775808", "-9223372036854775809", "18446744073709551615", 2 ^ 63, -(2 ^ 64) } do
      local ok, err = pcall(cloudops.encode, T, { size_bytes = v })
      assert.is_false(ok, tostring(v))
      assert.matches("ExternalPayloadDetails.size_bytes: ", err, 1, true)
      assert.matches("out of range for int64", err, 1, true)
    end
  end)

  if JIT then
    it("refuses a number past 2^53 on LuaJIT, which may already be rounded: text only", function()
      for _, v in ipairs { 2 ^ 53 + 2, -(2 ^ 53) - 2, 2 ^ 60 } do
        local ok, err = pcall(cloudops.encode, T, { size_bytes = v })
        assert.is_false(ok, tostring(v))
        assert.matches("past 2^53", err, 1, true)
      end
    end)
  end

  it("refuses text that is not a plain decimal integer, and fractions", function()
    for _, v in ipairs { " 1", "+1", "0x10", "1e3", "1.5", "", "12abc", 1.5, 0 / 0, math.huge } do
      local ok, err = pcall(cloudops.encode, T, { size_bytes = v })
      assert.is_false(ok, tostring(v))
      assert.matches("ExternalPayloadDetails.size_bytes: expected an integer for int64", err, 1, true)
    end
  end)
end)
