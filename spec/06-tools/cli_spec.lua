-- bin/cloudops as a subprocess against a spawned emulator: JSON in and out, every page as
-- JSON lines, waiting on operations, and the exit statuses of docs/reference.md "bin/cloudops"
-- (0 success, 1 an RPC or operation error with its code name on stderr, 2 a usage error, 3 a
-- timeout).
local helpers = require "helpers"
local T = require "06-tools.support.tools"
local json = require "cloudops.json"
local cloudops = require "cloudops"

describe("bin/cloudops", function()
  local emu

  lazy_setup(function()
    emu = T.emulator { seed = { users = 5, namespaces = 3 }, default_page_size = 2 }
  end)

  lazy_teardown(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  describe("call", function()
    it("prints the response as one line of proto3 JSON", function()
      local out, err, status = T.cli(emu, { "call", "GetNamespaces", '{"pageSize": 1}' })
      assert.are.equal(0, status, err)
      assert.are.equal("", err)
      local lines = T.json_lines(out)
      assert.are.equal(1, #lines)
      assert.are.equal(1, #lines[1].namespaces)
      assert.are.equal("seed-ns-001.emu01", lines[1].namespaces[1].namespace)
      assert.is_string(lines[1].nextPageToken) -- json names on output
      assert.is_string(lines[1].namespaces[1].createdTime:match("^%d%d%d%d%-%d%d%-%d%dT.*Z$"))
    end)

    it("takes snake_case names, proto field names, @file and @- (stdin)", function()
      local dir = helpers.tmpdir()
      helpers.write_file(dir .. "/req.json", '{"namespace": "seed-ns-002.emu01"}')
      local out, err, status = T.cli(emu, { "call", "get_namespace", "@" .. dir .. "/req.json", "--proto-names" })
      assert.are.equal(0, status, err)
      local resp = T.json_lines(out)[1]
      assert.are.equal("seed-ns-002.emu01", resp.namespace.namespace)
      assert.is_string(resp.namespace.resource_version)
      out, err, status = T.cli(emu, { "call", "GetNamespace", "@-" }, { stdin = '{"namespace":"seed-ns-003.emu01"}' })
      assert.are.equal(0, status, err)
      assert.are.equal("seed-ns-003.emu01", T.json_lines(out)[1].namespace.namespace)
    end)

    it("sends an empty request without JSON, and indents with --pretty", function()
      local out, err, status = T.cli(emu, { "--pretty", "call", "GetCurrentIdentity" })
      assert.are.equal(0, status, err)
      assert.matches("^{\n  ", out)
      assert.is_table(json.decode_value(out))
    end)

    it("waits for a mutation's operation with --wait", function()
      local req = '{"spec": {"name": "cli-ns", "replicas": [{"region": "aws-us-east-1"}], "retentionDays": 3,' ..
                  ' "apiKeyAuth": {"enabled": true}}}'
      local out, err, status = T.cli(emu, { "call", "CreateNamespace", req, "--wait" })
      assert.are.equal(0, status, err)
      local resp = T.json_lines(out)[1]
      assert.are.equal("cli-ns.emu01", resp.namespace)
      assert.are.equal("STATE_FULFILLED", resp.asyncOperation.state)
      assert.is_string(resp.asyncOperation.id)
    end)

    it("exits 1 with the code name on stderr for an RPC error", function()
      local out, err, status = T.cli(emu, { "call", "GetNamespace", '{"namespace": "nope.emu01"}' })
      assert.are.equal(1, status)
      assert.are.equal("", out)
      assert.matches("^NOT_FOUND", err)
    end)

    it("exits 1 for a refused key (UNAUTHENTICATED)", function()
      local _, err, status = T.cli(emu, { "call", "GetNamespaces" }, { api_key = "wrong-key" })
      assert.are.equal(1, status)
      assert.matches("^UNAUTHENTICATED", err)
    end)

    it("exits 2 for usage errors, naming what is wrong", function()
      local cases = {
        { { "call" }, "needs a METHOD" },
        { { "call", "NoSuchMethod" }, "unknown method 'NoSuchMethod' %(cloudops methods lists them%)" },
        { { "call", "GetNamespacez" }, "unknown method 'GetNamespacez' %(did you mean 'GetNamespaces'%?%)" },
        { { "list", "get_userz" }, "unknown method 'get_userz' %(did you mean 'get_users'%?%)" },
        { { "call", "GetNamespace", '{"namespace": ' }, "invalid JSON" },
        { { "call", "GetNamespace", '{"namespac": "x"}' }, "namespac: no such field" },
        { { "call", "GetNamespaces", '{"pageSize": "ten"}' }, "pageSize: expected an integer" },
        { { "call", "GetNamespace", "@/nonexistent/req.json" }, "cannot read the request" },
        { { "call", "GetNamespaces", "{}", "extra" }, "unexpected argument" },
        { { "list", "GetNamespace" }, "not a paged method" },
        { { "wait" }, "needs an OPERATION_ID" },
        { { "describe" }, "needs a NAME" },
        { { "describe", "NoSuchThing" }, "NoSuchThing" },
        { { "frobnicate" }, "unknown command 'frobnicate'\n" },
        { { "cal", "GetNamespaces" }, "unknown command 'cal' %(did you mean 'call'%?%)" },
        { {}, "no command %(call, list, wait, methods, describe, snapshot, diff, rehearse, plan, apply, export%)" },
        { { "--bogus", "methods" }, "unknown option '%-%-bogus'" },
        { { "--timeout", "soon", "methods" }, "%-%-timeout needs a positive number of seconds, got 'soon'" },
        { { "--timeout=nan", "methods" }, "%-%-timeout needs a positive number of seconds, got 'nan'" },
        { { "wait", "x", "--wait-timeout=-1" }, "%-%-wait%-timeout needs a positive number of seconds, got '%-1'" },
      }
      for _, c in ipairs(cases) do
        local out, err, status = T.cli(emu, c[1])
        assert.are.equal(2, status, table.concat(c[1], " ") .. "\n" .. err)
        assert.are.equal("", out)
        assert.matches(c[2], err)
      end
    end)

    it("names flags, not connect's options, in what to change", function()
      -- a TLS client against the plaintext emulator: the hint says --insecure
      local _, err, status = T.cli(nil, { "call", "GetNamespaces", "--endpoint", emu.endpoint },
        { env = { TEMPORAL_CLOUD_API_KEY = emu.api_key } })
      assert.are.equal(1, status)
      assert.matches("^UNAVAILABLE: GetNamespaces: UNAVAILABLE %(14%): the server answered the TLS handshake in " ..
        "plaintext: for a plaintext server such as a local emulator, add %-%-insecure %(", err)
      assert.not_matches("insecure = true", err)
      -- connect's refusals of what the flags gave
      _, err, status = T.cli(nil, { "call", "GetNamespaces", "--endpoint", "http://" .. emu.endpoint },
        { env = { TEMPORAL_CLOUD_API_KEY = emu.api_key } })
      assert.are.equal(2, status)
      assert.matches('^cloudops: %-%-endpoint is a URL, not host:port; write "' .. emu.endpoint:gsub("%.", "%%.") ..
        '" with %-%-insecure %(plaintext%)\n', err)
      _, err, status = T.cli(nil, { "call", "GetNamespaces", "--endpoint", "10.0.0.1:7233" },
        { env = { TEMPORAL_CLOUD_API_KEY = emu.api_key, TEMPORAL_CLOUD_INSECURE = "1" } })
      assert.are.equal(2, status)
      assert.matches("only allowed to a loopback endpoint .* or pass %-%-insecure if you really mean", err)
      _, err, status = T.cli(nil, { "call", "GetNamespaces", "--endpoint", emu.endpoint, "--ca-file", "/nonexistent" },
        { env = { TEMPORAL_CLOUD_API_KEY = emu.api_key } })
      assert.are.equal(2, status)
      assert.matches("^cloudops: cannot read %-%-ca%-file: /nonexistent", err)
    end)

    it("exits 2 without an API key", function()
      local _, err, status = T.cli(nil, { "call", "GetNamespaces", "--endpoint", emu.endpoint, "--insecure" })
      assert.are.equal(2, status)
      assert.matches("TEMPORAL_CLOUD_API_KEY", err)
    end)
  end)

  describe("list", function()
    it("prints every item of every page, one JSON object a line", function()
      -- the emulator's pages hold 2 here: 9 users (4 bootstrap principals... and 5 seeded) span pages
      local out, err, status = T.cli(emu, { "list", "GetUsers" })
      assert.are.equal(0, status, err)
      local users = T.json_lines(out)
      local client = assert(cloudops.connect { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key })
      local expected = {}
      for u in client:paginate("get_users") do expected[#expected + 1] = u.id end
      client:close()
      assert.is_true(#expected > 2)
      assert.are.equal(#expected, #users)
      for i, u in ipairs(users) do
        assert.are.equal(expected[i], u.id)
        assert.is_string(u.spec.email)
      end
    end)

    it("passes the request on (filters) and takes snake_case", function()
      local out, err, status = T.cli(emu, { "list", "get_users", '{"email": "reader@example.com"}' })
      assert.are.equal(0, status, err)
      local users = T.json_lines(out)
      assert.are.equal(1, #users)
      assert.are.equal("reader@example.com", users[1].spec.email)
    end)

    it("exits 1 when a page fails", function()
      local _, err, status = T.cli(emu, { "list", "GetUsers" }, { api_key = "wrong-key" })
      assert.are.equal(1, status)
      assert.matches("^UNAUTHENTICATED", err)
    end)
  end)

  describe("wait", function()
    -- Starts creating namespace `name` on emulator `on`; returns the operation's id.
    local function start_namespace(name, on)
      local out = T.cli(on or emu, { "call", "CreateNamespace", json.encode("CreateNamespaceRequest", {
        spec = { name = name, replicas = { { region = "aws-us-east-1" } }, retention_days = 1,
                 api_key_auth = { enabled = true } } }) })
      return T.json_lines(out)[1].asyncOperation.id
    end

    it("prints the operation once it is fulfilled", function()
      local id = start_namespace("wait-ns")
      local out, err, status = T.cli(emu, { "wait", id })
      assert.are.equal(0, status, err)
      local op = T.json_lines(out)[1]
      assert.are.equal(id, op.id)
      assert.are.equal("STATE_FULFILLED", op.state)
    end)

    it("exits 1 for an operation that failed, and prints it", function()
      local failing = T.emulator { faults = { { method = "CreateNamespace", operation = "FAILED",
                                                reason = "no capacity" } } }
      finally(failing.stop)
      local id = start_namespace("doomed", failing)
      local wout, err, status = T.cli(failing, { "wait", id })
      assert.are.equal(1, status)
      assert.matches("^OPERATION_FAILED", err)
      assert.matches("no capacity", err)
      assert.are.equal("STATE_FAILED", T.json_lines(wout)[1].state)
    end)

    it("exits 3 when --wait-timeout runs out", function()
      local slow = T.emulator { op_duration = 30 }
      finally(slow.stop)
      local id = start_namespace("slow", slow)
      local _, err, status = T.cli(slow, { "wait", id, "--wait-timeout", "0.5" })
      assert.are.equal(3, status, err)
      assert.matches("^DEADLINE_EXCEEDED", err)
    end)
  end)

  it("exits 3 when an RPC times out (--timeout; --no-retry: one attempt)", function()
    local log = helpers.tmpdir() .. "/requests.log"
    local slow = T.emulator { faults = { { method = "GetNamespaces", delay = 1, times = math.huge } }, log = log }
    finally(slow.stop)
    local _, err, status = T.cli(slow, { "call", "GetNamespaces", "--timeout", "0.2", "--no-retry" })
    assert.are.equal(3, status, err)
    assert.matches("^DEADLINE_EXCEEDED: GetNamespaces: DEADLINE_EXCEEDED %(4%)", err)
    local _, calls = (helpers.read_file(log) or ""):gsub("GetNamespaces", "")
    assert.are.equal(1, calls, "one attempt")
  end)

  describe("methods and describe", function()
    it("lists every RPC name, one a line, without a key or a server", function()
      local out, err, status = T.cli(nil, { "methods" })
      assert.are.equal(0, status, err)
      local names = {}
      for line in out:gmatch("[^\n]+") do names[#names + 1] = line end
      assert.are.same(cloudops.methods(), names)
    end)

    it("describes a method, a message and an enum readably", function()
      local out, _, status = T.cli(nil, { "describe", "CreateNamespace" })
      assert.are.equal(0, status)
      assert.matches("rpc CreateNamespace%(CreateNamespaceRequest%) returns %(CreateNamespaceResponse%)", out)
      assert.matches("client:create_namespace", out)
      out = T.cli(nil, { "describe", "CreateNamespaceRequest" })
      assert.matches("NamespaceSpec%s+spec = 2;", out)
      assert.matches("map<string, string> tags = 4;", out)
      out = T.cli(nil, { "describe", "temporal.api.cloud.identity.v1.NamespaceAccess.Permission" })
      assert.matches("PERMISSION_READ = 3;", out)
    end)

    it("gives describe()'s table as JSON with --json", function()
      local out, _, status = T.cli(nil, { "describe", "--json", "GetUsersRequest" })
      assert.are.equal(0, status)
      local d = T.json_lines(out)[1]
      assert.are.equal("temporal.api.cloud.cloudservice.v1.GetUsersRequest", d.name)
      assert.are.equal("pageSize", d.fields[1].json_name)
    end)

    it("prints its usage with --help (exit 0)", function()
      local out, _, status = T.cli(nil, { "--help" })
      assert.are.equal(0, status)
      for _, word in ipairs { "call", "list", "wait", "methods", "describe", "--endpoint", "--insecure",
                              "--ca-file", "--server-name", "--api-version", "--timeout" } do
        assert.truthy(out:find(word, 1, true), word)
      end
    end)
  end)
end)
