-- Audit log records: the emulator writes one for every mutation it accepts, so that
-- GetAuditLogs shows a dry run's own history; seeding adds older records.
local util = require "cloudops.emulator.util"

local M = {}

function M.principal(id)
  if not id then return nil end
  return {
    type = id.kind == "user" and "user" or "serviceaccount",
    id = id.id,
    name = id.kind == "user" and id.principal.spec.email or id.principal.spec.name,
    api_key_id = id.key and id.key.id or nil,
  }
end

-- raw_details is a google.protobuf.Struct: only plain strings go in, never request bytes.
function M.record(st, now, p)
  local rec = {
    emit_time = util.ts(now),
    operation = p.operation,
    status = p.status or "OK",
    version = 1,
    log_id = util.uuid(),
    principal = M.principal(p.identity),
    raw_details = p.details or {},
    x_forwarded_for = p.peer_ip,
    async_operation_id = p.async_operation_id,
  }
  st.audit[#st.audit + 1] = rec
  return rec
end

return M
