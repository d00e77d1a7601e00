--- Handlers of a small internal HTTP endpoint over the Cloud Ops API, for nginx with
-- lua-nginx-module (see nginx.conf beside this file):
--
--   GET  /namespaces   -> 200 {"namespaces":[{"namespace":..,"state":..,"regions":[..],
--                                             "retention_days":..,"created":"RFC 3339"}, ...]}
--   POST /namespaces   {"name":..,"regions":[..],"retention_days":..}
--                      -> 202 {"operation_id":..,"namespace":..}
--        ?wait=1       -> 201 {"operation_id":..,"namespace":..,"state":"STATE_FULFILLED"}
--                         once the operation has ended (polled from the request, ngx.sleep
--                         between polls: no pool thread is held while waiting)
--   POST /namespaces/batch {"names":[..],"regions":[..],"retention_days":..}
--                      -> 200 {"namespaces":[{"name":..,"namespace":..,"operation_id":..}, ...]}
--                         all created side by side in one pool thread (client:map)
--   A failure is {"error":"<code name>","message":..} with a status that matches the error.
--
-- Every Cloud Ops call goes through cloudops.openresty (a thread pool), so a slow answer
-- never stops the worker from serving other requests.
local cjson = require "cjson.safe"
local openresty = require "cloudops.openresty"
local cloudops_time = require "cloudops.time"

local ngx = ngx
local type, ipairs, pcall, tostring, tonumber = type, ipairs, pcall, tostring, tonumber

local M = {}

-- The client: made by init() in init_by_lua (the master), inherited by every worker. It holds
-- no channel: the channels are opened in the pool threads, after the fork.
local client

--- settings: openresty.connect's options (endpoint, insecure, rate_limit, pool, ...).
function M.init(settings)
  client = assert(openresty.connect(settings))
end

-- HTTP statuses for the gRPC code names an internal caller may act on.
local STATUS = {
  INVALID_ARGUMENT = 400, FAILED_PRECONDITION = 400, OUT_OF_RANGE = 400,
  UNAUTHENTICATED = 401, PERMISSION_DENIED = 403, NOT_FOUND = 404, ALREADY_EXISTS = 409,
  ABORTED = 409, RESOURCE_EXHAUSTED = 429, UNIMPLEMENTED = 501, UNAVAILABLE = 503,
  DEADLINE_EXCEEDED = 504,
}

local function reply(status, json_text)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(json_text)
  return ngx.exit(status)
end

local function fail(status, name, message)
  return reply(status, cjson.encode({ error = name, message = message }))
end

local function fail_with(err)
  return fail(STATUS[err.name] or 502, err.name, tostring(err))
end

-- A JSON array, also when empty (Debian's lua-cjson writes an empty table as {}).
local function array(items)
  if #items == 0 then return "[]" end
  return cjson.encode(items)
end

local function summary(ns)
  local regions = {}
  for i, r in ipairs(ns.replicas or {}) do regions[i] = r.region end
  if #regions == 0 then regions[1] = ns.active_region end
  return {
    namespace = ns.namespace,
    state = ns.state,
    -- absent rather than {} (which Debian's lua-cjson would write as an object) if none
    regions = regions[1] and regions or nil,
    retention_days = ns.spec and ns.spec.retention_days,
    created = ns.created_time and cloudops_time.to_rfc3339(ns.created_time),
  }
end

--- GET /namespaces: every namespace, page after page.
local function list()
  local items, attempts = {}, 0
  for resp, err, info in client:pages("get_namespaces", { page_size = 100 }) do
    if not resp then return fail_with(err) end
    attempts = attempts + info.attempts
    for _, ns in ipairs(resp.namespaces) do items[#items + 1] = summary(ns) end
  end
  -- How many attempts the calls took (retries included): handy when debugging.
  ngx.header["X-Cloudops-Attempts"] = tostring(attempts)
  return reply(200, '{"namespaces":' .. array(items) .. "}")
end

-- The create request of one namespace from the JSON input's fields.
local function create_request(name, input)
  -- The namespaces made here authenticate their workers with API keys; "regions" become the
  -- spec's replicas, one per region.
  local replicas
  if type(input.regions) == "table" then
    replicas = {}
    for i, region in ipairs(input.regions) do replicas[i] = { region = region } end
  else
    replicas = input.regions -- not a list: the client refuses it, naming the field
  end
  return { spec = { name = name, replicas = replicas,
                    retention_days = tonumber(input.retention_days) or input.retention_days,
                    api_key_auth = { enabled = true } } }
end

--- POST /namespaces: create one; return its operation id (and wait for it with ?wait=1).
local function create()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  local input = body and cjson.decode(body)
  if type(input) ~= "table" then
    return fail(400, "INVALID_ARGUMENT", "expected a JSON object {\"name\":..,\"regions\":[..],\"retention_days\":..}")
  end
  local req = create_request(input.name, input)
  -- A body that does not fit the schema raises in the client (a caller's mistake): a 400 here.
  local ok, resp, err = pcall(client.create_namespace, client, req)
  if not ok then return fail(400, "INVALID_ARGUMENT", tostring(resp)) end
  if not resp then return fail_with(err) end
  local op = resp.async_operation
  local out = { operation_id = op.id, namespace = resp.namespace }
  if ngx.var.arg_wait ~= "1" then return reply(202, cjson.encode(out)) end
  local final, werr = client:wait(resp, { timeout = 60, min_poll = 0.1 })
  if not final then return fail_with(werr) end
  out.state = final.state
  return reply(201, cjson.encode(out))
end

--- POST /namespaces/batch {"names":[..],"regions":[..],"retention_days":..}
--   -> 200 {"namespaces":[{"name":..,"namespace":..,"operation_id":..} or {"name":..,"error":..}]}
-- Every creation runs side by side, in one pool thread (client:map): the batch takes about one
-- round trip, not one per name, and the worker serves other requests meanwhile.
local function batch()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  local input = body and cjson.decode(body)
  if type(input) ~= "table" or type(input.names) ~= "table" then
    return fail(400, "INVALID_ARGUMENT",
      "expected a JSON object {\"names\":[..],\"regions\":[..],\"retention_days\":..}")
  end
  local reqs = {}
  for i, name in ipairs(input.names) do reqs[i] = create_request(name, input) end
  local ok, results, errs = pcall(client.map, client, "create_namespace", reqs, { concurrency = 16 })
  if not ok then return fail(400, "INVALID_ARGUMENT", tostring(results)) end
  local out = {}
  for i, name in ipairs(input.names) do
    local resp = results[i]
    out[i] = resp and { name = name, namespace = resp.namespace, operation_id = resp.async_operation.id }
      or { name = name, error = errs[i] and errs[i].name, message = tostring(errs[i]) }
  end
  return reply(200, '{"namespaces":' .. array(out) .. "}")
end

--- content_by_lua handler of /namespaces/batch.
function M.namespaces_batch()
  local method = ngx.req.get_method()
  if method == "POST" then return batch() end
  ngx.header["Allow"] = "POST"
  return fail(405, "METHOD_NOT_ALLOWED", method .. " is not allowed here")
end

--- content_by_lua handler of /namespaces.
function M.namespaces()
  local method = ngx.req.get_method()
  if method == "GET" then return list() end
  if method == "POST" then return create() end
  ngx.header["Allow"] = "GET, POST"
  return fail(405, "METHOD_NOT_ALLOWED", method .. " is not allowed here")
end

return M
