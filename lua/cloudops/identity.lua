--- Who the client's API key is (GetCurrentIdentity), for the limits keyed by it: the
-- documented rate of its kind, and the buckets and leases that Redis shares by identity and
-- by account. Asked through the client's public methods.
local type = type

local identity = {}

--- The identity a GetCurrentIdentity answer names: { kind = "user"|"service_account", id = },
-- or nil when it names no principal.
function identity.from_response(who)
  if type(who) ~= "table" then return nil end
  local kind, principal = "user", who.user
  if type(who.service_account) == "table" then kind, principal = "service_account", who.service_account end
  if type(principal) ~= "table" or type(principal.id) ~= "string" or principal.id == "" then return nil end
  return { kind = kind, id = principal.id }
end

--- identity.of(client, call_opts, with_account) -> { kind =, id =, account_id = }, sent | nil, err
-- account_id (from GetAccount, when with_account and the key may read the account) may be
-- nil. `sent` counts the requests made.
function identity.of(client, opts, with_account)
  local who, err = client:call("GetCurrentIdentity", nil, opts)
  if not who then return nil, err end
  local id = identity.from_response(who)
  if not id then return nil, "GetCurrentIdentity named no principal" end
  if not with_account then return id, 1 end
  local acct = client:call("GetAccount", nil, opts)
  local account_id = acct and acct.account and acct.account.id
  if account_id ~= "" then id.account_id = account_id end
  return id, 2
end

return identity
