--- Seeds for the fuzzers: for every message type, its "every field filled" encoding
-- (spec/support/fill.lua) prefixed with the type's 2-byte index as fuzz/harness.lua reads it;
-- for the encoder, a few byte programs of each shape; for the unknown-field generator, one
-- program per message type.
--   lua fuzz/make_corpus.lua OUT_DIR
local out = assert(arg[1], "usage: make_corpus.lua OUT_DIR")
local ROOT = arg[0]:match("^(.*)fuzz/make_corpus%.lua$") or "./"
package.path = ROOT .. "spec/?.lua;" .. ROOT .. "lua/?.lua;" .. package.path
package.cpath = ROOT .. "build/lua/?.so;" .. package.cpath
local core = require "cloudops.core"
local fill = require "support.fill"

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

os.execute("mkdir -p '" .. out .. "/decode' '" .. out .. "/encode' '" .. out .. "/unknown'")
local filler = fill.new(core)
local n = 0
for i, name in ipairs(core.messages()) do
  local ok, bytes = pcall(core.encode, name, filler:message(name))
  if ok then
    local idx = i - 1
    write(string.format("%s/decode/%03d", out, i), string.char(math.floor(idx / 256), idx % 256) .. bytes)
    n = n + 1
  end
end
for i = 0, 63 do
  local t = {}
  for j = 1, 48 do t[j] = string.char((i * 37 + j * 11) % 256) end
  write(string.format("%s/encode/%03d", out, i), string.char(i) .. table.concat(t))
end
-- The unknown-field generator's programs (fuzz/harness.lua): each message type once, then bytes
-- that pick unknown fields, known ones and repetitions.
for i in ipairs(core.messages()) do
  local idx = i - 1
  local t = { string.char(math.floor(idx / 256), idx % 256) }
  for j = 1, 40 do t[#t + 1] = string.char((i * 53 + j * 29) % 256) end
  write(string.format("%s/unknown/%03d", out, i), table.concat(t))
end
print(string.format("corpus: %d decode seeds, 64 encode seeds, %d unknown-field seeds in %s", n,
                    #core.messages(), out))
