/* A unary call in flight: one batch of six ops, its tag the call itself (see call.h).
 *
 *   h = ch:start(method_index, payload, timeout, metadata)   -- the handle of a started call
 *   h:done()      -> whether its completion has arrived
 *   h:result()    -> resp, code, message, headers, trailers (once; the call is then released)
 *   h:cancel()    -- the call completes soon with CANCELLED
 *   md = core.metadata(table)  -- metadata checked and copied once, for many calls
 */
#include "call.h"

#include <stdlib.h>
#include <string.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>

#define CALL_MT "cloudops.core.call"
#define METADATA_MT "cloudops.core.metadata"

typedef struct {
  CoCall *c; /* NULL once released (result taken, or collected) */
  int busy;  /* its result is being taken: a finalizer that asks for it again meanwhile is refused */
} CallHandle;

/* Whether c was started by the parent process of this one (a child after fork()): its gRPC
 * objects and its answer are the parent's, and nothing of them is touched here. */
static int parents_call(const CoCall *c) { return c->q && co_forked(c->q->pid); }

static void metadata_unref(CoMetadata *md) {
  if (--md->refs > 0) return;
  for (size_t i = 0; i < md->n; i++) {
    grpc_slice_unref(md->md[i].key);
    grpc_slice_unref(md->md[i].value);
  }
  free(md);
}

static void call_free(CoCall *c) {
  if (!parents_call(c)) {
    if (c->call) grpc_call_unref(c->call);
    if (c->req) grpc_byte_buffer_destroy(c->req);
    if (c->resp) grpc_byte_buffer_destroy(c->resp);
    for (size_t i = 0; i < c->n_md; i++) {
      grpc_slice_unref(c->send_md[i].key);
      grpc_slice_unref(c->send_md[i].value);
    }
    if (c->shared_md) metadata_unref(c->shared_md);
    grpc_metadata_array_destroy(&c->headers);
    grpc_metadata_array_destroy(&c->trailers);
    grpc_slice_unref(c->details);
    gpr_free((void *)c->error_string);
  }
  if (c->q) co_queue_unref(c->q); /* NULL: co_call_start raised before it set it */
  switch (c->memory) {
    case CALL_IN_USERDATA: break; /* the collector's */
    case CALL_SPARE: /* its channel's next blocking call takes it, while the channel is open */
      if (c->home->q && !c->home->spare) {
        c->home->spare = c;
        break;
      }
      /* fall through */
    default: free(c);
  }
}

static void unlink_live(CoCall *c) {
  CoChannel *ch = c->ch;
  if (!ch) return;
  if (c->live_prev) c->live_prev->live_next = c->live_next; else ch->live = c->live_next;
  if (c->live_next) c->live_next->live_prev = c->live_prev;
  c->live_prev = c->live_next = NULL;
  c->ch = NULL;
}

static void unlink_ready(CoCall *c) {
  if (!c->ready) return;
  CoQueue *q = c->q;
  CoCall **p = &q->ready_head, *prev = NULL;
  while (*p && *p != c) { prev = *p; p = &(*p)->ready_next; }
  if (*p) *p = c->ready_next;
  if (q->ready_tail == c) q->ready_tail = prev;
  c->ready_next = NULL;
  c->ready = 0;
}

/* The completion of c's batch arrived (from whoever waits on the queue). */
void co_call_complete(CoQueue *q, CoCall *c, int success) {
  c->in_flight = 0;
  q->in_flight--;
  unlink_live(c);
  if (!success && !c->local_error) {
    c->status = GRPC_STATUS_INTERNAL;
    c->local_error = "the call's operations failed";
  }
  if (!c->owned) { call_free(c); return; }
  if (c->async) {
    c->ready = 1;
    if (q->ready_tail) q->ready_tail->ready_next = c; else q->ready_head = c;
    q->ready_tail = c;
  }
}

void co_call_release(CoCall *c) {
  c->owned = 0;
  unlink_ready(c);
  /* A parent's call still in flight in a child never completes here: it is left as it is. */
  if (!c->in_flight) call_free(c);
}

void co_call_cancel(CoCall *c, grpc_status_code status, const char *message) {
  if (c->in_flight && c->call && !parents_call(c)) grpc_call_cancel_with_status(c->call, status, message, NULL);
}

/* ---- starting ------------------------------------------------------------------------------ */

/* Checks the metadata table at idx (names and values that a header can carry); raises on a bad
 * one. Returns how many entries it has. Allocates nothing but the error it raises. */
