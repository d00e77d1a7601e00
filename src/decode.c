/* Wire bytes -> plain Lua tables (no metatables), read straight from the wire: no intermediate
 * C struct, so nothing to free and no state shared with another conversion. Absent scalars and messages are nil, as in proto3 JSON; repeated and map fields
 * are always tables; fields this schema does not know are kept as bytes under `_unknown`.
 *
 * Each message is read twice at its own level: a scan of its keys (skipping values) counts the
 * fields present and the elements of each repeated field, so that every table is made at its
 * final size (no rehash, no slack), then the values are read. The wire is checked as it is read
 * (truncation, wire types, UTF-8, nesting), and every table made or value stored is counted
 * against CO_MAX_DECODE_VALUES, so that a small hostile payload cannot take the Lua heap. */
#include "convert.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define UNKNOWN_KEY "_unknown"

/* The strings a large answer repeats (regions, states written as strings, tag values, the same
 * certificate in every namespace) are made once per decode: a small cache, indexed by a hash of
 * their bytes, of the last string made for each slot. A hit pushes that string again, without
 * Lua's interning (a hash of every byte, then a lookup in the state's string table, a cache
 * miss each) or, for a long string, a copy; a miss makes the string and takes the slot. */
#define STRING_CACHE_SLOTS 1024
/* A large answer, this long or longer: decoded with the string cache, and with the garbage
 * collector paused (co_decode_bytes). */
#define LARGE_ANSWER 16384
typedef struct {
  const char *s;  /* the cached string's bytes (kept alive by the cache table), or NULL */
  uint32_t len;
  uint32_t utf8;  /* checked as a string field's value (UTF-8, no NUL) */
} CachedString;

typedef struct {
  lua_State *L;
  int names;           /* stack index of the field and enum name strings (co_schema_names) */
  size_t left;         /* tables and values this decode may still make */
  size_t unknown_left; /* bytes it may still copy into _unknown strings (see store_unknown) */
  int cache;           /* stack index of the string cache's table, or 0: no cache (small answers) */
  CachedString *cached; /* its slots */
} Dec;

/* Per field of the message being read. */
typedef struct {
  uint32_t count; /* occurrences (elements, for a packed field) seen by the scan; for a
                   * repeated field's table, the elements paid ahead and not yet stored */
  int table;      /* repeated fields: stack index of its table once made, else 0 */
  int set;        /* singular fields: stored in the table by this read */
  lua_Integer n;  /* repeated fields: elements in its table */
} FieldState;

/* Pushes the interned Lua string for name index i (see co_schema_names). */
static inline void push_name(const Dec *d, unsigned i) { lua_rawgeti(d->L, d->names, (lua_Integer)i + 1); }

static inline int spend(Dec *d) {
  if (d->left == 0) return CO_DECODE_TOO_BIG;
  d->left--;
  return 0;
}

/* Pays ahead for the n elements a table is made to hold, so that a table is never made larger
 * than the decode may still fill (a hostile count, a million one-byte elements, is refused
 * before it is allocated). */
static inline int pay_ahead(Dec *d, uint32_t n) {
  if (n > d->left) return CO_DECODE_TOO_BIG;
  d->left -= n;
  return 0;
}

/* Pays for one element: from what was paid ahead for its table (*ahead), else as it comes. */
static inline int pay(Dec *d, uint32_t *ahead) {
  if (ahead && *ahead) {
    --*ahead;
    return 0;
  }
  return spend(d);
}

/* ---- the wire ------------------------------------------------------------------------------ */

/* Reads a varint at *pp (< end), at most 10 bytes. */
static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
  const uint8_t *p = *pp;
  if (p < end && *p < 0x80) {
    *v = *p;
    *pp = p + 1;
    return 0;
  }
  uint64_t r = 0;
  for (int shift = 0; shift < 70 && p < end; shift += 7) {
    uint8_t b = *p++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      *pp = p;
      return 0;
    }
  }
  return CO_DECODE_CUT;
}

/* Reads a field key: its number (>= 1) and wire type. */
static inline int read_key(const uint8_t **pp, const uint8_t *end, uint64_t *number, int *wire) {
  uint64_t key;
  if (read_varint(pp, end, &key)) return CO_DECODE_CUT;
  *number = key >> 3;
  *wire = (int)(key & 7);
  return *number == 0 || key > UINT32_MAX ? CO_DECODE_MALFORMED : 0;
}

/* Reads a length prefix and sets [*start, *stop) to the bytes it covers. */
static inline int read_len(const uint8_t **pp, const uint8_t *end, const uint8_t **start, const uint8_t **stop) {
  uint64_t len;
  if (read_varint(pp, end, &len) || len > (uint64_t)(end - *pp)) return CO_DECODE_CUT;
  *start = *pp;
  *stop = *pp += len;
  return 0;
}

/* Steps over one value of wire type `wire`. Groups (3, 4) are not proto3. */
static int skip_value(int wire, const uint8_t **pp, const uint8_t *end) {
  uint64_t v;
  const uint8_t *a, *b;
  switch (wire) {
    case 0: return read_varint(pp, end, &v);
    case 1: if (end - *pp < 8) return CO_DECODE_CUT; *pp += 8; return 0;
    case 5: if (end - *pp < 4) return CO_DECODE_CUT; *pp += 4; return 0;
    case 2: return read_len(pp, end, &a, &b);
    default: return CO_DECODE_MALFORMED;
  }
}

