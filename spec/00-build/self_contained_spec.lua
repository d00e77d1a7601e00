-- A clone with nothing beside it: the specs, tools and build use the schema the build used, and
-- nothing in the project defaults to a path outside it.
local helpers = require "helpers"
local core = require "cloudops.core"

local q = helpers.sh_quote

describe("a clone with nothing beside it", function()
  it("prepares its schema inside build/, and the core was built from it", function()
    local version = helpers.read_file(helpers.ROOT .. "build/schema/VERSION")
    assert.is_truthy(version, "build/schema/VERSION is missing: run make")
    assert.are.equal(core.API_VERSION, (version:gsub("%s+$", "")))
    assert.is_truthy(helpers.read_file(helpers.ROOT .. "build/schema/temporal/api/cloud/cloudservice/v1/service.proto"))
    assert.is_truthy(helpers.read_file(helpers.ROOT .. "build/python/rpc_status_pb2.py"),
      "build/python is missing: run make python")
  end)

  it("refers to no path outside the project in its tracked files (CI's own script aside)", function()
    local out, ok = helpers.run("cd " .. q(helpers.ROOT) .. " && git ls-files 2>/dev/null")
    if not ok or out == "" then pending("not a git checkout") return end
    local offenders = {}
    for path in out:gmatch("[^\n]+") do
      -- CI builds with the schema copy its machine keeps beside the clone; nothing else may
      local text = not path:match("^%.ci/") and helpers.read_file(helpers.ROOT .. path) or ""
      -- the workshop beside the clone, by a relative or absolute path or built from its parts
      -- (the patterns are themselves built, so that this file does not match them)
      if text:find(".." .. "/shared", 1, true) or text:find("/work" .. "/shared", 1, true) or
         text:find('"%.%.", *"' .. 'shared"') then
        offenders[#offenders + 1] = path
      end
    end
    assert.are.same({}, offenders)
  end)
end)
