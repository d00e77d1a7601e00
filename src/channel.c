/* The client side: a gRPC channel and the unary call, as one batch of six ops on a pluck queue.
 *
 *   ch = core.channel(target, { insecure =, root_certs =, server_name =, cert_chain =,
 *                               private_key =, user_agent =, keepalive_time =,
 *                               keepalive_timeout =, max_receive_size =, proxy = })
 *   resp, code, message, headers, trailers = ch:call(method, payload, timeout, metadata)
 *
 * `resp` is the decoded response table, or nil when the call failed (code ~= 0). Metadata is a
 * table from lowercase name to string value. Runtime failures are returned; bad arguments
 * raise. */
#include "core.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>

#define CHANNEL_MT "cloudops.core.channel"
#define MAX_METADATA 32

typedef struct {
  grpc_channel *channel;
  grpc_completion_queue *cq;
  void **registered; /* per method index: grpc_channel_register_call handles, made on first use */
  unsigned n_methods;
  char target[256];
} Channel;

static Channel *check_channel(lua_State *L) {
  Channel *ch = luaL_checkudata(L, 1, CHANNEL_MT);
  if (!ch->channel) luaL_error(L, "the client is closed");
  return ch;
}

static void channel_close(Channel *ch) {
  if (!ch->channel) return;
  grpc_channel_destroy(ch->channel);
  ch->channel = NULL;
  /* Calls are synchronous, so nothing is pending on the queue. */
  grpc_completion_queue_shutdown(ch->cq);
  grpc_completion_queue_destroy(ch->cq);
  ch->cq = NULL;
  free(ch->registered);
  ch->registered = NULL;
}

static int l_close(lua_State *L) {
  channel_close(luaL_checkudata(L, 1, CHANNEL_MT));
  return 0;
}

static int l_tostring(lua_State *L) {
  Channel *ch = luaL_checkudata(L, 1, CHANNEL_MT);
  lua_pushfstring(L, "cloudops channel (%s, %s)", ch->target, ch->channel ? "open" : "closed");
  return 1;
}

static const char *opt_string(lua_State *L, int opts, const char *name) {
  lua_getfield(L, opts, name);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "channel option '%s' must be a string", name);
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* the string stays alive in the options table */
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
    if (v < 0) luaL_error(L, "channel option '%s' must not be negative", name);
  }
  lua_pop(L, 1);
  return v;
}

static int ms(double seconds) { return seconds * 1000 > INT_MAX ? INT_MAX : (int)(seconds * 1000); }

int co_channel_new(lua_State *L) {
  size_t target_len;
  const char *target = luaL_checklstring(L, 1, &target_len);
  luaL_argcheck(L, target_len > 0 && target_len < sizeof(((Channel *)0)->target), 1, "bad target length");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "insecure");
  int insecure = lua_toboolean(L, -1);
  lua_pop(L, 1);
  const char *roots = opt_string(L, 2, "root_certs");
  const char *server_name = opt_string(L, 2, "server_name");
  const char *cert_chain = opt_string(L, 2, "cert_chain");
  const char *private_key = opt_string(L, 2, "private_key");
  const char *user_agent = opt_string(L, 2, "user_agent");
  const char *proxy = opt_string(L, 2, "proxy");
  lua_getfield(L, 2, "proxy");
  int no_proxy = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  double ka_time = opt_number(L, 2, "keepalive_time");
  double ka_timeout = opt_number(L, 2, "keepalive_timeout");
  double max_recv = opt_number(L, 2, "max_receive_size");
  if ((cert_chain == NULL) != (private_key == NULL))
    return luaL_error(L, "a client certificate needs both cert_chain and private_key");

  grpc_arg args[8];
  size_t n = 0;
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

  Channel *ch = lua_newuserdatauv(L, sizeof *ch, 0);
  memset(ch, 0, sizeof *ch);
  memcpy(ch->target, target, target_len + 1);
  luaL_setmetatable(L, CHANNEL_MT);
  const ProtobufCServiceDescriptor *svc = co_schema_service();
  ch->n_methods = svc ? svc->n_methods : 0;
  ch->registered = calloc(ch->n_methods ? ch->n_methods : 1, sizeof *ch->registered);
  if (!ch->registered) return luaL_error(L, "out of memory");

  co_grpc_init();
  grpc_channel_credentials *creds;
  if (insecure) {
    creds = grpc_insecure_credentials_create();
  } else {
    grpc_ssl_pem_key_cert_pair pair = {private_key, cert_chain};
    creds = grpc_ssl_credentials_create(roots, cert_chain ? &pair : NULL, NULL, NULL);
  }
  ch->channel = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  ch->cq = grpc_completion_queue_create_for_pluck(NULL);
  return 1;
}

/* Copies the metadata table at idx into md (at most MAX_METADATA entries); raises on a bad
 * name or value before anything is allocated. */
static size_t check_metadata(lua_State *L, int idx) {
  size_t n = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "metadata must map names (strings) to values (strings)");
    size_t klen, vlen;
    const char *k = lua_tolstring(L, -2, &klen);
    const char *v = lua_tolstring(L, -1, &vlen);
    grpc_slice ks = grpc_slice_from_static_buffer(k, klen), vs = grpc_slice_from_static_buffer(v, vlen);
    if (!grpc_header_key_is_legal(ks))
      luaL_error(L, "metadata name '%s' is not a valid lowercase header name", k);
    if (!grpc_is_binary_header(ks) && !grpc_header_nonbin_value_is_legal(vs))
      luaL_error(L, "metadata value of '%s' holds characters a header cannot carry", k);
    if (++n > MAX_METADATA) luaL_error(L, "at most %d metadata entries per call", MAX_METADATA);
    lua_pop(L, 1);
  }
  return n;
}

