/* fork() for the specs' Lua 5.4 scripts (LuaJIT's call it through the FFI), built by
 * spec/08-concurrency/process_spec.lua:
 *
 *   local F = require "fork_module"
 *   F.fork() -> 0 in the child, the child's pid in the parent
 *   F.wait(pid) -> its exit status (128 + the signal, when killed)
 *   F.exit(code)   -- _exit: no Lua state closed, no stdio flushed */
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <lua.h>
#include <lauxlib.h>

static int l_fork(lua_State *L) {
  pid_t pid = fork();
  if (pid < 0) return luaL_error(L, "fork failed");
  lua_pushinteger(L, pid);
  return 1;
}

static int l_wait(lua_State *L) {
  int status;
  if (waitpid((pid_t)luaL_checkinteger(L, 1), &status, 0) < 0) return luaL_error(L, "waitpid failed");
  lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 1;
}

static int l_exit(lua_State *L) {
  _exit((int)luaL_optinteger(L, 1, 0));
  return 0;
}

int luaopen_fork_module(lua_State *L) {
  static const luaL_Reg functions[] = {{"fork", l_fork}, {"wait", l_wait}, {"exit", l_exit}, {NULL, NULL}};
  luaL_newlib(L, functions);
  return 1;
}
