/* The client side: a gRPC channel on the Lua state's completion queue (see call.h).
 *
 *   ch = core.channel(target, { insecure =, root_certs =, server_name =, cert_chain =,
 *                               private_key =, user_agent =, keepalive_time =,
 *                               keepalive_timeout =, max_receive_size =, proxy = })
 *   resp, code, message, headers, trailers = ch:call(method_index, payload, timeout, metadata)
 *                                             -- metadata: a table, or a core.metadata object
 *   h = ch:start(method_index, payload, timeout, metadata)    -- see call.c
 *   ch:close()   -- cancels the calls in flight and waits for them to end
 *
 * ch:call is ch:start and a wait for that call, in short slices so that Ctrl-C (the standalone
 * interpreters' SIGINT hook) stops it at once: the call is then cancelled, and the hook raises
 * "interrupted!" as soon as ch:call returns. `resp` is the decoded response table, or nil when
 * the call failed (code ~= 0). Metadata is a table from lowercase name to string value. Runtime
 * failures are returned; bad arguments raise. In a child process forked after gRPC started,
 * a channel (made before or after the fork) fails its calls with FAILED_PRECONDITION without
 * touching gRPC, which belongs to the parent there (grpc_util.c says why). */
#include "call.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grpc/compression.h>
#include <grpc/grpc_security.h>

#define CHANNEL_MT "cloudops.core.channel"

static CoChannel *check_channel(lua_State *L) {
  CoChannel *ch = luaL_checkudata(L, 1, CHANNEL_MT);
  if (!ch->q) luaL_error(L, "the client is closed");
  return ch;
}

static int no_live_call(const void *ch) { return ((const CoChannel *)ch)->live == NULL; }

/* Runs no Lua: nothing it holds can change under it. */
static void channel_close(lua_State *L, CoChannel *ch) {
  free(ch->registered); /* also when the channel was never made (a raise in co_channel_new) */
  ch->registered = NULL;
  free(ch->spare); /* a call holding it (a ch:call whose result a finalizer closed us in) frees it */
  ch->spare = NULL;
  if (!ch->q) return;
  CoQueue *q = ch->q;
  if (co_forked(ch->pid)) {
    /* The parent's channel, in a child after fork(): its connection is the parent's, and so
     * is any call still on it. Nothing of gRPC's is touched (the queue is the parent's too),
     * the memory is left to the process's end. */
    ch->q = NULL;
    co_queue_unref(q);
    return;
  }
  for (CoCall *c = ch->live; c; c = c->live_next) co_call_cancel(c, GRPC_STATUS_CANCELLED, "the client was closed");
  /* Until no call of the channel is live, the list read afresh after every completion: a
   * completion frees its call when the call's handle was collected in flight. */
  while (ch->live) co_queue_wait(L, q, no_live_call, ch, -1);
  if (ch->channel) grpc_channel_destroy(ch->channel);
  ch->channel = NULL;
  ch->q = NULL;
  co_queue_unref(q);
}

static int l_close(lua_State *L) {
  channel_close(L, luaL_checkudata(L, 1, CHANNEL_MT));
  return 0;
}

static int l_tostring(lua_State *L) {
  CoChannel *ch = luaL_checkudata(L, 1, CHANNEL_MT);
  lua_pushfstring(L, "cloudops channel (%s, %s)", ch->target, ch->q ? "open" : "closed");
  return 1;
}

/* A string option, left on the stack (so that it stays alive however the options table made
 * it: an __index may return a fresh string) until the channel is made. */
static const char *opt_string(lua_State *L, int opts, const char *name) {
  luaL_checkstack(L, 2, "too many channel options");
  lua_getfield(L, opts, name);
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "channel option '%s' must be a string", name);
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  if (strlen(s) != len) luaL_error(L, "channel option '%s' holds a NUL byte", name);
  return s;
}

/* A number option; returns -1 when absent, -2 when false. */
static double opt_number(lua_State *L, int opts, const char *name) {
  lua_getfield(L, opts, name);
  double v = -1;
  if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) v = -2;
  else if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "channel option '%s' must be a number", name);
    v = lua_tonumber(L, -1);
    if (!(v >= 0)) luaL_error(L, "channel option '%s' must be a non-negative number", name);
  }
  lua_pop(L, 1);
  return v;
}

static int ms(double seconds) { return seconds * 1000 > INT_MAX ? INT_MAX : (int)(seconds * 1000); }