static size_t check_metadata(lua_State *L, int idx) {
  size_t n = 0;
  if (idx == 0 || lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  luaL_checkstack(L, 4, "cannot check metadata: Lua stack full");
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
    if (++n > CO_MAX_METADATA) luaL_error(L, "at most %d metadata entries per call", CO_MAX_METADATA);
    lua_pop(L, 1);
  }
  return n;
}

/* Copies the n entries of the (checked) metadata table at idx into md, at most n of them
 * (lua_next's order). Allocates nothing in Lua. Returns how many it copied. */
static size_t copy_metadata(lua_State *L, int idx, grpc_metadata *md, size_t n) {
  size_t i = 0;
  if (!n) return 0;
  lua_pushnil(L);
  while (i < n && lua_next(L, idx)) {
    size_t klen, vlen;
    const char *k = lua_tolstring(L, -2, &klen);
    const char *v = lua_tolstring(L, -1, &vlen);
    md[i].key = grpc_slice_from_copied_buffer(k, klen);
    md[i].value = grpc_slice_from_copied_buffer(v, vlen);
    i++;
    lua_pop(L, 1);
  }
  if (i == n) lua_pop(L, 1); /* the key lua_next was about to step from */
  return i;
}

typedef struct {
  CoMetadata *md; /* NULL until made (a raise may come first) */
} MetadataRef;

/* The prepared metadata at idx, or NULL when the value there is not a core.metadata object. */
static CoMetadata *test_metadata(lua_State *L, int idx) {
  MetadataRef *r = luaL_testudata(L, idx, METADATA_MT);
  return r ? r->md : NULL;
}

