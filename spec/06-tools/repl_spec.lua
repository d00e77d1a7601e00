-- bin/cloudops-repl, run as the user runs it: through a pseudo-terminal (readline editing, tab
-- completion, history across sessions) and with piped input (no terminal: no prompts), with a
-- local emulator (--emulator) for the connected client. The REPL is Lua 5.4's.
local helpers = require "helpers"
local T = require "06-tools.support.tools"

-- The binding is built by make whenever libreadline-dev is installed (bin/install-deps): the
-- terminal specs need it, and fail, saying so, without it.
local function needs_readline()
  assert(helpers.read_file(T.ROOT .. "build/lua/cloudops/readline.so"),
    "build/lua/cloudops/readline.so is not built: install libreadline-dev (bin/install-deps), then make")
end

describe("bin/cloudops-repl", function()
  lazy_teardown(helpers.cleanup)

  describe("with piped input", function()
    it("evaluates expressions and statements, printing values readably", function()
      local out, err, status = T.repl_piped(table.concat({
        "1 + 1",
        "x = { b = 2, a = { 'one', 'two' }, [\"key-1\"] = true }",
        "x",
        "for i = 1, 2 do",
        "  print('line ' .. i)",
        "end",
        "'multi', 2",
        "1 +",
        "2",
      }, "\n") .. "\n", { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
      assert.are.equal(0, status, err)
      assert.are.equal("no client: no API key: set TEMPORAL_CLOUD_API_KEY, or start with --emulator\n", err)
      assert.are.equal(table.concat({
        "2",
        '{ a = { "one", "two" }, b = 2, ["key-1"] = true }',
        "line 1",
        "line 2",
        '"multi"',
        "2",
        "3",
      }, "\n") .. "\n", out)
    end)

    it("ends at the first error with status 1, naming its line of the input", function()
      local function run(lines)
        return T.repl_piped(table.concat(lines, "\n") .. "\n", { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
      end
      -- a runtime error, in a function defined lines before it is called
      local out, err, status = run { "x = 1", "function f()", "", "  error('in f')", "end", "print('before')", "f()",
                                     "print('after')" }
      assert.are.equal(1, status)
      assert.are.equal("before\n", out)
      assert.matches("cloudops%-repl: stdin:4: in f\n$", err)
      -- a syntax error
      out, err, status = run { "print('one')", "", "x x", "print('two')" }
      assert.are.equal(1, status)
      assert.are.equal("one\n", out)
      assert.matches("cloudops%-repl: stdin:3: syntax error near 'x'\n$", err)
      -- a statement the input ends inside
      out, err, status = run { "print('one')", "for i = 1, 2 do" }
      assert.are.equal(1, status)
      assert.are.equal("one\n", out)
      assert.matches("cloudops%-repl: stdin:2: the input ends inside a statement\n$", err)
      -- an error without a position of its own (a tail call's) gets its chunk's line
      out, err, status = run { "print('one')", "error({})" }
      assert.are.equal(1, status)
      assert.are.equal("one\n", out)
      assert.matches("cloudops%-repl: stdin:2: table: 0x%x+\n$", err)
    end)

    it("has a connected client with --emulator, and prints responses with their schema", function()
      local out, err, status = T.repl_piped(table.concat({
        "r = client:get_namespaces{ page_size = 1 }",
        "r.namespaces[1].namespace",
        "r.namespaces[1].created_time",
        "pp(r.namespaces[1].spec)",
        "ok, e = client:get_namespace{ namespace = 'nope' }",
        "e.name",
        "e",
        "#methods('namespace') > 5",
        "emu.endpoint == client.endpoint",
        "_",
        "client:get_users{ bogus = 1 }",
      }, "\n") .. "\n", { "--emulator", "--no-history" })
      assert.are.equal(1, status, err)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.equal('"seed-ns-001.emu01"', lines[1])
      -- a Timestamp prints as RFC 3339 text (a Lua string a request accepts as it is)
      assert.matches('^"%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z"$', lines[2])
      assert.matches("retention_days = 30", out)
      assert.matches('"NOT_FOUND"', out)
      assert.matches("GetNamespace: NOT_FOUND %(5%): ", out)
      assert.matches("\ntrue\ntrue\ntrue\n$", out)
      -- a request that does not fit the schema is an error naming the field, and its line
      assert.matches("^cloudops%-repl: stdin:11: GetUsersRequest: unknown field 'bogus'", err)
    end)

    it("shows the err of an assignment whose call failed, which a script would have dropped", function()
      local out, err, status = T.repl_piped(table.concat({
        "c = cloudops.connect{ bogus = 1 }",
        "c == nil",
        "r = client:create_namespace{ spec = { name = 'X' } }",
        "r == nil",
        "c2, e2 = cloudops.connect{ bogus = 1 }",       -- the err assigned: nothing shown
        "n = client:get_namespaces{ page_size = 1 }",   -- a success: nothing shown
        "#n.namespaces",
        "local l = cloudops.connect{ bogus = 1 }",
      }, "\n") .. "\n", { "--emulator", "--no-history" })
      assert.are.equal(0, status, err)
      assert.are.equal(table.concat({
        "nil, INVALID_OPTION: unknown option 'bogus'",
        "true",
        "nil, CreateNamespace: INVALID_ARGUMENT (3): spec.name must be 2 to 39 lowercase letters, digits or " ..
          "single hyphens, beginning with a letter and ending with a letter or digit",
        "true",
        "1",
        "nil, INVALID_OPTION: unknown option 'bogus'",
      }, "\n") .. "\n", out)
    end)

    it("raises as a script does for a method called with a dot or mistyped", function()
      local _, err, status = T.repl_piped("client.get_account{}\n", { "--emulator", "--no-history" })
      assert.are.equal(1, status)
      assert.are.equal("cloudops-repl: stdin:1: GetAccount: call it as client:get_account(...), with a colon\n", err)
      _, err, status = T.repl_piped("x = 1\nclient:get_namespacez{}\n", { "--emulator", "--no-history" })
      assert.are.equal(1, status)
      assert.are.equal("cloudops-repl: stdin:2: the client has no method 'get_namespacez' " ..
        "(did you mean 'get_namespaces'?)\n", err)
      -- the same words from a script
      local script = helpers.script("local c = assert(require('cloudops').connect{ endpoint = '127.0.0.1:1', " ..
        "insecure = true, api_key = 'k' })\nc.get_account{}\n")
      local _, serr, sstatus = T.run(T.LUA .. " " .. helpers.sh_quote(script))
      assert.are_not.equal(0, sstatus)
      assert.matches("script%.lua:%d+: GetAccount: call it as client:get_account%(%.%.%.%), with a colon", serr)
    end)

    it("describes messages and methods, and has help()", function()
      local out, err, status = T.repl_piped('help()\ndescribe("CreateNamespaceRequest")\nhelp("get_users")\n',
        { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
      assert.are.equal(0, status, err)
      assert.matches("client:get_namespaces", out)
      assert.matches("describe%(\"X\"%)", out)
      assert.matches("message temporal%.api%.cloud%.cloudservice%.v1%.CreateNamespaceRequest {", out)
      assert.matches("NamespaceSpec%s+spec = 2;", out)
      assert.matches("map<string, string> tags = 4;", out)
      assert.matches("rpc GetUsers%(GetUsersRequest%) returns %(GetUsersResponse%)", out)
      assert.matches("paginate", out)
    end)

    it("stops at exit() and at the end of input, and refuses unknown options", function()
      local out, _, status = T.repl_piped("1\nexit()\n2\n", { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
      assert.are.equal(0, status)
      assert.are.equal("1\n", out)
      local _, err, bad = T.repl_piped("", { "--bogus" })
      assert.are.equal(2, bad)
      assert.matches("unknown option '%-%-bogus'", err)
      local usage, _, ok = T.repl_piped("", { "--help" })
      assert.are.equal(0, ok)
      assert.matches("%-%-emulator", usage)
    end)
  end)

  describe("in a terminal", function()
    -- steps: { send = keys } and { expect = a Python regular expression } (pty_session.py)
    local function run(steps, argv, env)
      local r = T.pty(steps, argv, env)
      if r.ok ~= true then
        local failed = type(r.failed) == "table" and r.failed.expect or "the end"
        error("failed at " .. tostring(failed) .. ", exit status " .. tostring(r.status) ..
              ", transcript:\n" .. r.transcript)
      end
      return r.transcript
    end

    it("prompts, completes method and field names with TAB, and keeps history across sessions", function()
      needs_readline()
      local history = helpers.tmpdir() .. "/history"
      local text = run({
        { expect = "> " },
        { send = "cloudops.VERS\t\n" }, { expect = '"0\\.1\\.0"' },                     -- a table key
        { send = "client:get_current_ide\t() ~= nil\n" }, { expect = "true" },          -- a method
        { send = "client:get_users{ page_si\t = 1 }.users[1].spec.email\n" },           -- a request field
        { expect = '"[\\w.]+@example\\.com"' },
        { send = "client:create_namespace{ spec = { retention_d\t = 7, na\t = 'x' } } == nil\n" },
        { expect = "true" },
        -- then the prompt: readline reads the keys now
        { send = "print('hist-' .. 40 + 2)\n" }, { expect = "hist-42" }, { expect = "> " },
        { send = "\4" },                                                                -- Ctrl-D
      }, { "--emulator" }, { CLOUDOPS_REPL_HISTORY = history })
      assert.matches("cloudops REPL", text)
      assert.matches("client:get_current_identity%(%)", text)   -- what TAB completed, echoed
      assert.matches("page_size = 1", text)
      assert.matches("retention_days = 7, name = 'x'", text)
      local saved = assert(helpers.read_file(history))
      assert.matches("print%('hist%-' %.%. 40 %+ 2%)\n", saved)

      -- a second session: Ctrl-P brings back the last line of the first
      run({
        { expect = "> " },
        { send = "\16" }, { send = "\n" }, { expect = "hist-42" },
        { send = "exit()\n" },
      }, { "--history", history }, { TEMPORAL_CLOUD_API_KEY = false })
    end)

    it("lists the candidates when a completion is ambiguous", function()
      needs_readline()
      run({
        { expect = "> " },
        { send = "cloudops.time.to_\t\t" }, { expect = "to_rfc3339\\s+to_seconds\\s+to_unix" },
        { send = "unix{ seconds = 5 }\n" }, { expect = "\\n5\\.0\\r?\\n" },
        { expect = "> " }, -- the prompt: readline reads the keys now
        { send = "\4" },
      }, { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
    end)

    it("drops the line being typed on Ctrl-C, and stops running code on Ctrl-C, every time", function()
      needs_readline()
      run({
        { expect = "> " },
        { send = "x = 5\n" }, { expect = "> " },
        { send = "abc" }, { send = "\3" }, { expect = "\\^C" },
        { send = "x + 1\n" }, { expect = "\\n6\\r?\\n" },
        { send = "while true do end\n" }, { send = "\3", pause = 0.3 }, { expect = "error: interrupted!" },
        { send = "while true do end\n" }, { send = "\3", pause = 0.3 }, { expect = "error: interrupted!" },
        { send = "x + 2\n" }, { expect = "\\n7\\r?\\n" }, { expect = "> " }, -- the prompt: readline reads the keys now
        { send = "\4" },
      }, { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
    end)

    it("keeps a Ctrl-C at the prompt from the emulator it started", function()
      needs_readline()
      run({
        { expect = "> " },
        { send = "abc" }, { send = "\3" }, { expect = "\\^C" },
        -- the emulator would take a moment to stop: it answers for a second after
        { send = "(function() local n = 0 for _ = 1, 20 do n = n + (client:get_current_identity() and 1 or 0) " ..
                 "require('cloudops.core').sleep(0.05) end return n end)()\n" }, { expect = "\\n20\\r?\\n" },
        { expect = "> " }, -- the prompt: readline reads the keys now
        { send = "\4" },
      }, { "--emulator", "--no-history" })
    end)

    it("reports an interrupted call without the library's file and line", function()
      needs_readline()
      local text = run({
        { expect = "> " },
        { send = "while true do cloudops.time.from_rfc3339('2024-01-02T03:04:05Z') end\n" },
        { send = "\3", pause = 0.3 }, { expect = "interrupted!" },
        { send = "1 + 1\n" }, { expect = "\\n2\\r?\\n" }, { expect = "> " }, -- the prompt: readline reads the keys now
        { send = "\4" },
      }, { "--no-history" }, { TEMPORAL_CLOUD_API_KEY = false })
      assert.matches("error: interrupted!\r?\n", text)
      assert.not_matches("%.lua:%d+: interrupted", text)
    end)

    it("keeps a statement of several lines as one history entry, and lines with keys out", function()
      needs_readline()
      local history = helpers.tmpdir() .. "/history"
      run({
        { expect = "> " },
        { send = "for i = 1, 2 do\n" }, { expect = ">> " },
        { send = "  print('multi-' .. i)\n" }, { expect = ">> " },
        { send = "end\n" }, { expect = "multi-2" },
        { send = "k = emu.api_key\n" }, { expect = "> " },
        { send = "s = 'Zq9Zq9Zq9Zq9'\n" }, { expect = "> " },               -- the key of the environment
        { send = "c2 = cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = 'pasted' }\n" },
        { expect = "> " },
        { send = "'" .. string.rep("ab12", 10) .. "'\n" }, { expect = "> " },
        { send = "x = '11111111-2222-4333-8444-555555555555'\n" }, { expect = "> " },
        { send = "spec = { name = 'dev', api_key_auth = { enabled = true } }\n" }, { expect = "> " },
        { send = "h = { authorization = 'Bearer abc' }\n" }, { expect = "> " },
        { send = "exit()\n" },
      }, { "--emulator", "--history", history }, { TEMPORAL_CLOUD_API_KEY = "Zq9Zq9Zq9Zq9" })
      local saved = assert(helpers.read_file(history))
      -- one entry: its lines follow one timestamp line
      assert.matches("\n#%d+\nfor i = 1, 2 do\n  print%('multi%-' %.%. i%)\nend\n#%d+\n", "\n" .. saved)
      assert.matches("k = emu%.api_key", saved)                    -- a name, not a key
      assert.not_matches("api_key = 'pasted'", saved)              -- a key given to connect
      assert.not_matches(string.rep("ab12", 10), saved)            -- a token-like string
      assert.matches("x = '11111111%-2222%-4333%-8444%-555555555555'", saved) -- an id is fine
      assert.matches("spec = { name = 'dev', api_key_auth = { enabled = true } }", saved, 1, true) -- names a key only
      assert.not_matches("Bearer abc", saved)                      -- a header with a token
      assert.not_matches("Zq9Zq9Zq9Zq9", saved)
    end)

    it("takes history written before entries had timestamps, one entry a line", function()
      needs_readline()
      local history = helpers.tmpdir() .. "/history"
      helpers.write_file(history, "old = 41\nold + 1\n")
      run({
        { expect = "> " },
        { send = "\16\16\n" }, { expect = "> " },  -- Ctrl-P twice: the first old line
        { send = "\16\16\n" }, { expect = "\\n42\\r?\\n" },
        { expect = "> " }, -- the prompt: readline reads the keys now
        { send = "\4" },
      }, { "--history", history }, { TEMPORAL_CLOUD_API_KEY = false })
    end)

    it("works without the readline binding (--no-readline): prompts, no completion", function()
      local history = helpers.tmpdir() .. "/history"
      run({
        { expect = "> " },
        { send = "x = 20\n" }, { expect = "> " },
        { send = "x + 22\n" }, { expect = "42" },
        { send = "for i = 1, 2 do\n" }, { expect = ">> " },
        { send = "end\n" }, { expect = "> " },
        { send = "exit()\n" },
      }, { "--no-readline", "--history", history }, { TEMPORAL_CLOUD_API_KEY = false })
      assert.is_nil(helpers.read_file(history)) -- no binding, no history file
    end)
  end)
end)