int co_channel_new(lua_State *L) {
  size_t target_len;
  const char *target = luaL_checklstring(L, 1, &target_len);
  luaL_argcheck(L, target_len > 0 && target_len < sizeof(((CoChannel *)0)->target) &&
                   strlen(target) == target_len, 1, "bad target (empty, too long, or holding a NUL)");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "insecure");
  int insecure = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 2, "proxy");
  int no_proxy = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  double ka_time = opt_number(L, 2, "keepalive_time");
  double ka_timeout = opt_number(L, 2, "keepalive_timeout");
  double max_recv = opt_number(L, 2, "max_receive_size");
  const char *roots = opt_string(L, 2, "root_certs");
  const char *server_name = opt_string(L, 2, "server_name");
  const char *cert_chain = opt_string(L, 2, "cert_chain");
  const char *private_key = opt_string(L, 2, "private_key");
  const char *user_agent = opt_string(L, 2, "user_agent");
  const char *proxy = no_proxy ? NULL : opt_string(L, 2, "proxy");
  if ((cert_chain == NULL) != (private_key == NULL))
    return luaL_error(L, "a client certificate needs both cert_chain and private_key");

  grpc_arg args[12];
  size_t n = 0;
  /* The library retries on its own terms (cloudops.retry); gRPC's retry code also aborts the
   * process on trailers without grpc-status (libgrpc 1.51). */
  args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}};
  /* Identity only: a compressed answer is refused before gRPC inflates it (a gzip bomb would
   * be inflated past max_receive_size first). Control-plane payloads need no compression. */
  args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
                         {.integer = 1 << GRPC_COMPRESS_NONE}};
  if (user_agent) args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_ARG_PRIMARY_USER_AGENT_STRING, {.string = (char *)user_agent}};
  if (ka_time > 0) {
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = ms(ka_time)}};
    if (ka_timeout > 0)
      args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = ms(ka_timeout)}};
  }
  if (max_recv >= 0)
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                           {.integer = max_recv > INT_MAX ? -1 : (int)max_recv}};
  if (server_name) args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, {.string = (char *)server_name}};
  if (proxy) args[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_ARG_HTTP_PROXY, {.string = (char *)proxy}};
  if (no_proxy) args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_HTTP_PROXY, {.integer = 0}};
  grpc_channel_args channel_args = {n, args};

  CoChannel *ch = lua_newuserdatauv(L, sizeof *ch, 0);
  memset(ch, 0, sizeof *ch);
  memcpy(ch->target, target, target_len + 1);
  luaL_setmetatable(L, CHANNEL_MT);
  const ProtobufCServiceDescriptor *svc = co_schema_service();
  ch->n_methods = svc ? svc->n_methods : 0;
  ch->registered = calloc(ch->n_methods ? ch->n_methods : 1, sizeof *ch->registered);
  if (!ch->registered) return luaL_error(L, "out of memory");
  CoQueue *q = co_queue(L); /* may raise: nothing of gRPC's is held yet (l_close frees registered) */
  ch->pid = co_pid();
  ch->q = q;
  co_queue_ref(q);
  /* In a child forked after gRPC started, a channel without gRPC: its calls fail at once. */
  if (co_grpc_inherited()) return 1;

  grpc_channel_credentials *creds;
  if (insecure) {
    creds = grpc_insecure_credentials_create();
  } else {
    grpc_ssl_pem_key_cert_pair pair = {private_key, cert_chain};
    creds = grpc_ssl_credentials_create(roots, cert_chain ? &pair : NULL, NULL, NULL);
  }
  ch->channel = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  return 1;
}

/* A timeout argument: a positive number of seconds (a call without a deadline could wait
 * forever). */
static double check_timeout(lua_State *L, int idx) {
  double t = luaL_checknumber(L, idx);
  luaL_argcheck(L, t > 0, idx, "the timeout must be a positive number of seconds");
  return t;
}

/* Starts the call that the arguments (ch, method_index, payload, timeout, metadata) describe
 * and pushes its handle. */
static CoCall *start_from_args(lua_State *L, int async) {
  CoChannel *ch = check_channel(L);
  lua_Integer index = luaL_checkinteger(L, 2);
  size_t len;
  const char *payload = luaL_checklstring(L, 3, &len);
  double timeout = check_timeout(L, 4);
  return co_call_start(L, ch, index, payload, len, timeout, lua_isnoneornil(L, 5) ? 0 : 5, async);
}

static int call_done(const void *c) { return !((const CoCall *)c)->in_flight; }

static int l_call(lua_State *L) {
  CoCall *c = start_from_args(L, 0);
  /* c lives in a userdata on the stack, never seen by Lua code, and this frame owns it: no
   * completion and no finalizer can free it while this waits (no Lua runs meanwhile). */
  if (c->in_flight && co_queue_wait(L, c->q, call_done, c, -1)) {
    /* Interrupted: cancel, and wait for the (prompt) end of the call; the hook raises next. */
    co_call_cancel(c, GRPC_STATUS_CANCELLED, "interrupted");
    while (c->in_flight) co_queue_wait(L, c->q, call_done, c, -1);
  }
  return co_call_finish(L, c);
}

static int l_start(lua_State *L) {
  start_from_args(L, 1);
  return 1;
}

/* The connection state, for tools and tests: "idle", "connecting", "ready", ... */
static int l_state(lua_State *L) {
  static const char *const names[] = {"idle", "connecting", "ready", "transient_failure", "shutdown"};
  CoChannel *ch = check_channel(L);
  if (co_forked(ch->pid)) return luaL_error(L, "this channel belongs to the parent process (fork())");
  if (!ch->channel) return luaL_error(L, "%s", "this channel was made in a child process: " CO_FORK_ADVICE);
  grpc_connectivity_state s = grpc_channel_check_connectivity_state(ch->channel, lua_toboolean(L, 2));
  lua_pushstring(L, (unsigned)s < 5 ? names[s] : "unknown");
  return 1;
}

void co_channel_register(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"call", l_call}, {"start", l_start}, {"close", l_close}, {"state", l_state},
    {NULL, NULL},
  };
  co_new_class(L, CHANNEL_MT, methods, l_close, l_close, l_tostring);
  lua_pop(L, 1);
  co_call_register(L);
}
