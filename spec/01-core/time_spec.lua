-- cloudops.time (docs/reference.md "cloudops.time", "Messages as tables"): Timestamp and
-- Duration tables <-> RFC 3339 text, Unix seconds and "1.5s" text.
local time = require("cloudops").time

-- A small deterministic generator (no bit operations, so LuaJIT runs it the same).
local function lcg(seed)
  local state = seed
  return function(lo, hi)
    state = (state * 48271) % 2147483647 -- MINSTD: exact in doubles too (LuaJIT)
    return lo + state % (hi - lo + 1)
  end
end

describe("cloudops.time", function()
  describe("to_rfc3339", function()
    it("formats UTC text with 0, 3, 6 or 9 fraction digits", function()
      assert.are.equal("1970-01-01T00:00:00Z", time.to_rfc3339({ seconds = 0 }))
      assert.are.equal("1970-01-01T00:00:00Z", time.to_rfc3339({}))
      assert.are.equal("2024-01-02T03:04:05Z", time.to_rfc3339({ seconds = 1704164645 }))
      assert.are.equal("2024-01-02T03:04:05.500Z", time.to_rfc3339({ seconds = 1704164645, nanos = 500000000 }))
      assert.are.equal("2024-01-02T03:04:05.000123Z", time.to_rfc3339({ seconds = 1704164645, nanos = 123000 }))
      assert.are.equal("2024-01-02T03:04:05.000000001Z", time.to_rfc3339({ seconds = 1704164645, nanos = 1 }))
      assert.are.equal("2024-01-02T03:04:05.000123400Z", time.to_rfc3339({ seconds = 1704164645, nanos = 123400 }))
    end)

    it("handles leap years and times before 1970", function()
      assert.are.equal("2024-02-29T00:00:00Z", time.to_rfc3339({ seconds = 1709164800 }))
      assert.are.equal("2000-02-29T00:00:00Z", time.to_rfc3339({ seconds = 951782400 }))
      assert.are.equal("1900-03-01T00:00:00Z", time.to_rfc3339({ seconds = -2203891200 })) -- 1900 has no Feb 29
      assert.are.equal("1969-12-31T23:59:59.500Z", time.to_rfc3339({ seconds = -1, nanos = 500000000 }))
      assert.are.equal("0001-01-01T00:00:00Z", time.to_rfc3339({ seconds = -62135596800 }))
      assert.are.equal("9999-12-31T23:59:59.999999999Z", time.to_rfc3339({ seconds = 253402300799, nanos = 999999999 }))
    end)

    it("agrees with the C library's gmtime over years 1000..9999", function()
      local rand = lcg(7)
      for _ = 1, 2000 do
        -- seconds in [-30610224000 (1000-01-01), 253402300799], from two draws to cover the range
        local s = -30610224000 + rand(0, 2840) * 100000000 + rand(0, 99999999)
        if s > 253402300799 then s = 253402300799 end
        local expected = os.date("!%Y-%m-%dT%H:%M:%SZ", s)
        assert.are.equal(expected, time.to_rfc3339({ seconds = s }))
      end
    end)

    it("returns nil, err outside years 1..9999 or for nanos outside 0..999999999", function()
      for _, ts in ipairs{ { seconds = 253402300800 }, { seconds = -62135596801 }, { seconds = 1e15 },
                           { seconds = 0, nanos = -1 }, { seconds = 0, nanos = 1000000000 }, { seconds = 1.5 } } do
        local text, err = time.to_rfc3339(ts)
        assert.is_nil(text)
        assert.equal("timestamp out of the RFC 3339 range (years 1 to 9999) or nanos outside 0..999999999", err)
      end
    end)

    it("raises for a non-table", function()
      assert.has_error(function() time.to_rfc3339("2024-01-01T00:00:00Z") end,
        "timestamp must be a table { seconds =, nanos = }, got string")
      assert.has_error(function() time.to_rfc3339(5) end,
        "timestamp must be a table { seconds =, nanos = }, got number")
    end)
  end)

  describe("from_rfc3339", function()
    it("parses UTC and offset times to a Timestamp table", function()
      assert.are.same({ seconds = 1704164645, nanos = 0 }, time.from_rfc3339("2024-01-02T03:04:05Z"))
      assert.are.same({ seconds = 1704164645, nanos = 0 }, time.from_rfc3339("2024-01-02T08:34:05+05:30"))
      assert.are.same({ seconds = 951820200, nanos = 0 }, time.from_rfc3339("2000-02-29T12:00:00+01:30"))
      assert.are.same({ seconds = -1, nanos = 999999999 }, time.from_rfc3339("1969-12-31T23:59:59.999999999Z"))
      assert.are.same({ seconds = -62135596800, nanos = 0 }, time.from_rfc3339("0001-01-01T00:00:00Z"))
    end)

    it("round-trips with to_rfc3339", function()
      local rand = lcg(11)
      for _ = 1, 500 do
        local ts = { seconds = -62135596800 + rand(0, 3154) * 100000000 + rand(0, 99999999),
                     nanos = rand(0, 999999999) }
        if ts.seconds > 253402300799 then ts.seconds = 253402300799 end
        assert.are.same(ts, time.from_rfc3339(time.to_rfc3339(ts)))
      end
    end)

    it("returns nil, err for invalid text", function()
      for _, s in ipairs{ "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
                          "2024-01-01T00:00:00", "2024-01-01", "10000-01-01T00:00:00Z", "" } do
        local ts, err = time.from_rfc3339(s)
        assert.is_nil(ts)
        assert.equal('invalid RFC 3339 timestamp "' .. s .. '"', err)
      end
    end)

    it("raises for a non-string", function()
      assert.has_error(function() time.from_rfc3339(0) end, "expected RFC 3339 text, got number")
      assert.has_error(function() time.from_rfc3339(nil) end, "expected RFC 3339 text, got nil")
    end)
  end)

  describe("to_unix and from_unix", function()
    it("convert with fractions kept", function()
      assert.are.equal(1.5, time.to_unix({ seconds = 1, nanos = 500000000 }))
      assert.are.equal(-1.5, time.to_unix({ seconds = -2, nanos = 500000000 }))
      assert.are.equal(0, time.to_unix({}))
      assert.are.same({ seconds = 1, nanos = 500000000 }, time.from_unix(1.5))
      assert.are.same({ seconds = 1700000000, nanos = 0 }, time.from_unix(1700000000))
      assert.are.same({ seconds = 0, nanos = 1 }, time.from_unix(0.000000001))
    end)

    it("keep a Timestamp's nanos non-negative before 1970", function()
      assert.are.same({ seconds = -2, nanos = 500000000 }, time.from_unix(-1.5))
      assert.are.same({ seconds = -1, nanos = 0 }, time.from_unix(-1))
      assert.are.equal("1969-12-31T23:59:58.500Z", time.to_rfc3339(time.from_unix(-1.5)))
    end)

    it("from_unix raises outside years 1..9999 and for NaN or infinities", function()
      for _, v in ipairs{ 253402300800, -62135596801, 3e11, 1e12, 0 / 0, 1 / 0 } do
        -- (the value as the Lua running formats it: 3e11 is 300000000000.0 on Lua 5.4, nan may be -nan)
        assert.error_matches(function() time.from_unix(v) end,
          "^seconds out of the Timestamp range %(years 1 to 9999%): %-?[%d.infa]+$", nil, nil, tostring(v))
      end
      assert.has_error(function() time.from_unix("1") end, "expected a number of seconds, got string")
    end)

    it("from_unix(v) formats like os.date for whole seconds", function()
      assert.are.equal(os.date("!%Y-%m-%dT%H:%M:%SZ", 1234567890), time.to_rfc3339(time.from_unix(1234567890)))
    end)
  end)

  describe("duration and to_seconds", function()
    it("parse \"1.5s\" text and numbers of seconds", function()
      assert.are.same({ seconds = 1, nanos = 500000000 }, time.duration("1.5s"))
      assert.are.same({ seconds = -1, nanos = -500000000 }, time.duration("-1.5s"))
      assert.are.same({ seconds = 0, nanos = 1 }, time.duration("0.000000001s"))
      assert.are.same({ seconds = 2, nanos = 250000000 }, time.duration(2.25))
      assert.are.same({ seconds = 0, nanos = -500000000 }, time.duration(-0.5))
      assert.are.same({ seconds = 315576000000, nanos = 0 }, time.duration("315576000000s"))
    end)

    it("return nil, err for invalid text or out of range values", function()
      for _, v in ipairs{ "1.5", "1m", "s", "1.1234567891s", "315576000001s", 315576000001, 3.5e11, 0 / 0 } do
        local d, err = time.duration(v)
        assert.is_nil(d, tostring(v))
        if type(v) == "string" then
          assert.equal('invalid duration "' .. v .. '"', err)
        else -- (the number as the Lua running formats it)
          assert.matches('^invalid duration "%-?[%d.na]+"$', err)
        end
      end
    end)

    it("raise for other types", function()
      assert.has_error(function() time.duration({ seconds = 1 }) end,
        'expected duration text ("1.5s") or seconds, got table')
      assert.has_error(function() time.duration(nil) end, 'expected duration text ("1.5s") or seconds, got nil')
    end)

    it("to_seconds gives the number of seconds", function()
      assert.are.equal(1.5, time.to_seconds({ seconds = 1, nanos = 500000000 }))
      assert.are.equal(-1.5, time.to_seconds({ seconds = -1, nanos = -500000000 }))
      assert.are.equal(0, time.to_seconds({}))
      assert.are.equal(2.25, time.to_seconds(time.duration("2.25s")))
      assert.has_error(function() time.to_seconds(1.5) end,
        "duration must be a table { seconds =, nanos = }, got number")
    end)
  end)
end)
