/* The server side, enough to serve unary methods with Lua handlers (the emulator, the specs).
 *
 *   srv = core.server{ address = "127.0.0.1:0", tls = { cert = PEM, key = PEM } }
 *   req = srv:next(timeout)  -- { method, metadata, payload, peer, call } or nil on timeout
 *   req.call:finish(code, message, payload, trailers, status_details)
 *   srv:shutdown()
 *
 * One completion queue, driven only from srv:next, so the Lua side is single-threaded; a
 * handler that answers later keeps `req.call` and finishes it from a later turn of its loop. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>

#define SERVER_MT "cloudops.core.server"
#define CALL_MT "cloudops.core.server_call"
#define PENDING_REQUESTS 16

typedef enum { TAG_REQUEST, TAG_RECV, TAG_FINISH, TAG_SHUTDOWN } TagKind;

typedef struct Server Server;

/* One call, from grpc_server_request_call to the end of its finishing batch. */
typedef struct Call {
  TagKind kind;           /* first: events carry a pointer to this struct as tag */
  Server *server;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array request_md;
  grpc_byte_buffer *payload;
  int cancelled;
  int held;               /* a Lua call object refers to it */
  int pushing;            /* its request is being pushed to Lua (push_request) */
  int detached;           /* left by a server that shut down: only its Lua object frees it */
  struct Call *prev, *next; /* the server's list of live calls */
  grpc_slice status_details;
  grpc_metadata trailers[18];
  size_t n_trailers;
} Call;

struct Server {
  grpc_server *server;
  pid_t pid;      /* the process that started it: a child after fork() leaves it alone */
  grpc_completion_queue *cq;
  TagKind shutdown_tag;
  Call *live;
  int port;
  int shut;
  char host[128]; /* the address's host part, as given */
};

typedef struct {
  Call *c; /* NULL once finished */
} CallRef;

static Call *call_new(Server *s) {
  Call *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->server = s;
  c->status_details = grpc_empty_slice();
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->request_md);
  c->next = s->live;
  if (s->live) s->live->prev = c;
  s->live = c;
  return c;
}

static void call_unlink(Call *c) {
  Server *s = c->server;
  if (c->prev) c->prev->next = c->next; else s->live = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->detached = 1;
}

static void call_free(Call *c) {
  if (!c->detached) call_unlink(c);
  if (co_forked(c->server->pid)) { /* the parent's, in a child after fork(): gRPC's part is left alone */
    free(c);
    return;
  }
  if (c->payload) grpc_byte_buffer_destroy(c->payload);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->request_md);
  for (size_t i = 0; i < c->n_trailers; i++) {
    grpc_slice_unref(c->trailers[i].key);
    grpc_slice_unref(c->trailers[i].value);
  }
  grpc_slice_unref(c->status_details);
  if (c->call) grpc_call_unref(c->call);
  free(c);
}

/* Keeps PENDING_REQUESTS calls requested, so that new calls are accepted while others wait. */
static int request_one(Server *s) {
  Call *c = call_new(s);
  if (!c) return -1;
  c->kind = TAG_REQUEST;
  if (grpc_server_request_call(s->server, &c->call, &c->details, &c->request_md, s->cq, s->cq, c) != GRPC_CALL_OK) {
    call_free(c);
    return -1;
  }
  return 0;
}

/* Handles one event; returns the call whose request message arrived, if this was one. */
static Call *handle_event(Server *s, grpc_event ev) {
  Call *c = ev.tag;
  if (ev.type != GRPC_OP_COMPLETE || c == NULL) return NULL;
  if ((void *)c == (void *)&s->shutdown_tag) return NULL;
  switch (c->kind) {
    case TAG_REQUEST: {
      if (!ev.success) { call_free(c); return NULL; } /* shutting down */
      if (!s->shut) request_one(s);
      c->kind = TAG_RECV;
      grpc_op op;
      memset(&op, 0, sizeof op);
      op.op = GRPC_OP_RECV_MESSAGE;
      op.data.recv_message.recv_message = &c->payload;
      if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) call_free(c);
      return NULL;
    }
    case TAG_RECV:
      if (!ev.success) { call_free(c); return NULL; }
      return c;
    case TAG_FINISH:
      call_free(c);
      return NULL;
    default:
      return NULL;
  }
}