int co_wire_field(const uint8_t **pp, const uint8_t *end, uint32_t *number, int *wire, const uint8_t **value) {
  uint64_t n;
  int rc = read_key(pp, end, &n, wire);
  if (rc) return rc;
  *number = (uint32_t)n;
  *value = *pp;
  return skip_value(*wire, pp, end);
}

static inline uint32_t read_le32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v; /* the machine is little-endian, as protobuf-c assumes too */
}

static inline uint64_t read_le64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* ---- scalars ------------------------------------------------------------------------------- */

static void push_int64(lua_State *L, int64_t v) {
#if CO_HAS_INTEGERS
  lua_pushinteger(L, (lua_Integer)v);
#else
  /* docs/reference.md, "Messages as tables": on LuaJIT a number up to 2^53, exact; beyond, the decimal string. */
  if (v >= -9007199254740992LL && v <= 9007199254740992LL) {
    lua_pushnumber(L, (lua_Number)v);
  } else {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    lua_pushstring(L, buf);
  }
#endif
}

static void push_uint64(lua_State *L, uint64_t v) {
  if (v <= (uint64_t)INT64_MAX) {
    push_int64(L, (int64_t)v);
  } else {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    lua_pushstring(L, buf);
  }
}

static void push_enum(const Dec *d, const ProtobufCEnumDescriptor *ed, unsigned base, int32_t v) {
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
  if (ev) push_name(d, base + (unsigned)(ev - ed->values));
  else lua_pushinteger(d->L, v); /* a value a newer server knows and this schema does not */
}

/* The n <= 8 bytes at p as a little-endian number, in two overlapping loads (or three bytes),
 * not a memcpy of a variable length, which is a call. */
static inline uint64_t load_le(const uint8_t *p, size_t n) {
  if (n >= 4) return read_le32(p) | (uint64_t)read_le32(p + n - 4) << (8 * (n - 4));
  if (n == 0) return 0;
  return (uint64_t)p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
}

static inline uint64_t mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

/* The cache slot of [s, s + len): every byte of strings up to 24 bytes, three words of longer
 * ones (a collision only costs a miss). */
static inline unsigned cache_slot(const uint8_t *s, size_t len) {
  uint64_t h = len;
  if (len <= 8) {
    h = mix(h, load_le(s, len));
  } else {
    h = mix(h, load_le(s, 8));
    if (len > 16) h = mix(h, load_le(s + len / 2 - 4, 8));
    h = mix(h, load_le(s + len - 8, 8));
  }
  return (unsigned)(h >> 40) & (STRING_CACHE_SLOTS - 1);
}

/* Whether a (a cached string) holds the len bytes at b: most cached strings are short, and two
 * word loads cost less than a call to memcmp. */
static inline int same_bytes(const char *a, const uint8_t *b, size_t len) {
  if (len <= 8) return load_le((const uint8_t *)a, len) == load_le(b, len);
  if (len <= 16) {
    return load_le((const uint8_t *)a, 8) == load_le(b, 8) &&
           load_le((const uint8_t *)a + len - 8, 8) == load_le(b + len - 8, 8);
  }
  return memcmp(a, b, len) == 0;
}

/* Pushes the bytes [s, e) as a Lua string; `utf8`: a string field's, which must be strict
 * UTF-8 without NUL (protobuf-c, which encodes, keeps strings NUL-terminated; and proto3
 * requires parsers to check UTF-8). */
static int push_bytes(const Dec *d, const uint8_t *s, const uint8_t *e, int utf8) {
  lua_State *L = d->L;
  size_t len = (size_t)(e - s);
  if (!d->cache || len == 0 || len > UINT32_MAX) {
    if (utf8 && !co_utf8_check((const char *)s, len, 0)) return CO_DECODE_UTF8;
    lua_pushlstring(L, (const char *)s, len);
    return 0;
  }
  unsigned i = cache_slot(s, len);
  CachedString *c = &d->cached[i];
  if (c->s && c->len == len && same_bytes(c->s, s, len)) {
    if (utf8 && !c->utf8) {
      if (!co_utf8_check((const char *)s, len, 0)) return CO_DECODE_UTF8;
      c->utf8 = 1;
    }
    lua_rawgeti(L, d->cache, (lua_Integer)i + 1);
    return 0;
  }
  if (utf8 && !co_utf8_check((const char *)s, len, 0)) return CO_DECODE_UTF8;
  lua_pushlstring(L, (const char *)s, len);
  lua_pushvalue(L, -1);
  lua_rawseti(L, d->cache, (lua_Integer)i + 1);
  c->s = lua_tostring(L, -1);
  c->len = (uint32_t)len;
  c->utf8 = (uint32_t)utf8;
  return 0;
}

static inline int push_utf8(const Dec *d, const uint8_t *s, const uint8_t *e) { return push_bytes(d, s, e, 1); }

/* Reads one value of scalar field f (any type but message) at *pp and pushes it; *dflt tells
 * whether it is the type's default, which proto3 leaves off the wire. */
