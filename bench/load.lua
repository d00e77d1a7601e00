--- `make bench-load`: memory under load (issue 7), a benchmark, not a test.
--   1. CALLS sequential calls against the emulator (rate limits off on both sides), RSS sampled
--      every CALLS/10 calls: the last sample must be within 5% of the first;
--   2. CLIENTS clients opened, used once and closed in a loop: RSS likewise flat.
-- RSS is read after a full garbage collection, so it shows what is kept, not what awaits GC.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local cloudops = B.cloudops

local CALLS = tonumber(arg[1] or os.getenv("LOAD_CALLS") or "") or 100000
local CLIENTS = tonumber(arg[2] or os.getenv("LOAD_CLIENTS") or "") or 10000

local function rss_kb()
  collectgarbage("collect")
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
end

local function report(title, samples)
  local first, last = samples[1].rss, samples[#samples].rss
  local growth = (last - first) / first * 100
  print(title)
  for _, s in ipairs(samples) do print(string.format("  %8d  RSS %7d kB", s.n, s.rss)) end
  local ok = growth <= 5
  print(string.format("  growth from the first sample to the last: %+.1f%%  (target <= 5%%)  %s",
    growth, ok and "MET" or "NOT MET"))
  return ok
end

local emu = B.emulator{ rate_limits = false, op_duration = 0, op_pending = 0 }
local opts = { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key, rate_limit = false }

local client = assert(cloudops.connect(opts))
local step = math.max(1, math.floor(CALLS / 10))
local calls = {}
local t0 = os.clock()
for i = 1, CALLS do
  local resp, err = client:get_current_identity()
  if not resp then error("call " .. i .. " failed: " .. tostring(err)) end
  if i % step == 0 then calls[#calls + 1] = { n = i, rss = rss_kb() } end
end
client:close()
local ok1 = report(string.format("%d sequential calls (%.1f us CPU per call)", CALLS,
  (os.clock() - t0) / CALLS * 1e6), calls)

local clients = {}
local cstep = math.max(1, math.floor(CLIENTS / 10))
for i = 1, CLIENTS do
  local c = assert(cloudops.connect(opts))
  assert(c:get_current_identity())
  c:close()
  if i % cstep == 0 then clients[#clients + 1] = { n = i, rss = rss_kb() } end
end
local ok2 = report(string.format("%d clients opened, used and closed", CLIENTS), clients)
emu.stop()
os.exit((ok1 and ok2) and 0 or 1)
