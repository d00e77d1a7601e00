-- The CSV file of a generated billing report, in the columns of the service's report
-- (docs.temporal.io/cloud/billing-api, "Billing report schema"): one charge row per
-- namespace, SKU and period of the report's granularity, with made-up but stable amounts.
-- Files live beside the state file (--state), or else under a temporary prefix, and are
-- removed once their download URL has expired, or when an emulator without a state file
-- closes. st.billing_files maps a report id to its file.
local util = require "cloudops.emulator.util"
local hash = require("cloudops.emulator.handlers.namespaces").hash

local floor, format, concat, sort = math.floor, string.format, table.concat, table.sort

local M = {}

local HOUR, DAY = 3600, 86400

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
local function epoch_day(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
end

-- The first second of the UTC month holding t, moved by `months` months.
function M.month_start(t, months)
  local d = os.date("!*t", floor(t))
  local m = d.month - 1 + (months or 0)
  return epoch_day(d.year + floor(m / 12), m % 12 + 1, 1) * DAY
end

local function rfc3339(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- Two made-up SKUs, priced per unit; quantities come from the namespace's name and the
-- period, so that a report reads the same every time.
local SKUS = {
  { id = "essentials-actions", meter = "Actions", sub = "Actions", unit = "1 Million Actions",
    price = 50.0, scale = 1e-6, base = 40000 },
  { id = "essentials-active-storage", meter = "Active Storage", sub = "Storage", unit = "GB-hour",
    price = 0.042, scale = 1, base = 9 },
}

local COLUMNS = {
  "BillingAccountID", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
  "BillingPeriodStart", "ChargeCategory", "ChargeDescription", "ChargeFrequency",
  "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost", "ContractedUnitPrice", "InvoiceID",
  "InvoiceIssuer", "PricingQuantity", "PricingUnit", "Provider", "Publisher", "ResourceID",
  "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
  "SKUID", "SKUMeter", "Tags",
}

local function csv_field(v)
  v = tostring(v)
  if v:find('[",\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return format("\\u%04x", c:byte()) end) .. '"'
end

-- {"$tmprl_project":["id"],"key":["value"]}: the project and the namespace's tags, as the
-- docs' Tags example.
local function tags(ns)
  local keys = {}
  for k in pairs(ns.tags or {}) do keys[#keys + 1] = k end
  sort(keys)
  local parts = { json_string("$tmprl_project") .. ":[" .. json_string(ns.project_id or "") .. "]" }
  for _, k in ipairs(keys) do
    parts[#parts + 1] = json_string(k) .. ":[" .. json_string(ns.tags[k]) .. "]"
  end
  return "{" .. concat(parts, ",") .. "}"
end

-- The periods [from, to) of a granularity, as { start, stop } pairs.
local function periods(granularity, from, to)
  local list, t = {}, from
  while t < to do
    local stop
    if granularity == "BILLING_REPORT_GRANULARITY_MONTHLY" then stop = M.month_start(t, 1)
    elseif granularity == "BILLING_REPORT_GRANULARITY_DAILY" then stop = t + DAY
    else stop = t + HOUR end
    if stop > to then stop = to end
    list[#list + 1] = { t, stop }
    t = stop
  end
  return list
end

-- The report's text: the spec's range, cut at "current_time - 24 hours (rounded up to
-- nearest hour)" as of `now` (the docs' "Allowed date ranges").
function M.render(st, report, now)
  local spec = report.spec
  local from = util.to_seconds(spec.start_time_inclusive)
  local to = util.to_seconds(spec.end_time_exclusive)
  local cut = floor((now - DAY + HOUR - 1) / HOUR) * HOUR
  if cut < to then to = cut end
  local nss = {}
  for _, ns in pairs(st.namespaces) do nss[#nss + 1] = ns end
  sort(nss, function(a, b) return a.namespace < b.namespace end)
  local rows = { concat(COLUMNS, ",") }
  local account = st.account.id
  for _, p in ipairs(periods(spec.granularity, from, to)) do
    local month = M.month_start(p[1])
    local fixed = { account, account, "USD", rfc3339(M.month_start(p[1], 1)), rfc3339(month), "Usage" }
    for _, ns in ipairs(nss) do
      if util.to_seconds(ns.created_time) < p[2] then
        for _, sku in ipairs(SKUS) do
          local hours = (p[2] - p[1]) / HOUR
          local qty = (sku.base + hash(ns.namespace .. sku.id .. p[1]) % sku.base) * hours * sku.scale
          local row = {
            fixed[1], fixed[2], fixed[3], fixed[4], fixed[5], fixed[6], sku.meter, "Usage-Based",
            rfc3339(p[2]), rfc3339(p[1]), format("%.2f", qty * sku.price), format("%.4f", sku.price),
            "in_" .. account .. os.date("!%Y%m", month), "stripe", format("%.6f", qty), sku.unit,
            "Temporal Technologies", "Temporal Technologies", ns.namespace, ns.namespace,
            "Namespace", "Temporal Cloud", "Temporal Cloud", sku.sub, sku.id, sku.meter, tags(ns),
          }
          for i, v in ipairs(row) do row[i] = csv_field(v) end
          rows[#rows + 1] = concat(row, ",")
        end
      end
    end
  end
  return concat(rows, "\n") .. "\n"
end

-- Where report `id` is written: beside the state file, or under this emulator's temporary
-- prefix (os.tmpname's unique name, the file it makes removed at once).
function M.path(emu, id)
  local base = emu.cfg.state_file
  if not base then
    if not emu.billing_prefix then
      emu.billing_prefix = os.tmpname()
      os.remove(emu.billing_prefix)
    end
    base = emu.billing_prefix
  end
  return base .. ".billing-" .. id .. ".csv"
end

-- A file:// URL needs an absolute path.
function M.url(path)
  if path:sub(1, 1) ~= "/" then path = (os.getenv("PWD") or ".") .. "/" .. path end
  return "file://" .. path
end

-- Writes the report's file; returns its size, or nil, err.
function M.write(st, report, path, now)
  local text = M.render(st, report, now)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then os.remove(path) return nil, werr end
  st.billing_files = st.billing_files or {}
  st.billing_files[report.id] = path
  return #text
end

-- Removes the files whose download URL expired before `now` (all of them when now is nil).
function M.sweep(st, now)
  for id, path in pairs(st.billing_files or {}) do
    local r = st.billing_reports[id]
    local d = r and r.download_info and r.download_info[1]
    local expires = d and util.to_seconds(d.url_expiration_time)
    if now == nil or not expires or expires <= now then
      os.remove(path)
      st.billing_files[id] = nil
    end
  end
end

return M
