/* cloudops.core: the module table. Every function shares one CoState (the conversion arena)
 * as its first upvalue, so there is no global mutable state: each Lua state has its own. */
#include "core.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATE_MT "cloudops.core.state"

CoState *co_state(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static int state_gc(lua_State *L) {
  CoState *st = lua_touserdata(L, 1);
  co_arena_free(&st->arena);
  return 0;
}

void co_new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc,
                  lua_CFunction close, lua_CFunction tostring) {
  int state = lua_gettop(L);
  luaL_newmetatable(L, name);
  lua_newtable(L);
  lua_pushvalue(L, state);
  luaL_setfuncs(L, methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  if (close) {
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
  }
  lua_pushcfunction(L, tostring);
  lua_setfield(L, -2, "__tostring");
}

const CoMessage *co_check_message(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int ambiguous;
  const CoMessage *m = co_schema_find_message(name, &ambiguous);
  if (!m) {
    if (ambiguous) luaL_error(L, "message name '%s' is ambiguous: give its full name", name);
    luaL_error(L, "unknown message type '%s'", name);
  }
  return m;
}

const ProtobufCMethodDescriptor *co_find_method(const char *name) {
  const ProtobufCServiceDescriptor *s = co_schema_service();
  for (unsigned i = 0; s && i < s->n_methods; i++)
    if (strcmp(s->methods[i].name, name) == 0) return &s->methods[i];
  return NULL;
}

static int l_encode(lua_State *L) {
  const CoMessage *m = co_check_message(L, 1);
  luaL_checkany(L, 2);
  co_encode_push_bytes(L, co_state(L), m, 2);
  return 1;
}

/* encoder(type_name)(tbl): core.encode with the type looked up once, for hot paths. */
static int l_encode_bound(lua_State *L) {
  const CoMessage *m = lua_touserdata(L, lua_upvalueindex(2));
  luaL_checkany(L, 1);
  co_encode_push_bytes(L, co_state(L), m, 1);
  return 1;
}

/* encoder(type_name, true)(tbl): the same, returning nil, message for a table that does not fit
 * instead of raising it (its caller raises at its own caller's level without a pcall). */
static int l_encode_bound_soft(lua_State *L) {
  const CoMessage *m = lua_touserdata(L, lua_upvalueindex(2));
  luaL_checkany(L, 1);
  if (co_encode_try_push_bytes(L, co_state(L), m, 1) == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static int l_encoder(lua_State *L) {
  const CoMessage *m = co_check_message(L, 1);
  int soft = lua_toboolean(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushlightuserdata(L, (void *)m);
  lua_pushcclosure(L, soft ? l_encode_bound_soft : l_encode_bound, 2);
  return 1;
}

static int l_decode(lua_State *L) {
  const CoMessage *m = co_check_message(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int rc = co_decode_bytes(L, co_state(L), m, (const uint8_t *)data, len, 0);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "malformed %s: %s", m->desc->name, co_decode_strerror(rc));
    return 2;
  }
  return 1;
}

static int l_methods(lua_State *L) {
  const ProtobufCServiceDescriptor *s = co_schema_service();
  lua_createtable(L, s ? (int)s->n_methods : 0, 0);
  for (unsigned i = 0; s && i < s->n_methods; i++) {
    lua_pushstring(L, s->methods[i].name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

void co_push_method_info(lua_State *L, const ProtobufCMethodDescriptor *md) {
  const ProtobufCServiceDescriptor *s = co_schema_service();
  lua_createtable(L, 0, 6);
  lua_pushliteral(L, "method");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, md->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, md->input->name);
  lua_setfield(L, -2, "input");
  lua_pushstring(L, md->output->name);
  lua_setfield(L, -2, "output");
  lua_pushfstring(L, "/%s/%s", s->name, md->name);
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, (lua_Integer)(md - s->methods) + 1);
  lua_setfield(L, -2, "index");
}

/* Every message type built in, by full name, sorted. */
static int l_messages(lua_State *L) {
  size_t n;
  co_schema_message_at(0, &n);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, co_schema_message_at(i, &n)->desc->name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int l_method(lua_State *L) {
  const ProtobufCMethodDescriptor *md = co_find_method(luaL_checkstring(L, 1));
  if (!md) { lua_pushnil(L); return 1; }
  co_push_method_info(L, md);
  return 1;
}

static const char *type_name(ProtobufCType t) {
  static const char *const names[] = {
    [PROTOBUF_C_TYPE_INT32] = "int32", [PROTOBUF_C_TYPE_SINT32] = "sint32",
    [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
    [PROTOBUF_C_TYPE_SINT64] = "sint64", [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
    [PROTOBUF_C_TYPE_UINT32] = "uint32", [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
    [PROTOBUF_C_TYPE_UINT64] = "uint64", [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
    [PROTOBUF_C_TYPE_FLOAT] = "float", [PROTOBUF_C_TYPE_DOUBLE] = "double",
    [PROTOBUF_C_TYPE_BOOL] = "bool", [PROTOBUF_C_TYPE_ENUM] = "enum",
    [PROTOBUF_C_TYPE_STRING] = "string", [PROTOBUF_C_TYPE_BYTES] = "bytes",
    [PROTOBUF_C_TYPE_MESSAGE] = "message",
  };
  return names[t];
}

/* Sets t.type (and t.type_name for messages and enums) on the table on top. */
static void set_type(lua_State *L, const ProtobufCFieldDescriptor *f, const char *prefix) {
  char key[32];
  snprintf(key, sizeof key, "%stype", prefix);
  lua_pushstring(L, type_name(f->type));
  lua_setfield(L, -2, key);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_ENUM) {
    snprintf(key, sizeof key, "%stype_name", prefix);
    lua_pushstring(L, f->type == PROTOBUF_C_TYPE_MESSAGE
                          ? ((const ProtobufCMessageDescriptor *)f->descriptor)->name
                          : ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
    lua_setfield(L, -2, key);
  }
}

/* Sets min_version, max_version and replaced_by on the table on top, where given. */
static void set_versions(lua_State *L, const CoVersionRange *v) {
  if (v->min_version) { lua_pushstring(L, v->min_version); lua_setfield(L, -2, "min_version"); }
  if (v->max_version) { lua_pushstring(L, v->max_version); lua_setfield(L, -2, "max_version"); }
  if (v->replaced_by) { lua_pushstring(L, v->replaced_by); lua_setfield(L, -2, "replaced_by"); }
}

static void describe_message(lua_State *L, const CoMessage *m) {
  const ProtobufCMessageDescriptor *d = m->desc;
  const CoVersionRange *versions = m->extra->versions;
  lua_createtable(L, 0, 5);
  if (versions) set_versions(L, &versions[0]);
  lua_pushliteral(L, "message");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, d->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, d->short_name);
  lua_setfield(L, -2, "short_name");
  lua_createtable(L, (int)d->n_fields, 0);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, f->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, f->id);
    lua_setfield(L, -2, "number");
    lua_pushstring(L, m->extra->json_names[i]);
    lua_setfield(L, -2, "json_name");
    if (co_field_is_map(f)) {
      const ProtobufCMessageDescriptor *entry = f->descriptor;
      lua_pushliteral(L, "map");
      lua_setfield(L, -2, "label");
      set_type(L, &entry->fields[0], "key_");
      set_type(L, &entry->fields[1], "");
    } else {
      lua_pushstring(L, f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated" : "singular");
      lua_setfield(L, -2, "label");
      set_type(L, f, "");
    }
    const char *oneof = co_field_oneof(m, i);
    if (oneof) {
      lua_pushstring(L, oneof);
      lua_setfield(L, -2, "oneof");
    }
    if (versions) set_versions(L, &versions[i + 1]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "fields");
}

static void describe_enum(lua_State *L, const ProtobufCEnumDescriptor *e) {
  lua_createtable(L, 0, 4);
  lua_pushliteral(L, "enum");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, e->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, e->short_name);
  lua_setfield(L, -2, "short_name");
  lua_createtable(L, (int)e->n_values, 0);
  for (unsigned i = 0; i < e->n_values; i++) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, e->values[i].name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, e->values[i].value);
    lua_setfield(L, -2, "number");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "values");
}

static int l_describe(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  int amb_m, amb_e;
  const ProtobufCMethodDescriptor *md = co_find_method(name);
  if (md) { co_push_method_info(L, md); return 1; }
  const CoMessage *m = co_schema_find_message(name, &amb_m);
  if (m) { describe_message(L, m); return 1; }
  const ProtobufCEnumDescriptor *e = co_schema_find_enum(name, &amb_e);
  if (e) { describe_enum(L, e); return 1; }
  lua_pushnil(L);
  lua_pushfstring(L, (amb_m || amb_e) ? "'%s' is ambiguous: give the full name"
                                      : "no message, enum or method is named '%s'", name);
  return 2;
}

static int l_format_rfc3339(lua_State *L) {
  char buf[48];
  lua_Number secs = luaL_checknumber(L, 1);
  lua_Integer nanos = luaL_optinteger(L, 2, 0);
  /* Range first: converting an out-of-range double to int64 is undefined. */
  int in_range = secs >= -1e12 && secs <= 1e12 && secs == (lua_Number)(int64_t)secs &&
                 nanos >= 0 && nanos <= 999999999;
  int n = in_range ? co_format_rfc3339((int64_t)secs, (int32_t)nanos, buf) : -1;
  if (n < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "timestamp out of the RFC 3339 range (years 1 to 9999) or nanos outside 0..999999999");
    return 2;
  }
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int push_seconds_nanos(lua_State *L, int bad, int64_t s, int32_t n, const char *what, const char *text) {
  if (bad) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid %s \"%s\"", what, text);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)s);
  lua_pushinteger(L, n);
  return 2;
}

static int l_parse_rfc3339(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int64_t secs;
  int32_t nanos;
  int bad = co_parse_rfc3339(s, len, &secs, &nanos);
  return push_seconds_nanos(L, bad, secs, nanos, "RFC 3339 timestamp", s);
}

static int l_parse_duration(lua_State *L) {
  int64_t secs = 0;
  int32_t nanos = 0;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    int bad = co_split_seconds(lua_tonumber(L, 1), &secs, &nanos);
    return push_seconds_nanos(L, bad, secs, nanos, "duration", lua_tostring(L, 1));
  }
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int bad = co_parse_duration(s, len, &secs, &nanos);
  return push_seconds_nanos(L, bad, secs, nanos, "duration", s);
}

/* timestamp_from_unix(seconds) -> seconds, nanos of a valid Timestamp, or nil, err. */
static int l_timestamp_from_unix(lua_State *L) {
  int64_t secs = 0;
  int32_t nanos = 0;
  lua_Number v = luaL_checknumber(L, 1);
  int bad = co_timestamp_from_seconds(v, &secs, &nanos);
  return push_seconds_nanos(L, bad, secs, nanos, "Unix time (years 1 to 9999)", lua_tostring(L, 1));
}

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, clock_seconds(CLOCK_MONOTONIC));
  return 1;
}

