--- cloudops.repl: the interactive shell of bin/cloudops-repl (see `cloudops-repl --help`).
-- Reads Lua lines (continuing a statement over several lines), evaluates them in an
-- environment with a connected client, prints the values readably.
local cloudops = require "cloudops"
local args = require "cloudops.cli.args"
local input = require "cloudops.repl.input"
local complete = require "cloudops.repl.complete"
local renv = require "cloudops.repl.env"
local typed = require "cloudops.repl.typed"
local eval = require "cloudops.repl.eval"
local pretty = require "cloudops.pretty"
local diagnosis = require "cloudops.diagnosis"

local type, tostring, print, pcall, error, pairs = type, tostring, print, pcall, error, pairs
local find, format, concat = string.find, string.format, table.concat
local getenv, stderr = os.getenv, io.stderr

local repl = {}

local function parser()
  local p = args.parser("cloudops-repl", "An interactive Lua shell with a client connected to " ..
    "the Temporal Cloud Ops API (the key from TEMPORAL_CLOUD_API_KEY), or to a local emulator " ..
    "it starts (--emulator). Type help() inside.")
  p:usage("usage: cloudops-repl [options]")
  p:flag("--emulator", "start a local emulator (cloudops-emulator) and use it")
  p:option("--history", "keep the input history there (default ~/.cloudops_history, or " ..
    "CLOUDOPS_REPL_HISTORY)"):argname("FILE")
  p:flag("--no-history", "keep no history file")
  p:flag("--no-readline", "plain line input: no editing, completion or history")
  p:flag("-h --help", "this text")
  return p
end

-- Prints the values a chunk returned, each with its message type where known. A call's
-- `resp, nil, info` shows resp alone: info (headers, attempts) is there to be assigned.
local function show(results)
  local n = results.n
  if n == 3 and results[2] == nil and typed.is_info(results[3]) then n = 1 end
  for i = 1, n do
    local v = results[i]
    print(pretty.format(v, { type = typed.type_of(v) }))
  end
end

-- Shows what an assignment dropped when its call failed: `c = cloudops.connect{...}` that
-- gave nil, err prints "nil, <err>" (c is nil, as in a script).
local function show_dropped(values)
  local parts, n = { "nil" }, values.n
  while n > 0 and values[n] == nil do n = n - 1 end
  for i = 1, n do
    local v = values[i]
    parts[#parts + 1] = pretty.format(v, { type = typed.type_of(v) })
  end
  print(concat(parts, ", "))
end

-- The client (and emulator) the flags ask for, or nil and why.
local function connect(opts, state)
  local copts
  if opts.emulator then
    local emu, err = require("cloudops.emulator").spawn { seed = { namespaces = 3, users = 3 } }
    if not emu then return nil, err end
    state.emulator = emu
    copts = args.connect_options(opts, emu.api_key)
    copts.endpoint, copts.insecure = emu.endpoint, true
  else
    if not args.has_key() then
      return nil, "no API key: set TEMPORAL_CLOUD_API_KEY, or start with --emulator"
    end
    copts = args.connect_options(opts)
  end
  local client, err = cloudops.connect(copts)
  -- the options came from flags: the message names them (--insecure, not insecure = true)
  if not client then return nil, diagnosis.for_cli(type(err) == "table" and err.message or err) end
  return client
end

local function history_file(opts)
  if opts.no_history then return nil end
  if opts.history then return opts.history end
  local env = getenv("CLOUDOPS_REPL_HISTORY")
  if env and env ~= "" then return env end
  local home = getenv("HOME")
  return home and (home .. "/.cloudops_history") or nil
end

--- Runs the REPL with command line arguments argv; returns the exit status.
function repl.main(argv)
  local p = parser()
  local opts, perr = args.parse(p, argv or {})
  if not opts then
    stderr:write("cloudops-repl: ", perr, "\n(cloudops-repl --help for usage)\n")
    return 2
  end
  if opts.help then
    io.write(args.help(p))
    return 0
  end

  local state = {}
  local client, cerr = connect(opts, state)
  state.client, state.connect_error = client, cerr
  local env = renv.new(state)
  local lines = input.new {
    readline = not opts.no_readline,
    history = history_file(opts),
    word_breaks = complete.WORD_BREAKS,
    complete = function(_, line, first, last) return complete.candidates(env, line, first, last) end,
    secrets = function()
      local keys = { getenv("TEMPORAL_CLOUD_API_KEY") }
      for _, k in pairs(state.emulator and state.emulator.keys or {}) do keys[#keys + 1] = k end
      return keys
    end,
  }

  if lines.interactive then
    print(format("cloudops REPL: lua-cloudops %s, API %s, %s. help() for help.", cloudops.VERSION,
      cloudops.API_VERSION, _VERSION))
  end
  if client then
    if lines.interactive then
      print("client: " .. tostring(client) .. (state.emulator and " (a local emulator: see emu)" or ""))
    end
  else
    stderr:write("no client: ", tostring(cerr), "\n")
  end

  local buffer, first -- the lines of a statement not finished yet, and the line it began on
  local line_number = 0 -- of the input, for the messages of piped input
  local failed -- piped input: the first error, which ends the run

  -- An error: at the prompt, printed, and the session goes on; in piped input (a script), on
  -- stderr with its line, and the run ends with status 1.
  local function report(err)
    if lines.interactive then
      print("error: " .. tostring(err))
    else
      failed = eval.where(err, first)
      stderr:write("cloudops-repl: ", failed, "\n")
    end
  end

  -- One line read and, once the statement is complete, run. Returns true at the end of input.
  local function step()
    local line, rerr = lines:read(buffer and ">> " or "> ")
    if line == nil then
      if rerr == "interrupted" then buffer = nil return false end
      if lines.interactive then print() end
      if buffer and not lines.interactive then report("the input ends inside a statement") end
      return true
    end
    line_number = line_number + 1
    if not buffer then first = line_number end
    buffer = buffer and (buffer .. "\n" .. line) or line
    local chunk, more, err = eval.compile(buffer, env, eval.chunkname(not lines.interactive and first or nil))
    if chunk or not more then lines:remember(buffer) end -- a statement of several lines: one entry
    if chunk then
      buffer = nil
      local ok, values, dropped = eval.run(chunk)
      if not ok then
        report(values)
      elseif dropped then
        show_dropped(values)
      else
        if values.n > 0 then env._ = values[1] end
        show(values)
      end
    elseif not more then
      buffer = nil
      report(err)
    end
    return failed ~= nil
  end

  while not state.exit do
    local ok, done = pcall(step)
    if not ok then
      -- A Ctrl-C that landed outside the user's code (lua.c's or our own handler raises
      -- "interrupted!" wherever Lua runs next): drop the statement and go on.
      if not (type(done) == "string" and find(done, "interrupted!$")) then error(done, 0) end
      buffer = nil
      print("interrupted")
    elseif done then
      break
    end
  end

  local ok, herr = lines:close()
  if not ok then stderr:write(tostring(herr), "\n") end
  if client then client:close() end
  if state.emulator then state.emulator.stop() end
  return failed and 1 or 0
end

return repl