int co_l_metadata(lua_State *L) {
  size_t n = check_metadata(L, 1);
  if (lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  MetadataRef *r = lua_newuserdatauv(L, sizeof *r, 0);
  r->md = NULL;
  luaL_setmetatable(L, METADATA_MT);
  /* The allocations above may have run finalizers that changed the table: checked again, and
   * nothing below allocates in Lua. */
  if (check_metadata(L, 1) != n)
    return luaL_error(L, "the metadata table changed while it was being copied (by a finalizer run meanwhile)");
  CoMetadata *md = malloc(sizeof *md + (n ? n : 1) * sizeof md->md[0]);
  if (!md) return luaL_error(L, "out of memory");
  md->refs = 1;
  md->n = copy_metadata(L, 1, md->md, n);
  r->md = md;
  return 1;
}

static int l_metadata_gc(lua_State *L) {
  MetadataRef *r = luaL_checkudata(L, 1, METADATA_MT);
  if (r->md) metadata_unref(r->md);
  r->md = NULL;
  return 0;
}

static int l_metadata_tostring(lua_State *L) {
  MetadataRef *r = luaL_checkudata(L, 1, METADATA_MT);
  /* the names only: values are often secrets (a bearer token) */
  lua_pushfstring(L, "cloudops metadata (%d entries)", r->md ? (int)r->md->n : 0);
  return 1;
}

/* Zeroes c (its metadata copy aside) and sets what every call starts with. */
static void call_init(CoCall *c, lua_Integer index, unsigned memory) {
  memset(c, 0, sizeof *c);
  c->memory = memory;
  c->owned = 1;
  c->details = grpc_empty_slice();
  c->status = GRPC_STATUS_UNKNOWN;
  grpc_metadata_array_init(&c->headers);
  grpc_metadata_array_init(&c->trailers);
  c->md = &co_schema_service()->methods[index - 1];
  c->out = co_schema_method_output((unsigned)index - 1);
}

/* A call that failed before it was sent: complete at once (an async one is reported by the
 * next poll, like any completion). */
static void fail_at_start(CoCall *c, grpc_status_code status, const char *message) {
  c->status = status;
  c->local_error = message;
  if (c->async) {
    c->ready = 1;
    if (c->q->ready_tail) c->q->ready_tail->ready_next = c; else c->q->ready_head = c;
    c->q->ready_tail = c;
  }
}

static void *registered_method(CoChannel *ch, lua_Integer index) {
  if (!ch->registered[index - 1]) {
    const ProtobufCServiceDescriptor *svc = co_schema_service();
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", svc->name, svc->methods[index - 1].name);
    ch->registered[index - 1] = grpc_channel_register_call(ch->channel, path, NULL, NULL);
  }
  return ch->registered[index - 1];
}

CoCall *co_call_start(lua_State *L, CoChannel *ch, lua_Integer index, const char *payload,
                      size_t payload_len, double timeout, int md_idx, int async) {
  luaL_argcheck(L, index >= 1 && (lua_Unsigned)index <= ch->n_methods, 2, "no such method index");
  CoMetadata *shared = md_idx && !lua_istable(L, md_idx) ? test_metadata(L, md_idx) : NULL;
  /* bad metadata raises before anything is allocated */
  size_t n_md = shared ? 0 : check_metadata(L, md_idx);
  size_t size = sizeof(CoCall) + n_md * sizeof(grpc_metadata);
  CoCall *c = NULL;
  if (async) {
    /* The handle first: if Lua runs out of memory here, nothing of gRPC's exists yet; from now
     * on the handle owns the call, so a raise leaves it to the garbage collector. */
    CallHandle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->c = NULL;
    h->busy = 0;
    luaL_setmetatable(L, CALL_MT);
    c = calloc(1, size);
    if (!c) luaL_error(L, "out of memory");
    h->c = c;
    call_init(c, index, CALL_HEAP);
    c->async = 1;
    /* the weak table through which core.poll hands back its handle */
    co_queue_push_handles(L);
    lua_pushlightuserdata(L, c);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  } else if (!shared) {
    /* A blocking call with a metadata table lives, with its copy of the table, in a userdata
     * on its ch:call's stack, which no Lua code sees: it stays there until the call has
     * completed and been released (co_call_finish), and a raise before the call is sent
     * leaves it to the collector, nothing of gRPC's made yet. */
    c = lua_newuserdatauv(L, size, 0);
    call_init(c, index, CALL_IN_USERDATA);
  }
  /* Each allocation above may have run finalizers, which may have closed the channel or changed
   * the metadata table. Nothing below allocates in Lua (but the error raised), so what is
   * checked now holds until the call is sent. (A prepared metadata object cannot change, and
   * the stack keeps it.) */
  if (!ch->q) luaL_error(L, "the client is closed");
  if (!shared && check_metadata(L, md_idx) != n_md)
    luaL_error(L, "the metadata table changed while the call was being started (by a finalizer run meanwhile)");
  /* The channel's queue is the state's; but a call on the parent's channel, in a child after
   * fork(), goes on the child's queue (made here, perhaps: the allocation and its finalizers
   * matter no more, the call failing at once), so that the child's core.poll reports it. */
  CoQueue *q = co_forked(ch->pid) ? co_queue(L) : ch->q;
  if (!c) {
    /* A blocking call with prepared metadata (the client's) needs no Lua object: it takes its
     * channel's spare call (made the first time), given back when it is released. Nothing
     * was allocated in Lua before it, nothing raises after it until the call completes, and
     * co_call_finish releases it whatever pushing the result raises. */
    c = ch->spare;
    ch->spare = NULL;
    if (!c && !(c = malloc(sizeof *c))) luaL_error(L, "out of memory");
    call_init(c, index, CALL_SPARE);
    c->home = ch;
  }
  c->q = q;
  co_queue_ref(c->q);
  /* From here on nothing raises. */
  if (co_forked(ch->pid)) {
    fail_at_start(c, GRPC_STATUS_FAILED_PRECONDITION, "this client was connected in the parent process, "
                  "before fork(): " CO_FORK_ADVICE);
    return c;
  }
  if (!ch->channel) {
    fail_at_start(c, GRPC_STATUS_FAILED_PRECONDITION, "this client was connected in a process forked after "
                  "gRPC started in its parent: " CO_FORK_ADVICE);
    return c;
  }
  grpc_metadata *send_md = c->send_md;
  size_t send_n;
  if (shared) {
    shared->refs++;
    c->shared_md = shared;
    send_md = shared->md;
    send_n = shared->n;
  } else {
    send_n = c->n_md = copy_metadata(L, md_idx, c->send_md, n_md);
  }
  grpc_slice req_slice = grpc_slice_from_copied_buffer(payload, payload_len);
  c->req = grpc_raw_byte_buffer_create(&req_slice, 1);
  grpc_slice_unref(req_slice);
  c->call = grpc_channel_create_registered_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, ch->q->cq,
                                                registered_method(ch, index), co_deadline_after(timeout), NULL);
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = send_n;
  ops[0].data.send_initial_metadata.metadata = send_md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = c->req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->headers;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &c->resp;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &c->trailers;
  ops[5].data.recv_status_on_client.status = &c->status;
  ops[5].data.recv_status_on_client.status_details = &c->details;
  ops[5].data.recv_status_on_client.error_string = &c->error_string;
  if (grpc_call_start_batch(c->call, ops, 6, c, NULL) == GRPC_CALL_OK) {
    c->in_flight = 1;
    c->q->in_flight++;
    c->ch = ch;
    c->live_next = ch->live;
    if (ch->live) ch->live->live_prev = c;
    ch->live = c;
  } else {
    fail_at_start(c, GRPC_STATUS_INTERNAL, "gRPC refused to start the call");
  }
  return c;
}

