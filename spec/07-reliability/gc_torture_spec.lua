-- Finalizers that run inside the core's own allocations (issue 17, defects 1 and 2): with the
-- collector running continuously (spec/07-reliability/gc_torture.lua), finalizers close the
-- channel a call is being started on, grow the metadata table being copied, take the result
-- being taken, shut a server down while it hands out a request, drop handles in flight. Each
-- scenario runs in a child interpreter of its own, whose small heap lets a cycle end at almost
-- every allocation: under `make test-asan` the sanitized core (the runtimes preloaded), under
-- `make test-valgrind` valgrind. A scenario checks that every outcome is a documented one (the
-- call's result, or a clean error) and that the hostile finalizers did run; the spec checks
-- that the child exits cleanly.
local helpers = require "helpers"

local scenario = require "07-reliability.scenario"

-- Rounds per scenario (make test-valgrind lowers it: each allocation is a collection there).
local ROUNDS = tonumber(os.getenv("CLOUDOPS_TORTURE_ROUNDS") or "") or 150

describe("finalizers inside the core's allocations", function()
  local server = helpers.block_test_server()

  local function run(body) return scenario(body, server.endpoint, ROUNDS) end

  -- ch:start (the result taken after) and ch:call, a finalizer closing the channel at one of
  -- their allocations after another.
  for _, how in ipairs { "start", "call" } do
    it("ch:" .. how .. " while finalizers close its channel: answered, cancelled, or 'the client is closed'",
       function()
      local n = run("local HOW = " .. string.format("%q", how) .. "\n" .. [[
        torture.start{ pool = 1 }
        for round = 1, ROUNDS do
          local ch = core.channel(ENDPOINT, { insecure = true })
          local md = { ["x-a"] = "1" }
          torture.target{ close = ch, skip = round % (HOW == "call" and 12 or 4) }
          local ok, resp, code, message
          if HOW == "call" then
            ok, resp, code, message = pcall(ch.call, ch, GET.index, PAYLOAD, 5, md)
            torture.target(nil)
          else
            local h
            ok, h = pcall(ch.start, ch, GET.index, PAYLOAD, 5, md)
            torture.target(nil)
            if ok then
              wait_done(h)
              resp, code, message = h:result()
            else
              resp = h
            end
          end
          if ok then
            expect((code == 0 and type(resp) == "table") or (code == 1 and message == "the client was closed"),
                   "code %s: %s", code, message)
            count(code == 0 and "answered" or "cancelled")
          else
            expect(tostring(resp):find("the client is closed", 1, true), "raised %s", tostring(resp))
            count("refused")
          end
          ch:close()
        end
        torture.stop()
        report()
      ]])
      assert.is_true((n.refused or 0) > 0, "no finalizer closed the channel while ch:" .. how .. " started")
      assert.is_true((n.answered or 0) > 0, "no call was answered")
    end)
  end

  it("ch:start while finalizers grow its metadata table: the call is refused, never overrun", function()
    local n = run [[
      torture.start{ pool = 1 }
      local ch = core.channel(ENDPOINT, { insecure = true })
      for round = 1, ROUNDS do
        local md = { ["x-a"] = "1" }
        torture.target{ grow = md, skip = round % 4 }
        local ok, h = pcall(ch.start, ch, GET.index, PAYLOAD, 5, md)
        torture.target(nil)
        if ok then
          wait_done(h)
          local _, code = h:result()
          expect(code == 0, "code %s", code)
          count("answered")
        else
          local err = tostring(h)
          if err:find("the metadata table changed while the call was being started", 1, true) then
            count("changed")
          else
            expect(err:find("at most 32 metadata entries per call", 1, true), "raised %s", err)
            count("too_many")
          end
        end
      end
      ch:close()
      torture.stop()
      report()
    ]]
    assert.is_true((n.changed or 0) > 0, "no finalizer grew the table between its count and its copy")
  end)

  it("h:result() while finalizers take the same handle's result: one gets it, the other a clear error", function()
    local n = run [[
      local ch = core.channel(ENDPOINT, { insecure = true })
      local inner = {}
      torture.start{ pool = 1 }
      for round = 1, ROUNDS do
        local h = ch:start(GET.index, PAYLOAD, 5, { ["x-a"] = "1" })
        wait_done(h)
        local got_inside = false
        torture.target{ act = function()
          local ok, resp, code = pcall(h.result, h)
          if ok then
            expect(code == 0 and type(resp) == "table", "inner result %s", code)
            got_inside = true
          else
            inner[#inner + 1] = tostring(resp)
          end
        end, skip = round % 16 }
        local ok, resp, code = pcall(h.result, h)
        torture.target(nil)
        if ok then
          expect(code == 0 and type(resp) == "table" and not got_inside, "outer result %s", code)
          count("outer")
        else
          expect(got_inside and tostring(resp):find("this call's result was already taken", 1, true), "raised %s",
                 tostring(resp))
          count("inner")
        end
      end
      for _, e in ipairs(inner) do
        if e:find("this call's result is being taken", 1, true) then count("busy")
        else expect(e:find("this call's result was already taken", 1, true), "inner raised %s", e) end
      end
      ch:close()
      torture.stop()
      report()
    ]]
    assert.is_true((n.busy or 0) > 0, "no finalizer took the result while it was being taken")
  end)

  it("core.poll while finalizers close the channel, take results and drop handles", function()
    local n = run [[
      torture.start{ pool = 1 }
      for _ = 1, math.ceil(ROUNDS / 5) do
        local ch = core.channel(ENDPOINT, { insecure = true })
        local hs = {}
        for i = 1, 8 do hs[i] = ch:start(GET.index, PAYLOAD, 5, { ["x-test-delay"] = "0.0" .. i }) end
        local k = 0
        torture.target{ act = function()
          k = k + 1
          if k % 7 == 0 then ch:close() end
          local i = k % 8 + 1
          if hs[i] and k % 3 == 0 then pcall(hs[i].result, hs[i]) end
          if k % 5 == 0 then hs[i] = nil end -- dropped: collected in flight, or done
        end }
        for _ = 1, 6 do
          for _, h in ipairs(core.poll(0.05)) do
            local ok, _, code, message = pcall(h.result, h)
            expect(not ok or code == 0 or (code == 1 and message == "the client was closed"), "code %s: %s",
                   code, message)
          end
        end
        torture.target(nil)
        ch:close()
        count("rounds")
      end
      torture.stop()
      report()
    ]]
    assert.is_true(n.hits > 0)
  end)

  it("a client's calls while finalizers close it and collect other clients", function()
    local n = run [[
      local cloudops = require "cloudops"
      local function connect()
        return assert(cloudops.connect{ endpoint = ENDPOINT, insecure = true, api_key = "k", rate_limit = false,
                                        retry = false })
      end
      torture.start{ pool = 1 }
      for round = 1, ROUNDS do
        local c = connect()
        for _ = 1, 3 do connect() end -- dropped: their __gc closes their channels
        torture.target{ close = c, skip = round % 24 }
        local ok, resp, err = pcall(c.get_namespaces, c, {})
        torture.target(nil)
        if not ok then
          expect(tostring(resp):find("the client is closed", 1, true), "raised %s", tostring(resp))
          count("refused")
        elseif resp then
          count("answered")
        else
          expect(err.name == "CANCELLED" and err.message == "the client was closed", "err %s", tostring(err))
          count("cancelled")
        end
        c:close()
      end
      torture.stop()
      report()
    ]]
    assert.is_true((n.refused or 0) + (n.cancelled or 0) > 0, "no finalizer closed the client during a call")
  end)

  it("a server handing out a request while finalizers shut it down", function()
    local n = run [[
      local rounds = math.ceil(ROUNDS / 3)
      for round = 1, rounds do
        local srv = assert(core.server{ address = "127.0.0.1:0" })
        local ch = core.channel("127.0.0.1:" .. srv.port, { insecure = true })
        local h = ch:start(GET.index, PAYLOAD, 5, { ["x-a"] = "1" })
        torture.start{ pool = 1 }
        torture.target{ act = function() srv:shutdown() end, skip = round % 10 }
        local ok, req = pcall(srv.next, srv, 5)
        torture.target(nil)
        torture.stop()
        if ok and req then
          req.call:finish(0, "", core.encode(GET.output, {}))
          count("handed")
        else
          expect(not ok and tostring(req):find("the server is shut down", 1, true), "next gave %s", tostring(req))
          count("shut")
        end
        srv:shutdown()
        wait_done(h)
        local _, code = h:result()
        expect(type(code) == "number", "code %s", tostring(code))
        ch:close()
      end
      report()
    ]]
    assert.is_true((n.handed or 0) > 0 and (n.shut or 0) > 0, "the server was always, or never, shut down first")
  end)

  it("the first channel of a state made while finalizers make and close channels", function()
    run [[
      torture.start()
      torture.target{ act = function() core.channel(ENDPOINT, { insecure = true }):close() end }
      local ch = core.channel(ENDPOINT, { insecure = true })
      torture.target(nil)
      local h = ch:start(GET.index, PAYLOAD, 5, { ["x-a"] = "1" })
      -- the call is on the state's one queue: core.poll reports it
      local got
      for _ = 1, 50 do
        got = core.poll(0.2)[1]
        if got then break end
      end
      expect(got == h, "core.poll did not report the call")
      expect(select(2, h:result()) == 0, "the call failed")
      ch:close()
      torture.stop()
      report()
    ]]
  end)
end)
