/* Lua table -> protobuf-c message, strictly: every key must be a field, every value must fit
 * its field's type and range, and an error names the path to the value. */
#include "convert.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char co_empty_array_tag = 0;

typedef struct {
  CoState *st;
  lua_State *L;
} Enc;

/* ---- errors ------------------------------------------------------------------------------ */

static void path_push(CoState *st, lua_State *L, const char *name, long long index) {
  if (st->depth >= CO_MAX_DEPTH)
    co_path_error(L, st, "nesting deeper than %d levels (a table that contains itself?)", CO_MAX_DEPTH);
  st->path[st->depth].name = name;
  st->path[st->depth].index = index;
  st->depth++;
}

static void path_pop(CoState *st) { st->depth--; }

int co_path_error(lua_State *L, CoState *st, const char *fmt, ...) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, st->root ? st->root->desc->short_name : "?");
  for (int i = 0; i < st->depth; i++) {
    const CoPathStep *p = &st->path[i];
    if (p->name && p->index == -1) { /* a map key given as a string */
      luaL_addstring(&b, "[\"");
      luaL_addstring(&b, p->name);
      luaL_addstring(&b, "\"]");
    } else if (p->name) {
      luaL_addchar(&b, '.');
      luaL_addstring(&b, p->name);
    } else {
      char num[32];
      snprintf(num, sizeof num, "[%lld]", p->index);
      luaL_addstring(&b, num);
    }
  }
  luaL_addstring(&b, ": ");
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return lua_error(L);
}

static int type_error(Enc *e, int idx, const char *expected) {
  return co_path_error(e->L, e->st, "expected %s, got %s", expected, luaL_typename(e->L, idx));
}

/* Levenshtein distance, for "did you mean" hints; names are short. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return (size_t)-1;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = diag + (a[i - 1] != b[j - 1]);
      size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
      row[j] = cost < best ? cost : best;
      diag = up;
    }
  }
  return row[lb];
}

static int unknown_field(Enc *e, const ProtobufCMessageDescriptor *d, const char *key) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (unsigned i = 0; i < d->n_fields; i++) {
    size_t dist = edit_distance(key, d->fields[i].name);
    if (dist < best_d) { best_d = dist; best = d->fields[i].name; }
  }
  if (best)
    return co_path_error(e->L, e->st, "unknown field '%s' in %s (did you mean '%s'?)", key, d->name, best);
  return co_path_error(e->L, e->st, "unknown field '%s' in %s (it has no fields)", key, d->name);
}

/* ---- scalars ----------------------------------------------------------------------------- */

/* Reads an integer in [lo, hi] from a Lua integer, an integral float or a decimal string. */
static int64_t get_int(Enc *e, int idx, int64_t lo, int64_t hi, const char *type_name) {
  lua_State *L = e->L;
  int64_t v;
  if (lua_type(L, idx) == LUA_TNUMBER) {
#if CO_HAS_INTEGERS
    if (lua_isinteger(L, idx)) {
      v = (int64_t)lua_tointeger(L, idx);
    } else
#endif
    {
      lua_Number n = lua_tonumber(L, idx);
      if (n != floor(n) || !isfinite(n))
        return co_path_error(L, e->st, "expected an integer for %s, got %s", type_name, lua_tostring(L, idx));
      if (n < -9223372036854775808.0 || n >= 9223372036854775808.0)
        return co_path_error(L, e->st, "%s out of range for %s", lua_tostring(L, idx), type_name);
#if !CO_HAS_INTEGERS
      /* Past 2^53 a double may already have been rounded: API.md wants such values as text. */
      if (fabs(n) > 9007199254740992.0)
        return co_path_error(L, e->st, "%s is past 2^53, where numbers lose precision: give %s values "
                             "this large as decimal strings", lua_tostring(L, idx), type_name);
#endif
      v = (int64_t)n;
    }
  } else if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    char *end;
    errno = 0;
    long long parsed = strtoll(s, &end, 10);
    /* Only decimal digits, after an optional '-' (strtoll would also skip leading spaces). */
    const char *digit = s[0] == '-' ? s + 1 : s;
    if (end == s || *end || *digit < '0' || *digit > '9')
      return co_path_error(L, e->st, "expected an integer for %s, got string \"%s\"", type_name, s);
    if (errno == ERANGE) return co_path_error(L, e->st, "%s out of range for %s", s, type_name);
    v = parsed;
  } else {
    return co_path_error(L, e->st, "expected an integer for %s, got %s", type_name, luaL_typename(L, idx));
  }
  if (v < lo || v > hi) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return co_path_error(L, e->st, "%s out of range for %s", num, type_name);
  }
  return v;
}