static int push_scalar(const Dec *d, const ProtobufCFieldDescriptor *f, const CoFieldInfo *fi,
                       const uint8_t **pp, const uint8_t *end, int *dflt) {
  lua_State *L = d->L;
  uint64_t v;
  if (fi->wire == 0) {
    if (read_varint(pp, end, &v)) return CO_DECODE_CUT;
    *dflt = v == 0;
    switch (f->type) {
      case PROTOBUF_C_TYPE_INT32: lua_pushinteger(L, (int32_t)(uint32_t)v); break;
      case PROTOBUF_C_TYPE_UINT32: lua_pushinteger(L, (lua_Integer)(uint32_t)v); *dflt = (uint32_t)v == 0; break;
      case PROTOBUF_C_TYPE_SINT32: {
        uint32_t u = (uint32_t)v;
        lua_pushinteger(L, (int32_t)(u >> 1) ^ -(int32_t)(u & 1));
        *dflt = u == 0;
        break;
      }
      case PROTOBUF_C_TYPE_INT64: push_int64(L, (int64_t)v); break;
      case PROTOBUF_C_TYPE_UINT64: push_uint64(L, v); break;
      case PROTOBUF_C_TYPE_SINT64: push_int64(L, (int64_t)(v >> 1) ^ -(int64_t)(v & 1)); break;
      case PROTOBUF_C_TYPE_BOOL: lua_pushboolean(L, v != 0); break;
      default: /* enum */
        push_enum(d, f->descriptor, fi->enum_base, (int32_t)(uint32_t)v);
        *dflt = (uint32_t)v == 0;
        break;
    }
    return 0;
  }
  if (fi->wire == 1) {
    if (end - *pp < 8) return CO_DECODE_CUT;
    v = read_le64(*pp);
    *pp += 8;
    if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
      double x;
      memcpy(&x, &v, 8);
      lua_pushnumber(L, x);
      /* -0.0 too: protobuf-c, which encodes, leaves it off the wire as zero, so a decoded
       * table encodes to what it shows */
      *dflt = x == 0;
    } else {
      if (f->type == PROTOBUF_C_TYPE_FIXED64) push_uint64(L, v); else push_int64(L, (int64_t)v);
      *dflt = v == 0;
    }
    return 0;
  }
  if (fi->wire == 5) {
    if (end - *pp < 4) return CO_DECODE_CUT;
    uint32_t u = read_le32(*pp);
    *pp += 4;
    *dflt = u == 0;
    if (f->type == PROTOBUF_C_TYPE_FLOAT) {
      float x;
      memcpy(&x, &u, 4);
      lua_pushnumber(L, x);
      *dflt = x == 0; /* -0.0 too, as for a double */
    } else if (f->type == PROTOBUF_C_TYPE_FIXED32) {
      lua_pushinteger(L, (lua_Integer)u);
    } else {
      lua_pushinteger(L, (int32_t)u);
    }
    return 0;
  }
  const uint8_t *s, *e;
  int rc = read_len(pp, end, &s, &e);
  if (rc) return rc;
  *dflt = s == e;
  return push_bytes(d, s, e, f->type == PROTOBUF_C_TYPE_STRING);
}

/* ---- google.protobuf.Struct, Value and ListValue: plain Lua values ---------------------------- */

static int push_value(Dec *d, const uint8_t *p, const uint8_t *end, int depth);

/* The next field 1, length-delimited, of [*pp, end), other fields skipped: 1 with its bytes in
 * [*s, *e), 0 at the end, or a CO_DECODE_* code. (Struct's entries and ListValue's values.) */
static int next_field_1(const uint8_t **pp, const uint8_t *end, const uint8_t **s, const uint8_t **e) {
  while (*pp < end) {
    uint64_t number;
    int wire, rc = read_key(pp, end, &number, &wire);
    if (rc) return rc;
    if (number != 1) {
      if ((rc = skip_value(wire, pp, end))) return rc;
      continue;
    }
    if (wire != 2) return CO_DECODE_MALFORMED;
    return (rc = read_len(pp, end, s, e)) ? rc : 1;
  }
  return 0;
}

/* How many fields 1 [p, end) holds, checking the keys and lengths. */
static int count_field_1(const uint8_t *p, const uint8_t *end, uint32_t *count) {
  const uint8_t *s, *e;
  int rc;
  for (*count = 0; (rc = next_field_1(&p, end, &s, &e)) == 1;) ++*count;
  return rc;
}

/* Struct (map<string, Value> fields = 1) into the table at t. */
static int struct_into(Dec *d, const uint8_t *p, const uint8_t *end, int t, int depth, uint32_t *ahead) {
  lua_State *L = d->L;
  const uint8_t *q, *qend;
  int rc;
  while ((rc = next_field_1(&p, end, &q, &qend)) == 1) {
    const uint8_t *k = NULL, *kend = NULL, *v = NULL, *vend = NULL;
    if (depth + 1 > CO_MAX_WIRE_DEPTH) return CO_DECODE_DEEP;
    while (q < qend) { /* the entry: key = 1 (string), value = 2 (Value) */
      uint64_t n;
      int wire;
      if ((rc = read_key(&q, qend, &n, &wire))) return rc;
      if ((n == 1 || n == 2) && wire != 2) return CO_DECODE_MALFORMED;
      if (n == 1) rc = read_len(&q, qend, &k, &kend);
      else if (n == 2) rc = read_len(&q, qend, &v, &vend);
      else rc = skip_value(wire, &q, qend);
      if (rc) return rc;
    }
    if (k) {
      if ((rc = push_utf8(d, k, kend))) return rc;
    } else {
      lua_pushliteral(L, "");
    }
    if (v) {
      if ((rc = push_value(d, v, vend, depth + 2))) return rc;
    } else {
      lua_pushlightuserdata(L, CO_NULL_SENTINEL);
    }
    if ((rc = pay(d, ahead))) return rc;
    lua_rawset(L, t);
  }
  return rc;
}

