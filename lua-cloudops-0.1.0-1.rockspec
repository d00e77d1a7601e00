package = "lua-cloudops"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/lua-cloudops/lua-cloudops.git",
  tag = "v0.1.0",
}
description = {
  summary = "A client for the Temporal Cloud Operations API: gRPC C core, Lua helpers, emulator",
  detailed = [[
    Every RPC of the Cloud Ops API as a Lua method, messages as plain tables, with paging,
    retries, client-side rate limiting, idempotent mutations and waiting on async operations,
    plus a local emulator of the API. The schema is taken from CLOUD_API_DIR at build time, or
    the pinned upstream schema is fetched with git. Building needs protoc, protoc-c, libgrpc
    and libprotobuf-c (Debian: bin/install-deps).
  ]],
  homepage = "https://github.com/lua-cloudops/lua-cloudops",
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1", -- cloudops.json and bin/cloudops (Debian: lua-cjson)
  "argparse >= 0.7",  -- the flags of bin/cloudops, bin/cloudops-repl, bin/cloudops-emulator (Debian: lua-argparse)
}
external_dependencies = {
  GRPC = { header = "grpc/grpc.h" },
  PROTOBUF_C = { header = "protobuf-c/protobuf-c.h" },
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
