/* A Lua 5.4 interpreter whose allocator fails past a limit, for the specs that check that a
 * memory error raised halfway through a call (or a server's request) leaks nothing
 * (spec/07-reliability/alloc_failure_spec.lua runs it under valgrind).
 *
 *   alloc_limit SCRIPT [ARGS...]
 *   -- in SCRIPT: alloc_limit(n) lets the next n bytes through, then fails; alloc_limit() lifts it
 */
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static size_t in_use, limit; /* limit 0: none */

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    free(ptr);
    in_use -= osize;
    return NULL;
  }
  /* Lua assumes that shrinking never fails. */
  if (limit && nsize > osize && in_use + (nsize - osize) > limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) in_use = in_use - osize + nsize;
  return p;
}

static int l_alloc_limit(lua_State *L) {
  limit = lua_isnoneornil(L, 1) ? 0 : in_use + (size_t)luaL_checkinteger(L, 1);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: alloc_limit SCRIPT [ARGS...]\n"); return 2; }
  lua_State *L = lua_newstate(limited_alloc, NULL);
  luaL_openlibs(L);
  lua_pushcfunction(L, l_alloc_limit);
  lua_setglobal(L, "alloc_limit");
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  int rc = luaL_dofile(L, argv[1]);
  if (rc) fprintf(stderr, "alloc_limit: %s\n", lua_tostring(L, -1));
  lua_close(L);
  return rc ? 1 : 0;
}
