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
#include <strings.h>
#include <ctype.h>

const char co_empty_array_tag = 0;

#define UNKNOWN_KEY "_unknown"

/* One step of the path to the value being converted, for error messages. */
typedef struct {
  enum { STEP_FIELD, STEP_INDEX, STEP_KEY, STEP_BOOL, STEP_NUMBER } kind;
  const char *name; /* STEP_FIELD, STEP_KEY (a map key given as a string), STEP_BOOL ("true") */
  long long index;  /* STEP_INDEX: an array index (1-based) or an integer map key */
  double number;    /* STEP_NUMBER: a map key that is a number but no integer */
} PathStep;

/* One conversion: everything it changes is here, on the C stack, so that another conversion
 * run meanwhile by a finalizer has its own. */
typedef struct {
  lua_State *L;
  CoArena *arena;
  const char *const *names; /* st->name_ptrs */
  const CoMessage *root;
  int depth;
  PathStep path[CO_MAX_DEPTH];
} Enc;

/* ---- errors ------------------------------------------------------------------------------ */

static int path_error(Enc *e, const char *fmt, ...);

static PathStep *path_push(Enc *e) {
  if (e->depth >= CO_MAX_DEPTH)
    path_error(e, "nesting deeper than %d levels (a table that contains itself?)", CO_MAX_DEPTH);
  return &e->path[e->depth++];
}

static void path_push_field(Enc *e, const char *name) {
  PathStep *s = path_push(e);
  s->kind = STEP_FIELD;
  s->name = name;
}

static void path_push_index(Enc *e, long long index) {
  PathStep *s = path_push(e);
  s->kind = STEP_INDEX;
  s->index = index;
}

static void path_pop(Enc *e) { e->depth--; }

/* Raises a Lua error prefixed with the path of the value being converted. */
static int path_error(Enc *e, const char *fmt, ...) {
  lua_State *L = e->L;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, e->root ? e->root->desc->short_name : "?");
  for (int i = 0; i < e->depth; i++) {
    const PathStep *p = &e->path[i];
    char num[48];
    switch (p->kind) {
      case STEP_FIELD:
        luaL_addchar(&b, '.');
        luaL_addstring(&b, p->name);
        break;
      case STEP_KEY:
        luaL_addstring(&b, "[\"");
        luaL_addstring(&b, p->name);
        luaL_addstring(&b, "\"]");
        break;
      case STEP_BOOL:
        luaL_addchar(&b, '[');
        luaL_addstring(&b, p->name);
        luaL_addchar(&b, ']');
        break;
      case STEP_INDEX:
        snprintf(num, sizeof num, "[%lld]", p->index);
        luaL_addstring(&b, num);
        break;
      default:
        snprintf(num, sizeof num, "[%.14g]", p->number);
        luaL_addstring(&b, num);
        break;
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
  return path_error(e, "expected %s, got %s", expected, luaL_typename(e->L, idx));
}

/* ---- "did you mean" hints ------------------------------------------------------------------- */

/* Levenshtein distance, ignoring case; names are short. */
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
      size_t cost = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
      row[j] = cost < best ? cost : best;
      diag = up;
    }
  }
  return row[lb];
}

/* Whether `part` occurs in `whole` (ignoring case): at its start only, or anywhere. */
static int holds(const char *whole, const char *part, int at_start) {
  size_t lw = strlen(whole), lp = strlen(part);
  for (size_t i = 0; lp && i + lp <= lw; i++) {
    if (strncasecmp(whole + i, part, lp) == 0) return 1;
    if (at_start) break;
  }
  return 0;
}

/* How far `name` is from what was written (`key`), for the hint: a name that begins with the
 * key or the key begins with (`retention` -> `retention_days`) comes first, then one holding it
 * or held by it (`ACTIVE` -> `RESOURCE_STATE_ACTIVE`), then the edit distance decides. */
static size_t remoteness(const char *key, const char *name) {
  size_t d = edit_distance(key, name);
  if (d > 0xffff) d = 0xffff;
  if (holds(name, key, 1) || holds(key, name, 1)) return d;
  if (holds(name, key, 0) || holds(key, name, 0)) return 0x10000 + d;
  return 0x20000 + d;
}

