--- Base64 for proto3 JSON `bytes`: standard alphabet with padding on output (what
-- protobuf's own JSON printers write); standard or URL-safe, padded or not, on input.
-- Plain arithmetic, no bit operators, so that it loads on LuaJIT too.
local byte, char, sub, gsub, find, floor = string.byte, string.char, string.sub, string.gsub, string.find, math.floor
local concat = table.concat

local base64 = {}

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local ENC = {}          -- 0..63 -> character
local DEC = {}          -- byte of a character (either alphabet) -> 0..63
for i = 1, 64 do
  ENC[i - 1] = sub(ALPHABET, i, i)
  DEC[byte(ALPHABET, i)] = i - 1
end
DEC[byte("-")], DEC[byte("_")] = 62, 63

--- The standard, padded base64 text of a byte string.
function base64.encode(s)
  local out, n = {}, 0
  local len = #s
  for i = 1, len - 2, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a * 65536 + b * 256 + c
    n = n + 1
    out[n] = ENC[floor(v / 262144)] .. ENC[floor(v / 4096) % 64] .. ENC[floor(v / 64) % 64] .. ENC[v % 64]
  end
  local rest = len % 3
  if rest == 1 then
    local v = byte(s, len) * 65536
    out[n + 1] = ENC[floor(v / 262144)] .. ENC[floor(v / 4096) % 64] .. "=="
  elseif rest == 2 then
    local a, b = byte(s, len - 1, len)
    local v = a * 65536 + b * 256
    out[n + 1] = ENC[floor(v / 262144)] .. ENC[floor(v / 4096) % 64] .. ENC[floor(v / 64) % 64] .. "="
  end
  return concat(out)
end

--- The bytes of base64 text (either alphabet, padding optional), or nil, message.
function base64.decode(text)
  local body = gsub(text, "=+$", "")
  if find(body, "[^%w%+/%-_]") then return nil, "invalid base64 (unexpected character)" end
  if #body % 4 == 1 or #text - #body > 2 then return nil, "invalid base64 (bad length)" end
  local out, n = {}, 0
  local len = #body
  for i = 1, len, 4 do
    local c1, c2, c3, c4 = byte(body, i, i + 3)
    local v = DEC[c1] * 262144 + DEC[c2] * 4096 + (c3 and DEC[c3] * 64 or 0) + (c4 and DEC[c4] or 0)
    local a, b, c = floor(v / 65536), floor(v / 256) % 256, v % 256
    n = n + 1
    if c4 then out[n] = char(a, b, c)
    elseif c3 then out[n] = char(a, b)
    else out[n] = char(a) end
  end
  return concat(out)
end

return base64
