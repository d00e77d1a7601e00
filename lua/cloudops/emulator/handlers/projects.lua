-- Projects (docs.temporal.io/cloud/projects): the account's grouping of namespaces, Nexus
-- endpoints, connectivity rules and project-scoped service accounts. Every account has a
-- Default Project, made at bootstrap with delete protection on, that holds what is created
-- without a project_id. Who may do what on a project comes from grants.lua.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local grants = require "cloudops.emulator.grants"
local C = require "cloudops.emulator.handlers.common"

local copy = util.copy

local H = {}

-- "give the Project a name (limited to 64 characters) and an optional description (limited
-- to 255 characters)" (docs.temporal.io/cloud/projects, "Create a new Project"). Characters,
-- not bytes.
local NAME_MAX, DESCRIPTION_MAX = 64, 255

local function characters(s)
  return select(2, s:gsub("[^\128-\191]", ""))
end

-- The collections whose resources carry a project_id.
local PROJECT_SCOPED = { "namespaces", "nexus", "rules" }

-- Makes the Default Project on a fresh state ("new Accounts are created with one
-- automatically"), with delete protection ("This flag is enabled for the Default
-- Project"), and puts into it what a state from an older emulator holds without a project
-- ("all existing resources are automatically placed in the Default Project").
-- st.default_project is its id, or false once it was deleted.
function H.bootstrap(st, now)
  if st.default_project == nil then
    local p = R.build_active(st, "projects", now, {
      display_name = "Default Project",
      description = "Holds the resources created without a project",
      lifecycle = { enable_delete_protection = true },
    })
    st.default_project = p.id
  end
  local pid = st.default_project
  if not pid then return end
  for _, coll in ipairs(PROJECT_SCOPED) do
    for _, res in pairs(st[coll]) do res.project_id = res.project_id or pid end
  end
end

-- A removed project leaves no access to it behind; without its Default Project an account
-- has none ("Temporal does not automatically designate a new Default Project").
ops.on_remove.projects = function(st, id)
  if st.default_project == id then st.default_project = false end
  C.each_access(st, function(a)
    if a.project_accesses then a.project_accesses[id] = nil end
  end)
end

-- Whether the caller sees project p: any account role reads the account, and any project
-- role ("Project Member: basic membership; grants read-only access to the project").
local function visible(id, p)
  return auth.LEVEL[id.role] >= auth.LEVEL.ROLE_READ or grants.project_role(id, p.id) ~= nil
end

-- The project a request names, if the caller sees it.
function H.visible_project(ctx, pid)
  local p, err = R.get(ctx.st, "projects", pid, "project")
  if not p then return nil, err end
  if not visible(ctx.identity, p) then
    return errors.denied("permission denied: %s cannot read project %s",
      auth.describe(ctx.identity), p.id)
  end
  return p
end

-- The project a request names, if the caller is its admin (Global Admins and Account Owners
-- are: "a Global Admin is a Project Admin").
function H.managed_project(ctx, pid)
  local p, err = H.visible_project(ctx, pid)
  if not p then return nil, err end
  if not grants.on_project(ctx.identity, p.id).manage then
    return errors.denied("permission denied: %s is not an admin of project %s",
      auth.describe(ctx.identity), p.id)
  end
  return p
end

local function check_spec(spec)
  if spec == nil then return errors.invalid("spec is required") end
  local name = spec.display_name or ""
  if name:match("^%s*$") or characters(name) > NAME_MAX then
    return errors.invalid("spec.display_name is required, at most %d characters", NAME_MAX)
  end
  if characters(spec.description or "") > DESCRIPTION_MAX then
    return errors.invalid("spec.description: at most %d characters, got %d", DESCRIPTION_MAX,
      characters(spec.description))
  end
  return true
end

function H.GetProjects(ctx, req)
  local only
  for _, pid in ipairs(req.project_ids or {}) do
    only = only or {}
    only[pid] = true
  end
  local id = ctx.identity
  local items, keys = C.list(ctx.st.projects, C.by_id, function(p)
    return visible(id, p) and (not only or only[p.id] == true)
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { projects = page, next_page_token = token }
end

function H.GetProject(ctx, req)
  local p, err = H.visible_project(ctx, req.project_id)
  if not p then return nil, err end
  return { project = copy(p) }
end

-- The account's project quota: "Default limit: 5 Projects" (docs.temporal.io/evaluate/
-- cloud/limits, Account level), raised by support; here the max_projects option.
function H.CreateProject(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  ok, err = C.check_quota(ctx, "projects", "max_projects", "projects")
  if not ok then return nil, err end
  local p = { id = util.id(32), spec = copy(req.spec) }
  R.create(ctx, "projects", p.id, p)
  ctx.audit_details = { project_id = p.id }
  return { project_id = p.id }
end

-- The project a change names: administered by the caller, at the version it read.
local function project_to_change(ctx, req)
  local p, err = H.managed_project(ctx, req.project_id)
  if not p then return nil, err end
  local ok
  ok, err = R.check_version(p, req.resource_version, "project")
  if not ok then return nil, err end
  return p
end

function H.UpdateProject(ctx, req)
  local p, err = project_to_change(ctx, req)
  if not p then return nil, err end
  local ok
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  R.update(ctx, "projects", p.id, p, function(r) r.spec = copy(req.spec) end)
  ctx.audit_details = { project_id = p.id }
  return {}
end

-- What keeps a project from being deleted: "A Project must be empty, meaning it contains
-- zero Namespaces"; its project-scoped service accounts, Nexus endpoints and connectivity
-- rules keep it too (the emulator's rule: they would be left without a project).
local function holds(st, pid)
  local what = { namespaces = "namespace", nexus = "Nexus endpoint", rules = "connectivity rule" }
  for _, coll in ipairs(PROJECT_SCOPED) do
    for key, res in pairs(st[coll]) do
      if res.project_id == pid then return what[coll], key end
    end
  end
  for said, sa in pairs(st.service_accounts) do
    local psa = sa.spec.project_scoped_access
    if psa and psa.project_id == pid then return "project-scoped service account", said end
  end
end

function H.DeleteProject(ctx, req)
  local p, err = project_to_change(ctx, req)
  if not p then return nil, err end
  -- "If a Project is the only one remaining in an Account, that project cannot be deleted,
  -- regardless of the status of the Deletion Protection Flag."
  local others = 0
  for pid, q in pairs(ctx.st.projects) do
    if pid ~= p.id and q.state ~= "RESOURCE_STATE_DELETING" then others = others + 1 end
  end
  if others == 0 then
    return errors.precondition("project %s is the account's last project and cannot be deleted", p.id)
  end
  if p.spec.lifecycle and p.spec.lifecycle.enable_delete_protection then
    return errors.precondition("project %s has delete protection enabled", p.id)
  end
  local what, key = holds(ctx.st, p.id)
  if what then
    return errors.precondition("project %s is not empty: it holds %s %s", p.id, what, key)
  end
  R.delete(ctx, "projects", p.id, p)
  ctx.audit_details = { project_id = p.id }
  return {}
end

return H