/* The nearest of n names (name_at(i)) to key, or NULL when there are none. */
static const char *nearest(const char *key, unsigned n, const char *(*name_at)(const void *, unsigned),
                           const void *of) {
  const char *best = NULL;
  size_t best_r = (size_t)-1;
  for (unsigned i = 0; i < n; i++) {
    size_t r = remoteness(key, name_at(of, i));
    if (r < best_r) { best_r = r; best = name_at(of, i); }
  }
  return best;
}

static const char *field_name_at(const void *d, unsigned i) {
  return ((const ProtobufCMessageDescriptor *)d)->fields[i].name;
}

static const char *enum_name_at(const void *ed, unsigned i) {
  return ((const ProtobufCEnumDescriptor *)ed)->values[i].name;
}

static int unknown_field(Enc *e, const ProtobufCMessageDescriptor *d, const char *key) {
  const char *best = nearest(key, d->n_fields, field_name_at, d);
  if (best)
    return path_error(e, "unknown field '%s' in %s (did you mean '%s'?)", key, d->name, best);
  return path_error(e, "unknown field '%s' in %s (it has no fields)", key, d->name);
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
        return path_error(e, "expected an integer for %s, got %s", type_name, lua_tostring(L, idx));
      if (n < -9223372036854775808.0 || n >= 9223372036854775808.0)
        return path_error(e, "%s out of range for %s", lua_tostring(L, idx), type_name);
#if !CO_HAS_INTEGERS
      /* Past 2^53 a double may already have been rounded: docs/reference.md ("Messages as tables") wants such values as text. */
      if (fabs(n) > 9007199254740992.0)
        return path_error(e, "%s is past 2^53, where numbers lose precision: give %s values "
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
      return path_error(e, "expected an integer for %s, got string \"%s\"", type_name, s);
    if (errno == ERANGE) return path_error(e, "%s out of range for %s", s, type_name);
    v = parsed;
  } else {
    return path_error(e, "expected an integer for %s, got %s", type_name, luaL_typename(L, idx));
  }
  if (v < lo || v > hi) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return path_error(e, "%s out of range for %s", num, type_name);
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
      return path_error(e, "expected an integer for %s, got string \"%s\"", type_name, s);
    if (errno == ERANGE) return path_error(e, "%s out of range for %s", s, type_name);
    return v;
  }
  return (uint64_t)get_int(e, idx, 0, INT64_MAX, type_name);
}

/* A number for a double (`what`): a Lua 5.4 integer past 2^53 would be rounded, so it is refused
 * (docs/reference.md, "Messages as tables": nothing is ever rounded silently). */
static lua_Number get_double(Enc *e, int idx, int in_value) {
  lua_State *L = e->L;
  if (lua_type(L, idx) != LUA_TNUMBER) type_error(e, idx, "number");
#if CO_HAS_INTEGERS
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (v > 9007199254740992LL || v < -9007199254740992LL) {
      lua_pushfstring(L, "%I", v); /* as a string: kept exact in a Struct */
      path_error(e, "integer %s is past 2^53 and %s would round it: give it as %sthe float %s.0 if rounding it is fine",
                 lua_tostring(L, -1), in_value ? "a google.protobuf.Value number (a double)" : "a double field",
                 in_value ? "a string, or as " : "", lua_tostring(L, -1));
    }
  }
#else
  (void)in_value;
#endif
  return lua_tonumber(L, idx);
}

static const char *get_string(Enc *e, int idx, size_t *len, int is_bytes) {
  lua_State *L = e->L;
  if (lua_type(L, idx) != LUA_TSTRING) {
    type_error(e, idx, is_bytes ? "string (bytes)" : "string");
  }
  const char *s = lua_tolstring(L, idx, len);
  if (!is_bytes && !co_utf8_check(s, *len, 0)) {
    if (memchr(s, 0, *len)) path_error(e, "string holds a NUL byte, which protobuf-c cannot send");
    path_error(e, "string is not valid UTF-8");
  }
  return s;
}