static int l_time(lua_State *L) {
  lua_pushnumber(L, clock_seconds(CLOCK_REALTIME));
  return 1;
}

/* A real sleep: the helpers use it outside nginx request contexts and cloudops.map tasks
 * (docs/design.md, "The queue and the task model"). In slices, so that Ctrl-C ends it at once (math.huge: until interrupted). */
static int l_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  luaL_argcheck(L, s == s, 1, "not a number of seconds");
  if (!(s > 0)) return 0;
  CoInterrupt interrupt;
  co_interrupt_arm(L, &interrupt);
  double end = clock_seconds(CLOCK_MONOTONIC) + s;
  for (;;) {
    double left = end - clock_seconds(CLOCK_MONOTONIC);
    if (left <= 0) break;
    if (left > 0.1) left = 0.1;
    struct timespec ts = {0, (long)(left * 1e9)};
    nanosleep(&ts, NULL);
    if (co_interrupt_fired(&interrupt)) break;
  }
  return 0;
}

static int l_random_bytes(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && n <= 4096, 1, "between 0 and 4096 bytes");
  unsigned char buf[4096];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return luaL_error(L, "cannot open /dev/urandom: %s", strerror(errno));
  size_t got = 0;
  while (got < (size_t)n) {
    ssize_t r = read(fd, buf + got, (size_t)n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { close(fd); return luaL_error(L, "cannot read /dev/urandom"); }
    got += (size_t)r;
  }
  close(fd);
  lua_pushlstring(L, (const char *)buf, (size_t)n);
  return 1;
}

