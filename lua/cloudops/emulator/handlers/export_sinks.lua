-- Namespace export sinks (workflow history export to S3, GCS or Azure Blob storage).
-- Stored flat, keyed "namespace/name".
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local regions = require "cloudops.emulator.regions"
local C = require "cloudops.emulator.handlers.common"

local copy, ts, concat = util.copy, util.ts, table.concat

local H = {}

local REQUIRED = {
  s3 = { "role_name", "bucket_name", "region", "aws_account_id" },
  gcs = { "sa_id", "bucket_name", "gcp_project_id", "region" },
  azure_blob = { "tenant_id", "storage_account", "container_name", "region", "subscription_id",
                 "resource_group" },
}

local KINDS = { "s3", "gcs", "azure_blob" }

-- Where each destination's bucket lives.
local PROVIDER = { s3 = "CLOUD_PROVIDER_AWS", gcs = "CLOUD_PROVIDER_GCP", azure_blob = "CLOUD_PROVIDER_AZURE" }

-- The bucket is on the cloud provider of the namespace, in its region: "A cloud account in the
-- cloud provider where your Namespace is hosted" (docs.temporal.io/cloud/export,
-- "Prerequisites"); "The S3 bucket must reside in the same region as your Namespace"
-- (docs.temporal.io/cloud/export/aws-export-s3); "The region of the bucket must be the same as
-- the region of your Temporal Cloud Namespace" (docs.temporal.io/cloud/export/gcp-export-gcs).
-- The region is the provider's code ("us-east-1", as tcld sends it) or the Cloud API code
-- ("aws-us-east-1"); a namespace with replicas may have it in any of their regions.
local function check_destination(ns, spec)
  local dest
  for kind in pairs(PROVIDER) do if spec[kind] then dest = kind end end
  local where, provider = spec[dest].region, PROVIDER[dest]
  local own, others = {}, {}
  for _, rep in ipairs(ns.replicas or {}) do
    local r = regions.by_id[rep.region]
    if r and rep.state ~= "REPLICA_STATE_REMOVING" then
      if r.cloud_provider == provider then
        if where == r.cloud_provider_region or where == r.id then return true end
        own[#own + 1] = r.cloud_provider_region
      else
        others[#others + 1] = r.id
      end
    end
  end
  if #own == 0 then
    return errors.invalid("spec.%s: the bucket must be on the namespace's cloud provider; namespace %s is in %s",
      dest, ns.namespace, concat(others, " and "))
  end
  return errors.invalid("spec.%s.region: the bucket must be in the namespace's region (%s), got %q",
    dest, concat(own, " or "), tostring(where))
end

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
  ok, err = check_destination(ns, req.spec)
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