static int get_enum(Enc *e, int idx, const ProtobufCEnumDescriptor *ed) {
  lua_State *L = e->L;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *name = lua_tostring(L, idx);
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
    if (!v) {
      const char *best = nearest(name, ed->n_values, enum_name_at, ed);
      return path_error(e, "unknown %s value '%s'%s%s%s", ed->name, name,
                           best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    }
    return v->value;
  }
  if (lua_type(L, idx) == LUA_TNUMBER) return (int)get_int(e, idx, INT32_MIN, INT32_MAX, ed->name);
  return type_error(e, idx, "an enum name or number");
}

/* ---- messages ------------------------------------------------------------------------------ */

static void *alloc(Enc *e, size_t size) {
  void *p = co_arena_alloc(e->arena, size);
  if (!p && size) luaL_error(e->L, "out of memory");
  return p;
}

static ProtobufCMessage *new_message(Enc *e, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *msg = alloc(e, d->sizeof_message);
  protobuf_c_message_init(d, msg);
  return msg;
}

static ProtobufCMessage *encode_message(Enc *e, const CoMessage *m, int idx);
static ProtobufCMessage *encode_message_value(Enc *e, const CoMessage *m, int idx);

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
      path_error(e, m->wkt == CO_WKT_TIMESTAMP
                        ? "invalid RFC 3339 timestamp \"%s\" (e.g. \"2024-01-02T03:04:05Z\")"
                        : "invalid duration \"%s\" (e.g. \"1.5s\")", s);
  } else {
    lua_Number v = lua_tonumber(L, idx);
    int bad = m->wkt == CO_WKT_TIMESTAMP ? co_timestamp_from_seconds(v, &seconds, &nanos)
                                         : co_split_seconds(v, &seconds, &nanos);
    if (bad) path_error(e, "%s out of range for %s", lua_tostring(L, idx), m->desc->name);
  }
  ProtobufCMessage *msg = new_message(e, m->desc);
  set_seconds_nanos(msg, seconds, nanos);
  return msg;
}

/* Whether the key on top is an integer (an integral number on LuaJIT, range-checked before any
 * cast), and which. */
static int integer_key(lua_State *L, int idx, lua_Integer *k) {
#if CO_HAS_INTEGERS
  if (!lua_isinteger(L, idx)) return 0;
  *k = lua_tointeger(L, idx);
  return 1;
#else
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  lua_Number kn = lua_tonumber(L, idx);
  if (!(kn >= -9007199254740992.0 && kn <= 9007199254740992.0) || kn != floor(kn)) return 0;
  *k = (lua_Integer)kn;
  return 1;
#endif
}

/* A table is a list when its keys are exactly 1..n (n >= 1); sets *n to its number of keys, 0
 * exactly when the table is empty. */
static int is_list(lua_State *L, int idx, size_t *n) {
  size_t count = 0;
  lua_Integer max = 0, k;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (!integer_key(L, -1, &k) || k < 1) {
      lua_pop(L, 1);
      *n = count;
      return 0;
    }
    if (k > max) max = k;
  }
  *n = count;
  return count > 0 && (lua_Integer)count == max;
}

static ProtobufCMessage *encode_struct(Enc *e, const CoMessage *m, int idx);
static ProtobufCMessage *encode_list_value(Enc *e, const CoMessage *m, int idx);

/* google.protobuf.Value (m) from any Lua value, as JSON would be. */
static ProtobufCMessage *encode_value(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  luaL_checkstack(L, 6, "nesting too deep"); /* nesting is bounded by path_push */
  ProtobufCMessage *msg = new_message(e, m->desc);
  /* Value's oneof `kind`: null_value 1, number_value 2, string_value 3, bool_value 4,
   * struct_value 5, list_value 6. */
  int t = lua_type(L, idx), which;
  size_t n;
  if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == CO_NULL_SENTINEL) which = 1;
  else if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == CO_EMPTY_ARRAY_SENTINEL) which = 6;
  else if (t == LUA_TNUMBER) which = 2;
  else if (t == LUA_TSTRING) which = 3;
  else if (t == LUA_TBOOLEAN) which = 4;
  else if (t == LUA_TTABLE) which = is_list(L, idx, &n) ? 6 : 5;
  else return type_error(e, idx, "a JSON-like value (nil as cloudops.null)"), NULL;
  int i = co_field_index(m, (unsigned)which);
  const ProtobufCFieldDescriptor *f = &m->desc->fields[i];
  const CoMessage *sub = m->fields[i].type;
  void *slot = (char *)msg + f->offset;
  switch (which) {
    case 1: *(int *)slot = 0; break;
    case 2: *(double *)slot = get_double(e, idx, 1); break;
    case 3: *(const char **)slot = get_string(e, idx, &n, 0); break;
    case 4: *(protobuf_c_boolean *)slot = lua_toboolean(L, idx); break;
    case 5: *(ProtobufCMessage **)slot = encode_struct(e, sub, idx); break;
    default:
      *(ProtobufCMessage **)slot = t == LUA_TTABLE ? encode_list_value(e, sub, idx) : new_message(e, sub->desc);
  }
  *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
  return msg;
}

