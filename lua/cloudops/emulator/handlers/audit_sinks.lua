-- Account audit-log sinks (docs.temporal.io/cloud/audit-logs): the account's audit log
-- streamed to AWS Kinesis or GCP Pub/Sub. Only Account Owners and Global Admins configure
-- them ("You need the Account Owner or Global Administrator role to ... configure an Audit
-- Log Integration"; the permissions reference gives the *AccountAuditLogSink calls to those
-- two roles). Nothing is delivered: a sink whose destination is well formed is healthy and
-- its last_succeeded_time follows the audit log while it is enabled; one whose destination
-- cannot be right is HEALTH_ERROR_USER_CONFIGURATION, and Validate refuses it.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local C = require "cloudops.emulator.handlers.common"

local copy, ts = util.copy, util.ts

local H = {}

-- The fields each destination needs (sink.v1.KinesisSpec, PubSubSpec).
local REQUIRED = {
  kinesis_sink = { "role_name", "destination_uri", "region" },
  pub_sub_sink = { "service_account_id", "topic_name", "gcp_project_id" },
}

local KINDS = { "kinesis_sink", "pub_sub_sink" }

-- The name is a path segment of the HTTP API (/cloud/audit-log-sinks/{name}); the schema's
-- example is "audit_log_01".
local function check_spec(spec)
  return C.check_sink_spec(spec, KINDS, REQUIRED)
end

-- Why a test file could not be delivered, judged from the spec alone: a Kinesis
-- destination is a stream ARN in the sink's region; a Pub/Sub project id has Google
-- Cloud's form (6 to 30 lowercase letters, digits or hyphens, starting with a letter).
local function delivery_problem(spec)
  local k = spec.kinesis_sink
  if k then
    local region = k.destination_uri:match("^arn:aws[%w%-]*:kinesis:([%w%-]+):%d+:stream/[%w_.%-]+$")
    if not region then
      return "kinesis_sink.destination_uri is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"
    elseif region ~= k.region then
      return string.format("the Kinesis stream is in %s, not in %s", region, k.region)
    end
    return nil
  end
  local p = spec.pub_sub_sink.gcp_project_id
  if #p < 6 or #p > 30 or not p:match("^[a-z][a-z0-9%-]*[a-z0-9]$") then
    return "pub_sub_sink.gcp_project_id is not a Google Cloud project id"
  end
end

local function set_health(sink)
  local problem = delivery_problem(sink.spec)
  sink.health = problem and "HEALTH_ERROR_USER_CONFIGURATION" or "HEALTH_OK"
  sink.error_message = problem
end

-- Delivery starts when the sink's operation is fulfilled, if it is enabled and healthy.
ops.finalizers.audit_sink_delivery = function(st, eff, outcome, op, now)
  local sink = st.audit_sinks[eff.key]
  if not sink or outcome ~= "STATE_FULFILLED" or not ops.owns(st, eff, op) then return end
  st.audit_sink_since = st.audit_sink_since or {}
  local on = sink.spec.enabled and sink.health == "HEALTH_OK"
  st.audit_sink_since[eff.key] = on and now or nil
end

ops.on_remove.audit_sinks = function(st, name)
  if st.audit_sink_since then st.audit_sink_since[name] = nil end
end

-- A sink as GetAccountAuditLogSink shows it: last_succeeded_time is the last audit record
-- it carried (or when delivery started).
local function view(st, sink)
  local v = copy(sink)
  local since = st.audit_sink_since and st.audit_sink_since[sink.name]
  if since then
    local last = st.audit[#st.audit]
    local t = last and util.to_seconds(last.emit_time) or since
    v.last_succeeded_time = ts(t > since and t or since)
  end
  return v
end

local function admin(ctx)
  return C.require_role(ctx, "ROLE_ADMIN")
end

local function named(ctx, name)
  if name == nil or name == "" then return errors.invalid("name is required") end
  local sink = ctx.st.audit_sinks[name]
  if not sink then return errors.not_found("audit log sink not found: %s", name) end
  return sink
end

-- "Validate customer audit log sink is accessible ... by delivering an empty file to the
-- specified sink" (service.proto); here, the spec's own checks.
function H.ValidateAccountAuditLogSink(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  local problem = delivery_problem(req.spec)
  if problem then return errors.precondition("cannot deliver a test file: %s", problem) end
  return {}
end

function H.CreateAccountAuditLogSink(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  local name = req.spec.name
  if ctx.st.audit_sinks[name] then return errors.exists("audit log sink already exists: %s", name) end
  local sink = { name = name, spec = copy(req.spec) }
  set_health(sink)
  R.create(ctx, "audit_sinks", name, sink, { { fn = "audit_sink_delivery", coll = "audit_sinks", key = name } })
  ctx.audit_details = { sink_name = name }
  return {}
end

function H.GetAccountAuditLogSink(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  local sink, serr = named(ctx, req.name)
  if not sink then return nil, serr end
  return { sink = view(ctx.st, sink) }
end

function H.GetAccountAuditLogSinks(ctx, _req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  local items, keys = C.list(ctx.st.audit_sinks, function(s) return s.name end)
  local page, token = ctx:page(items, keys)
  if not page then return nil, token end
  for i, s in ipairs(page) do page[i] = view(ctx.st, s) end
  return { sinks = page, next_page_token = token }
end

function H.UpdateAccountAuditLogSink(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  local sink, serr = named(ctx, req.spec.name)
  if not sink then return nil, serr end
  ok, err = R.check_version(sink, req.resource_version, "audit log sink")
  if not ok then return nil, err end
  R.update(ctx, "audit_sinks", sink.name, sink, function(r)
    r.spec = copy(req.spec)
    set_health(r)
  end, { { fn = "audit_sink_delivery", coll = "audit_sinks", key = sink.name } })
  ctx.audit_details = { sink_name = sink.name }
  return {}
end

function H.DeleteAccountAuditLogSink(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  local sink, serr = named(ctx, req.name)
  if not sink then return nil, serr end
  ok, err = R.check_version(sink, req.resource_version, "audit log sink")
  if not ok then return nil, err end
  R.delete(ctx, "audit_sinks", sink.name, sink)
  ctx.audit_details = { sink_name = sink.name }
  return {}
end

return H