/* Pushes the request table of c, whose call object (at ref_idx, made before c was received,
 * so that c was never without an owner) owns it: a raise while the rest is built (out of
 * memory) leaves c to the garbage collector. The allocations here may run finalizers, one of
 * which may shut the server down: c's gRPC call (whose metadata is being read) is kept until
 * the end here (pushing), and released then. */
static void push_request(lua_State *L, int ref_idx, Call *c) {
  c->pushing = 1;
  lua_pushvalue(L, ref_idx);
  lua_createtable(L, 0, 5);
  lua_insert(L, -2);
  lua_setfield(L, -2, "call");
  lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(c->details.method), GRPC_SLICE_LENGTH(c->details.method));
  lua_setfield(L, -2, "method");
  co_push_metadata(L, &c->request_md);
  lua_setfield(L, -2, "metadata");
  if (c->payload) {
    grpc_byte_buffer_reader reader;
    if (grpc_byte_buffer_reader_init(&reader, c->payload)) {
      grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
      grpc_byte_buffer_reader_destroy(&reader);
      /* Copied into a Lua string before anything else may raise. */
      grpc_byte_buffer_destroy(c->payload);
      c->payload = grpc_raw_byte_buffer_create(&all, 1);
      grpc_slice_unref(all);
      grpc_slice one = c->payload->data.raw.slice_buffer.slices[0];
      lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(one), GRPC_SLICE_LENGTH(one));
      lua_setfield(L, -2, "payload");
    }
  }
  char *peer = grpc_call_get_peer(c->call), text[256];
  snprintf(text, sizeof text, "%s", peer ? peer : "");
  gpr_free(peer);
  lua_pushstring(L, text);
  lua_setfield(L, -2, "peer");
  c->pushing = 0;
  if (c->detached && c->call) { /* the server shut down meanwhile (server_shutdown) */
    grpc_call_unref(c->call);
    c->call = NULL;
  }
}

static Server *check_server(lua_State *L) {
  Server *s = luaL_checkudata(L, 1, SERVER_MT);
  if (s->shut) luaL_error(L, "the server is shut down");
  if (co_forked(s->pid)) luaL_error(L, "this server was started in the parent process, before fork()");
  return s;
}

static int l_next(lua_State *L) {
  check_server(L);
  double timeout = luaL_optnumber(L, 2, -1);
  /* The call object of the request to come, made now: between the event and its owner, no
   * allocation (no finalizer) may come. */
  CallRef *ref = lua_newuserdatauv(L, sizeof *ref, 1);
  ref->c = NULL;
  luaL_setmetatable(L, CALL_MT);
  int ref_idx = lua_gettop(L);
  lua_createtable(L, 1, 0); /* the server outlives the calls it handed out (a table: Lua 5.1's fenv) */
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_setuservalue(L, ref_idx);
  Server *s = check_server(L); /* again: a finalizer run by those allocations may have shut it */
  gpr_timespec deadline = co_deadline_after(timeout);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, deadline, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) return 0;
    Call *c = handle_event(s, ev);
    if (c) {
      ref->c = c;
      c->held = 1;
      push_request(L, ref_idx, c);
      return 1;
    }
  }
}

/* Destroys the server and drains and destroys its queue (no call may be pending on it). */
static void destroy(Server *s) {
  grpc_server_destroy(s->server);
  grpc_completion_queue_shutdown(s->cq);
  while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
  grpc_completion_queue_destroy(s->cq);
  s->server = NULL;
  s->cq = NULL;
}

static void server_shutdown(Server *s) {
  if (s->shut) return;
  s->shut = 1;
  if (co_forked(s->pid)) { /* the parent's, in a child after fork(): its sockets are the parent's */
    s->server = NULL;
    return;
  }
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
  grpc_server_cancel_all_calls(s->server);
  /* Calls Lua still holds will never be answered now: release their gRPC side; their Lua
   * objects free the rest. */
  for (Call *c = s->live, *next; c; c = next) {
    next = c->next;
    if (c->held) {
      call_unlink(c);
      if (!c->pushing) { /* else push_request, which reads it still, releases it */
        grpc_call_unref(c->call);
        c->call = NULL;
      }
    }
  }
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE && ev.tag == &s->shutdown_tag) break;
    Call *c = handle_event(s, ev);
    if (c) call_free(c); /* a request that arrived as we stopped */
  }
  destroy(s);
}