static uint64_t get_uint64(Enc *e, int idx, const char *type_name) {
  lua_State *L = e->L;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    /* Only decimal digits: strtoull would skip spaces and accept a '-' (wrapping it around). */
    if (end == s || *end || s[0] < '0' || s[0] > '9')
      return co_path_error(L, e->st, "expected an integer for %s, got string \"%s\"", type_name, s);
    if (errno == ERANGE) return co_path_error(L, e->st, "%s out of range for %s", s, type_name);
    return v;
  }
  return (uint64_t)get_int(e, idx, 0, INT64_MAX, type_name);
}

static const char *get_string(Enc *e, int idx, size_t *len, int is_bytes) {
  lua_State *L = e->L;
  if (lua_type(L, idx) != LUA_TSTRING) {
    type_error(e, idx, is_bytes ? "string (bytes)" : "string");
  }
  const char *s = lua_tolstring(L, idx, len);
  if (!is_bytes) {
    if (!co_utf8_valid(s, *len)) co_path_error(L, e->st, "string is not valid UTF-8");
    if (strlen(s) != *len) co_path_error(L, e->st, "string holds a NUL byte, which protobuf-c cannot send");
  }
  return s;
}

static int get_enum(Enc *e, int idx, const ProtobufCEnumDescriptor *ed) {
  lua_State *L = e->L;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *name = lua_tostring(L, idx);
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
    if (!v) {
      const char *best = NULL;
      size_t best_d = (size_t)-1;
      for (unsigned i = 0; i < ed->n_values; i++) {
        size_t d = edit_distance(name, ed->values[i].name);
        if (d < best_d) { best_d = d; best = ed->values[i].name; }
      }
      return co_path_error(L, e->st, "unknown %s value '%s'%s%s%s", ed->name, name,
                           best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    }
    return v->value;
  }
  if (lua_type(L, idx) == LUA_TNUMBER) return (int)get_int(e, idx, INT32_MIN, INT32_MAX, ed->name);
  return type_error(e, idx, "an enum name or number");
}

/* ---- messages ------------------------------------------------------------------------------ */

static ProtobufCMessage *new_message(Enc *e, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *msg = co_arena_alloc(&e->st->arena, d->sizeof_message);
  if (!msg) luaL_error(e->L, "out of memory");
  protobuf_c_message_init(d, msg);
  return msg;
}

static ProtobufCMessage *encode_message(Enc *e, const CoMessage *m, int idx);
static void encode_value(Enc *e, ProtobufCMessage *msg, int idx);

static void set_seconds_nanos(ProtobufCMessage *msg, int64_t seconds, int32_t nanos) {
  /* Timestamp and Duration share the layout: seconds (field 1), nanos (field 2). */
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  *(int64_t *)((char *)msg + d->fields[0].offset) = seconds;
  *(int32_t *)((char *)msg + d->fields[1].offset) = nanos;
}

/* A Timestamp or Duration given as text or a number of seconds. */
static ProtobufCMessage *encode_time(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  int64_t seconds;
  int32_t nanos;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    int bad = m->wkt == CO_WKT_TIMESTAMP ? co_parse_rfc3339(s, len, &seconds, &nanos)
                                         : co_parse_duration(s, len, &seconds, &nanos);
    if (bad)
      co_path_error(L, e->st, m->wkt == CO_WKT_TIMESTAMP
                                  ? "invalid RFC 3339 timestamp \"%s\" (e.g. \"2024-01-02T03:04:05Z\")"
                                  : "invalid duration \"%s\" (e.g. \"1.5s\")", s);
  } else {
    lua_Number v = lua_tonumber(L, idx);
    int bad = m->wkt == CO_WKT_TIMESTAMP ? co_timestamp_from_seconds(v, &seconds, &nanos)
                                         : co_split_seconds(v, &seconds, &nanos);
    if (bad) co_path_error(L, e->st, "%s out of range for %s", lua_tostring(L, idx), m->desc->name);
  }
  ProtobufCMessage *msg = new_message(e, m->desc);
  set_seconds_nanos(msg, seconds, nanos);
  return msg;
}

