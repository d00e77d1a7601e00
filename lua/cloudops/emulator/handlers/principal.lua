-- What users, user groups and service accounts share: each is kept by id in its own
-- collection, managed by account admins, and holds an Access, which a namespace admin
-- changes one namespace at a time. A family describes itself once as a kind, and makes
-- its handlers here, passing the rules only it has as hooks:
--   coll           the collection in the model ("users")
--   id_field       the request field that names one; also its key in responses and in
--                  audit details ("user_id")
--   field          the response field that carries one ("user")
--   what           how messages name one ("user")
--   self_readable  true when a principal may read itself without the Read role
--   scopable       true when one may be namespace-scoped (service accounts only)
--   authorize      function(ctx, spec) -> true | nil, err: whether the caller may create,
--                  change or delete one with this spec (default: account admins only)
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local C = require "cloudops.emulator.handlers.common"

local copy = util.copy

local M = {}

local function admins_only(ctx) return C.require_role(ctx, "ROLE_ADMIN") end

local function authorize(ctx, kind, spec)
  return (kind.authorize or admins_only)(ctx, spec)
end

-- The one a change names: found, at the version the caller read, not being deleted.
local function find_current(ctx, req, kind)
  return R.get_current(ctx.st, kind.coll, req[kind.id_field], req.resource_version, kind.what)
end

-- The same, once the caller is known to be allowed to change it (who may can depend on the
-- one it is: a namespace admin manages the service accounts scoped to that namespace).
local function authorized_current(ctx, req, kind)
  local res, err = R.get(ctx.st, kind.coll, req[kind.id_field], kind.what)
  local ok, aerr = authorize(ctx, kind, res and res.spec)
  if not ok then return nil, aerr end
  if not res then return nil, err end
  ok, err = R.check_version(res, req.resource_version, kind.what)
  if not ok then return nil, err end
  return res
end

-- Get{User,UserGroup,ServiceAccount}.
function M.getter(kind)
  return function(ctx, req)
    local ok, err = C.require_role(ctx, "ROLE_READ")
    if not ok and not (kind.self_readable and ctx.identity.id == req[kind.id_field]) then
      return nil, err
    end
    local res, gerr = R.get(ctx.st, kind.coll, req[kind.id_field], kind.what)
    if not res then return nil, gerr end
    return { [kind.field] = copy(res) }
  end
end

-- Create{User,UserGroup,ServiceAccount}. check(ctx, spec) validates the spec, and that
-- it clashes with no other one; fill(ctx, res), if given, adds what the family keeps
-- beside the spec, before the resource is stored.
function M.creator(kind, check, fill)
  return function(ctx, req)
    local ok, err = authorize(ctx, kind, req.spec)
    if not ok then return nil, err end
    ok, err = check(ctx, req.spec)
    if not ok then return nil, err end
    local res = { id = util.id(32), spec = copy(req.spec) }
    if fill then fill(ctx, res) end
    R.create(ctx, kind.coll, res.id, res)
    ctx.audit_details = { [kind.id_field] = res.id }
    return { [kind.id_field] = res.id }
  end
end

-- Update{User,UserGroup,ServiceAccount}. check(ctx, res, spec) validates the new spec
-- against the current one and returns the spec to store (or nil, err).
function M.updater(kind, check)
  return function(ctx, req)
    local res, err = authorized_current(ctx, req, kind)
    if not res then return nil, err end
    local spec
    spec, err = check(ctx, res, req.spec)
    if not spec then return nil, err end
    local ok
    ok, err = R.check_changes(res.spec, spec, kind.what)
    if not ok then return nil, err end
    R.update(ctx, kind.coll, res.id, res, function(r) r.spec = copy(spec) end)
    ctx.audit_details = { [kind.id_field] = res.id }
    return {}
  end
end

-- Delete{User,UserGroup,ServiceAccount}. check(ctx, res), if given, says whether this
-- one may go (true, or nil, err).
function M.deleter(kind, check)
  return function(ctx, req)
    local res, err = authorized_current(ctx, req, kind)
    if not res then return nil, err end
    local ok
    if check then
      ok, err = check(ctx, res)
      if not ok then return nil, err end
    end
    R.delete(ctx, kind.coll, res.id, res)
    ctx.audit_details = { [kind.id_field] = res.id }
    return {}
  end
end

-- The namespace-scoped access of `res`, if its kind has such and it is scoped.
local function scoped_access(res, kind)
  return kind.scopable and res.spec.namespace_scoped_access or nil
end

-- A namespace-scoped principal has access to its one namespace only, and cannot lose it;
-- the others get or lose one namespace in their Access.
local function check_access(res, req, kind)
  local nsa = scoped_access(res, kind)
  local p = auth.permission_of(req.access)
  if nsa then
    if nsa.namespace ~= req.namespace then
      return errors.invalid("%s %s is scoped to namespace %s", kind.what, res.id, nsa.namespace)
    end
    if not C.PERMISSIONS[p] then
      return errors.invalid("access.permission is required for a namespace-scoped %s", kind.what)
    end
  elseif p ~= "PERMISSION_UNSPECIFIED" and not C.PERMISSIONS[p] then
    return errors.invalid("access.permission: unknown permission %s", tostring(p))
  end
  return true
end

-- Set{User,UserGroup,ServiceAccount}NamespaceAccess.
function M.namespace_access_setter(kind)
  return function(ctx, req)
    local ns, nerr = C.namespace(ctx, req.namespace)
    if not ns then return nil, nerr end
    local ok, err = C.require_ns_admin(ctx, req.namespace)
    if not ok then return nil, err end
    local res, gerr = find_current(ctx, req, kind)
    if not res then return nil, gerr end
    ok, err = check_access(res, req, kind)
    if not ok then return nil, err end
    -- A project-scoped one reaches the namespaces of its project only.
    local psa = kind.scopable and res.spec.project_scoped_access
    if psa and ns.project_id ~= psa.project_id then
      return errors.invalid("%s %s is scoped to project %s, which does not hold namespace %s",
        kind.what, res.id, psa.project_id, ns.namespace)
    end
    local nsa = scoped_access(res, kind)
    local now = nsa and nsa.access
      or ((psa or res.spec.access or {}).namespace_accesses or {})[req.namespace]
    if auth.permission_of(now) == auth.permission_of(req.access) then
      return errors.invalid("nothing to change: %s %s already has that access to %s", kind.what, res.id,
        req.namespace)
    end
    R.update(ctx, kind.coll, res.id, res, function(r)
      local scoped = scoped_access(r, kind)
      if scoped then
        scoped.access = copy(req.access)
      elseif psa then
        C.set_namespace_access(r.spec.project_scoped_access, req.namespace, req.access)
      else
        r.spec.access = r.spec.access or {}
        C.set_namespace_access(r.spec.access, req.namespace, req.access)
      end
    end)
    ctx.audit_details = { [kind.id_field] = res.id, namespace = req.namespace }
    return {}
  end
end

return M
