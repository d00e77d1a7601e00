-- The schema build: stripping REST annotations, following service.proto's imports, fetching
-- the pinned schema when none is given, and a newer schema (one more RPC, in a new file)
-- built and called with no change to the project.
local helpers = require "helpers"
local B = require "00-build.support"
local stripper = dofile(helpers.ROOT .. "proto/strip.lua")
local strip = stripper.strip
local q = helpers.sh_quote

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
    assert.error_matches(function() strip('option (google.api.http) = { get: "/x" ') end,
      "option value not terminated by ';'$")
    assert.error_matches(function() strip('option (google.api.http) = { get: "/x }; ') end,
      "unterminated string starting at byte 35$")
  end)

  it("lists a file's imports, not those in comments or strings", function()
    assert.same({ "a/b.proto", "c.proto", "d.proto" }, stripper.imports([[
syntax = "proto3";
// import "commented.proto";
import "a/b.proto";
import public "c.proto";
import weak "d.proto";
/* import "block.proto"; */
message M { string s = 1 [json_name = "import \"quoted.proto\";"]; }
]]))
  end)

  it("keeps every RPC of the real service.proto with its types", function()
    local path = B.schema_dir() .. "/temporal/api/cloud/cloudservice/v1/service.proto"
    local original = assert(helpers.read_file(path))
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
      " && " .. B.MAKE .. " check-schema CLOUD_API_DIR=/nonexistent/cloud-api 2>&1")
    assert.is_false(ok)
    assert.matches("CLOUD_API_DIR=/nonexistent/cloud%-api does not hold", out)
    assert.matches("leave CLOUD_API_DIR out: make then fetches", out)
  end)

  it("fetches the pinned schema from (overridable) repository URLs", function()
    local src = B.schema_dir()
    local fetched = helpers.tmpdir() .. "/fetched"
    local out, ok = helpers.run("cd " .. q(helpers.ROOT) .. " && " .. B.MAKE .. " fetch-schema " ..
      "CLOUD_API_DIR=" .. q(fetched) .. " " .. B.upstream_mirrors(src) .. " 2>&1")
    assert.is_true(ok, out)
    for _, f in ipairs{ "VERSION", "temporal/api/cloud/cloudservice/v1/service.proto",
                        "temporal/api/common/v1/message.proto", "temporal/api/enums/v1/reset.proto",
                        "google/api/http.proto", "protoc-gen-openapiv2/options/openapiv2.proto" } do
      assert.equal(helpers.read_file(src .. "/" .. f), helpers.read_file(fetched .. "/" .. f), f)
    end
    helpers.cleanup()
  end)
end)