/* A table is a list when its keys are exactly 1..n (n >= 1); sets *n. */
/* *n is 0 exactly when the table is empty. */
static int is_list(lua_State *L, int idx, size_t *n) {
  size_t count = 0;
  lua_Integer max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
#if CO_HAS_INTEGERS
    if (!lua_isinteger(L, -1)) { lua_pop(L, 1); *n = count; return 0; }
    lua_Integer k = lua_tointeger(L, -1);
#else
    if (lua_type(L, -1) != LUA_TNUMBER) { lua_pop(L, 1); *n = count; return 0; }
    lua_Number kn = lua_tonumber(L, -1);
    lua_Integer k = (lua_Integer)kn;
    if ((lua_Number)k != kn) { lua_pop(L, 1); *n = count; return 0; }
#endif
    if (k < 1) { lua_pop(L, 1); *n = count; return 0; }
    if (k > max) max = k;
  }
  *n = count;
  return count > 0 && (lua_Integer)count == max;
}

static ProtobufCMessage *encode_struct(Enc *e, const CoMessage *m, int idx);
static ProtobufCMessage *encode_list_value(Enc *e, const CoMessage *m, int idx);

/* google.protobuf.Value from any Lua value, as JSON would be. */
static void encode_value(Enc *e, ProtobufCMessage *msg, int idx) {
  lua_State *L = e->L;
  luaL_checkstack(L, 6, "nesting too deep"); /* nesting is bounded by path_push */
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  /* Value's oneof `kind`: null_value 1, number_value 2, string_value 3, bool_value 4,
   * struct_value 5, list_value 6. */
  const ProtobufCFieldDescriptor *f = NULL;
  int t = lua_type(L, idx);
  void *slot;
#define FIELD_ID(id) (f = protobuf_c_message_descriptor_get_field(d, id), slot = (char *)msg + f->offset)
  if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == CO_NULL_SENTINEL) {
    FIELD_ID(1);
    *(int *)slot = 0;
  } else if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == CO_EMPTY_ARRAY_SENTINEL) {
    FIELD_ID(6);
    const CoMessage *lm = co_schema_message(f->descriptor);
    *(ProtobufCMessage **)slot = new_message(e, lm->desc);
  } else if (t == LUA_TNUMBER) {
    FIELD_ID(2);
    *(double *)slot = lua_tonumber(L, idx);
  } else if (t == LUA_TSTRING) {
    FIELD_ID(3);
    size_t len;
    *(const char **)slot = get_string(e, idx, &len, 0);
  } else if (t == LUA_TBOOLEAN) {
    FIELD_ID(4);
    *(protobuf_c_boolean *)slot = lua_toboolean(L, idx);
  } else if (t == LUA_TTABLE) {
    size_t n;
    if (is_list(L, idx, &n)) {
      FIELD_ID(6);
      *(ProtobufCMessage **)slot = encode_list_value(e, co_schema_message(f->descriptor), idx);
    } else {
      FIELD_ID(5);
      *(ProtobufCMessage **)slot = encode_struct(e, co_schema_message(f->descriptor), idx);
    }
  } else {
    type_error(e, idx, "a JSON-like value (nil as cloudops.null)");
    return;
  }
#undef FIELD_ID
  *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
}

static ProtobufCMessage *encode_list_value(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  luaL_checkstack(L, 6, "nesting too deep");
  ProtobufCMessage *msg = new_message(e, m->desc);
  const ProtobufCFieldDescriptor *f = &m->desc->fields[0]; /* repeated Value values = 1 */
  size_t n = lua_rawlen(L, idx);
  ProtobufCMessage **items = co_arena_alloc(&e->st->arena, n * sizeof *items);
  if (!items && n) luaL_error(L, "out of memory");
  const CoMessage *vm = co_schema_message(f->descriptor);
  for (size_t i = 0; i < n; i++) {
    path_push(e->st, L, NULL, (long long)i + 1);
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    items[i] = new_message(e, vm->desc);
    encode_value(e, items[i], lua_gettop(L));
    lua_pop(L, 1);
    path_pop(e->st);
  }
  *(size_t *)((char *)msg + f->quantifier_offset) = n;
  *(ProtobufCMessage ***)((char *)msg + f->offset) = items;
  return msg;
}

static void encode_map(Enc *e, const ProtobufCFieldDescriptor *f, ProtobufCMessage *msg, int idx);

/* google.protobuf.Struct from a table: its one field is a map<string, Value>. */
static ProtobufCMessage *encode_struct(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  luaL_checkstack(L, 6, "nesting too deep");
  if (lua_type(L, idx) != LUA_TTABLE) type_error(e, idx, "table (a JSON object)");
  ProtobufCMessage *msg = new_message(e, m->desc);
  encode_map(e, &m->desc->fields[0], msg, idx);
  return msg;
}