static const luaL_Reg functions[] = {
  {"encode", l_encode},
  {"encoder", l_encoder},
  {"decode", l_decode},
  {"methods", l_methods},
  {"messages", l_messages},
  {"method", l_method},
  {"describe", l_describe},
  {"format_rfc3339", l_format_rfc3339},
  {"parse_rfc3339", l_parse_rfc3339},
  {"parse_duration", l_parse_duration},
  {"timestamp_from_unix", l_timestamp_from_unix},
  {"now", l_now},
  {"time", l_time},
  {"sleep", l_sleep},
  {"random_bytes", l_random_bytes},
  {"channel", co_channel_new},
  {"metadata", co_l_metadata},
  {"poll", co_l_poll},
  {"server", co_server_new},
  {NULL, NULL},
};

/* Keeps this library (and so libgrpc) loaded for the life of the process, even when the Lua
 * state that loaded it closes and dlcloses it: gRPC's threads, started by grpc_init, run its
 * code until the process exits, and the schema tables are process-wide. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)pin_library, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int luaopen_cloudops_core(lua_State *L) {
  pin_library();
  if (co_schema_init() != 0)
    return luaL_error(L, "cloudops.core: the generated schema tables do not match protobuf-c's (rebuild)");
  lua_newtable(L);
  CoState *st = lua_newuserdatauv(L, sizeof *st, 0);
  memset(st, 0, sizeof *st);
  co_arena_init(&st->arena);
  size_t n_names;
  const char *const *names = co_schema_names(&n_names);
  lua_createtable(L, (int)n_names, 0);
  for (size_t i = 0; i < n_names; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  st->names_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  luaL_newmetatable(L, STATE_MT);
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  co_channel_register(L); /* metatables, with the state as upvalue of their methods */
  co_server_register(L);
  luaL_setfuncs(L, functions, 1);
  lua_pushlightuserdata(L, CO_NULL_SENTINEL);
  lua_setfield(L, -2, "null");
  lua_pushlightuserdata(L, CO_EMPTY_ARRAY_SENTINEL);
  lua_setfield(L, -2, "empty_array");
  lua_pushstring(L, co_api_version);
  lua_setfield(L, -2, "API_VERSION");
  co_signals_register(L);
  return 1;
}
