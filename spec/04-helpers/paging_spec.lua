-- client:paginate and client:pages, over fake pages and the in-process emulator.
local S = require "04-helpers.support"
local schema = require "cloudops.schema"
local core = require "cloudops.core"
local codes = require "cloudops.codes"

-- A handler paging `items` (namespace names) `size` at a time; page tokens are "p<index>".
-- fail_at: the page number that fails with UNAVAILABLE (retries are off in these clients).
local function pager(items, size, fail_at)
  local page = 0
  return function(method, req)
    assert.equal("GetNamespaces", method)
    page = page + 1
    if page == fail_at then return nil, codes.PERMISSION_DENIED, "no more" end
    local from = tonumber((req.page_token or ""):match("^p(%d+)$") or "1")
    local out = {}
    for i = from, math.min(from + size - 1, #items) do out[#out + 1] = { namespace = items[i] } end
    local nxt = from + size <= #items and ("p" .. (from + size)) or ""
    return { namespaces = out, next_page_token = nxt }
  end
end

local function names(n)
  local t = {}
  for i = 1, n do t[i] = "ns-" .. i end
  return t
end

describe("paginate", function()
  it("yields every item of every page, in order", function()
    local c, _, calls = S.fake_client(pager(names(7), 3))
    local got = {}
    for ns, err in c:paginate("get_namespaces", { page_size = 3 }) do
      assert.is_nil(err)
      got[#got + 1] = ns.namespace
    end
    assert.same(names(7), got)
    assert.equal(3, #calls)
    assert.is_nil(calls[1].req.page_token)
    assert.equal("p4", calls[2].req.page_token)
    assert.equal("p7", calls[3].req.page_token)
    for _, call in ipairs(calls) do assert.equal(3, call.req.page_size) end
  end)

  it("fetches the next page only when needed", function()
    local c, _, calls = S.fake_client(pager(names(10), 4))
    local it = c:paginate("GetNamespaces")
    assert.equal(0, #calls)
    assert.equal("ns-1", it().namespace)
    assert.equal(1, #calls)
    for _ = 2, 4 do it() end
    assert.equal(1, #calls)
    assert.equal("ns-5", it().namespace)
    assert.equal(2, #calls)
  end)

  it("stops on an empty token and ends quietly after that", function()
    local c, _, calls = S.fake_client(pager(names(2), 5))
    local it = c:paginate("get_namespaces", {})
    assert.truthy(it())
    assert.truthy(it())
    assert.is_nil(it())
    assert.is_nil(it())
    assert.equal(1, #calls)
  end)

  it("handles an empty list and skips empty pages that have a next token", function()
    local c = S.fake_client(pager({}, 5))
    for _ in c:paginate("get_namespaces") do error("no items expected") end
    local page = 0
    c = S.fake_client(function()
      page = page + 1
      if page < 3 then return { namespaces = {}, next_page_token = "more" .. page } end
      return { namespaces = { { namespace = "last" } } }
    end)
    local got = {}
    for ns in c:paginate("get_namespaces") do got[#got + 1] = ns.namespace end
    assert.same({ "last" }, got)
  end)

  it("yields false, err once on a failure, then ends", function()
    local c = S.fake_client(pager(names(9), 3, 2))
    local got, errs = {}, {}
    for ns, err in c:paginate("get_namespaces", { page_size = 3 }) do
      if ns then got[#got + 1] = ns.namespace else errs[#errs + 1] = err end
    end
    assert.same({ "ns-1", "ns-2", "ns-3" }, got)
    assert.equal(1, #errs)
    assert.equal("PERMISSION_DENIED", errs[1].name)
  end)

  it("leaves the caller's request alone and starts from its page_token", function()
    local c = S.fake_client(pager(names(6), 2))
    local req = { page_size = 2, page_token = "p5" }
    local got = {}
    for ns in c:paginate("get_namespaces", req) do got[#got + 1] = ns.namespace end
    assert.same({ "ns-5", "ns-6" }, got)
    assert.same({ page_size = 2, page_token = "p5" }, req)
  end)

  it("passes the call options to every page", function()
    local c, _, calls = S.fake_client(pager(names(4), 2))
    for _ in c:paginate("get_namespaces", { page_size = 2 }, { metadata = { ["x-trace"] = "t1" }, timeout = 7 }) do end
    assert.equal(2, #calls)
    for _, call in ipairs(calls) do
      assert.equal("t1", call.headers["x-trace"])
      assert.equal(7, call.timeout)
    end
  end)

  it("works for every paged RPC of the schema", function()
    local paged = 0
    for _, m in ipairs(schema.methods()) do
      if m.items then
        paged = paged + 1
        local item_type
        for _, f in ipairs(core.describe(m.output).fields) do
          if f.name == m.items then item_type = f.type end
        end
        local calls_seen = 0
        local c = S.fake_client(function(method, _)
          assert.equal(m.name, method)
          calls_seen = calls_seen + 1
          local item = item_type == "message" and {} or "x"
          return { [m.items] = { item, item }, next_page_token = calls_seen < 2 and "next" or "" }
        end)
        local n = 0
        for item, err in c:paginate(m.snake) do
          assert.is_nil(err)
          assert.truthy(item)
          n = n + 1
        end
        assert.equal(4, n, m.name)
        n, calls_seen = 0, 0
        for resp in c:pages(m.name) do
          assert.is_table(resp[m.items])
          n = n + 1
        end
        assert.equal(2, n, m.name)
      end
    end
    assert.equal(21, paged)
  end)

  it("raises programming mistakes at the caller's line", function()
    local c = S.fake_client(pager({}, 1))
    local line = debug.getinfo(1, "l").currentline
    local cases = {
      { function() local it = c:paginate("get_namespace"); return it end, "GetNamespace is not a paged method" },
      { function() local it = c:paginate("get_nothing"); return it end, "unknown method 'get_nothing'" },
      { function() local it = c:paginate(42); return it end, "unknown method '42'" },
      { function() local it = c:paginate("get_namespaces", "x"); return it end, "request must be a table" },
      { function() local it = c:paginate("get_namespaces", { page_sise = 1 }); return it end, "page_sise" },
      { function() local it = c:paginate("get_namespaces", {}, { timeout = -1 }); return it end, "timeout" },
      { function() local it = c:pages("create_user"); return it end, "not a paged method" },
      { function() local it = c:pages("get_users", {}, { bogus = 1 }); return it end, "unknown call option 'bogus'" },
    }
    for i, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
      assert.matches("paging_spec.lua:" .. (line + 1 + i) .. ":", err, 1, true)
    end
  end)
end)

describe("pages", function()
  it("yields whole responses with their info", function()
    local c = S.fake_client(pager(names(5), 2))
    local sizes = {}
    for resp, err, info in c:pages("get_namespaces", { page_size = 2 }) do
      assert.is_nil(err)
      assert.equal(1, info.attempts)
      sizes[#sizes + 1] = #resp.namespaces
    end
    assert.same({ 2, 2, 1 }, sizes)
  end)

  it("yields false, err once on a failure", function()
    local c = S.fake_client(pager(names(5), 2, 1))
    local seen = {}
    for resp, err in c:pages("get_namespaces") do seen[#seen + 1] = { resp, err and err.name } end
    assert.same({ { false, "PERMISSION_DENIED" } }, seen)
  end)
end)

describe("paging the emulator's model", function()
  it("lists every user across pages of the emulator's own tokens", function()
    local clock = S.clock()
    local handler, emu = S.emulated(clock, { seed = { users = 23 } })
    local c = S.fake_client(handler, { api_key = emu.keys.owner })
    local emails, pages = {}, 0
    for resp, err in c:pages("GetUsers", { page_size = 5 }) do
      assert.is_nil(err)
      pages = pages + 1
      for _, u in ipairs(resp.users) do emails[#emails + 1] = u.spec.email end
    end
    assert.equal(23 + 3, #emails) -- the seeded users and the emulator's three users
    assert.equal(6, pages)
    local seen = {}
    for _, e in ipairs(emails) do
      assert.is_nil(seen[e])
      seen[e] = true
    end
  end)
end)