static ProtobufCMessage *encode_list_value(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  luaL_checkstack(L, 6, "nesting too deep");
  ProtobufCMessage *msg = new_message(e, m->desc);
  const ProtobufCFieldDescriptor *f = &m->desc->fields[0]; /* repeated Value values = 1 */
  size_t n = lua_rawlen(L, idx);
  ProtobufCMessage **items = alloc(e, n * sizeof *items);
  for (size_t i = 0; i < n; i++) {
    path_push_index(e, (long long)i + 1);
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    items[i] = encode_value(e, m->fields[0].type, lua_gettop(L));
    lua_pop(L, 1);
    path_pop(e);
  }
  *(size_t *)((char *)msg + f->quantifier_offset) = n;
  *(ProtobufCMessage ***)((char *)msg + f->offset) = items;
  return msg;
}

static void encode_map(Enc *e, const ProtobufCFieldDescriptor *f, const CoMessage *entry, ProtobufCMessage *msg,
                       int idx);

/* google.protobuf.Struct from a table: its one field is a map<string, Value>. */
static ProtobufCMessage *encode_struct(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  luaL_checkstack(L, 6, "nesting too deep");
  if (lua_type(L, idx) != LUA_TTABLE) type_error(e, idx, "table (a JSON object)");
  ProtobufCMessage *msg = new_message(e, m->desc);
  encode_map(e, &m->desc->fields[0], m->fields[0].type, msg, idx);
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
    case CO_WKT_VALUE: return encode_value(e, m, idx);
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

/* Stores one scalar or message value of field f (its info fi) at slot. */
static void encode_single(Enc *e, const ProtobufCFieldDescriptor *f, const CoFieldInfo *fi, void *slot, int idx) {
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
      lua_Number v = get_double(e, idx, 0);
      if (isfinite(v) && (v > FLT_MAX || v < -FLT_MAX)) /* not silently infinity */
        path_error(e, "%s out of range for float", lua_tostring(L, idx));
      *(float *)slot = (float)v;
      break;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
      *(double *)slot = get_double(e, idx, 0);
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
      *(ProtobufCMessage **)slot = encode_message_value(e, fi->type, idx);
      break;
  }
}

/* The path step for the map key at kidx. Only what the key is named by is read: its type is
 * checked against the key field's after. */
static void path_push_key(Enc *e, int kidx) {
  lua_State *L = e->L;
  lua_Integer k;
  PathStep *s = path_push(e);
  if (lua_type(L, kidx) == LUA_TSTRING) {
    s->kind = STEP_KEY;
    s->name = lua_tostring(L, kidx);
  } else if (lua_type(L, kidx) == LUA_TBOOLEAN) {
    s->kind = STEP_BOOL;
    s->name = lua_toboolean(L, kidx) ? "true" : "false";
  } else if (integer_key(L, kidx, &k)) {
    s->kind = STEP_INDEX;
    s->index = (long long)k;
  } else if (lua_type(L, kidx) == LUA_TNUMBER) {
    s->kind = STEP_NUMBER;
    s->number = lua_tonumber(L, kidx);
  } else {
    path_pop(e);
    path_error(e, "map keys must be strings, numbers or booleans, got %s", luaL_typename(L, kidx));
  }
}