static int push_struct(Dec *d, const uint8_t *p, const uint8_t *end, int depth) {
  uint32_t n;
  int rc = depth > CO_MAX_WIRE_DEPTH ? CO_DECODE_DEEP : count_field_1(p, end, &n);
  if (rc || (rc = spend(d)) || (rc = pay_ahead(d, n))) return rc;
  luaL_checkstack(d->L, 8, "message nesting too deep"); /* nesting is bounded by CO_MAX_WIRE_DEPTH */
  lua_createtable(d->L, 0, (int)n);
  return struct_into(d, p, end, lua_gettop(d->L), depth, &n);
}

/* ListValue (repeated Value values = 1) appended to the table at t, which holds n values. */
static int list_into(Dec *d, const uint8_t *p, const uint8_t *end, int t, lua_Integer n, int depth,
                     uint32_t *ahead) {
  const uint8_t *v, *vend;
  int rc;
  while ((rc = next_field_1(&p, end, &v, &vend)) == 1) {
    if ((rc = push_value(d, v, vend, depth + 1)) || (rc = pay(d, ahead))) return rc;
    lua_rawseti(d->L, t, ++n);
  }
  return rc;
}

static int push_list(Dec *d, const uint8_t *p, const uint8_t *end, int depth) {
  uint32_t n;
  int rc = depth > CO_MAX_WIRE_DEPTH ? CO_DECODE_DEEP : count_field_1(p, end, &n);
  if (rc) return rc;
  luaL_checkstack(d->L, 8, "message nesting too deep");
  if (n == 0) { /* so that an empty list encodes back as a list, not an object */
    lua_pushlightuserdata(d->L, CO_EMPTY_ARRAY_SENTINEL);
    return 0;
  }
  if ((rc = spend(d)) || (rc = pay_ahead(d, n))) return rc;
  lua_createtable(d->L, (int)n, 0);
  return list_into(d, p, end, lua_gettop(d->L), 0, depth, &n);
}

/* Value: its oneof `kind` (null_value 1, number_value 2, string_value 3, bool_value 4,
 * struct_value 5, list_value 6); the last member on the wire wins, a repeated struct or list
 * merges. No member is null. */
static int push_value(Dec *d, const uint8_t *p, const uint8_t *end, int depth) {
  lua_State *L = d->L;
  if (depth > CO_MAX_WIRE_DEPTH) return CO_DECODE_DEEP;
  luaL_checkstack(L, 8, "message nesting too deep");
  lua_pushlightuserdata(L, CO_NULL_SENTINEL);
  int slot = lua_gettop(L);
  uint64_t kind = 0;
  while (p < end) {
    uint64_t number, v;
    int wire, rc = read_key(&p, end, &number, &wire);
    if (rc) return rc;
    static const int wires[] = {0, 0, 1, 2, 0, 2, 2};
    if (number > 6) {
      if ((rc = skip_value(wire, &p, end))) return rc;
      continue;
    }
    if (wire != wires[number]) return CO_DECODE_MALFORMED;
    const uint8_t *s = NULL, *e = NULL;
    if (wire == 2 && (rc = read_len(&p, end, &s, &e))) return rc;
    switch (number) {
      case 1:
        if ((rc = read_varint(&p, end, &v))) return rc;
        lua_pushlightuserdata(L, CO_NULL_SENTINEL);
        break;
      case 2: {
        if (end - p < 8) return CO_DECODE_CUT;
        double x;
        v = read_le64(p);
        memcpy(&x, &v, 8);
        p += 8;
        lua_pushnumber(L, x);
        break;
      }
      case 3:
        if ((rc = push_utf8(d, s, e))) return rc;
        break;
      case 4:
        if ((rc = read_varint(&p, end, &v))) return rc;
        lua_pushboolean(L, v != 0);
        break;
      case 5:
        if (kind == 5) rc = depth + 1 > CO_MAX_WIRE_DEPTH ? CO_DECODE_DEEP : struct_into(d, s, e, slot, depth + 1, NULL);
        else rc = push_struct(d, s, e, depth + 1);
        if (rc) return rc;
        if (kind == 5) continue;
        break;
      default:
        if (kind == 6 && lua_istable(L, slot)) {
          if ((rc = list_into(d, s, e, slot, (lua_Integer)lua_rawlen(L, slot), depth + 1, NULL))) return rc;
          continue;
        }
        if ((rc = push_list(d, s, e, depth + 1))) return rc;
        break;
    }
    kind = number;
    lua_replace(L, slot);
  }
  return 0;
}

/* ---- messages ------------------------------------------------------------------------------ */

static int push_message(Dec *d, const CoMessage *m, const uint8_t *p, const uint8_t *end, int depth);
static int message_into(Dec *d, const CoMessage *m, const uint8_t *p, const uint8_t *end, int t, int depth,
                        FieldState *fs, int merge);