/* A message-typed value: a table, or a special form for the well-known types. */
static ProtobufCMessage *encode_message_value(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  switch (m->wkt) {
    case CO_WKT_TIMESTAMP:
    case CO_WKT_DURATION:
      if (t == LUA_TSTRING || t == LUA_TNUMBER) return encode_time(e, m, idx);
      if (t != LUA_TTABLE)
        type_error(e, idx, m->wkt == CO_WKT_TIMESTAMP ? "table, RFC 3339 string or number of seconds"
                                                     : "table, duration string or number of seconds");
      break;
    case CO_WKT_STRUCT: return encode_struct(e, m, idx);
    case CO_WKT_VALUE: {
      ProtobufCMessage *msg = new_message(e, m->desc);
      encode_value(e, msg, idx);
      return msg;
    }
    case CO_WKT_LIST_VALUE: {
      size_t n;
      if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == CO_EMPTY_ARRAY_SENTINEL)
        return new_message(e, m->desc);
      if (t == LUA_TTABLE && (is_list(L, idx, &n) || n == 0)) return encode_list_value(e, m, idx);
      type_error(e, idx, "array");
      return NULL;
    }
    default:
      if (t != LUA_TTABLE) type_error(e, idx, "table");
  }
  return encode_message(e, m, idx);
}

/* Stores one scalar or message value of field f at slot. */
static void encode_single(Enc *e, const ProtobufCFieldDescriptor *f, void *slot, int idx) {
  lua_State *L = e->L;
  size_t len;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      *(int32_t *)slot = (int32_t)get_int(e, idx, INT32_MIN, INT32_MAX, "int32");
      break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      *(uint32_t *)slot = (uint32_t)get_int(e, idx, 0, UINT32_MAX, "uint32");
      break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      *(int64_t *)slot = get_int(e, idx, INT64_MIN, INT64_MAX, "int64");
      break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      *(uint64_t *)slot = get_uint64(e, idx, "uint64");
      break;
    case PROTOBUF_C_TYPE_FLOAT: {
      if (lua_type(L, idx) != LUA_TNUMBER) type_error(e, idx, "number");
      lua_Number v = lua_tonumber(L, idx);
      if (isfinite(v) && (v > FLT_MAX || v < -FLT_MAX)) /* not silently infinity */
        co_path_error(L, e->st, "%s out of range for float", lua_tostring(L, idx));
      *(float *)slot = (float)v;
      break;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
      if (lua_type(L, idx) != LUA_TNUMBER) type_error(e, idx, "number");
      *(double *)slot = lua_tonumber(L, idx);
      break;
    case PROTOBUF_C_TYPE_BOOL:
      if (lua_type(L, idx) != LUA_TBOOLEAN) type_error(e, idx, "boolean");
      *(protobuf_c_boolean *)slot = lua_toboolean(L, idx);
      break;
    case PROTOBUF_C_TYPE_ENUM:
      *(int *)slot = get_enum(e, idx, f->descriptor);
      break;
    case PROTOBUF_C_TYPE_STRING:
      *(const char **)slot = get_string(e, idx, &len, 0);
      break;
    case PROTOBUF_C_TYPE_BYTES: {
      const char *s = get_string(e, idx, &len, 1);
      ((ProtobufCBinaryData *)slot)->data = (uint8_t *)s;
      ((ProtobufCBinaryData *)slot)->len = len;
      break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
      *(ProtobufCMessage **)slot = encode_message_value(e, co_schema_message(f->descriptor), idx);
      break;
  }
}

static void encode_map(Enc *e, const ProtobufCFieldDescriptor *f, ProtobufCMessage *msg, int idx) {
  lua_State *L = e->L;
  if (lua_type(L, idx) != LUA_TTABLE) type_error(e, idx, "table (a map)");
  const CoMessage *entry = co_schema_message(f->descriptor);
  const ProtobufCFieldDescriptor *kf = &entry->desc->fields[0], *vf = &entry->desc->fields[1];
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { lua_pop(L, 1); n++; }
  ProtobufCMessage **items = co_arena_alloc(&e->st->arena, n * sizeof *items);
  if (!items && n) luaL_error(L, "out of memory");
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int kidx = lua_gettop(L) - 1;
    if (lua_type(L, kidx) == LUA_TSTRING) path_push(e->st, L, lua_tostring(L, kidx), -1);
    else if (lua_type(L, kidx) == LUA_TNUMBER) path_push(e->st, L, NULL, (long long)lua_tonumber(L, kidx));
    else co_path_error(L, e->st, "map key must be a %s, got %s",
                       kf->type == PROTOBUF_C_TYPE_STRING ? "string" : "number", luaL_typename(L, kidx));
    ProtobufCMessage *em = new_message(e, entry->desc);
    encode_single(e, kf, (char *)em + kf->offset, kidx);
    encode_single(e, vf, (char *)em + vf->offset, kidx + 1);
    items[i++] = em;
    path_pop(e->st);
    lua_pop(L, 1);
  }
  *(size_t *)((char *)msg + f->quantifier_offset) = i;
  *(ProtobufCMessage ***)((char *)msg + f->offset) = items;
}

