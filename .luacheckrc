-- luacheck (Debian's lua-check) for `make lint`, which CI runs: 0 warnings is the bar.
-- Every Lua file runs on Lua 5.4 and on LuaJIT 2.1, so both standard libraries are known
-- (code tells them apart at run time: `jit`, `math.type`, `table.unpack or unpack`).
std = "lua54+luajit"
max_line_length = 120
exclude_files = { "build/**", "lua_modules/**", ".luarocks/**" }
-- A method's implicit self may go unused (an interface's method).
self = false
-- `not (x > 0)` is how a NaN is refused along with the numbers out of range: not `x <= 0`.
ignore = { "581" }

-- The bin/ scripts have no .lua suffix; .busted is busted's settings, in Lua.
include_files = { "**/*.lua", "bin/cloudops", "bin/cloudops-repl", "bin/cloudops-emulator", ".busted" }

files["spec"] = { std = "+busted" }
-- nginx's API, in the OpenResty example (ngx.status and ngx.header are set).
files["examples/openresty"] = { globals = { "ngx" } }
