local helpers = require "helpers"
local strip = dofile(helpers.ROOT .. "proto/strip.lua").strip

local API_DIR = os.getenv("CLOUD_API_DIR") or (helpers.ROOT .. "../shared/cloud-api")

describe("proto/strip.lua", function()
  it("removes REST annotations and their imports, whatever their values hold", function()
    local src = [[
syntax = "proto3";
import "google/api/annotations.proto";
import "protoc-gen-openapiv2/options/annotations.proto";
import "keep/me.proto";
option java_package = "x.y"; // it's kept
service S {
  // a comment that mentions option (google.api.http) = { and isn't code
  rpc A(Req) returns (Resp) {
    option (google.api.http) = {
      get: "/cloud/users/{user_id}"  /* a brace } in a comment */
      additional_bindings { post: "/x/{y}'s" body: "*" }
    };
    option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_operation) = {
      summary: "Semicolons; and \"quotes\" and {braces}";
    };
    option deprecated = true;
  }
}
message M { string s = 1 [json_name = "option (google.api.http) = {"]; }
]]
    local out = strip(src)
    assert.not_matches("google/api", out)
    assert.not_matches("openapiv2", out)
    assert.not_matches("google%.api%.http%) = {\n", out)
    assert.matches('import "keep/me.proto";', out, 1, true)
    assert.matches('option java_package = "x.y"; // it\'s kept', out, 1, true)
    assert.matches("option deprecated = true;", out, 1, true)
    assert.matches("mentions option %(google%.api%.http%)", out) -- comments are left alone
    assert.matches('json_name = "option (google.api.http) = {"', out, 1, true) -- so are strings
    assert.matches("rpc A%(Req%) returns %(Resp%) {%s*option deprecated = true;%s*}", out)
  end)

  it("reports an unterminated value instead of guessing", function()
    assert.has_error(function() strip('option (google.api.http) = { get: "/x" ') end)
    assert.has_error(function() strip('option (google.api.http) = { get: "/x }; ') end)
  end)

  it("keeps every RPC of the real service.proto with its types", function()
    local path = API_DIR .. "/temporal/api/cloud/cloudservice/v1/service.proto"
    local original = helpers.read_file(path)
    if not original then pending("no schema at " .. API_DIR) return end
    local stripped = strip(original)
    local function rpcs(text)
      local t = {}
      for name, req, resp in text:gmatch("rpc%s+(%w+)%s*%(%s*([%w%.]+)%s*%)%s*returns%s*%(%s*([%w%.]+)%s*%)") do
        t[#t + 1] = name .. "(" .. req .. ")" .. resp
      end
      return t
    end
    assert.equal(88, #rpcs(original))
    assert.same(rpcs(original), rpcs(stripped))
    assert.not_matches("google%.api", stripped)
    assert.not_matches("grpc%.gateway", stripped)
  end)
end)

describe("the build", function()
  it("stops with advice when CLOUD_API_DIR does not hold the schema", function()
    local out, ok = helpers.run("cd " .. helpers.sh_quote(helpers.ROOT) ..
      " && make --no-print-directory check-schema CLOUD_API_DIR=/nonexistent/cloud-api 2>&1")
    assert.is_false(ok)
    assert.matches("CLOUD_API_DIR=/nonexistent/cloud%-api does not hold", out)
    assert.matches("make fetch%-schema", out)
  end)

  it("fetches the pinned schema from (overridable) repository URLs", function()
    local src = API_DIR
    if not helpers.read_file(src .. "/VERSION") then pending("no schema at " .. API_DIR) return end
    local d = helpers.tmpdir()
    local q = helpers.sh_quote
    -- Three local repositories laid out like the upstream ones, one commit each.
    local script = table.concat({
      "set -e",
      "mkrepo() { git init -q \"$1\" && git -C \"$1\" add -A && git -C \"$1\" -c user.name=s -c user.email=s@x commit -qm pin && git -C \"$1\" rev-parse HEAD; }",
      "mkdir -p " .. q(d .. "/cloud/temporal/api") .. " " .. q(d .. "/api/temporal/api") .. " " .. q(d .. "/gw"),
      "cp -R " .. q(src .. "/temporal/api/cloud") .. " " .. q(d .. "/cloud/temporal/api/"),
      "cp " .. q(src .. "/VERSION") .. " " .. q(d .. "/cloud/"),
      "cp -R " .. q(src .. "/temporal/api/common") .. " " .. q(src .. "/temporal/api/enums") .. " " .. q(d .. "/api/temporal/api/"),
      "cp -R " .. q(src .. "/google") .. " " .. q(d .. "/api/"),
      "cp -R " .. q(src .. "/protoc-gen-openapiv2") .. " " .. q(d .. "/gw/"),
      "echo CLOUD=$(mkrepo " .. q(d .. "/cloud") .. ")",
      "echo API=$(mkrepo " .. q(d .. "/api") .. ")",
      "echo GW=$(mkrepo " .. q(d .. "/gw") .. ")",
    }, "\n")
    local out, ok = helpers.run("sh -c " .. q(script))
    assert.is_true(ok, out)
    local cloud, api, gw = out:match("CLOUD=(%x+)"), out:match("API=(%x+)"), out:match("GW=(%x+)")
    local fetched = d .. "/fetched"
    local make = table.concat({
      "cd " .. q(helpers.ROOT) .. " && make --no-print-directory fetch-schema",
      "CLOUD_API_DIR=" .. q(fetched),
      "CLOUD_API_REPO=file://" .. q(d .. "/cloud") .. " CLOUD_API_COMMIT=" .. cloud,
      "TEMPORAL_API_REPO=file://" .. q(d .. "/api") .. " TEMPORAL_API_COMMIT=" .. api,
      "GRPC_GATEWAY_REPO=file://" .. q(d .. "/gw") .. " GRPC_GATEWAY_COMMIT=" .. gw, "2>&1",
    }, " ")
    out, ok = helpers.run(make)
    assert.is_true(ok, out)
    for _, f in ipairs{ "VERSION", "temporal/api/cloud/cloudservice/v1/service.proto",
                        "temporal/api/common/v1/message.proto", "temporal/api/enums/v1/reset.proto",
                        "google/api/http.proto", "protoc-gen-openapiv2/options/openapiv2.proto" } do
      assert.equal(helpers.read_file(src .. "/" .. f), helpers.read_file(fetched .. "/" .. f), f)
    end
    helpers.cleanup()
  end)
end)