/* A message-typed value: a table, or the plain value of Struct, Value and ListValue. */
static int push_message_value(Dec *d, const CoMessage *m, const uint8_t *p, const uint8_t *end, int depth) {
  switch (m->wkt) {
    case CO_WKT_STRUCT: return push_struct(d, p, end, depth);
    case CO_WKT_VALUE: return push_value(d, p, end, depth);
    case CO_WKT_LIST_VALUE: return push_list(d, p, end, depth);
    default: return push_message(d, m, p, end, depth);
  }
}

/* A message field that appears again merges into what the first made (the protobuf rule);
 * the value on top is what is there, and stays. */
static int merge_message_value(Dec *d, const CoMessage *m, const uint8_t *p, const uint8_t *end, int depth) {
  lua_State *L = d->L;
  int t = lua_gettop(L);
  if (depth > CO_MAX_WIRE_DEPTH) return CO_DECODE_DEEP;
  switch (m->wkt) {
    case CO_WKT_STRUCT: return struct_into(d, p, end, t, depth, NULL);
    case CO_WKT_LIST_VALUE: return list_into(d, p, end, t, (lua_Integer)lua_rawlen(L, t), depth, NULL);
    default: {
      luaL_checkstack(L, (int)m->n_repeated + 8, "message nesting too deep");
      FieldState fs[m->desc->n_fields ? m->desc->n_fields : 1];
      memset(fs, 0, sizeof fs);
      return message_into(d, m, p, end, t, depth, fs, 1);
    }
  }
}

/* One entry (a message of type `entry`) of a map field into the table at map. */
static int map_entry(Dec *d, const CoMessage *entry, const uint8_t *p, const uint8_t *end, int map, int depth,
                     uint32_t *ahead) {
  lua_State *L = d->L;
  const ProtobufCFieldDescriptor *kf = &entry->desc->fields[0], *vf = &entry->desc->fields[1];
  const CoFieldInfo *ki = &entry->fields[0], *vi = &entry->fields[1];
  const uint8_t *k = NULL, *v = NULL;
  int rc, dflt;
  if (depth > CO_MAX_WIRE_DEPTH) return CO_DECODE_DEEP;
  while (p < end) { /* the last key and value win; anything else in an entry is dropped */
    uint64_t n;
    int wire;
    if ((rc = read_key(&p, end, &n, &wire))) return rc;
    const uint8_t *at = p;
    if ((rc = skip_value(wire, &p, end))) return rc;
    if (n == 1 || n == 2) {
      if (wire != (n == 1 ? ki : vi)->wire) return CO_DECODE_MALFORMED;
      if (n == 1) k = at; else v = at;
    }
  }
  if (k) {
    if ((rc = push_scalar(d, kf, ki, &k, end, &dflt))) return rc;
  } else if (kf->type == PROTOBUF_C_TYPE_STRING) {
    lua_pushliteral(L, "");
  } else if (kf->type == PROTOBUF_C_TYPE_BOOL) {
    lua_pushboolean(L, 0);
  } else {
    lua_pushinteger(L, 0);
  }
  if (vf->type == PROTOBUF_C_TYPE_MESSAGE) {
    const uint8_t *s = v, *e = v;
    if (v && (rc = read_len(&v, end, &s, &e))) return rc;
    rc = push_message_value(d, vi->type, s, e, depth + 1); /* absent: the empty message */
  } else if (v) {
    rc = push_scalar(d, vf, vi, &v, end, &dflt);
  } else { /* absent: the type's default */
    static const uint8_t zeros[8] = {0};
    const uint8_t *z = zeros;
    rc = push_scalar(d, vf, vi, &z, zeros + sizeof zeros, &dflt);
  }
  if (rc || (rc = pay(d, ahead))) return rc;
  lua_rawset(L, map);
  return 0;
}

/* The table of repeated field i (made at its final size on first use), pushed and remembered. */
static int repeated_table(Dec *d, const CoMessage *m, unsigned i, int t, FieldState *s, int merge) {
  lua_State *L = d->L;
  if (merge) { /* merging into a decoded table: it is there */
    push_name(d, m->name_base + i);
    lua_rawget(L, t);
    if (lua_istable(L, -1)) {
      s->table = lua_gettop(L);
      s->n = m->fields[i].is_map ? 0 : (lua_Integer)lua_rawlen(L, -1);
      return 0;
    }
    lua_pop(L, 1);
  }
  int rc = spend(d);
  if (rc || (rc = spend(d)) || (rc = pay_ahead(d, s->count))) return rc; /* the table, its place, its elements */
  if (m->fields[i].is_map) lua_createtable(L, 0, (int)s->count);
  else lua_createtable(L, (int)s->count, 0);
  push_name(d, m->name_base + i);
  lua_pushvalue(L, -2);
  lua_rawset(L, t);
  s->table = lua_gettop(L);
  s->n = 0;
  return 0;
}