-- In a copy of the source tree, as a new user's clone: no CLOUD_API_DIR.
describe("a clone with no schema beside it", function()
  local tree, src, mirrors

  lazy_setup(function()
    src = B.schema_dir()
    tree = B.tree_copy()
    mirrors = B.upstream_mirrors(src)
  end)
  lazy_teardown(helpers.cleanup)

  local function make(args)
    return helpers.run("cd " .. q(tree) .. " && env -u CLOUD_API_DIR " .. B.MAKE .. " " .. args .. " 2>&1")
  end

  it("says what to do when the schema cannot be fetched (offline)", function()
    local gone = "file:///nonexistent/repo.git"
    local out, ok = make("schema CLOUD_API_REPO=" .. gone .. " TEMPORAL_API_REPO=" .. gone ..
      " GRPC_GATEWAY_REPO=" .. gone)
    assert.is_false(ok)
    assert.matches("fetching the pinned Cloud Ops API schema with git into build/cloud%-api", out)
    assert.matches("could not fetch the Cloud Ops API schema", out)
    assert.matches("make CLOUD_API_DIR=/path/to/cloud%-api", out)
    assert.is_nil(helpers.read_file(tree .. "/build/cloud-api/temporal/api/cloud/cloudservice/v1/service.proto"))
  end)

  it("fetches the pinned schema into build/ and prepares it, saying so", function()
    local out, ok = make("schema " .. mirrors)
    assert.is_true(ok, out)
    assert.matches("CLOUD_API_DIR is not set: fetching the pinned Cloud Ops API schema with git into " ..
      "build/cloud%-api", out)
    assert.matches("prepared 19 schema files", out)
    local mk = assert(helpers.read_file(tree .. "/build/schema/protos.mk"))
    assert.matches("\nSCHEMA_FROM := " .. (tree .. "/build/cloud-api"):gsub("%p", "%%%0") .. "\n", mk)
    -- the list follows the imports: every file the hand-made list had
    for _, f in ipairs{ "cloudservice/v1/service.proto", "cloudservice/v1/request_response.proto",
                        "usage/v1/message.proto", "connectivityrule/v1/message.proto" } do
      assert.matches("temporal/api/cloud/" .. f:gsub("%p", "%%%0"), mk)
    end
    assert.matches("temporal/api/enums/v1/reset%.proto", mk)
    assert.matches("GOOGLE_PROTOS := google/protobuf/any%.proto google/protobuf/duration%.proto", mk)
    -- a second make neither fetches nor prepares again; clean keeps what was fetched
    out = make("schema")
    assert.not_matches("fetching", out)
    out, ok = make("clean && test -f build/cloud-api/VERSION")
    assert.is_true(ok, out)
  end)

  it("builds a newer schema (one more RPC, its messages in a new file) and calls it", function()
    -- the schema as upstream might change it: a new file, imported by service.proto only
    local newer = helpers.tmpdir() .. "/newer"
    B.sh("cp -R " .. q(src) .. " " .. q(newer))
    B.sh("mkdir -p " .. q(newer .. "/temporal/api/cloud/widget/v1"))
    helpers.write_file(newer .. "/temporal/api/cloud/widget/v1/message.proto", [[
syntax = "proto3";
package temporal.api.cloud.widget.v1;
import "google/protobuf/timestamp.proto";
message Widget { string name = 1; int64 size = 2; google.protobuf.Timestamp made = 3; }
message GetWidgetRequest { string name = 1; }
message GetWidgetResponse { Widget widget = 1; }
]])
    local service = newer .. "/temporal/api/cloud/cloudservice/v1/service.proto"
    local text = assert(helpers.read_file(service))
    text = text:gsub('(import "temporal/api/cloud/cloudservice/v1/request_response.proto";)',
      '%1\nimport "temporal/api/cloud/widget/v1/message.proto";', 1)
    text = text:gsub("(service CloudService {)",
      "%1\n  rpc GetWidget (temporal.api.cloud.widget.v1.GetWidgetRequest) " ..
      "returns (temporal.api.cloud.widget.v1.GetWidgetResponse) {}\n", 1)
    helpers.write_file(service, text)

    local out, ok = make("-j2 CLOUD_API_DIR=" .. q(newer))
    assert.is_true(ok, out)
    assert.matches("prepared 20 schema files", out)

    -- the copy's test server answers GetWidget with the bytes asked for; a client of the
    -- copy's core sends the new request and decodes the new response
    -- (its own core: make test-asan points CLOUDOPS_CORE_CPATH at the tree's sanitizer build)
    local server = helpers.spawn("env -u LD_PRELOAD CLOUDOPS_CORE_CPATH=" .. q(tree .. "/build/lua/?.so") ..
      " lua5.4 " .. q(tree .. "/spec/support/test_server.lua") .. " --port 0 --no-echo",
      "listening on 127%.0%.0%.1:(%d+)")
    finally(server.stop)
    local code = [[
      package.path = TREE .. "/lua/?.lua;" .. TREE .. "/lua/?/init.lua;" .. package.path
      package.cpath = TREE .. "/build/lua/?.so;" .. package.cpath
      local cloudops = require "cloudops"
      local bytes = cloudops.encode("temporal.api.cloud.widget.v1.GetWidgetResponse",
        { widget = { name = "w1", size = 3, made = "2025-01-02T03:04:05Z" } })
      local c = assert(cloudops.connect{ endpoint = ENDPOINT, insecure = true, api_key = "k", retry = false })
      local resp, err = c:get_widget({ name = "w1" }, { metadata = { ["x-test-payload-bin"] = bytes } })
      assert(resp, tostring(err))
      print(#cloudops.methods(), cloudops.describe("GetWidget").input, resp.widget.name, resp.widget.size,
        cloudops.time.to_rfc3339(resp.widget.made))
    ]]
    code = "local TREE, ENDPOINT = " .. ("%q, %q"):format(tree, "127.0.0.1:" .. server.match[1]) .. "\n" .. code
    out, ok = helpers.run("cd / && env -u LD_PRELOAD lua5.4 -e " .. q(code) .. " 2>&1")
    assert.is_true(ok, out)
    assert.equal("89\ttemporal.api.cloud.widget.v1.GetWidgetRequest\tw1\t3\t2025-01-02T03:04:05Z\n", out)
  end)
end)
