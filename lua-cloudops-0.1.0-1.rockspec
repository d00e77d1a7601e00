package = "lua-cloudops"
version = "0.1.0-1"
source = {
  url = "git+file:///work/main", -- where this tree lives; `luarocks make` uses the tree at hand
}
description = {
  summary = "A client for the Temporal Cloud Operations API: gRPC C core, Lua helpers, emulator",
  detailed = [[
    Every RPC of the Cloud Ops API as a Lua method, messages as plain tables, with paging,
    retries, client-side rate limiting, idempotent mutations and waiting on async operations,
    plus a local emulator of the API. The schema is taken from CLOUD_API_DIR at build time.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
}
build = {
  type = "make",
  build_variables = {
    LUA_INCDIR = "$(LUA_INCDIR)",
    CFLAGS = "$(CFLAGS)",
  },
  install_variables = {
    LUA_INCDIR = "$(LUA_INCDIR)", -- so that install picks the build made for this Lua
    LUA_LMOD = "$(LUADIR)",
    LUA_CMOD = "$(LIBDIR)",
    BINDIR = "$(BINDIR)",
  },
  copy_directories = {},
}
