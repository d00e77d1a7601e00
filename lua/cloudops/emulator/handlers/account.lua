-- The account, the caller's identity, async operations, regions, usage and audit logs.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local auth = require "cloudops.emulator.auth"
local regions = require "cloudops.emulator.regions"
local C = require "cloudops.emulator.handlers.common"
local namespaces = require "cloudops.emulator.handlers.namespaces"

local copy, ts, floor, format = util.copy, util.ts, math.floor, string.format

local H = {}

local DAY = 86400

function H.GetCurrentIdentity(ctx)
  local id = ctx.identity
  local resp = { principal_api_key = copy(id.key) }
  if id.kind == "user" then resp.user = copy(id.principal)
  else resp.service_account = copy(id.principal) end
  return resp
end

function H.GetAsyncOperation(ctx, req)
  local id = req.async_operation_id
  if id == nil or id == "" then return errors.invalid("async_operation_id is required") end
  local op = ctx.st.ops[id]
  if not op then return errors.not_found("async operation not found: %s", id) end
  return { async_operation = ops.view(op, ctx.cfg, ctx.now) }
end

function H.GetAccount(ctx)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  return { account = copy(ctx.st.account) }
end

function H.UpdateAccount(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  local acct = ctx.st.account
  ok, err = R.check_version(acct, req.resource_version, "account")
  if not ok then return nil, err end
  if req.spec == nil then return errors.invalid("spec is required") end
  ok, err = R.check_changes(acct.spec, req.spec, "account")
  if not ok then return nil, err end
  local ca = req.spec.metrics and req.spec.metrics.accepted_client_ca
  if ca and ca ~= "" and not ca:find("-----BEGIN CERTIFICATE-----", 1, true) then
    ctx:plan_outcome("STATE_FAILED", "invalid metrics accepted_client_ca: no PEM certificate found")
  end
  R.update(ctx, "account", nil, acct, function(r)
    r.spec = copy(req.spec)
    if ca and ca ~= "" then
      r.metrics = { uri = format("https://%s.tmprl.cloud/prometheus", r.id) }
    else
      r.metrics = nil
    end
  end)
  return {}
end

function H.GetRegions()
  local list = {}
  for i, r in ipairs(regions) do list[i] = copy(r) end
  return { regions = list }
end

function H.GetRegion(_ctx, req)
  if req.region == nil or req.region == "" then return errors.invalid("region is required") end
  local r = regions.by_id[req.region]
  if not r then return errors.not_found("region not found: %s", req.region) end
  return { region = copy(r) }
end

local function midnight(t) return floor(t / DAY) * DAY end

-- Seeded usage: per day and namespace, numbers derived from the names, so they do not
-- change between calls.
function H.GetUsage(ctx, req)
  -- Usage is for owners, admins and finance admins.
  local ok, err = auth.require_one_of(ctx.identity,
    { "ROLE_OWNER", "ROLE_ADMIN", "ROLE_FINANCE_ADMIN" }, ctx.method)
  if not ok then return nil, err end
  local today = midnight(ctx.now)
  local start = util.to_seconds(req.start_time_inclusive)
  local stop = util.to_seconds(req.end_time_exclusive)
  if not start then
    local d = os.date("!*t", today)
    start = today - (d.day - 1) * DAY
  end
  stop = stop or today + DAY
  for name, t in pairs { start_time_inclusive = start, end_time_exclusive = stop } do
    if t ~= midnight(t) then return errors.invalid("%s must be midnight UTC", name) end
    if t < today - 90 * DAY or t > today + DAY then
      return errors.invalid("%s must be within the last 90 days", name)
    end
  end
  if stop <= start then
    return errors.invalid("end_time_exclusive must be after start_time_inclusive")
  end
  local days, keys = {}, {}
  for day = start, stop - DAY, DAY do
    local groups = {}
    local nss = C.list(ctx.st.namespaces, function(ns) return ns.namespace end, function(ns)
      return util.to_seconds(ns.created_time) < day + DAY
    end)
    for _, ns in ipairs(nss) do
      local h = namespaces.hash(ns.namespace .. day)
      groups[#groups + 1] = {
        group_bys = { { key = "GROUP_BY_KEY_NAMESPACE", value = ns.namespace } },
        records = {
          { type = "RECORD_TYPE_ACTIONS", unit = "RECORD_UNIT_NUMBER", value = 1000 + h % 50000 },
          { type = "RECORD_TYPE_ACTIVE_STORAGE", unit = "RECORD_UNIT_BYTE_SECONDS",
            value = (h % 977) * 1e9 },
          { type = "RECORD_TYPE_RETAINED_STORAGE", unit = "RECORD_UNIT_BYTE_SECONDS",
            value = (h % 9973) * 1e9 },
        },
      }
    end
    local s = { start_time = ts(day), end_time = ts(day + DAY), record_groups = groups,
                incomplete = day + DAY > ctx.now }
    days[#days + 1] = s
    keys[s] = format("%012d", day)
  end
  local page, token = ctx:page(days, keys)
  if not page then return nil, token end
  return { summaries = page, next_page_token = token }
end

function H.GetAuditLogs(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  local start = util.to_seconds(req.start_time_inclusive) or ctx.now - 30 * DAY
  local stop = util.to_seconds(req.end_time_exclusive) or ctx.now + 1
  if stop <= start then
    return errors.invalid("end_time_exclusive must be after start_time_inclusive")
  end
  local items, keys = {}, {}
  for i, rec in ipairs(ctx.st.audit) do
    local t = util.to_seconds(rec.emit_time)
    if t >= start and t < stop then
      items[#items + 1] = rec
      -- records of one instant stay in the order they were written
      keys[rec] = format("%020.6f%010d", t, i)
    end
  end
  table.sort(items, function(a, b) return keys[a] < keys[b] end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { logs = page, next_page_token = token }
end

return H