static int repeated_value(Dec *d, const CoMessage *m, unsigned i, int wire, const uint8_t **pp, const uint8_t *end,
                          int t, FieldState *fs, int merge, int depth) {
  lua_State *L = d->L;
  const ProtobufCFieldDescriptor *f = &m->desc->fields[i];
  const CoFieldInfo *fi = &m->fields[i];
  FieldState *s = &fs[i];
  int rc, dflt;
  if (!s->table && (rc = repeated_table(d, m, i, t, s, merge))) return rc;
  if (wire == fi->wire && wire != 2) { /* one scalar */
    if ((rc = push_scalar(d, f, fi, pp, end, &dflt)) || (rc = pay(d, &s->count))) return rc;
    lua_rawseti(L, s->table, ++s->n);
    return 0;
  }
  if (wire != 2) return CO_DECODE_MALFORMED;
  const uint8_t *p, *e;
  if ((rc = read_len(pp, end, &p, &e))) return rc;
  if (fi->wire != 2) { /* packed scalars */
    while (p < e) {
      if ((rc = push_scalar(d, f, fi, &p, e, &dflt)) || (rc = pay(d, &s->count))) return rc;
      lua_rawseti(L, s->table, ++s->n);
    }
    return 0;
  }
  if (fi->is_map) return map_entry(d, fi->type, p, e, s->table, depth + 1, &s->count);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) rc = push_message_value(d, fi->type, p, e, depth + 1);
  else rc = push_bytes(d, p, e, f->type == PROTOBUF_C_TYPE_STRING);
  if (rc || (rc = pay(d, &s->count))) return rc;
  lua_rawseti(L, s->table, ++s->n);
  return 0;
}

/* Clears the other members of field i's oneof, where set: the last member on the wire wins. */
static void clear_oneof(Dec *d, const CoMessage *m, unsigned i, int t, FieldState *fs, int merge) {
  for (unsigned j = 0; j < m->desc->n_fields; j++) {
    if (j == i || m->fields[j].oneof != m->fields[i].oneof || !(fs[j].set || merge)) continue;
    push_name(d, m->name_base + j);
    lua_pushnil(d->L);
    lua_rawset(d->L, t);
    fs[j].set = 0;
  }
}

static int singular_value(Dec *d, const CoMessage *m, unsigned i, int wire, const uint8_t **pp, const uint8_t *end,
                          int t, FieldState *fs, int merge, int depth) {
  lua_State *L = d->L;
  const ProtobufCFieldDescriptor *f = &m->desc->fields[i];
  const CoFieldInfo *fi = &m->fields[i];
  int rc, dflt = 0;
  if (wire != fi->wire) return CO_DECODE_MALFORMED;
  if (fi->oneof) clear_oneof(d, m, i, t, fs, merge);
  push_name(d, m->name_base + i);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
    const uint8_t *p, *e;
    if ((rc = read_len(pp, end, &p, &e))) return rc;
    if ((fs[i].set || merge) && fi->type->wkt != CO_WKT_VALUE) { /* a Value is replaced whole */
      int top = lua_gettop(L) - 1;
      lua_pushvalue(L, -1);
      lua_rawget(L, t);
      if (lua_istable(L, -1)) {
        rc = merge_message_value(d, fi->type, p, e, depth + 1);
        lua_settop(L, top);
        return rc;
      }
      lua_pop(L, 1);
    }
    rc = push_message_value(d, fi->type, p, e, depth + 1);
  } else {
    rc = push_scalar(d, f, fi, pp, end, &dflt);
  }
  if (rc) return rc;
  if (dflt && !fi->presence) { /* proto3: the default is the same as absent */
    if (!(fs[i].set || merge)) {
      lua_pop(L, 2);
      return 0;
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    fs[i].set = 0;
  } else {
    if ((rc = spend(d))) return rc;
    fs[i].set = 1;
  }
  lua_rawset(L, t);
  return 0;
}

/* ---- unknown fields ------------------------------------------------------------------------ */

/* What message_into saw of the unknown fields of one message (one pass, no copy). */
typedef struct {
  const uint8_t *first;    /* the first unknown field's key, or NULL: none */
  const uint8_t *last_end; /* where the last one ended */
  size_t size;             /* their bytes as written back: each key the shortest varint */
  int runs;                /* stretches of unknown fields side by side */
  int minimal;             /* whether every key already was the shortest varint */
} Unknown;

static inline size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

static inline void note_unknown(Unknown *u, const uint8_t *at, const uint8_t *value, const uint8_t *end,
                                uint64_t number, int wire) {
  size_t key = varint_size(number << 3 | (unsigned)wire);
  if (!u->first) u->first = at;
  if (u->last_end != at) u->runs++;
  if (key != (size_t)(value - at)) u->minimal = 0;
  u->last_end = end;
  u->size += key + (size_t)(end - value);
}

/* Writes the unknown fields of m in [p, end) to out, in wire order, each key as the shortest
 * varint (as the encoder writes it back, so that a decoded table encodes to bytes that decode
 * to the same table). The bytes were read once already: they are whole. */
static void copy_unknown(const CoMessage *m, const uint8_t *p, const uint8_t *end, char *out) {
  while (p < end) {
    uint32_t number;
    int wire;
    const uint8_t *value;
    co_wire_field(&p, end, &number, &wire, &value);
    if (co_field_index(m, number) >= 0) continue;
    for (uint64_t k = (uint64_t)number << 3 | (unsigned)wire; ; k >>= 7) {
      *out++ = (char)(k < 0x80 ? k : (k & 0x7f) | 0x80);
      if (k < 0x80) break;
    }
    memcpy(out, value, (size_t)(p - value));
    out += p - value;
  }
}

/* Stores t._unknown: the unknown fields u found in [.., end), after what t held already (a
 * message given twice). Their bytes are gathered once, in one string: a single stretch with
 * shortest keys is pushed straight from the wire; otherwise a scratch buffer of the exact size
 * is filled in one pass. The bytes are charged to the decode's bounds: one value per
 * CO_UNKNOWN_BYTES_PER_VALUE bytes, and every byte copied (again, when a message given twice
 * merges its unknown fields into the earlier ones) counts against unknown_left, twice the
 * answer's size, so that memory stays linear in the answer however its fields are arranged. */
