--- What the build specs share: the schema the build uses, copies of the source tree and of
-- the schema, and local git repositories standing in for the upstream ones.
local helpers = require "helpers"

local q = helpers.sh_quote
local B = {}

--- The start of a command run as a user in a fresh shell would run it: none of the flags
-- (MAKEFLAGS: variables such as CLOUD_API_DIR, a jobserver) of a make the specs run under
-- (make test, make test-asan), which make and luarocks' make would take.
B.CLEAN_ENV = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL"
B.MAKE = B.CLEAN_ENV .. " make --no-print-directory"

--- The Cloud Ops API schema directory: CLOUD_API_DIR, else the one the build was prepared
-- from (build/schema/protos.mk), else the one `make` fetched. Fails, saying what to do, when
-- there is none: these specs check the build, and without a schema they would check nothing.
function B.schema_dir()
  local candidates = { os.getenv("CLOUD_API_DIR") }
  local mk = helpers.read_file(helpers.ROOT .. "build/schema/protos.mk") or ""
  candidates[#candidates + 1] = mk:match("\nSCHEMA_FROM := ([^\n]+)")
  candidates[#candidates + 1] = helpers.ROOT .. "build/cloud-api"
  for _, dir in ipairs(candidates) do
    if dir ~= "" and helpers.read_file(dir .. "/temporal/api/cloud/cloudservice/v1/service.proto") then
      -- absolute: the builds that use it run elsewhere (a copy of the tree, luarocks' own dir)
      return (helpers.run("cd " .. q(dir) .. " && pwd -P"):gsub("\n$", ""))
    end
  end
  error("no Cloud Ops API schema found (CLOUD_API_DIR, build/schema/protos.mk, build/cloud-api): " ..
    "run make first, or set CLOUD_API_DIR")
end

--- A copy of the source tree (without build/ and .git) in a fresh directory; returns its path.
function B.tree_copy()
  local d = helpers.tmpdir() .. "/tree"
  local out, ok = helpers.run("mkdir -p " .. q(d) .. " && tar -C " .. q(helpers.ROOT) ..
    " --exclude=./build --exclude=./.git --exclude=./luarocks --exclude=./lua_modules -cf - . | tar -xf - -C " ..
    q(d) .. " 2>&1")
  assert(ok, out)
  return d
end

--- Runs a shell script (set -e); asserts it succeeded; returns its output.
function B.sh(script)
  local out, ok = helpers.run("sh -c " .. q("set -e\n" .. script) .. " 2>&1")
  assert(ok, out)
  return out
end

--- Three local git repositories laid out like the upstream ones the schema is fetched from
-- (proto/fetch-schema.sh), one commit each, made from the schema in `src`. Returns the make
-- variables that point the fetch at them (URLs and commits).
function B.upstream_mirrors(src)
  local d = helpers.tmpdir()
  local out = B.sh(table.concat({
    "mkrepo() { git init -q \"$1\" && git -C \"$1\" add -A &&",
    "  git -C \"$1\" -c user.name=s -c user.email=s@x commit -qm pin && git -C \"$1\" rev-parse HEAD; }",
    "mkdir -p " .. q(d .. "/cloud/temporal/api") .. " " .. q(d .. "/api/temporal/api") .. " " .. q(d .. "/gw"),
    "cp -R " .. q(src .. "/temporal/api/cloud") .. " " .. q(d .. "/cloud/temporal/api/"),
    "cp " .. q(src .. "/VERSION") .. " " .. q(d .. "/cloud/"),
    "cp -R " .. q(src .. "/temporal/api/common") .. " " .. q(src .. "/temporal/api/enums") .. " " ..
      q(d .. "/api/temporal/api/"),
    "cp -R " .. q(src .. "/google") .. " " .. q(d .. "/api/"),
    "cp -R " .. q(src .. "/protoc-gen-openapiv2") .. " " .. q(d .. "/gw/"),
    "echo CLOUD=$(mkrepo " .. q(d .. "/cloud") .. ")",
    "echo API=$(mkrepo " .. q(d .. "/api") .. ")",
    "echo GW=$(mkrepo " .. q(d .. "/gw") .. ")",
  }, "\n"))
  return table.concat({
    "CLOUD_API_REPO=file://" .. q(d .. "/cloud"), "CLOUD_API_COMMIT=" .. out:match("CLOUD=(%x+)"),
    "TEMPORAL_API_REPO=file://" .. q(d .. "/api"), "TEMPORAL_API_COMMIT=" .. out:match("API=(%x+)"),
    "GRPC_GATEWAY_REPO=file://" .. q(d .. "/gw"), "GRPC_GATEWAY_COMMIT=" .. out:match("GW=(%x+)"),
  }, " ")
end

return B