static void encode_map(Enc *e, const ProtobufCFieldDescriptor *f, const CoMessage *entry, ProtobufCMessage *msg,
                       int idx) {
  lua_State *L = e->L;
  if (lua_type(L, idx) != LUA_TTABLE) type_error(e, idx, "table (a map)");
  const ProtobufCFieldDescriptor *kf = &entry->desc->fields[0], *vf = &entry->desc->fields[1];
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { lua_pop(L, 1); n++; }
  ProtobufCMessage **items = alloc(e, n * sizeof *items);
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int kidx = lua_gettop(L) - 1;
    path_push_key(e, kidx);
    ProtobufCMessage *em = new_message(e, entry->desc);
    encode_single(e, kf, &entry->fields[0], (char *)em + kf->offset, kidx);
    encode_single(e, vf, &entry->fields[1], (char *)em + vf->offset, kidx + 1);
    items[i++] = em;
    path_pop(e);
    lua_pop(L, 1);
  }
  *(size_t *)((char *)msg + f->quantifier_offset) = i;
  *(ProtobufCMessage ***)((char *)msg + f->offset) = items;
}

static void encode_repeated(Enc *e, const ProtobufCFieldDescriptor *f, const CoFieldInfo *fi, ProtobufCMessage *msg,
                            int idx) {
  lua_State *L = e->L;
  if (fi->is_map) {
    encode_map(e, f, fi->type, msg, idx);
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE) type_error(e, idx, "table (an array)");
  size_t n = 0;
  if (!is_list(L, idx, &n) && n > 0) {
    /* Name the first key that breaks the sequence, or the hole. */
    lua_Integer k;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      if (!integer_key(L, -1, &k) || k < 1) {
        lua_pushvalue(L, -1);
        const char *key = luaL_tolstring(L, -1, NULL);
        path_error(e, "expected an array (keys 1..n), found key %s", key);
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
    path_error(e, "expected an array without holes, but [%d] is nil", (int)hole);
  }
  size_t esize = co_element_size(f->type);
  char *items = alloc(e, n * esize);
  for (size_t i = 0; i < n; i++) {
    path_push_index(e, (long long)i + 1);
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    encode_single(e, f, fi, items + i * esize, lua_gettop(L));
    lua_pop(L, 1);
    path_pop(e);
  }
  *(size_t *)((char *)msg + f->quantifier_offset) = n;
  *(void **)((char *)msg + f->offset) = items;
}

/* `_unknown` (docs/reference.md, "Messages as tables"): the wire bytes of fields a newer schema has, written back as they came.
 * Only fields m lacks: one of its own would be read back as that field, or not at all. */
static void encode_unknown(Enc *e, const CoMessage *m, ProtobufCMessage *msg, int idx) {
  lua_State *L = e->L;
  size_t len, n = 0;
  if (lua_type(L, idx) != LUA_TSTRING) type_error(e, idx, "string (the wire bytes of unknown fields)");
  const uint8_t *s = (const uint8_t *)lua_tolstring(L, idx, &len), *end = s + len, *p, *value;
  uint32_t number;
  int wire, rc = 0;
  for (p = s; p < end && !rc; n++) {
    rc = co_wire_field(&p, end, &number, &wire, &value);
    if (!rc && co_field_index(m, number) >= 0)
      path_error(e, "holds field %d, which %s has: set it by its name", (int)number, m->desc->name);
  }
  if (rc) path_error(e, "not the wire bytes of whole fields: %s", co_decode_strerror(rc));
  ProtobufCMessageUnknownField *fields = alloc(e, n * sizeof *fields);
  for (p = s, n = 0; p < end; n++) {
    co_wire_field(&p, end, &number, &wire, &value);
    fields[n].tag = number;
    fields[n].wire_type = (ProtobufCWireType)wire;
    fields[n].len = (size_t)(p - value);
    fields[n].data = (uint8_t *)value; /* read only: protobuf-c packs it as it is */
  }
  msg->n_unknown_fields = (unsigned)n;
  msg->unknown_fields = fields;
}

/* The index of the field named by key (a Lua string) in m, or -1. Field names are Lua strings
 * made once per state, and Lua interns short strings: a key that is a field name is most often
 * that very string, found by its address; a search by name settles the rest. */
static int field_index(const Enc *e, const CoMessage *m, const char *key) {
  const char *const *names = e->names + m->name_base;
  for (unsigned i = 0; i < m->desc->n_fields; i++)
    if (names[i] == key) return (int)i;
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->desc, key);
  return f ? (int)(f - m->desc->fields) : -1;
}