static int store_unknown(Dec *d, const CoMessage *m, const Unknown *u, const uint8_t *end, int t, int merge) {
  lua_State *L = d->L;
  size_t old_len = 0;
  const char *old = NULL;
  lua_pushliteral(L, UNKNOWN_KEY);
  int key = lua_gettop(L);
  if (merge) {
    lua_pushvalue(L, key);
    lua_rawget(L, t);
    if (lua_type(L, -1) == LUA_TSTRING) old = lua_tolstring(L, -1, &old_len);
    else lua_pop(L, 1);
  }
  size_t total = old_len + u->size;
  if (total > d->unknown_left) return CO_DECODE_UNKNOWN_REPEATED;
  d->unknown_left -= total;
  int rc = pay_ahead(d, (uint32_t)(total / CO_UNKNOWN_BYTES_PER_VALUE > UINT32_MAX ? UINT32_MAX
                                   : total / CO_UNKNOWN_BYTES_PER_VALUE));
  if (rc || (!old && (rc = spend(d)))) return rc;
  if (!old && u->runs == 1 && u->minimal) {
    lua_pushlstring(L, (const char *)u->first, u->size);
  } else {
#if LUA_VERSION_NUM >= 502
    /* A luaL_Buffer of the exact size: its box (on top, nothing pushed over it) is freed as
     * soon as the string is made, not left to the collector. */
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, total);
    if (old) memcpy(out, old, old_len);
    copy_unknown(m, u->first, end, out + old_len);
    luaL_pushresultsize(&b, total);
#else
    char *out = lua_newuserdata(L, total ? total : 1);
    if (old) memcpy(out, old, old_len);
    copy_unknown(m, u->first, end, out + old_len);
    lua_pushlstring(L, out, total);
    lua_remove(L, -2);
#endif
  }
  if (old) lua_remove(L, -2);
  lua_rawset(L, t);
  return 0;
}

/* Reads the fields of m in [p, end) into the table at t. fs holds the scan's counts; merge
 * says t may already hold fields (a message that appears twice). */
static int message_into(Dec *d, const CoMessage *m, const uint8_t *p, const uint8_t *end, int t, int depth,
                        FieldState *fs, int merge) {
  Unknown u = {NULL, NULL, 0, 0, 1};
  int rc;
  while (p < end) {
    const uint8_t *at = p;
    uint64_t number;
    int wire;
    if ((rc = read_key(&p, end, &number, &wire))) return rc;
    int i = co_field_index(m, number);
    if (i < 0) { /* noted now, gathered once at the end */
      const uint8_t *value = p;
      if ((rc = skip_value(wire, &p, end))) return rc;
      note_unknown(&u, at, value, p, number, wire);
      continue;
    }
    if (m->fields[i].repeated)
      rc = repeated_value(d, m, (unsigned)i, wire, &p, end, t, fs, merge, depth);
    else
      rc = singular_value(d, m, (unsigned)i, wire, &p, end, t, fs, merge, depth);
    if (rc) return rc;
  }
  return u.first ? store_unknown(d, m, &u, end, t, merge) : 0;
}

/* The scan: counts each field's occurrences (a packed field's elements), and how many keys the
 * message's table will hold. */
static int scan(const CoMessage *m, const uint8_t *p, const uint8_t *end, FieldState *fs, int *keys) {
  int singular = 0, unknown = 0, rc;
  while (p < end) {
    uint64_t number;
    int wire;
    if ((rc = read_key(&p, end, &number, &wire))) return rc;
    const uint8_t *at = p;
    if ((rc = skip_value(wire, &p, end))) return rc;
    int i = co_field_index(m, number);
    if (i < 0) {
      unknown = 1;
      continue;
    }
    const CoFieldInfo *fi = &m->fields[i];
    if (!fi->repeated) {
      singular += fs[i].count == 0;
      fs[i].count++;
    } else if (wire == 2 && fi->wire != 2) { /* packed: count the elements */
      const uint8_t *s = at, *e = at;
      read_len(&at, end, &s, &e); /* checked by skip_value */
      if (fi->wire == 1) fs[i].count += (uint32_t)((e - s) / 8);
      else if (fi->wire == 5) fs[i].count += (uint32_t)((e - s) / 4);
      else for (; s < e; s++) fs[i].count += *s < 0x80;
    } else {
      fs[i].count++;
    }
  }
  *keys = singular + (int)m->n_repeated + unknown;
  return 0;
}

static int push_message(Dec *d, const CoMessage *m, const uint8_t *p, const uint8_t *end, int depth) {
  lua_State *L = d->L;
  unsigned n = m->desc->n_fields;
  int keys, rc;
  if (depth > CO_MAX_WIRE_DEPTH) return CO_DECODE_DEEP;
  FieldState fs[n ? n : 1];
  memset(fs, 0, sizeof fs);
  if ((rc = scan(m, p, end, fs, &keys)) || (rc = spend(d))) return rc;
  luaL_checkstack(L, (int)m->n_repeated + 8, "message nesting too deep");
  lua_createtable(L, 0, keys);
  int t = lua_gettop(L);
  if ((rc = message_into(d, m, p, end, t, depth, fs, 0))) return rc;
  for (unsigned r = 0; r < m->n_repeated; r++) { /* docs/reference.md: absent repeated fields are empty tables */
    unsigned i = m->repeated[r];
    if (fs[i].table) continue;
    if ((rc = spend(d)) || (rc = spend(d))) return rc;
    push_name(d, m->name_base + i);
    lua_createtable(L, 0, 0);
    lua_rawset(L, t);
  }
  lua_settop(L, t);
  return 0;
}

