/* Lua 5.1 (LuaJIT 2.1) shims, so one set of sources builds for Lua 5.4 and for OpenResty. */
#ifndef CLOUDOPS_COMPAT_H
#define CLOUDOPS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#include <math.h>
#include <stdint.h>

#define lua_rawlen(L, i) lua_objlen((L), (i))
#define luaL_setfuncs(L, l, nup) co_setfuncs((L), (l), (nup))
#define lua_getuservalue(L, i) lua_getfenv((L), (i))
#define lua_setuservalue(L, i) lua_setfenv((L), (i))
#define luaL_newlibtable(L, l) lua_createtable((L), 0, sizeof(l) / sizeof((l)[0]) - 1)
#define LUA_MAXINTEGER INT64_MAX
#define LUA_MININTEGER INT64_MIN

static inline int lua_absindex(lua_State *L, int i) {
  return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}

static inline void co_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  for (; l->name; l++) {
    for (int i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

static inline void luaL_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

static inline void *luaL_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}

#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))
#endif

/* Integers: Lua 5.4 has 64-bit integers; LuaJIT has doubles, exact up to 2^53. */
#if LUA_VERSION_NUM >= 503
#define CO_HAS_INTEGERS 1
#else
#define CO_HAS_INTEGERS 0
#endif

#endif