static ProtobufCMessage *encode_message(Enc *e, const CoMessage *m, int idx) {
  lua_State *L = e->L;
  const ProtobufCMessageDescriptor *d = m->desc;
  ProtobufCMessage *msg = new_message(e, d);
  luaL_checkstack(L, 6, "nesting too deep");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int vidx = lua_gettop(L);
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pushvalue(L, -2);
      const char *k = luaL_tolstring(L, -1, NULL);
      path_error(e, "%s has no field %s: keys must be field names (strings)", d->name, k);
    }
    const char *key = lua_tostring(L, -2);
    int i = field_index(e, m, key);
    if (i < 0) {
      if (strcmp(key, UNKNOWN_KEY) != 0) unknown_field(e, d, key);
      path_push_field(e, UNKNOWN_KEY);
      encode_unknown(e, m, msg, vidx);
      path_pop(e);
      lua_pop(L, 1);
      continue;
    }
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const CoFieldInfo *fi = &m->fields[i];
    path_push_field(e, f->name);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      encode_repeated(e, f, fi, msg, vidx);
    } else {
      if (fi->oneof) {
        uint32_t *which = (uint32_t *)((char *)msg + f->quantifier_offset);
        if (*which && *which != f->id) {
          const ProtobufCFieldDescriptor *other = &d->fields[co_field_index(m, *which)];
          path_pop(e);
          path_error(e, "fields '%s' and '%s' are in the same oneof '%s': set only one",
                     other->name, f->name, co_field_oneof(m, (unsigned)i));
        }
        *which = f->id;
      } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                 f->type != PROTOBUF_C_TYPE_STRING) {
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
      }
      encode_single(e, f, fi, (char *)msg + f->offset, vidx);
    }
    path_pop(e);
    lua_pop(L, 1);
  }
  return msg;
}

/* ---- the conversion ------------------------------------------------------------------------ */

/* Run under lua_pcall by co_encode_push_bytes: (Enc *, value) -> bytes. */
static int encode_body(lua_State *L) {
  Enc *e = lua_touserdata(L, 1);
  ProtobufCMessage *msg = lua_isnoneornil(L, 2) ? new_message(e, e->root->desc)
                                                : encode_message_value(e, e->root, 2);
  size_t size = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = alloc(e, size);
  protobuf_c_message_pack(msg, buf);
  lua_pushlstring(L, (const char *)buf, size);
  return 1;
}

/* What encoding needs in a state, made on its first encode: the body as a Lua function (made
 * once, not per call), and the field names' string addresses. A finalizer that encodes while
 * this runs may have made them first; theirs are kept then. */
static void setup(lua_State *L, CoState *st) {
  size_t n;
  co_schema_names(&n);
  const char **ptrs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *ptrs, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->names_ref);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    ptrs[i] = lua_tostring(L, -1); /* anchored by the names table, for the state's life */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, encode_body);
  if (st->encode_ref) {
    lua_pop(L, 2);
    return;
  }
  st->encode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  st->name_ptrs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  st->name_ptrs = ptrs;
}

void co_encode_push_bytes(lua_State *L, CoState *st, const CoMessage *m, int idx) {
  if (co_encode_try_push_bytes(L, st, m, idx) != 0) lua_error(L);
}

int co_encode_try_push_bytes(lua_State *L, CoState *st, const CoMessage *m, int idx) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 8, "cannot encode: Lua stack full");
  if (!st->encode_ref) setup(L, st);
  Enc e = {.L = L, .names = st->name_ptrs, .root = m};
  /* The state's arena, unless a conversion this one interrupts (from a finalizer) has it. The
   * body runs protected, so that whatever it raises, the arena is given back or freed. */
  CoArena own;
  int lent = !st->arena_busy;
  if (lent) {
    st->arena_busy = 1;
    e.arena = &st->arena;
  } else {
    co_arena_init(&own);
    e.arena = &own;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->encode_ref);
  lua_pushlightuserdata(L, &e);
  lua_pushvalue(L, idx);
  int rc = lua_pcall(L, 2, 1, 0);
  if (lent) {
    co_arena_reset(&st->arena);
    st->arena_busy = 0;
  } else {
    co_arena_free(&own);
  }
  return rc;
}