static int l_call(lua_State *L) {
  Channel *ch = check_channel(L);
  lua_Integer index = luaL_checkinteger(L, 2);
  size_t payload_len;
  const char *payload = luaL_checklstring(L, 3, &payload_len);
  double timeout = luaL_optnumber(L, 4, -1);
  luaL_argcheck(L, index >= 1 && (lua_Unsigned)index <= ch->n_methods, 2, "no such method index");
  size_t n_md = check_metadata(L, 5);
  const ProtobufCServiceDescriptor *svc = co_schema_service();
  const ProtobufCMethodDescriptor *md = &svc->methods[index - 1];
  const CoMessage *out = co_schema_message(md->output);
  /* From here on, nothing raises until every gRPC resource is released. */

  if (!ch->registered[index - 1]) {
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", svc->name, md->name);
    ch->registered[index - 1] = grpc_channel_register_call(ch->channel, path, NULL, NULL);
  }
  grpc_call *call = grpc_channel_create_registered_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, ch->cq,
                                                        ch->registered[index - 1], co_deadline_after(timeout), NULL);

  grpc_metadata send_md[MAX_METADATA];
  size_t i = 0;
  if (n_md) {
    lua_pushnil(L);
    while (lua_next(L, 5)) {
      size_t klen, vlen;
      const char *k = lua_tolstring(L, -2, &klen);
      const char *v = lua_tolstring(L, -1, &vlen);
      memset(&send_md[i], 0, sizeof send_md[i]);
      send_md[i].key = grpc_slice_from_copied_buffer(k, klen);
      send_md[i].value = grpc_slice_from_copied_buffer(v, vlen);
      i++;
      lua_pop(L, 1);
    }
  }
  grpc_slice req_slice = grpc_slice_from_copied_buffer(payload, payload_len);
  grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&req_slice, 1);
  grpc_slice_unref(req_slice);

  grpc_metadata_array headers, trailers;
  grpc_metadata_array_init(&headers);
  grpc_metadata_array_init(&trailers);
  grpc_byte_buffer *resp = NULL;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  const char *error_string = NULL;

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = n_md;
  ops[0].data.send_initial_metadata.metadata = send_md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &headers;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &resp;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  ops[5].data.recv_status_on_client.error_string = &error_string;

  grpc_call_error err = grpc_call_start_batch(call, ops, 6, ops, NULL);
  if (err == GRPC_CALL_OK) {
    grpc_event ev = grpc_completion_queue_pluck(ch->cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE) status = GRPC_STATUS_INTERNAL;
  } else {
    status = GRPC_STATUS_INTERNAL;
  }
  grpc_byte_buffer_destroy(req);
  for (size_t j = 0; j < i; j++) {
    grpc_slice_unref(send_md[j].key);
    grpc_slice_unref(send_md[j].value);
  }

  /* The response, decoded (the arena holds it; it never raises but for lack of memory). */
  int decoded = 0;
  if (status == GRPC_STATUS_OK && resp) {
    grpc_byte_buffer_reader reader;
    if (grpc_byte_buffer_reader_init(&reader, resp)) {
      grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
      grpc_byte_buffer_reader_destroy(&reader);
      decoded = co_decode_bytes(L, co_state(L), out, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all)) == 0;
      grpc_slice_unref(all);
    }
  }
  if (decoded) {
    lua_pushinteger(L, 0);
    lua_pushnil(L);
  } else {
    lua_pushnil(L);
    if (status == GRPC_STATUS_OK) {
      lua_pushinteger(L, GRPC_STATUS_INTERNAL);
      lua_pushfstring(L, resp ? "malformed response: not a valid %s" : "the server sent no response message",
                      md->output->name);
    } else {
      lua_pushinteger(L, status);
      size_t dlen = GRPC_SLICE_LENGTH(details);
      if (dlen) lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(details), dlen);
      else if (error_string) lua_pushstring(L, error_string);
      else lua_pushliteral(L, "");
    }
  }
  co_push_metadata(L, &headers);
  co_push_metadata(L, &trailers);

  if (resp) grpc_byte_buffer_destroy(resp);
  grpc_slice_unref(details);
  gpr_free((void *)error_string);
  grpc_metadata_array_destroy(&headers);
  grpc_metadata_array_destroy(&trailers);
  grpc_call_unref(call);
  return 5;
}

/* The connection state, for tools and tests: "idle", "connecting", "ready", ... */
static int l_state(lua_State *L) {
  static const char *const names[] = {"idle", "connecting", "ready", "transient_failure", "shutdown"};
  Channel *ch = check_channel(L);
  grpc_connectivity_state s = grpc_channel_check_connectivity_state(ch->channel, lua_toboolean(L, 2));
  lua_pushstring(L, (unsigned)s < 5 ? names[s] : "unknown");
  return 1;
}

void co_channel_register(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"call", l_call}, {"close", l_close}, {"state", l_state}, {NULL, NULL},
  };
  co_new_class(L, CHANNEL_MT, methods, l_close, l_close, l_tostring);
  lua_pop(L, 1);
}
