/*
 * cloudops.readline: a small binding to GNU readline for bin/cloudops-repl.
 *
 * Debian 12 ships lua-readline 3.2 with a Lua 5.4 build, but the REPL needs what it lacks:
 * Ctrl-C at the prompt dropping the line (there it is raised as "interrupted!" after the next
 * Enter, and a second one ends the process), Ctrl-C stopping running code every time, history
 * entries of several lines kept whole in the file, and a module that does not read a history
 * file of its own when loaded. So the REPL brings this: line editing, history (in memory and in
 * a file) and a completion callback written in Lua. Only what the REPL uses; readline's state
 * is process-global, so this module is too (one interactive prompt per process).
 *
 *   local rl = require "cloudops.readline"
 *   rl.set_completion(function(text, line, first, last) return { "candidate", ... } end)
 *   local line, err = rl.readline("> ")     -- nil at end of input; nil, "interrupted" on Ctrl-C
 *   rl.add_history(chunk)                   -- a chunk of several lines is one entry
 *   rl.read_history(path); rl.write_history(path, 1000)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
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

/* ---- reading a line ---------------------------------------------------------------------
 * Through readline's callback interface, as Python's readline module does: select() on the
 * input, one character at a time. A Ctrl-C then interrupts select() (our handler sets a flag,
 * without SA_RESTART), and the line being typed is dropped cleanly, the prompt coming back,
 * instead of readline's default of passing the signal on (which would kill the REPL or raise
 * in it at some later point). */

static volatile sig_atomic_t interrupted = 0;
static char *done_line = NULL;
static int line_done = 0;

static void on_line(char *line) {
  done_line = line; /* NULL at end of input */
  line_done = 1;
  rl_callback_handler_remove();
}

static void on_sigint_while_reading(int sig) {
  (void)sig;
  interrupted = 1;
}

/* readline(prompt) -> the line without its newline; nil at end of input; nil, "interrupted"
 * after a Ctrl-C (the line typed so far is dropped). */
static int l_readline(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "");
  /* readline's state is one per process: a readline() from a finalizer or a completion run
   * while a line is read would start a second line inside the first. */
  if (active_L != NULL) return luaL_error(L, "readline() called again while a line is being read");
  free(done_line); /* left by a raise (out of memory) while the last line was pushed */
  done_line = NULL;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint_while_reading;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  fflush(stdout);
  interrupted = 0;
  line_done = 0;
  done_line = NULL;
  active_L = L;
  rl_callback_handler_install(prompt, on_line);
  int fd = fileno(rl_instream != NULL ? rl_instream : stdin);
  int failed = 0;
  while (!line_done) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    int r = select(fd + 1, &fds, NULL, NULL, NULL);
    if (interrupted) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      failed = errno;
      break;
    }
    rl_callback_read_char();
  }
  active_L = NULL;
  if (!line_done) { /* interrupted or failed: leave the terminal as we found it */
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_cleanup_after_signal();
    rl_callback_handler_remove();
    fputs(interrupted ? "^C\n" : "\n", rl_outstream != NULL ? rl_outstream : stdout);
  }
  sigaction(SIGINT, &old, NULL);
  if (interrupted) {
    lua_pushnil(L);
    lua_pushliteral(L, "interrupted");
    return 2;
  }
  if (failed) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(failed));
    return 2;
  }
  if (done_line == NULL) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, done_line);
  free(done_line);
  done_line = NULL;
  return 1;
}

/* ---- Ctrl-C while Lua runs -----------------------------------------------------------------
 * The standalone lua sets a hook on the first SIGINT and then restores the default action,
 * so a second Ctrl-C kills the process. The REPL wants every Ctrl-C to stop what runs (an
 * endless loop, a long wait) with an error its own pcall catches, and the session to go on. */

static lua_State *hooked_L = NULL;

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  /* No position: where the hook fired (inside the library, often) says nothing to the user. */
  lua_pushliteral(L, "interrupted!");
  lua_error(L);
}

static void on_sigint_while_running(int sig) {
  (void)sig;
  if (hooked_L != NULL) /* lua_sethook is safe in a signal handler (lua.c does the same) */
    lua_sethook(hooked_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* catch_interrupts(): from now on, Ctrl-C raises "interrupted!" in the running Lua code of
 * this state (outside readline(), which handles it as above). */
static int l_catch_interrupts(lua_State *L) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint_while_running;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  hooked_L = L;
  sigaction(SIGINT, &sa, NULL);
  return 0;
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

/* The history file is written with a timestamp line ("#<seconds>") before each entry, so that
 * an entry of several lines (a multi-line chunk) reads back as one. */
static int file_has_timestamps(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  int c1 = fgetc(f), c2 = fgetc(f);
  fclose(f);
  return c1 == '#' && c2 >= '0' && c2 <= '9';
}

/* read_history(path) -> true, or nil, err (e.g. no such file on the first run). A file of
 * plain lines (written before entries had timestamps) reads one entry per line. */
static int l_read_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  history_multiline_entries = file_has_timestamps(path);
  int err = read_history(path);
  history_multiline_entries = 1;
  if (err != 0) return fail_errno(L, err, "cannot read history", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* write_history(path[, n]) -> true, or nil, err: the entries in memory, the last n only if n
 * is given (the older ones are dropped from memory too). */
static int l_write_history(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0 && n <= 1000000, 2, "a number of entries from 0 to 1000000");
    stifle_history((int)n);
  }
  int err = write_history(path);
  if (err != 0) return fail_errno(L, err, "cannot write history", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* history() -> the entries in memory, oldest first (for tests and a `history()` command). */
static int l_history(lua_State *L) {
  lua_newtable(L);
  /* The list is looked up again for each entry: a finalizer run by an allocation here may
   * change the history (and readline move or free its list). */
  for (int i = 0;; i++) {
    HIST_ENTRY **list = history_list();
    if (list == NULL || i >= history_length || list[i] == NULL) break;
    lua_pushstring(L, list[i]->line); /* copied before the collector may run */
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
  { "history", l_history },
  { "set_completion", l_set_completion },
  { "set_word_break_characters", l_set_word_break_characters },
  { "isatty", l_isatty },
  { "catch_interrupts", l_catch_interrupts },
  { NULL, NULL },
};

int luaopen_cloudops_readline(lua_State *L) {
  rl_readline_name = "cloudops"; /* for $if cloudops in ~/.inputrc */
  rl_catch_signals = 0;          /* SIGINT is ours (l_readline); readline keeps SIGWINCH */
  rl_attempted_completion_function = attempt_completion;
  /* Entries of several lines stay whole in the file: each is written after a "#<seconds>" line
   * (readline makes an entry's timestamp from history_comment_char). */
  history_comment_char = '#';
  history_write_timestamps = 1;
  history_multiline_entries = 1;
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
