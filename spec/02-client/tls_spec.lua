local helpers = require "helpers"
local cloudops = require "cloudops"

describe("TLS", function()
  local s = helpers.tls_and_plain_servers()
  lazy_setup(s.start)
  lazy_teardown(s.stop)

  local function connect(endpoint, tls, extra)
    local opts = { endpoint = endpoint, api_key = "tls-secret-key", tls = tls, rate_limit = false, retry = false,
                   timeout = 5 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(cloudops.connect(opts))
  end

  it("verifies the server with tls.ca_file", function()
    local c = connect(s.tls_server.endpoint, { ca_file = s.certs.ca })
    local resp, err, info = c:get_namespaces{}
    c:close()
    assert.is_nil(err)
    assert.is_table(resp)
    assert.equal("Bearer tls-secret-key", info.trailers["x-echo-authorization"])
  end)

  it("checks the name given by tls.server_name", function()
    local c = connect(s.tls_server.endpoint, { ca_file = s.certs.ca, server_name = "cloudops.test" })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(err)
    assert.is_table(resp)
    c = connect(s.tls_server.endpoint, { ca_file = s.certs.ca, server_name = "not-in-the-cert.test" })
    resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
  end)

  it("presents a client certificate when given one", function()
    local c = connect(s.tls_server.endpoint, { ca_file = s.certs.ca, cert_file = s.certs.client_cert,
                                               key_file = s.certs.client_key })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(err)
    assert.is_table(resp)
  end)

  it("fails with a clear error against a server whose CA it does not trust", function()
    local c = connect(s.tls_server.endpoint, { ca_file = s.certs.other_ca })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.matches("[Hh]andshake", err.message)
    assert.not_matches("tls%-secret%-key", tostring(err))
  end)

  it("with insecure = false, never lets a plaintext server see the key", function()
    local c = connect(s.plain_server.endpoint, { ca_file = s.certs.ca })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.equal("", s.plain_server.requests()) -- no request reached it: no header, no key
    -- and the same server is reachable in plaintext, so the check above means something
    local p = connect(s.plain_server.endpoint, nil, { insecure = true })
    assert.truthy(p:get_namespaces{})
    p:close()
    assert.matches("authorization=Bearer tls%-secret%-key", s.plain_server.requests())
  end)
end)
