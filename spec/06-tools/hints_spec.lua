-- "Did you mean" and the hints that say what to change: the nearest name (cloudops.nearest)
-- for JSON fields and enum values, the client's methods and the command line's; a mistyped
-- client method raises naming the nearest one, while code testing a field still sees nil; the
-- connection hints said to a script's author or to a command-line user (cloudops.diagnosis).
require "helpers"
local cloudops = require "cloudops"
local nearest = require "cloudops.nearest"
local diagnosis = require "cloudops.diagnosis"
local json = require "cloudops.json"

describe("cloudops.nearest", function()
  it("names the nearest within a few edits, else a name holding the key, else nothing", function()
    local methods = { "get_namespace", "get_namespaces", "get_users", "create_namespace" }
    assert.are.equal("get_namespaces", nearest.name("get_namespacez", methods)) -- same length wins a tie
    assert.are.equal("get_namespace", nearest.name("get_namepsace", methods))
    assert.are.equal("get_users", nearest.name("GET_USERS", methods))           -- case ignored
    assert.are.equal("retention_days", nearest.name("retention", { "region", "retention_days", "name" }))
    assert.are.equal("RESOURCE_STATE_ACTIVE",
      nearest.name("ACTIVE", { "RESOURCE_STATE_ACTIVE", "RESOURCE_STATE_DELETED" }))
    assert.is_nil(nearest.name("frobnicate", methods))
    assert.is_nil(nearest.name("ns", { "namespace", "namespaces" }))            -- too short to point at one
    assert.is_nil(nearest.name("", methods))
    assert.are.equal("", nearest.hint("frobnicate", methods))
    assert.are.equal(" (did you mean 'get_users'?)", nearest.hint("get_user", { "get_users", "get_usage" }))
  end)
end)

describe("a mistyped client method", function()
  local client
  lazy_setup(function()
    client = assert(cloudops.connect { endpoint = "127.0.0.1:1", insecure = true, api_key = "k" })
  end)
  lazy_teardown(function() client:close() end)

  it("raises naming the nearest method, at the caller's line", function()
    assert.has_error(function() client:get_namespacez {} end,
      "the client has no method 'get_namespacez' (did you mean 'get_namespaces'?)")
    local ok, err = pcall(function() client:get_namespacez {} ; return 1 end)
    assert.is_false(ok)
    assert.matches("^spec/06%-tools/hints_spec%.lua:%d+: the client has no method", err)
    assert.has_error(function() client:list_users {} end,
      "the client has no method 'list_users' (did you mean 'get_users'?)")
    assert.has_error(function() client:GetNamespaces {} end,
      "the client has no method 'GetNamespaces': its methods are snake_case, client:get_namespaces(...)")
    assert.has_error(function() client:get_nothing_like_this {} end,
      "the client has no method 'get_nothing_like_this' (cloudops.methods() lists the RPCs)")
  end)

  it("leaves any other unknown key nil, so that code testing a field works", function()
    assert.is_nil(client.some_unknown_field)
    assert.is_nil(client.closed)            -- near `close`, but not a method's name
    assert.is_nil(client._not_set)          -- private fields not set
    assert.is_nil(client[1])
    assert.is_function(client.get_namespaces)
    assert.are.equal("127.0.0.1:1", client.endpoint)
  end)

  it("keeps the methods' own errors", function()
    assert.has_error(function() client.get_account {} end,
      "GetAccount: call it as client:get_account(...), with a colon")
  end)
end)

describe("JSON hints", function()
  it("name the nearest field and enum value", function()
    local _, err = json.decode("GetUsersRequest", '{"pageSise": 1}')
    assert.matches("pageSise: no such field in temporal%.api%.cloud%.cloudservice%.v1%.GetUsersRequest " ..
      "%(did you mean 'pageSize'%?%)", err)
    _, err = json.decode("temporal.api.cloud.namespace.v1.ExportSink", '{"state": "RESOURCE_STATE_ACTIV"}')
    assert.matches("'RESOURCE_STATE_ACTIV' is not a value of temporal%.api%.cloud%.resource%.v1%.ResourceState " ..
      "%(did you mean 'RESOURCE_STATE_ACTIVE'%?%)", err)
  end)
end)

describe("connection hints", function()
  local PLAINTEXT = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:7233: Ssl " ..
    "handshake failed: SSL_ERROR_SSL: error:0A00010B:SSL routines::wrong version number"

  it("say connect's options to a script's author and the flags to a command-line user", function()
    assert.matches("connect with insecure = true$", diagnosis.cause(14, PLAINTEXT))
    assert.matches("add %-%-insecure$", diagnosis.cause(14, PLAINTEXT, "cli"))
    local cert = diagnosis.cause(14, "failed to connect to all addresses; certificate verify failed", "cli")
    assert.matches("give that CA with %-%-ca%-file$", cert)
    local name = diagnosis.cause(14, "failed to connect to all addresses; Peer name x is not in peer certificate",
      "cli")
    assert.matches("give %-%-server%-name a name the certificate holds$", name)
    local closed = diagnosis.cause(14, "failed to connect to all addresses; Socket closed", "cli")
    assert.matches("leave out %-%-insecure$", closed)
    assert.is_nil(diagnosis.cause(14, "wrong version number"))                 -- a server's own words
    assert.is_nil(diagnosis.cause(13, PLAINTEXT))
  end)

  it("rephrase an error's cause for the command line, leaving the server's words", function()
    local errors = require "cloudops.errors"
    local err = errors.from_status("GetNamespaces", 14, PLAINTEXT)
    assert.matches("connect with insecure = true", tostring(err))
    local text = diagnosis.for_cli(err)
    assert.matches("^GetNamespaces: UNAVAILABLE %(14%): the server answered the TLS handshake in plaintext: " ..
      "for a plaintext server such as a local emulator, add %-%-insecure %(failed to connect", text)
    assert.matches("wrong version number%)$", text)
    local other = errors.from_status("GetNamespaces", 14, "insecure = true is what the server says")
    assert.are.equal(tostring(other), diagnosis.for_cli(other))
    local option = errors.new("INVALID_OPTION", "endpoint is a URL, not host:port; write \"h:1\" with insecure = true")
    assert.are.equal('INVALID_OPTION: --endpoint is a URL, not host:port; write "h:1" with --insecure',
      diagnosis.for_cli(option))
  end)
end)
