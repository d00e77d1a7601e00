/* Catching SIGTERM and SIGINT for servers written in Lua (the emulator), which the standalone
 * interpreters cannot do: the handler only records the signal; the server's loop asks for it
 * with core.caught_signal() between turns and shuts down cleanly.
 *
 *   core.trap_signals{ "TERM", "INT" }   -- from now on these set a flag instead of killing
 *   core.caught_signal() -> "TERM" | "INT" | nil   (and clears it) */
#include "core.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig) { caught = sig; }

static const struct { const char *name; int sig; } known[] = {
  {"TERM", SIGTERM}, {"INT", SIGINT}, {"HUP", SIGHUP},
};

static int l_trap_signals(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n = lua_rawlen(L, 1);
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    const char *name = luaL_checkstring(L, -1);
    size_t k = 0;
    while (k < sizeof known / sizeof known[0] && strcmp(known[k].name, name) != 0) k++;
    if (k == sizeof known / sizeof known[0]) return luaL_error(L, "cannot trap signal '%s' (TERM, INT or HUP)", name);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(known[k].sig, &sa, NULL);
    lua_pop(L, 1);
  }
  return 0;
}

static int l_caught_signal(lua_State *L) {
  int sig = caught;
  caught = 0;
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
    if (known[k].sig == sig) { lua_pushstring(L, known[k].name); return 1; }
  lua_pushnil(L);
  return 1;
}

/* ---- interrupts of waits ------------------------------------------------------------------
 * The standalone interpreters (lua.c, luajit.c) answer SIGINT by setting a hook on the main
 * thread that raises "interrupted!" at the next Lua instruction. A wait in C runs no Lua, so it
 * looks at the hook between slices and returns when it changed; the hook then raises. */

static lua_State *main_thread(lua_State *L) {
#if LUA_VERSION_NUM >= 502
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  lua_State *m = lua_tothread(L, -1);
  lua_pop(L, 1);
  return m ? m : L;
#else
  return L; /* LuaJIT's hooks are global */
#endif
}

void co_interrupt_arm(lua_State *L, CoInterrupt *w) {
  w->main = main_thread(L);
  w->hook = lua_gethook(w->main);
  w->mask = lua_gethookmask(w->main);
}

int co_interrupt_fired(const CoInterrupt *w) {
  return lua_gethook(w->main) != w->hook || lua_gethookmask(w->main) != w->mask;
}

void co_signals_register(lua_State *L) {
  lua_pushcfunction(L, l_trap_signals);
  lua_setfield(L, -2, "trap_signals");
  lua_pushcfunction(L, l_caught_signal);
  lua_setfield(L, -2, "caught_signal");
}