static int l_shutdown(lua_State *L) {
  server_shutdown(luaL_checkudata(L, 1, SERVER_MT));
  return 0;
}

static int l_server_tostring(lua_State *L) {
  Server *s = luaL_checkudata(L, 1, SERVER_MT);
  lua_pushfstring(L, "cloudops server (%s:%d, %s)", s->host, s->port, s->shut ? "shut down" : "serving");
  return 1;
}

static int l_server_index(lua_State *L) {
  Server *s = luaL_checkudata(L, 1, SERVER_MT);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "port") == 0) { lua_pushinteger(L, s->port); return 1; }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, k);
  return 1;
}

/* A TLS field, left on the stack so that it stays alive (an __index may make it afresh). */
static const char *tls_field(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "server tls.%s must be PEM text", name);
  return lua_tostring(L, -1);
}

int co_server_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "address"); /* kept on the stack while gRPC reads it */
  size_t address_len;
  const char *address = lua_isnil(L, -1) ? "127.0.0.1:0" : lua_tolstring(L, -1, &address_len);
  if (!address || (!lua_isnil(L, -1) && strlen(address) != address_len))
    return luaL_error(L, "server address must be a \"host:port\" string");
  lua_getfield(L, 1, "tls");
  int tls = lua_gettop(L);
  const char *cert = NULL, *key = NULL;
  if (!lua_isnil(L, tls)) {
    luaL_checktype(L, tls, LUA_TTABLE);
    cert = tls_field(L, tls, "cert");
    key = tls_field(L, tls, "key");
  }
  Server *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  s->shut = 1; /* until started */
  const char *colon = strrchr(address, ':');
  snprintf(s->host, sizeof s->host, "%.*s", colon ? (int)(colon - address) : (int)strlen(address), address);
  s->shutdown_tag = TAG_SHUTDOWN;
  s->pid = co_pid();
  luaL_setmetatable(L, SERVER_MT);

  co_grpc_init();
  if (co_grpc_inherited()) {
    lua_pushnil(L);
    lua_pushstring(L, "cannot serve in a process forked after gRPC started in its parent: " CO_FORK_ADVICE);
    return 2;
  }
  /* Without SO_REUSEPORT a port in use is an error, not a second server sharing it. */
  grpc_arg no_reuse = {GRPC_ARG_INTEGER, GRPC_ARG_ALLOW_REUSEPORT, {.integer = 0}};
  grpc_channel_args server_args = {1, &no_reuse};
  s->server = grpc_server_create(&server_args, NULL);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  grpc_server_credentials *creds;
  if (cert) {
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    creds = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
  } else {
    creds = grpc_insecure_server_credentials_create();
  }
  s->port = grpc_server_add_http2_port(s->server, address, creds);
  grpc_server_credentials_release(creds);
  if (s->port == 0) {
    destroy(s);
    lua_pushnil(L);
    lua_pushfstring(L, "cannot listen on %s%s", address, cert ? " (or the TLS certificate/key is invalid)" : "");
    return 2;
  }
  grpc_server_start(s->server);
  s->shut = 0;
  for (int i = 0; i < PENDING_REQUESTS; i++) request_one(s);
  return 1;
}

/* ---- calls -------------------------------------------------------------------------------- */