/* ---- results ------------------------------------------------------------------------------- */

/* The response's bytes, in one piece owned by c (a raise while decoding leaves them to c). */
static int response_bytes(CoCall *c, const uint8_t **data, size_t *len) {
  grpc_byte_buffer *b = c->resp;
  if (b->type == GRPC_BB_RAW && b->data.raw.compression == GRPC_COMPRESS_NONE &&
      b->data.raw.slice_buffer.count <= 1) {
    if (b->data.raw.slice_buffer.count == 0) { /* an empty message */
      *data = NULL;
      *len = 0;
      return 1;
    }
    grpc_slice s = b->data.raw.slice_buffer.slices[0];
    *data = GRPC_SLICE_START_PTR(s);
    *len = GRPC_SLICE_LENGTH(s);
    return 1;
  }
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, b)) return 0;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  grpc_byte_buffer *one = grpc_raw_byte_buffer_create(&all, 1);
  grpc_slice_unref(all);
  grpc_byte_buffer_destroy(b);
  c->resp = one;
  return response_bytes(c, data, len);
}

typedef struct {
  CoCall *c;
  CoState *st;
  int decoding; /* its answer is being decoded */
  int nomem;    /* Lua ran out of memory while its answer was decoded: say so, without decoding */
} Taking;

static int push_result(lua_State *L, Taking *t) {
  CoCall *c = t->c;
  int rc = 1; /* no response message */
  size_t len = 0;
  if (c->status == GRPC_STATUS_OK && c->resp) {
    const uint8_t *data;
    if (!response_bytes(c, &data, &len)) {
      rc = -1;
    } else if (t->nomem) {
      rc = CO_DECODE_NOMEM;
    } else {
      /* A memory error while the answer is decoded is the call's failure, not a raise: it ends
       * this function's lua_pcall with LUA_ERRMEM, and the caller pushes the failure then
       * (push_result_protected), rather than a pcall of its own for every answer. */
      t->decoding = 1;
      rc = co_decode_bytes(L, t->st, c->out, data, len, 1);
      t->decoding = 0;
    }
  }
  if (rc == 0) {
    lua_pushinteger(L, 0);
    lua_pushnil(L);
  } else {
    lua_pushnil(L);
    if (c->status == GRPC_STATUS_OK) {
      lua_pushinteger(L, GRPC_STATUS_INTERNAL);
      if (rc == 1)
        lua_pushliteral(L, "the server ended the call with status OK but sent no complete response "
                           "message (none, or one shorter than its length prefix said)");
      else if (rc == CO_DECODE_NOMEM)
        lua_pushfstring(L, "cannot decode the answer (a %s of %d bytes): %s", c->md->output->name,
                        (int)len, co_decode_strerror(rc));
      else
        lua_pushfstring(L, "malformed response: not a valid %s (%s)", c->md->output->name,
                        co_decode_strerror(rc));
    } else {
      lua_pushinteger(L, c->status);
      size_t dlen = GRPC_SLICE_LENGTH(c->details);
      if (c->local_error) lua_pushstring(L, c->local_error);
      else if (dlen) lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(c->details), dlen);
      else if (c->error_string) lua_pushstring(L, c->error_string);
      else lua_pushliteral(L, "");
    }
  }
  co_push_metadata(L, &c->headers);
  co_push_metadata(L, &c->trailers);
  return 5;
}

/* The result of a parent's call, in a child after fork(): refused, without a look at what
 * gRPC wrote (or is writing, in the parent) into it. */
static int push_parents_result(lua_State *L) {
  lua_pushnil(L);
  lua_pushinteger(L, GRPC_STATUS_FAILED_PRECONDITION);
  lua_pushliteral(L, "this call was started in the parent process, before fork(): its answer is the parent's");
  lua_newtable(L);
  lua_newtable(L);
  return 5;
}

/* ---- the handle ---------------------------------------------------------------------------- */

/* The call of the handle at idx, checked: raises for a handle whose result was taken. */
static CoCall *check_call(lua_State *L, int idx) {
  CallHandle *h = luaL_checkudata(L, idx, CALL_MT);
  if (!h->c) luaL_error(L, "this call's result was already taken");
  return h->c;
}

static int l_done(lua_State *L) {
  CoCall *c = check_call(L, 1);
  lua_pushboolean(L, !c->in_flight || parents_call(c));
  return 1;
}

