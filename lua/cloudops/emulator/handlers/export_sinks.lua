-- Namespace export sinks (workflow history export to S3, GCS or Azure Blob storage).
-- Stored flat, keyed "namespace/name".
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local C = require "cloudops.emulator.handlers.common"

local copy, ts = util.copy, util.ts

local H = {}

local REQUIRED = {
  s3 = { "role_name", "bucket_name", "region", "aws_account_id" },
  gcs = { "sa_id", "bucket_name", "gcp_project_id", "region" },
  azure_blob = { "tenant_id", "storage_account", "container_name", "region", "subscription_id",
                 "resource_group" },
}

local KINDS = { "s3", "gcs", "azure_blob" }

local function check_spec(spec)
  return C.check_sink_spec(spec, KINDS, REQUIRED)
end

local function key(ns, name) return ns .. "/" .. (name or "") end

local function ns_admin(ctx, nsid)
  local ns, err = C.namespace(ctx, nsid)
  if not ns then return nil, err end
  local ok
  ok, err = C.require_ns_admin(ctx, ns.namespace)
  if not ok then return nil, err end
  ctx.audit_details = { namespace = ns.namespace }
  return ns
end

-- The namespace of a request that writes a sink spec, once the caller may and the spec is
-- valid.
local function ns_admin_with_spec(ctx, req)
  local ns, err = ns_admin(ctx, req.namespace)
  if not ns then return nil, err end
  local ok
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  return ns
end

-- The sink named `name` in namespace ns and its key; or nil and the error.
local function named_sink(ctx, ns, name)
  if name == nil or name == "" then return errors.invalid("name is required") end
  local k = key(ns.namespace, name)
  local sink = ctx.st.sinks[k]
  if not sink then return errors.not_found("export sink not found: %s", name) end
  return sink, k
end

function H.CreateNamespaceExportSink(ctx, req)
  local ns, err = ns_admin_with_spec(ctx, req)
  if not ns then return nil, err end
  local k = key(ns.namespace, req.spec.name)
  if ctx.st.sinks[k] then return errors.exists("export sink already exists: %s", req.spec.name) end
  local sink = { name = req.spec.name, spec = copy(req.spec), health = "HEALTH_OK",
                 last_health_check_time = ts(ctx.now) }
  R.create(ctx, "sinks", k, sink)
  return {}
end

function H.GetNamespaceExportSink(ctx, req)
  local ns, err = C.namespace(ctx, req.namespace)
  if not ns then return nil, err end
  local sink, serr = named_sink(ctx, ns, req.name)
  if not sink then return nil, serr end
  return { sink = copy(sink) }
end

function H.GetNamespaceExportSinks(ctx, req)
  local ns, err = C.namespace(ctx, req.namespace)
  if not ns then return nil, err end
  local prefix = ns.namespace .. "/"
  local items, keys = C.list(ctx.st.sinks, function(s) return s.name end, function(_, k)
    return k:sub(1, #prefix) == prefix
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { sinks = page, next_page_token = token }
end

function H.UpdateNamespaceExportSink(ctx, req)
  local ns, err = ns_admin_with_spec(ctx, req)
  if not ns then return nil, err end
  local sink, k = named_sink(ctx, ns, req.spec.name)
  if not sink then return nil, k end
  local ok
  ok, err = R.check_version(sink, req.resource_version, "export sink")
  if not ok then return nil, err end
  ok, err = R.check_changes(sink.spec, req.spec, "export sink")
  if not ok then return nil, err end
  R.update(ctx, "sinks", k, sink, function(r) r.spec = copy(req.spec) end)
  return {}
end

function H.DeleteNamespaceExportSink(ctx, req)
  local ns, err = ns_admin(ctx, req.namespace)
  if not ns then return nil, err end
  local sink, k = named_sink(ctx, ns, req.name)
  if not sink then return nil, k end
  local ok
  ok, err = R.check_version(sink, req.resource_version, "export sink")
  if not ok then return nil, err end
  R.delete(ctx, "sinks", k, sink)
  return {}
end

-- The service delivers a test file; the emulator checks what it can: the spec itself.
function H.ValidateNamespaceExportSink(ctx, req)
  local ns, err = ns_admin_with_spec(ctx, req)
  if not ns then return nil, err end
  return {}
end

return H