static int l_finish(lua_State *L) {
  CallRef *ref = luaL_checkudata(L, 1, CALL_MT);
  lua_Integer code = luaL_checkinteger(L, 2);
  size_t msg_len, payload_len = 0, details_len = 0;
  const char *message = luaL_optlstring(L, 3, "", &msg_len);
  const char *payload = luaL_optlstring(L, 4, NULL, &payload_len);
  const char *details = luaL_optlstring(L, 6, NULL, &details_len);
  luaL_argcheck(L, code >= 0 && code <= 16, 2, "a gRPC status code (0..16)");
  if (!lua_isnoneornil(L, 5)) luaL_checktype(L, 5, LUA_TTABLE);
  Call *c = ref->c;
  if (!c) return luaL_error(L, "this call is already finished");
  if (co_forked(c->server->pid)) return luaL_error(L, "this call was received in the parent process, before fork()");
  size_t n = 0; /* validate the trailers before anything is allocated */
  if (!lua_isnoneornil(L, 5)) {
    lua_pushnil(L);
    while (lua_next(L, 5)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "trailers must map names to string values");
      if (++n > 16) return luaL_error(L, "at most 16 trailers");
      lua_pop(L, 1);
    }
  }
  ref->c = NULL;
  c->held = 0;
  if (c->detached) { /* the server stopped meanwhile: nothing to send */
    call_free(c);
    return 0;
  }
  c->kind = TAG_FINISH;
  lua_pushnil(L);
  while (n && lua_next(L, 5)) {
    size_t kl, vl;
    const char *k = lua_tolstring(L, -2, &kl), *v = lua_tolstring(L, -1, &vl);
    c->trailers[c->n_trailers].key = grpc_slice_from_copied_buffer(k, kl);
    c->trailers[c->n_trailers].value = grpc_slice_from_copied_buffer(v, vl);
    c->n_trailers++;
    lua_pop(L, 1);
  }
  if (details) {
    c->trailers[c->n_trailers].key = grpc_slice_from_static_string("grpc-status-details-bin");
    c->trailers[c->n_trailers].value = grpc_slice_from_copied_buffer(details, details_len);
    c->n_trailers++;
  }
  c->status_details = grpc_slice_from_copied_buffer(message, msg_len);
  grpc_byte_buffer *resp = NULL;
  if (payload && code == 0) {
    grpc_slice s = grpc_slice_from_copied_buffer(payload, payload_len);
    resp = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
  }
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t nops = 0;
  ops[nops++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (resp) {
    ops[nops].op = GRPC_OP_SEND_MESSAGE;
    ops[nops++].data.send_message.send_message = resp;
  }
  ops[nops].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[nops].data.send_status_from_server.status = (grpc_status_code)code;
  ops[nops].data.send_status_from_server.status_details = &c->status_details;
  ops[nops].data.send_status_from_server.trailing_metadata_count = c->n_trailers;
  ops[nops++].data.send_status_from_server.trailing_metadata = c->trailers;
  ops[nops].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[nops++].data.recv_close_on_server.cancelled = &c->cancelled;
  grpc_call_error err = grpc_call_start_batch(c->call, ops, nops, c, NULL);
  if (resp) grpc_byte_buffer_destroy(resp); /* the batch holds its own reference */
  if (err != GRPC_CALL_OK) {
    call_free(c);
    return luaL_error(L, "cannot answer the call (gRPC error %d)", (int)err);
  }
  return 0;
}

/* A call dropped by Lua without an answer is cancelled, never left hanging. */
static int l_call_gc(lua_State *L) {
  CallRef *ref = luaL_checkudata(L, 1, CALL_MT);
  Call *c = ref->c;
  ref->c = NULL;
  if (!c) return 0;
  c->held = 0;
  if (c->call && !co_forked(c->server->pid))
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_CANCELLED, "dropped by the server", NULL);
  call_free(c);
  return 0;
}

static int l_call_tostring(lua_State *L) {
  CallRef *ref = luaL_checkudata(L, 1, CALL_MT);
  lua_pushstring(L, ref->c ? "cloudops server call (pending)" : "cloudops server call (finished)");
  return 1;
}

static int l_server_gc(lua_State *L) {
  Server *s = luaL_checkudata(L, 1, SERVER_MT);
  if (s->server) server_shutdown(s);
  return 0;
}

void co_server_register(lua_State *L) {
  static const luaL_Reg server_methods[] = {
    {"next", l_next}, {"shutdown", l_shutdown}, {NULL, NULL},
  };
  static const luaL_Reg call_methods[] = {{"finish", l_finish}, {NULL, NULL}};
  co_new_class(L, SERVER_MT, server_methods, l_server_gc, l_server_gc, l_server_tostring);
  /* A server also shows its port as a field: __index looks there first, then at the methods. */
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -2, "methods");
  lua_pushcfunction(L, l_server_index);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  co_new_class(L, CALL_MT, call_methods, l_call_gc, NULL, l_call_tostring);
  lua_pop(L, 1);
}
