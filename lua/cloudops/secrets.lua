--- What an object must hold but never show (the API key, headers carrying it): kept beside the
-- object in a table keyed weakly by it, so that pairs(), pretty-printers and the REPL, which
-- see only the object's own fields, never reach them.
local setmetatable = setmetatable

local store = setmetatable({}, { __mode = "k" })

local secrets = {}

--- Sets obj's secrets (a table), replacing any it had.
function secrets.set(obj, t)
  store[obj] = t
end

--- obj's secrets table (empty when it has none).
function secrets.get(obj)
  return store[obj] or {}
end

return secrets
