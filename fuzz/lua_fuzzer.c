/* libFuzzer entry for the C core, driven from Lua: fuzz/harness.lua turns the input bytes into
 * a decode of arbitrary bytes (FUZZ_TARGET "decode"), an encode of arbitrary Lua values
 * (FUZZ_TARGET "encode") or a decode of a generated answer heavy with unknown fields, its
 * memory per byte checked (FUZZ_TARGET "unknown"), and raises only when a property is broken; any error reaching here
 * aborts, so libFuzzer reports it with the input. Memory errors are ASan's to catch. */
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET as \"decode\", \"encode\" or \"unknown\""
#endif

int luaopen_cloudops_core(lua_State *L);

static lua_State *L;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "cloudops.core", luaopen_cloudops_core, 0);
  lua_pop(L, 1);
  const char *harness = getenv("FUZZ_HARNESS");
  if (luaL_dofile(L, harness ? harness : "fuzz/harness.lua") != 0) {
    fprintf(stderr, "harness: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_getfield(L, -1, FUZZ_TARGET);
  lua_setglobal(L, "fuzz_one");
  lua_pop(L, 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  lua_getglobal(L, "fuzz_one");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != 0) {
    fprintf(stderr, "property broken: %s\n", lua_tostring(L, -1));
    abort();
  }
  static unsigned runs;
  if (++runs % 256 == 0) lua_gc(L, LUA_GCCOLLECT, 0); /* so ASan sees frees promptly */
  return 0;
}
