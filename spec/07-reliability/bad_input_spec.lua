local cloudops = require "cloudops"

-- Bad requests are programming mistakes: each raises a clear error naming the path, at the
-- caller's line, and never crashes the process or sends anything.
describe("bad input to a call", function()
  local c

  lazy_setup(function()
    c = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "k", rate_limit = false })
  end)
  lazy_teardown(function() c:close() end)

  local function raises(req, pattern)
    local ok, err = pcall(function() local _ = c:create_namespace(req) end) -- not a tail call: the frame must stay
    assert.is_false(ok)
    assert.is_string(err)
    assert.matches("bad_input_spec%.lua:%d+: ", err)
    assert.matches(pattern, err)
  end

  local deep = {}
  do
    local t = deep
    for _ = 1, 200 do t.a = {}; t = t.a end
  end
  local selfref = {}
  selfref.me = selfref

  it("names the path of every kind of mistake", function()
    raises({ spec = { name = 5 } }, "CreateNamespaceRequest%.spec%.name: expected string, got number")
    raises({ spec = { regions = { "a", nil, "c" } } },
           "spec%.regions: expected an array without holes, but %[2%] is nil")
    raises({ spec = { regions = { x = "a" } } }, "spec%.regions: expected an array")
    raises({ spec = { retention_days = 2 ^ 31 } }, "spec%.retention_days: 2147483648 out of range for int32")
    raises({ spec = { retention_days = 1.5 } }, "spec%.retention_days: expected an integer")
    raises({ spec = { name = "\255\254" } }, "spec%.name: string is not valid UTF%-8")
    raises({ spec = { api_key_auth = { enabled = "yes" } } },
           "spec%.api_key_auth%.enabled: expected boolean, got string")
    raises({ spec = { custom_search_attributes = { [1] = "Keyword" } } },
           "CreateNamespaceRequest%.spec%.custom_search_attributes%[1%]: expected string, got number$")
    raises({ spec = { search_attributes = { x = "SEARCH_ATTRIBUTE_TYPE_KEYWORDZ" } } },
           "unknown .*SearchAttributeType value 'SEARCH_ATTRIBUTE_TYPE_KEYWORDZ' " ..
           "%(did you mean 'SEARCH_ATTRIBUTE_TYPE_KEYWORD'%?%)")
    raises({ spec = { nmae = "x" } },
           "unknown field 'nmae' in temporal%.api%.cloud%.namespace%.v1%.NamespaceSpec %(did you mean 'name'%?%)")
    raises({ tags = deep }, 'CreateNamespaceRequest%.tags%["a"%]: expected string, got table$')
    local ok, err = pcall(cloudops.encode, "google.protobuf.Struct", selfref)
    assert.is_false(ok)
    assert.matches("Struct%[\"me\"%]%[\"me\"%].*nesting deeper than 100 levels", err)
    raises({ [true] = 1 }, "CreateNamespaceRequest: temporal%.api%.cloud%.cloudservice%.v1%.CreateNamespaceRequest has "
           .. "no field true: keys must be field names %(strings%)$")
  end)

  it("refuses a request that is not a table", function()
    for _, v in ipairs{ 1, "x", true, function() end } do
      local ok, err = pcall(function() local _ = c:create_namespace(v) end)
      assert.is_false(ok)
      assert.matches("bad_input_spec%.lua:%d+: CreateNamespace: the request must be a table or nil", err)
    end
  end)

  it("takes a huge string and keeps working", function()
    local huge = string.rep("x", 8 * 1024 * 1024)
    local resp, err = c:create_namespace({ spec = { name = huge } }, { retry = false })
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name) -- encoded and sent (to nowhere): no error raised
    raises({ spec = { name = huge .. "\255" } }, "not valid UTF%-8")
  end)
end)
