-- Paging: default and maximum sizes, opaque tokens, stable order.
local S = require "03-emulator.emu_support"

describe("emulator paging", function()
  local emu
  -- 250 namespaces: an account whose allowance support raised past the automatic 100
  before_each(function() emu = S.new { seed = { namespaces = 250, users = 5 }, max_namespaces = 300 } end)

  local function all(method, field, req)
    local items, token, pages = {}, nil, 0
    repeat
      local r = {}
      for k, v in pairs(req or {}) do r[k] = v end
      r.page_token = token
      local resp = S.ok(emu.owner:call(method, r))
      pages = pages + 1
      for _, it in ipairs(resp[field]) do items[#items + 1] = it end
      token = resp.next_page_token
    until token == ""
    return items, pages
  end

  it("serves 100 items by default and an empty token on the last page", function()
    local r = S.ok(emu.owner:call("GetNamespaces", {}))
    assert.are.equal(100, #r.namespaces)
    assert.are_not.equal("", r.next_page_token)
    local items, pages = all("GetNamespaces", "namespaces")
    assert.are.equal(250, #items)
    assert.are.equal(3, pages)
  end)

  it("accepts up to 1000 and rejects more or a negative size", function()
    local r = S.ok(emu.owner:call("GetNamespaces", { page_size = 1000 }))
    assert.are.equal(250, #r.namespaces)
    assert.are.equal("", r.next_page_token)
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("GetNamespaces", { page_size = 1001 }))
    assert.matches("1000", err.message)
    S.fails("INVALID_ARGUMENT", emu.owner:call("GetUsers", { page_size = -1 }))
  end)

  it("lists in ascending name order, each item once, across pages", function()
    local items = all("GetNamespaces", "namespaces", { page_size = 7 })
    assert.are.equal(250, #items)
    for i = 2, #items do assert.is_true(items[i - 1].namespace < items[i].namespace) end
  end)

  it("stays stable when items are added behind the cursor", function()
    local first = S.ok(emu.owner:call("GetNamespaces", { page_size = 10 }))
    S.namespace(emu, "aaa-first")    -- sorts before everything already served
    local second = S.ok(emu.owner:call("GetNamespaces", { page_size = 10,
                                                           page_token = first.next_page_token }))
    assert.is_true(second.namespaces[1].namespace > first.namespaces[10].namespace)
  end)

  it("rejects a token that is not one of ours or belongs to another list", function()
    S.fails("INVALID_ARGUMENT", emu.owner:call("GetNamespaces", { page_token = "garbage" }))
    local users = S.ok(emu.owner:call("GetUsers", { page_size = 2 }))
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("GetNamespaces",
      { page_token = users.next_page_token }))
    assert.matches("page_token", err.message)
  end)

  it("honours configured sizes", function()
    local e2 = S.new { seed = { namespaces = 12 }, default_page_size = 5, max_page_size = 10 }
    assert.are.equal(5, #S.ok(e2.owner:call("GetNamespaces", {})).namespaces)
    S.fails("INVALID_ARGUMENT", e2.owner:call("GetNamespaces", { page_size = 11 }))
  end)

  it("pages every list the same way", function()
    local users = all("GetUsers", "users", { page_size = 2 })
    assert.are.equal(8, #users)   -- 5 seeded and the 3 bootstrap users, each once
    local seen = {}
    for _, u in ipairs(users) do assert.is_nil(seen[u.id]); seen[u.id] = true end
  end)
end)
