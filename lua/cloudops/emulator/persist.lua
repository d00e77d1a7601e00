-- Saving and loading the whole model. The file is a Lua table constructor (`return {...}`),
-- readable by a person inspecting a dry run, and loaded without access to any globals.
-- Keys are written sorted so that two saves of the same state are the same bytes.
local format, floor, concat, sort = string.format, math.floor, table.concat, table.sort
local type, pairs, tostring = type, pairs, tostring

local util = require "cloudops.emulator.util"

local M = {}

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta == "number" end
  return a < b
end

local function num(n)
  if n == floor(n) and n > -2^53 and n < 2^53 then return format("%d", n) end
  return format("%.17g", n)
end

local function write(v, out, indent)
  local t = type(v)
  if t == "string" then out[#out + 1] = format("%q", v)
  elseif t == "number" then out[#out + 1] = num(v)
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    if #keys == 0 then out[#out + 1] = "{}" return end
    sort(keys, key_less)
    local n = #v
    local inner = indent .. " "
    out[#out + 1] = "{\n"
    for _, k in ipairs(keys) do
      out[#out + 1] = inner
      if not (type(k) == "number" and k >= 1 and k <= n and k == floor(k)) then
        if type(k) == "string" and k:match("^[%a_][%w_]*$") then
          out[#out + 1] = k .. " = "
        else
          out[#out + 1] = "["
          write(k, out, inner)
          out[#out + 1] = "] = "
        end
      end
      write(v[k], out, inner)
      out[#out + 1] = ",\n"
    end
    out[#out + 1] = indent .. "}"
  else
    error("cannot save a value of type " .. t)
  end
end

function M.serialize(st)
  local out = { "-- lua-cloudops emulator state\nreturn " }
  write(st, out, "")
  out[#out + 1] = "\n"
  return concat(out)
end

-- Returns true or nil, err. Written beside the file and renamed, so a crash never leaves
-- half a state behind. The state holds the API key tokens the emulator accepts: the file is
-- made readable by its owner only (by a shell with umask 077, as io.open cannot say a mode;
-- io.open then writes into it and keeps that mode).
function M.save(st, path)
  local tmp = path .. ".tmp"
  os.remove(tmp)
  local made = os.execute("umask 077 && : > " .. util.shell_quote(tmp))
  if made ~= true and made ~= 0 then return nil, tmp .. ": cannot create it" end -- 5.4; LuaJIT
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(M.serialize(st))
  f:close()
  if not ok then return nil, werr end
  local rok, rerr = os.rename(tmp, path)
  if not rok then return nil, rerr end
  return true
end

-- Returns the state, or nil, err (nil, nil when the file does not exist).
function M.load(path)
  local f = io.open(path, "rb")
  if not f then return nil, nil end
  local text = f:read("*a")
  f:close()
  local chunk, err = load(text, "=" .. path, "t", {})
  if not chunk then return nil, "cannot load state file: " .. err end
  local ok, st = pcall(chunk)
  if not ok or type(st) ~= "table" or st.format ~= 1 then
    return nil, "cannot load state file " .. path .. ": not an emulator state"
  end
  return st
end

return M