/* Run by lua_pcall with a light userdata Taking (the function made once per state,
 * CoState.result_ref): pushes resp, code, message, headers, trailers for a completed call
 * (resp nil on failure, a memory error while its answer is decoded included). */
static int push_result_in_pcall(lua_State *L) {
  Taking *t = lua_touserdata(L, 1);
  lua_pop(L, 1);
  return push_result(L, t);
}

/* Pushes c's result, protected: returns lua_pcall's status (the error on top when not 0). */
static int push_result_protected(lua_State *L, CoCall *c) {
  CoState *st = co_state(L);
  Taking t = {c, st, 0, 0};
  luaL_checkstack(L, 8, "cannot take a call's result: Lua stack full");
  for (;;) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->result_ref); /* made once: pushing it allocates nothing */
    lua_pushlightuserdata(L, &t);
    int status = lua_pcall(L, 1, 5, 0);
    if (status != LUA_ERRMEM || !t.decoding) return status;
    lua_pop(L, 1); /* out of memory while decoding: the call's failure, pushed without the answer */
    t.decoding = 0;
    t.nomem = 1;
  }
}

int co_call_finish(lua_State *L, CoCall *c) {
  /* Nothing but this frame can reach c (no handle, and it is off the channel's live list), so a
   * finalizer run by the results' allocations cannot take or free it. (A blocking call never
   * spans a fork(): it is never the parent's.) */
  int status = push_result_protected(L, c);
  co_call_release(c);
  return status == 0 ? 5 : lua_error(L);
}

/* h:result(): the call's result, taken once (the call is then released). */
static int l_result(lua_State *L) {
  CallHandle *h = luaL_checkudata(L, 1, CALL_MT);
  if (h->busy)
    return luaL_error(L, "this call's result is being taken (h:result() was called again, by a finalizer run "
                         "meanwhile): it is given once");
  if (!h->c) return luaL_error(L, "this call's result was already taken");
  CoCall *c = h->c;
  if (parents_call(c)) {
    h->c = NULL;
    co_call_release(c);
    return push_parents_result(L);
  }
  if (c->in_flight) return luaL_error(L, "the call is still in flight (wait for core.poll to return it)");
  /* The results allocate, and so may run finalizers: one that takes this handle's result
   * again is refused (busy), and nothing else frees c while the handle holds it. They are
   * pushed protected, so that the handle is never left busy: after a raise (out of memory
   * while the metadata is pushed) the call is still the handle's, whole, for a second try or
   * for the collector. */
  h->busy = 1;
  int status = push_result_protected(L, c);
  h->busy = 0;
  if (status != 0) return lua_error(L);
  h->c = NULL;
  co_call_release(c);
  return 5;
}

static int l_cancel(lua_State *L) {
  CoCall *c = check_call(L, 1);
  co_call_cancel(c, GRPC_STATUS_CANCELLED, "cancelled by the client");
  return 0;
}

/* Collected (or closed) in flight: the call is cancelled and freed when its completion comes.
 * (Lua never collects a handle whose result is being taken: it is on the stack then.) */
static int l_call_gc(lua_State *L) {
  CallHandle *h = luaL_checkudata(L, 1, CALL_MT);
  CoCall *c = h->c;
  if (!c || h->busy) return 0; /* busy: a __close while its result is taken; the taking ends it */
  h->c = NULL;
  co_call_cancel(c, GRPC_STATUS_CANCELLED, "the call's handle was collected");
  co_call_release(c);
  return 0;
}

static int l_call_tostring(lua_State *L) {
  CallHandle *h = luaL_checkudata(L, 1, CALL_MT);
  CoCall *c = h->c;
  if (!c) lua_pushliteral(L, "cloudops call (released)");
  else lua_pushfstring(L, "cloudops call (%s, %s)", c->md->name, c->in_flight ? "in flight" : "done");
  return 1;
}

void co_call_register(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"done", l_done}, {"result", l_result}, {"cancel", l_cancel}, {NULL, NULL},
  };
  static const luaL_Reg no_methods[] = {{NULL, NULL}};
  CoState *st = lua_touserdata(L, -1);
  co_new_class(L, CALL_MT, methods, l_call_gc, l_call_gc, l_call_tostring);
  lua_pop(L, 1);
  co_new_class(L, METADATA_MT, no_methods, l_metadata_gc, NULL, l_metadata_tostring);
  lua_pop(L, 1);
  lua_pushcfunction(L, push_result_in_pcall);
  st->result_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}
