-- Billing reports: asynchronous generation, date ranges per granularity, one report at a
-- time, the CSV behind the download URL and its expiry.
local S = require "03-emulator.emu_support"
local helpers = require "helpers"

local DEC, JAN, FEB = 1764547200, 1767225600, 1769904000   -- 2025-12-01, 2026-01-01, 2026-02-01

local function spec(from, to, extra)
  local s = { start_time_inclusive = { seconds = from }, end_time_exclusive = { seconds = to } }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

local function report(emu, id)
  return S.ok(emu.owner:call("GetBillingReport", { billing_report_id = id })).billing_report
end

describe("emulator billing reports", function()
  local emu
  before_each(function() emu = S.new { seed = { namespaces = 2 } } end)   -- the clock: 2026-01-01
  after_each(function() emu:close() end)

  it("are generated asynchronously: IN_PROGRESS, then GENERATED with a CSV behind a file:// URL", function()
    local r = S.ok(emu.owner:call("CreateBillingReport", { spec = spec(DEC, FEB, { description = "Q4" }) }))
    assert.are.equal("STATE_PENDING", r.async_operation.state)
    local rep = report(emu, r.billing_report_id)
    assert.are.equal("BILLING_REPORT_STATE_IN_PROGRESS", rep.state)
    assert.are.equal(r.async_operation.id, rep.async_operation_id)
    assert.are.equal("BILLING_REPORT_GRANULARITY_HOURLY", rep.spec.granularity)   -- the default
    assert.are.same({}, rep.download_info)
    emu.advance(2)
    rep = report(emu, r.billing_report_id)
    assert.are.equal("BILLING_REPORT_STATE_GENERATED", rep.state)
    local d = rep.download_info[1]
    assert.are.equal("FILE_FORMAT_CSV", d.file_format)
    -- the URL expires after the default 5 minutes
    assert.are.equal(rep.generated_time.seconds + 300, d.url_expiration_time.seconds)
    local path = d.url:match("^file://(/.+%.csv)$")
    local text = assert(helpers.read_file(path))
    assert.are.equal(d.file_size_bytes, #text)
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.matches("^BillingAccountID,BillingAccountName,BillingCurrency,", lines[1])
    -- hourly rows of December up to a day before generation (at 00:00:01, rounded up to the
    -- hour: 30 days and 1 hour), two SKUs, two namespaces
    assert.are.equal(1 + (30 * 24 + 1) * 2 * 2, #lines)
    assert.matches("seed%-ns%-001%.emu01", lines[2])
    assert.matches('{""$tmprl_project"":[""' .. emu.st.default_project .. '""]', text, 1, true)
    -- once the URL has expired, the file goes
    emu.advance(301)
    report(emu, r.billing_report_id)
    assert.is_nil(helpers.read_file(path))
  end)

  it("take dates on billing-month boundaries, within each granularity's range", function()
    local function bad(s, pattern)
      local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateBillingReport", { spec = s }))
      if pattern then assert.matches(pattern, err.message) end
    end
    bad(nil)
    bad(spec(DEC + 86400, FEB), "billing month")
    bad(spec(DEC, FEB - 1), "billing month")
    bad({ start_time_inclusive = { seconds = DEC, nanos = 1 }, end_time_exclusive = { seconds = FEB } })
    bad(spec(JAN, DEC), "after")
    bad(spec(JAN, FEB + 28 * 86400), "current billing month")
    local NOV, OCT = 1761955200, 1759276800
    local FEB25 = 1738368000
    bad(spec(NOV, FEB), "hourly")
    bad(spec(OCT, FEB, { granularity = "BILLING_REPORT_GRANULARITY_DAILY" }), "daily")
    S.ok(emu.owner:call("CreateBillingReport",
      { spec = spec(NOV, FEB, { granularity = "BILLING_REPORT_GRANULARITY_DAILY" }) }))
    bad(spec(FEB25 - 31 * 86400, FEB, { granularity = "BILLING_REPORT_GRANULARITY_MONTHLY" }), "monthly")
    S.ok(emu.owner:call("CreateBillingReport",
      { spec = spec(FEB25, FEB, { granularity = "BILLING_REPORT_GRANULARITY_MONTHLY" }) }))
    bad(spec(DEC, FEB, { download_url_expiration_duration = { seconds = 3601 } }), "1 hour")
    local r = S.ok(emu.owner:call("CreateBillingReport", { spec = spec(DEC, FEB,
      { download_url_expiration_duration = { seconds = 3600 } }) }))
    emu.advance(10)
    local rep = report(emu, r.billing_report_id)
    local d = rep.download_info[1]
    assert.are.equal(rep.generated_time.seconds + 3600, d.url_expiration_time.seconds)
  end)

  it("are generated one at a time per account, the others queued", function()
    local a = S.ok(emu.owner:call("CreateBillingReport", { spec = spec(DEC, JAN) }))
    local b = S.ok(emu.owner:call("CreateBillingReport", { spec = spec(JAN, FEB) }))
    emu.advance(1.5)
    assert.are.equal("BILLING_REPORT_STATE_GENERATED", report(emu, a.billing_report_id).state)
    assert.are.equal("BILLING_REPORT_STATE_IN_PROGRESS", report(emu, b.billing_report_id).state)
    local op = S.ok(emu.owner:call("GetAsyncOperation", { async_operation_id = b.async_operation.id })).async_operation
    assert.are.equal("STATE_IN_PROGRESS", op.state)
    emu.advance(1)
    local rep = report(emu, b.billing_report_id)
    assert.are.equal("BILLING_REPORT_STATE_GENERATED", rep.state)
    assert.are.equal(emu.test_clock.t - 0.5, rep.generated_time.seconds + rep.generated_time.nanos / 1e9)
  end)

  it("end FAILED when their generation fails", function()
    emu:fault { method = "CreateBillingReport", operation = "FAILED", reason = "no data" }
    local r = S.ok(emu.owner:call("CreateBillingReport", { spec = spec(DEC, JAN) }))
    emu.advance(2)
    local rep = report(emu, r.billing_report_id)
    assert.are.equal("BILLING_REPORT_STATE_FAILED", rep.state)
    assert.are.same({}, rep.download_info)
    local op = S.ok(emu.owner:call("GetAsyncOperation", { async_operation_id = r.async_operation.id })).async_operation
    assert.are.equal("STATE_FAILED", op.state)
  end)

  it("are for Account Owners and Finance Admins", function()
    S.fails("PERMISSION_DENIED", emu.admin:call("CreateBillingReport", { spec = spec(DEC, JAN) }))
    S.fails("PERMISSION_DENIED", emu.reader:call("GetBillingReport", { billing_report_id = "x" }))
    local _, finance = S.principal(emu, "user", { email = "money@example.com",
      access = { account_access = { role = "ROLE_FINANCE_ADMIN" } } })
    local r = S.ok(finance:call("CreateBillingReport", { spec = spec(DEC, JAN) }))
    S.ok(finance:call("GetBillingReport", { billing_report_id = r.billing_report_id }))
    S.fails("NOT_FOUND", finance:call("GetBillingReport", { billing_report_id = "missing" }))
  end)

  it("are written beside the state file when there is one", function()
    local dir = helpers.tmpdir()
    local e = S.new { state_file = dir .. "/state.lua" }
    local r = S.ok(e.owner:call("CreateBillingReport",
      { spec = spec(DEC, JAN, { granularity = "BILLING_REPORT_GRANULARITY_MONTHLY" }) }))
    e.advance(2)
    local url = report(e, r.billing_report_id).download_info[1].url
    assert.are.equal("file://" .. dir .. "/state.lua.billing-" .. r.billing_report_id .. ".csv", url)
    e:close()   -- kept: a dry run's files stay for inspection until they expire
    assert.is_string(helpers.read_file(url:sub(8)))
    helpers.cleanup()
  end)
end)