static int decode_here(lua_State *L, CoState *st, const CoMessage *m, const uint8_t *data, size_t len) {
  static const uint8_t none[1];
  int base = lua_gettop(L);
  if (!data) data = none;
  luaL_checkstack(L, 16, "cannot decode: Lua stack full");
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->names_ref);
  Dec d = {L, base + 1, CO_MAX_DECODE_VALUES, 2 * len + CO_UNKNOWN_SLACK, 0, NULL};
  CachedString cached[len >= LARGE_ANSWER ? STRING_CACHE_SLOTS : 1];
  if (len >= LARGE_ANSWER) {
    memset(cached, 0, sizeof cached);
    lua_createtable(L, STRING_CACHE_SLOTS, 0);
    d.cache = base + 2;
    d.cached = cached;
  }
  int rc = push_message_value(&d, m, data, data + len, 0);
  if (rc) {
    lua_settop(L, base);
    return rc;
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return 0;
}

/* The Lua heap a decode grows by, about, per byte of answer (a page of 1000 namespaces: 5.4x on
 * Lua 5.4), paid to the collector ahead of the decode. */
#define PAID_AHEAD 6

typedef struct {
  CoState *st;
  const CoMessage *m;
  const uint8_t *data;
  size_t len;
  int rc;
} Protected;

static int l_protected_decode(lua_State *L) {
  Protected *p = lua_touserdata(L, 1);
  lua_pop(L, 1);
  p->rc = decode_here(L, p->st, p->m, p->data, p->len);
  return p->rc == 0 ? 1 : 0;
}

int co_decode_bytes(lua_State *L, CoState *st, const CoMessage *m, const uint8_t *data, size_t len, int protect) {
  if (len < LARGE_ANSWER || !lua_gc(L, LUA_GCISRUNNING, 0)) return decode_here(L, st, m, data, len);
  /* A large answer is decoded with the collector paused: its incremental steps would otherwise
   * mark the result's tables while they grow, and each insertion into a marked table sends it
   * back to be traversed again. The collection work the decode owes is done in one step, and
   * ahead of it, for what the decode will allocate (PAID_AHEAD times the answer): a step after
   * it would have to mark the whole fresh result, which the caller is about to read and most
   * often drops soon after, while a step before it works on what is there (the garbage of the
   * answers before, the collector's other work). What the decode allocated past that estimate
   * is paid after it. The collector restarts whatever the decode raises (out of memory), and
   * no finalizer runs in the middle of the decode. */
  luaL_checkstack(L, 4, "cannot decode: Lua stack full");
  int ahead_kb = len / 1024 * PAID_AHEAD > INT_MAX ? INT_MAX : (int)(len / 1024 * PAID_AHEAD);
  lua_gc(L, LUA_GCSTEP, ahead_kb);
  int before_kb = lua_gc(L, LUA_GCCOUNT, 0);
  Protected p = {st, m, data, len, 0};
  lua_gc(L, LUA_GCSTOP, 0);
  lua_pushcfunction(L, l_protected_decode);
  lua_pushlightuserdata(L, &p);
  int status = lua_pcall(L, 1, 1, 0);
  lua_gc(L, LUA_GCRESTART, 0);
  if (status == LUA_ERRMEM && protect) { /* what was made so far is garbage now */
    lua_pop(L, 1);
    return CO_DECODE_NOMEM;
  }
  if (status != 0) lua_error(L); /* what the decode raised, raised again */
  if (p.rc) {
    lua_pop(L, 1);
    return p.rc;
  }
  int grown_kb = lua_gc(L, LUA_GCCOUNT, 0) - before_kb - ahead_kb;
  if (grown_kb > 0) lua_gc(L, LUA_GCSTEP, grown_kb);
  return 0;
}


_Static_assert(CO_MAX_WIRE_DEPTH == 300 && CO_MAX_DECODE_VALUES == 2000000 && CO_UNKNOWN_BYTES_PER_VALUE == 16,
               "update co_decode_strerror's text");

const char *co_decode_strerror(int rc) {
  switch (rc) {
    case 0: return "no error";
    case CO_DECODE_CUT: return "cut short (a length or value runs past the end)";
    case CO_DECODE_UTF8: return "a string field is not valid UTF-8 (or holds a NUL)";
    case CO_DECODE_DEEP: return "nested deeper than 300 messages";
    case CO_DECODE_TOO_BIG:
      return "it would decode into more than 2,000,000 Lua tables and values (the bytes of unknown fields "
             "counted as one value per 16), past the bound that keeps a hostile answer from exhausting memory";
    case CO_DECODE_UNKNOWN_REPEATED:
      return "its unknown fields would be copied again and again (a message given many times over, each with "
             "unknown fields), past twice the answer's size";
    case CO_DECODE_NOMEM: return "not enough memory";
    default: return "the bytes are not a valid encoding of it";
  }
}
