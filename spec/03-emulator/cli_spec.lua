-- The command line of bin/cloudops-emulator, as parsed (the process is tried in server_spec).
local cli = require "cloudops.emulator.cli"

describe("emulator command line", function()
  it("turns flags into options", function()
    local o = assert(cli.parse { "--port", "0", "--op-duration", "0.2", "--op-pending=0.1",
      "--seed-namespaces", "3", "--rate-user", "5", "--state", "/tmp/x", "--log", "none",
      "--fault", "method=GetNamespaces,code=UNAVAILABLE,times=2", "--tls-cert", "c", "--tls-key", "k" })
    assert.are.equal(0, o.port)
    assert.are.equal(0.2, o.op_duration)
    assert.are.equal(0.1, o.op_pending)
    assert.are.equal(3, o.seed.namespaces)
    assert.are.equal(5, o.rate_limits.user)
    assert.are.equal("/tmp/x", o.state_file)
    assert.is_nil(o.log)
    assert.are.same({ method = "GetNamespaces", code = "UNAVAILABLE", times = 2 }, o.faults[1])
    assert.are.same({ cert_file = "c", key_file = "k" }, o.tls)
    assert.are.equal(false, assert(cli.parse { "--no-rate-limit", "--rate-user", "3" }).rate_limits)
    assert.are.equal("-", assert(cli.parse {}).log)
    assert.are.equal(4, assert(cli.parse { "--max-operations", "4" }).max_operations)
    assert.are.equal(0.15, assert(cli.parse { "--latency", "0.15" }).latency)
    -- 0 turns the limit off, as the option's false does
    local emu = require("cloudops.emulator").new(assert(cli.parse { "--max-operations", "0" }))
    assert.is_false(emu.cfg.max_operations)
  end)

  it("names what is wrong", function()
    local function bad(argv, pat)
      local o, err = cli.parse(argv)
      assert.is_nil(o)
      assert.matches(pat, err)
    end
    bad({ "--bogus" }, "unknown option '%-%-bogus'")
    bad({ "--port" }, "requires an argument")
    bad({ "--port", "x" }, "number")
    bad({ "--latency=-1" }, "non%-negative number")
    bad({ "--tls-cert", "c" }, "go together")
    bad({ "--fault", "code=NOPE" }, "unknown gRPC status code")
    bad({ "--fault", "garbage" }, "bad fault rule")
  end)

  it("formats fault rules back into flags", function()
    local rule = { method = "*", delay = 0.5, times = math.huge, when = "after", code = "UNAVAILABLE" }
    local back = assert(cli.parse_fault(cli.format_fault(rule)))
    assert.are.same(rule, back)
    assert.has_error(function() cli.format_fault { message = "a,b", code = 14 } end,
      "fault rule message must not contain a comma")
  end)
end)
