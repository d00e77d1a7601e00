-- Prepares the schema the module is built from: the .proto files that service.proto imports,
-- directly or not, found by following the imports (so a new upstream version that adds a file
-- or an RPC builds with no change here), each stripped of its REST annotations
-- (proto/strip.lua), plus this project's own .proto files' imports.
--
--   lua proto/prepare.lua API_DIR PROTOBUF_INCLUDE OWN_DIR OUT_DIR OWN.proto...
--
-- Writes the stripped files under OUT_DIR and OUT_DIR/protos.mk, which the Makefile includes:
--   CLOUD_PROTOS  := the schema's files (from API_DIR), relative paths
--   GOOGLE_PROTOS := the google/protobuf/*.proto they and OWN.proto need (from PROTOBUF_INCLUDE)
--   SCHEMA_FROM   := API_DIR, so that pointing the build at another schema prepares it again
local strip = dofile((arg[0]:match("^(.*/)") or "./") .. "strip.lua")

local ROOT = "temporal/api/cloud/cloudservice/v1/service.proto"

local api_dir, include_dir, own_dir, out_dir = arg[1], arg[2], arg[3], arg[4]
if not out_dir then
  io.stderr:write("usage: lua prepare.lua API_DIR PROTOBUF_INCLUDE OWN_DIR OUT_DIR OWN.proto...\n")
  os.exit(2)
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function fail(message)
  io.stderr:write("proto/prepare.lua: ", message, "\n")
  os.exit(1)
end

local function write(path, text)
  local dir = path:match("^(.*)/")
  assert(os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'"))
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local cloud, google, seen = {}, {}, {}

-- Takes `path` (a schema file: stripped into OUT_DIR; or google/protobuf's: listed), then the
-- files it imports.
local function visit(path, importer)
  if seen[path] then return end
  seen[path] = true
  local dir, list = api_dir, cloud
  if path:find("^google/protobuf/") then dir, list = include_dir, google end
  local src = read(dir .. "/" .. path)
  if not src then
    fail(path .. " (imported by " .. importer .. ") is not in " .. dir ..
      (dir == api_dir and ": CLOUD_API_DIR holds an incomplete schema" or ": install libprotobuf-dev"))
  end
  if list == cloud then
    local ok, stripped = pcall(strip.strip, src)
    if not ok then fail(path .. ": " .. stripped) end
    src = stripped
    write(out_dir .. "/" .. path, src)
  end
  list[#list + 1] = path
  for _, imported in ipairs(strip.imports(src)) do visit(imported, path) end
end

if not read(api_dir .. "/" .. ROOT) then fail(api_dir .. " holds no " .. ROOT) end
visit(ROOT, "the build")
for i = 5, #arg do
  local own = read(own_dir .. "/" .. arg[i]) or fail(own_dir .. "/" .. arg[i] .. " is missing")
  for _, imported in ipairs(strip.imports(own)) do visit(imported, arg[i]) end
end
table.sort(cloud)
table.sort(google)

local version = (read(api_dir .. "/VERSION") or "unknown"):gsub("%s", "")
write(out_dir .. "/VERSION", version ~= "" and version or "unknown")
write(out_dir .. "/protos.mk", table.concat({
  "# made by proto/prepare.lua: the files service.proto imports, directly or not",
  "CLOUD_PROTOS := " .. table.concat(cloud, " "),
  "GOOGLE_PROTOS := " .. table.concat(google, " "),
  "SCHEMA_FROM := " .. api_dir, "" }, "\n"))
print(("prepared %d schema files (and %d of google/protobuf) from %s"):format(#cloud, #google, api_dir))
