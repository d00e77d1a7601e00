local helpers = require "helpers"
local cloudops = require "cloudops"

describe("TLS", function()
  local certs, tls_server, plain_server

  lazy_setup(function()
    certs = helpers.make_certs()
    tls_server = helpers.test_server{ tls = { cert = certs.cert, key = certs.key } }
    plain_server = helpers.test_server()
  end)

  lazy_teardown(function()
    if tls_server then tls_server.stop() end
    if plain_server then plain_server.stop() end
    helpers.cleanup()
  end)

  local function connect(endpoint, tls, extra)
    local opts = { endpoint = endpoint, api_key = "tls-secret-key", tls = tls, rate_limit = false, retry = false,
                   timeout = 5 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(cloudops.connect(opts))
  end

  it("verifies the server with tls.ca_file", function()
    local c = connect(tls_server.endpoint, { ca_file = certs.ca })
    local resp, err, info = c:get_namespaces{}
    c:close()
    assert.is_nil(err)
    assert.is_table(resp)
    assert.equal("Bearer tls-secret-key", info.trailers["x-echo-authorization"])
  end)

  it("checks the name given by tls.server_name", function()
    local c = connect(tls_server.endpoint, { ca_file = certs.ca, server_name = "cloudops.test" })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(err)
    assert.is_table(resp)
    c = connect(tls_server.endpoint, { ca_file = certs.ca, server_name = "not-in-the-cert.test" })
    resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
  end)

  it("presents a client certificate when given one", function()
    local c = connect(tls_server.endpoint, { ca_file = certs.ca, cert_file = certs.client_cert, key_file = certs.client_key })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(err)
    assert.is_table(resp)
  end)

  it("fails with a clear error against a server whose CA it does not trust", function()
    local c = connect(tls_server.endpoint, { ca_file = certs.other_ca })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.matches("[Hh]andshake", err.message)
    assert.not_matches("tls%-secret%-key", tostring(err))
  end)

  it("with insecure = false, never lets a plaintext server see the key", function()
    local c = connect(plain_server.endpoint, { ca_file = certs.ca })
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.equal("", plain_server.requests()) -- no request reached it: no header, no key
    -- and the same server is reachable in plaintext, so the check above means something
    local p = connect(plain_server.endpoint, nil, { insecure = true })
    assert.truthy(p:get_namespaces{})
    p:close()
    assert.matches("authorization=Bearer tls%-secret%-key", plain_server.requests())
  end)
end)
