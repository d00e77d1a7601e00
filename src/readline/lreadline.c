/*
 * cloudops.readline: a small binding to GNU readline for bin/cloudops-repl.
 *
 * Debian 12's lua-readline needs lua-posix, which has no Lua 5.4 build (DESIGN.md "Testing"),
 * so the REPL brings its own: line editing, history (in memory and in a file) and a completion
 * callback written in Lua. Only what the REPL uses; readline's state is process-global, so
 * this module is too (one interactive prompt per process).
 *
 *   local rl = require "cloudops.readline"
 *   rl.set_completion(function(text, line, first, last) return { "candidate", ... } end)
 *   local line = rl.readline("> ")          -- nil at end of input
 *   rl.add_history(line)
 *   rl.read_history(path); rl.write_history(path); rl.truncate_history(path, 1000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#endif

/* The Lua state inside readline() (completion runs during that call) and the callback. */
static lua_State *active_L = NULL;
static int completion_ref = LUA_NOREF;

/* The candidates of the current completion, handed out one by one to readline. */
static char **candidates = NULL;
static size_t candidate_count = 0, candidate_next = 0;

static void free_candidates(void) {
  for (size_t i = 0; i < candidate_count; i++) free(candidates[i]);
  free(candidates);
  candidates = NULL;
  candidate_count = candidate_next = 0;
}

static char *generator(const char *text, int state) {
  (void)text;
  if (state == 0) candidate_next = 0;
  if (candidate_next >= candidate_count) return NULL;
  return strdup(candidates[candidate_next++]); /* readline frees what it is given */
}

/* readline's completion hook: asks the Lua callback for the candidates of the word between
 * start and end of rl_line_buffer. A failing callback completes nothing (the prompt must
 * not die of a bug in a completer). */
static char **attempt_completion(const char *text, int start, int end) {
  rl_attempted_completion_over = 1;     /* never fall back to file names */
  rl_completion_append_character = '\0'; /* "client:get_users" wants no space after it */
  lua_State *L = active_L;
  if (L == NULL || completion_ref == LUA_NOREF) return NULL;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, completion_ref);
  lua_pushstring(L, text);
  lua_pushstring(L, rl_line_buffer);
  lua_pushinteger(L, start + 1); /* 1-based, inclusive, as string.sub wants */
  lua_pushinteger(L, end);
  if (lua_pcall(L, 4, 1, 0) != 0 || !lua_istable(L, -1)) {
    lua_settop(L, top);
    return NULL;
  }
  size_t n = lua_rawlen(L, -1);
  free_candidates();
  if (n > 0) candidates = calloc(n, sizeof *candidates);
  for (size_t i = 1; candidates != NULL && i <= n; i++) {
    lua_rawgeti(L, -1, (int)i);
    const char *s = lua_tostring(L, -1);
    if (s != NULL) {
      char *copy = strdup(s);
      if (copy != NULL) candidates[candidate_count++] = copy;
    }
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  if (candidate_count == 0) return NULL;
  char **matches = rl_completion_matches(text, generator);
  free_candidates();
  return matches;
}

/* readline(prompt) -> the line without its newline, or nil at end of input. */
static int l_readline(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "");
  fflush(stdout);
  active_L = L;
  char *line = readline(prompt);
  active_L = NULL;
  if (line == NULL) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, line);
  free(line);
  return 1;
}

static int l_add_history(lua_State *L) {
  add_history(luaL_checkstring(L, 1));
  return 0;
}

static int l_clear_history(lua_State *L) {
  (void)L;
  clear_history();
  return 0;
}

static int fail_errno(lua_State *L, int err, const char *what, const char *path) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s %s: %s", what, path, strerror(err));
  return 2;
}

/* read_history(path) -> true, or nil, err (e.g. no such file on the first run). */
static int l_read_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int err = read_history(path);
  if (err != 0) return fail_errno(L, err, "cannot read history", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* write_history(path) -> true, or nil, err. */
static int l_write_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int err = write_history(path);
  if (err != 0) return fail_errno(L, err, "cannot write history", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* truncate_history(path, n): keeps the file's last n lines -> true, or nil, err. */
static int l_truncate_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int n = (int)luaL_checkinteger(L, 2);
  int err = history_truncate_file(path, n);
  if (err != 0) return fail_errno(L, err, "cannot truncate history", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* history() -> the lines in memory, oldest first (for tests and a `history()` command). */
static int l_history(lua_State *L) {
  HIST_ENTRY **list = history_list();
  lua_newtable(L);
  for (int i = 0; list != NULL && list[i] != NULL; i++) {
    lua_pushstring(L, list[i]->line);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* set_completion(fn or nil): fn(text, line, first, last) returns a table of candidates that
 * replace `text` (line:sub(first, last)). */
static int l_set_completion(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  if (completion_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, completion_ref);
  completion_ref = LUA_NOREF;
  if (!lua_isnoneornil(L, 1)) {
    lua_pushvalue(L, 1);
    completion_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

/* set_word_break_characters(chars): what ends the word being completed. */
static int l_set_word_break_characters(lua_State *L) {
  static char *chars = NULL; /* readline keeps the pointer: our copy outlives the call */
  const char *s = luaL_checkstring(L, 1);
  char *copy = strdup(s);
  if (copy == NULL) return luaL_error(L, "out of memory");
  rl_completer_word_break_characters = copy;
  free(chars);
  chars = copy;
  return 0;
}

/* isatty(fd) -> boolean: whether to prompt and edit, or read piped input plainly. */
static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_optinteger(L, 1, 0)));
  return 1;
}

static const luaL_Reg functions[] = {
  { "readline", l_readline },
  { "add_history", l_add_history },
  { "clear_history", l_clear_history },
  { "read_history", l_read_history },
  { "write_history", l_write_history },
  { "truncate_history", l_truncate_history },
  { "history", l_history },
  { "set_completion", l_set_completion },
  { "set_word_break_characters", l_set_word_break_characters },
  { "isatty", l_isatty },
  { NULL, NULL },
};

int luaopen_cloudops_readline(lua_State *L) {
  rl_readline_name = "cloudops"; /* for $if cloudops in ~/.inputrc */
  rl_attempted_completion_function = attempt_completion;
#if LUA_VERSION_NUM < 502
  lua_newtable(L);
  luaL_register(L, NULL, functions);
#else
  luaL_newlib(L, functions);
#endif
  lua_pushstring(L, rl_library_version ? rl_library_version : "?");
  lua_setfield(L, -2, "READLINE_VERSION");
  return 1;
}