static void encode_repeated(Enc *e, const ProtobufCFieldDescriptor *f, ProtobufCMessage *msg, int idx) {
  lua_State *L = e->L;
  if (co_field_is_map(f)) { encode_map(e, f, msg, idx); return; }
  if (lua_type(L, idx) != LUA_TTABLE) type_error(e, idx, "table (an array)");
  size_t n = 0;
  if (!is_list(L, idx, &n) && n > 0) {
    /* Name the first key that breaks the sequence, or the hole. */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
#if CO_HAS_INTEGERS
      int int_key = lua_isinteger(L, -1);
#else
      int int_key = lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == floor(lua_tonumber(L, -1));
#endif
      if (!int_key || lua_tonumber(L, -1) < 1) {
        lua_pushvalue(L, -1);
        const char *k = luaL_tolstring(L, -1, NULL);
        co_path_error(L, e->st, "expected an array (keys 1..n), found key %s", k);
      }
    }
    /* Every key is a positive integer and there are n of them, so one of 1..n is missing. */
    size_t hole = 1;
    for (;; hole++) {
      lua_rawgeti(L, idx, (lua_Integer)hole); /* LuaJIT's returns no type: check it apart */
      int missing = lua_isnil(L, -1);
      lua_pop(L, 1);
      if (missing) break;
    }
    co_path_error(L, e->st, "expected an array without holes, but [%d] is nil", (int)hole);
  }
  size_t esize = co_element_size(f->type);
  char *items = co_arena_alloc(&e->st->arena, n * esize);
  if (!items && n) luaL_error(L, "out of memory");
  for (size_t i = 0; i < n; i++) {
    path_push(e->st, L, NULL, (long long)i + 1);
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    encode_single(e, f, items + i * esize, lua_gettop(L));
    lua_pop(L, 1);
    path_pop(e->st);
  }
  *(size_t *)((char *)msg + f->quantifier_offset) = n;
  *(void **)((char *)msg + f->offset) = items;
}

static ProtobufCMessage *encode_message(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  const ProtobufCMessageDescriptor *d = m->desc;
  ProtobufCMessage *msg = new_message(e, d);
  luaL_checkstack(L, 6, "nesting too deep");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pushvalue(L, -2);
      const char *k = luaL_tolstring(L, -1, NULL);
      co_path_error(L, e->st, "%s has no field %s: keys must be field names (strings)", d->name, k);
    }
    const char *key = lua_tostring(L, -2);
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (!f) unknown_field(e, d, key);
    path_push(e->st, L, f->name, 0);
    int vidx = lua_gettop(L);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      encode_repeated(e, f, msg, vidx);
    } else {
      if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)((char *)msg + f->quantifier_offset);
        if (*which && *which != f->id) {
          const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(d, *which);
          path_pop(e->st);
          co_path_error(L, e->st, "fields '%s' and '%s' are in the same oneof '%s': set only one",
                        other->name, f->name, co_field_oneof(m, (unsigned)(f - d->fields)));
        }
        *which = f->id;
      } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                 f->type != PROTOBUF_C_TYPE_STRING) {
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
      }
      encode_single(e, f, (char *)msg + f->offset, vidx);
    }
    path_pop(e->st);
    lua_pop(L, 1);
  }
  return msg;
}

ProtobufCMessage *co_encode(lua_State *L, CoState *st, const CoMessage *m, int idx) {
  Enc e = {st, L};
  idx = lua_absindex(L, idx);
  st->root = m;
  st->depth = 0;
  if (lua_isnoneornil(L, idx)) return new_message(&e, m->desc);
  return encode_message_value(&e, m, idx);
}

void co_encode_push_bytes(lua_State *L, CoState *st, const CoMessage *m, int idx) {
  co_arena_reset(&st->arena);
  ProtobufCMessage *msg = co_encode(L, st, m, idx);
  size_t size = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = co_arena_alloc(&st->arena, size);
  if (!buf && size) luaL_error(L, "out of memory");
  protobuf_c_message_pack(msg, buf);
  lua_pushlstring(L, (const char *)buf, size);
  co_arena_reset(&st->arena);
}
