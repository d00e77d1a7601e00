/* Lua 5.1 ABI (LuaJIT 2.1, OpenResty's) shims, so one set of sources builds for Lua 5.4 and for
 * LuaJIT. LuaJIT 2.1 already has luaL_setfuncs, luaL_testudata, luaL_setmetatable and
 * luaL_newlibtable from the 5.2 API; the rest is here. */
#ifndef CLOUDOPS_COMPAT_H
#define CLOUDOPS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#include <stdint.h>

typedef uint64_t lua_Unsigned;
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lua_getuservalue(L, i) lua_getfenv((L), (i))
#define lua_setuservalue(L, i) lua_setfenv((L), (i))
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))

static inline int lua_absindex(lua_State *L, int i) {
  return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}

/* PUC Lua 5.1 (what luarocks targets by default on Debian) lacks the 5.2 API LuaJIT has. */
#ifndef luaL_newlib
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
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
#endif

/* What tostring() shows for the value at idx, pushed; enough for error messages. */
static inline const char *luaL_tolstring(lua_State *L, int idx, size_t *len) {
  idx = lua_absindex(L, idx);
  lua_getglobal(L, "tostring");
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  return lua_tolstring(L, -1, len);
}
#endif

/* Integers: Lua 5.4 has 64-bit integers; LuaJIT has doubles, exact up to 2^53. */
#if LUA_VERSION_NUM >= 503
#define CO_HAS_INTEGERS 1
#else
#define CO_HAS_INTEGERS 0
#endif

#endif
