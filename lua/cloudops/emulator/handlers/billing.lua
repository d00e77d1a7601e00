-- Billing reports (docs.temporal.io/cloud/billing-api): CreateBillingReport starts an
-- asynchronous generation; the report is IN_PROGRESS until its operation ends, then
-- GENERATED with a download URL (a file:// URL of the CSV, billing_csv.lua) that expires,
-- or FAILED. "Only one billing report per account is generated at a time; additional
-- requests are accepted but queued": each report's operation starts when the previous one
-- ends.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local ops = require "cloudops.emulator.operations"
local billing_csv = require "cloudops.emulator.billing_csv"
local auth = require "cloudops.emulator.auth"

local copy, ts, max = util.copy, util.ts, math.max

local H = {}

-- BillingReportSpec.download_url_expiration_duration: "default is 5 minutes and maximum is
-- 1 hour".
local DEFAULT_EXPIRY, MAX_EXPIRY = 300, 3600

-- "Hourly: current billing month and previous billing month; Daily: ... previous two;
-- Monthly: ... previous eleven" (the docs' "Report data limitations"); the schema's
-- default granularity is hourly.
local MONTHS = {
  BILLING_REPORT_GRANULARITY_HOURLY = 2, BILLING_REPORT_GRANULARITY_DAILY = 3,
  BILLING_REPORT_GRANULARITY_MONTHLY = 12,
}

-- Billing is for Account Owners and Finance Admins ("Full billing and payments", the roles
-- table of docs.temporal.io/cloud/manage-access/roles-and-permissions), or whoever a custom
-- role gives cloud.billingreport.create / .get.
local BILLING_ROLES = { "ROLE_OWNER", "ROLE_FINANCE_ADMIN" }

-- The spec as generated (granularity and expiry filled in), or nil, err.
local function check_spec(ctx, spec)
  if spec == nil then return errors.invalid("spec is required") end
  local from = util.to_seconds(spec.start_time_inclusive)
  local to = util.to_seconds(spec.end_time_exclusive)
  if not from or not to then
    return errors.invalid("spec.start_time_inclusive and spec.end_time_exclusive are required")
  end
  -- "Date ranges must use billing-month boundaries (MM/YYYY)."
  for name, t in pairs { start_time_inclusive = from, end_time_exclusive = to } do
    if t ~= billing_csv.month_start(t) or (spec[name].nanos or 0) ~= 0 then
      return errors.invalid("spec.%s must be the first instant of a billing month (UTC)", name)
    end
  end
  if to <= from then
    return errors.invalid("spec.end_time_exclusive must be after spec.start_time_inclusive")
  end
  local g = spec.granularity
  if g == nil or g == "BILLING_REPORT_GRANULARITY_UNSPECIFIED" then
    g = "BILLING_REPORT_GRANULARITY_HOURLY"
  end
  local months = MONTHS[g]
  if not months then return errors.invalid("spec.granularity: unknown granularity %s", tostring(g)) end
  local first = billing_csv.month_start(ctx.now, 1 - months)
  if from < first then
    return errors.invalid(
      "spec.start_time_inclusive: a %s report covers the current billing month and the %d before it",
      g:match("_(%a+)$"):lower(), months - 1)
  end
  if to > billing_csv.month_start(ctx.now, 1) then
    return errors.invalid("spec.end_time_exclusive must not be after the end of the current billing month")
  end
  local expiry = util.to_seconds(spec.download_url_expiration_duration) or 0
  if expiry < 0 or expiry > MAX_EXPIRY then
    return errors.invalid("spec.download_url_expiration_duration must be at most 1 hour")
  end
  if expiry == 0 then expiry = DEFAULT_EXPIRY end
  local out = copy(spec)
  out.granularity = g
  out.download_url_expiration_duration = util.duration(expiry)
  return out
end

-- Generation ends with the operation: the file is written and its URL starts to expire.
ops.finalizers.billing_report = function(st, eff, outcome, _op, now)
  local r = st.billing_reports[eff.key]
  if not r then return end
  if outcome ~= "STATE_FULFILLED" then
    r.state = "BILLING_REPORT_STATE_FAILED"
    return
  end
  local size = billing_csv.write(st, r, eff.path, now)
  if not size then
    r.state = "BILLING_REPORT_STATE_FAILED"
    return
  end
  r.state = "BILLING_REPORT_STATE_GENERATED"
  r.generated_time = ts(now)
  r.download_info = { {
    url = billing_csv.url(eff.path),
    url_expiration_time = ts(now + util.to_seconds(r.spec.download_url_expiration_duration)),
    file_format = "FILE_FORMAT_CSV",
    file_size_bytes = size,
  } }
end

function H.CreateBillingReport(ctx, req)
  local ok, err = auth.require_one_of(ctx.identity, BILLING_ROLES, ctx.method)
  if not ok then return nil, err end
  local spec
  spec, err = check_spec(ctx, req.spec)
  if not spec then return nil, err end
  billing_csv.sweep(ctx.st, ctx.now)
  local st = ctx.st
  local r = { id = util.id(32), state = "BILLING_REPORT_STATE_IN_PROGRESS", spec = spec,
              requested_time = ts(ctx.now), download_info = {} }
  local op = ctx:start()
  r.async_operation_id = op.id
  -- Queued behind the report being generated: its time starts when that one ends.
  local start = max(ctx.now, st.billing_busy_until or 0)
  op.t2 = start + (op.t2 - ctx.now)
  st.billing_busy_until = op.t2
  op.effects[#op.effects + 1] = { fn = "billing_report", key = r.id,
                                  path = billing_csv.path(ctx.emu, r.id) }
  st.billing_reports[r.id] = r
  ctx.audit_details = { billing_report_id = r.id }
  return { billing_report_id = r.id }
end

function H.GetBillingReport(ctx, req)
  local ok, err = auth.require_one_of(ctx.identity, BILLING_ROLES, ctx.method)
  if not ok then return nil, err end
  if (req.billing_report_id or "") == "" then return errors.invalid("billing_report_id is required") end
  billing_csv.sweep(ctx.st, ctx.now)
  local r = ctx.st.billing_reports[req.billing_report_id]
  if not r then return errors.not_found("billing report not found: %s", req.billing_report_id) end
  return { billing_report = copy(r) }
end

return H
