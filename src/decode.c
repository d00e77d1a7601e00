/* protobuf-c message -> plain Lua tables (no metatables). Absent scalars and messages are nil,
 * as in proto3 JSON; repeated and map fields are always tables. */
#include "convert.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The decoding context: the state, and the stack index of the field/enum name strings. */
typedef struct {
  lua_State *L;
  int names;
} Dec;

/* Pushes the interned Lua string for name index i (see co_schema_names). */
static inline void push_name(const Dec *d, unsigned i) { lua_rawgeti(d->L, d->names, (lua_Integer)i + 1); }

static void push_message(const Dec *d, const CoMessage *m, const ProtobufCMessage *msg);

/* lua_pushstring would first look the pointer up in Lua 5.4's C-string cache (a strcmp per
 * string): with the length given, the string is made directly. */
static inline void push_cstring(lua_State *L, const char *s) { lua_pushlstring(L, s, strlen(s)); }

static void push_int64(lua_State *L, int64_t v) {
#if CO_HAS_INTEGERS
  lua_pushinteger(L, (lua_Integer)v);
#else
  /* API.md: on LuaJIT a number up to 2^53, exact; beyond, the decimal string. */
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

static void push_enum(const Dec *d, const ProtobufCEnumDescriptor *ed, unsigned base, int v) {
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
  if (ev) push_name(d, base + (unsigned)(ev - ed->values));
  else lua_pushinteger(d->L, v); /* a value a newer server knows and this schema does not */
}

static void push_value(lua_State *L, const ProtobufCMessage *msg);

static void push_struct(lua_State *L, const ProtobufCMessage *msg) {
  luaL_checkstack(L, 4, "message nesting too deep"); /* nesting is bounded by wire_check */
  const ProtobufCFieldDescriptor *f = &msg->descriptor->fields[0];
  size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
  ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)((const char *)msg + f->offset);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    const ProtobufCMessage *entry = items[i];
    const ProtobufCFieldDescriptor *kf = &entry->descriptor->fields[0], *vf = &entry->descriptor->fields[1];
    push_cstring(L, *(const char *const *)((const char *)entry + kf->offset));
    const ProtobufCMessage *v = *(ProtobufCMessage *const *)((const char *)entry + vf->offset);
    if (v) push_value(L, v); else lua_pushlightuserdata(L, CO_NULL_SENTINEL);
    lua_rawset(L, -3);
  }
}

static void push_list_value(lua_State *L, const ProtobufCMessage *msg) {
  luaL_checkstack(L, 4, "message nesting too deep");
  const ProtobufCFieldDescriptor *f = &msg->descriptor->fields[0];
  size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
  if (n == 0) { /* so that an empty list encodes back as a list, not an object */
    lua_pushlightuserdata(L, CO_EMPTY_ARRAY_SENTINEL);
    return;
  }
  ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)((const char *)msg + f->offset);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_value(L, items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_value(lua_State *L, const ProtobufCMessage *msg) {
  luaL_checkstack(L, 4, "message nesting too deep");
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  const ProtobufCFieldDescriptor *any = &d->fields[0];
  uint32_t which = *(const uint32_t *)((const char *)msg + any->quantifier_offset);
  const ProtobufCFieldDescriptor *f = which ? protobuf_c_message_descriptor_get_field(d, which) : NULL;
  if (!f) { lua_pushlightuserdata(L, CO_NULL_SENTINEL); return; }
  const void *slot = (const char *)msg + f->offset;
  switch (which) {
    case 2: lua_pushnumber(L, *(const double *)slot); break;
    case 3: push_cstring(L, *(const char *const *)slot); break;
    case 4: lua_pushboolean(L, *(const protobuf_c_boolean *)slot); break;
    case 5: push_struct(L, *(ProtobufCMessage *const *)slot); break;
    case 6: push_list_value(L, *(ProtobufCMessage *const *)slot); break;
    default: lua_pushlightuserdata(L, CO_NULL_SENTINEL);
  }
}

/* Pushes one value of field f (with its info fi) stored at slot. */
static void push_single(const Dec *d, const ProtobufCFieldDescriptor *f, const CoFieldInfo *fi, const void *slot) {
  lua_State *L = d->L;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
      lua_pushinteger(L, *(const int32_t *)slot); break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
      lua_pushinteger(L, (lua_Integer)*(const uint32_t *)slot); break;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
      push_int64(L, *(const int64_t *)slot); break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
      push_uint64(L, *(const uint64_t *)slot); break;
    case PROTOBUF_C_TYPE_FLOAT: lua_pushnumber(L, *(const float *)slot); break;
    case PROTOBUF_C_TYPE_DOUBLE: lua_pushnumber(L, *(const double *)slot); break;
    case PROTOBUF_C_TYPE_BOOL: lua_pushboolean(L, *(const protobuf_c_boolean *)slot); break;
    case PROTOBUF_C_TYPE_ENUM: push_enum(d, f->descriptor, fi->enum_base, *(const int *)slot); break;
    case PROTOBUF_C_TYPE_STRING: push_cstring(L, *(const char *const *)slot); break;
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *b = slot;
      lua_pushlstring(L, (const char *)b->data, b->len);
      break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: push_message(d, fi->type, *(ProtobufCMessage *const *)slot); break;
  }
}

/* Whether a proto3 field without presence holds its default (and so is absent on the wire). */
static int is_default(const ProtobufCFieldDescriptor *f, const void *slot) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)slot == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)slot == 0 && !signbit(*(const double *)slot);
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)slot == 0 && !signbit(*(const float *)slot);
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)slot;
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(const char *const *)slot;
      return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)slot)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)slot == NULL;
    case PROTOBUF_C_TYPE_ENUM: return *(const int *)slot == 0;
    default: return *(const uint32_t *)slot == 0;
  }
}

static void push_repeated(const Dec *d, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                          const CoFieldInfo *fi) {
  lua_State *L = d->L;
  size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
  const char *items = *(const char *const *)((const char *)msg + f->offset);
  if (fi->is_map) {
    const CoMessage *entry_m = fi->type;
    const ProtobufCFieldDescriptor *kf = &entry_m->desc->fields[0], *vf = &entry_m->desc->fields[1];
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
      const ProtobufCMessage *entry = ((ProtobufCMessage *const *)items)[i];
      push_single(d, kf, &entry_m->fields[0], (const char *)entry + kf->offset);
      if (vf->type == PROTOBUF_C_TYPE_MESSAGE && !*(ProtobufCMessage *const *)((const char *)entry + vf->offset))
        lua_newtable(L); /* an entry without its value holds the empty message */
      else
        push_single(d, vf, &entry_m->fields[1], (const char *)entry + vf->offset);
      lua_rawset(L, -3);
    }
    return;
  }
  size_t esize = co_element_size(f->type);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_single(d, f, fi, items + i * esize);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_message(const Dec *dc, const CoMessage *m, const ProtobufCMessage *msg) {
  lua_State *L = dc->L;
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  luaL_checkstack(L, 4, "message nesting too deep");
  switch (m->wkt) {
    case CO_WKT_STRUCT: push_struct(L, msg); return;
    case CO_WKT_VALUE: push_value(L, msg); return;
    case CO_WKT_LIST_VALUE: push_list_value(L, msg); return;
    default: break;
  }
  lua_createtable(L, 0, (int)d->n_fields);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const CoFieldInfo *fi = &m->fields[i];
    const void *slot = (const char *)msg + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      push_name(dc, m->name_base + i);
      push_repeated(dc, msg, f, fi);
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*(const uint32_t *)((const char *)msg + f->quantifier_offset) != f->id) continue;
      push_name(dc, m->name_base + i);
      if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(ProtobufCMessage *const *)slot) lua_newtable(L);
      else push_single(dc, f, fi, slot);
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
               f->type != PROTOBUF_C_TYPE_STRING) {
      if (!*(const protobuf_c_boolean *)((const char *)msg + f->quantifier_offset)) continue;
      push_name(dc, m->name_base + i);
      push_single(dc, f, fi, slot);
    } else {
      if (is_default(f, slot)) continue;
      push_name(dc, m->name_base + i);
      push_single(dc, f, fi, slot);
    }
    lua_rawset(L, -3);
  }
}

void co_decode_push(lua_State *L, CoState *st, const CoMessage *m, const ProtobufCMessage *msg) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->names_ref);
  Dec d = {L, lua_gettop(L)};
  push_message(&d, m, msg);
  lua_remove(L, d.names);
}

/* Reads a varint at *p (< end); returns -1 when it is truncated or longer than 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

/* Checks the wire bytes of m before protobuf-c sees them: returns 0, -2 when they nest deeper
 * than CO_MAX_WIRE_DEPTH messages or are cut short, -3 when a string field is not valid UTF-8 or
 * holds a NUL (protobuf-c keeps strings NUL-terminated, so it would cut them silently).
 * protobuf-c's unpack recurses once per level with no bound, so a hostile payload (a few bytes
 * per level of google.protobuf.Value) could exhaust the C stack; and it does not check UTF-8,
 * which proto3 requires of a parser. This walks the wire once, recursing only into messages. */
static int wire_check(const CoMessage *m, const uint8_t *p, const uint8_t *end, int depth) {
  if (depth > CO_MAX_WIRE_DEPTH) return -2;
  while (p < end) {
    uint64_t key, len;
    if (read_varint(&p, end, &key)) return -2;
    switch (key & 7) {
      case 0: if (read_varint(&p, end, &len)) return -2; break;
      case 1: if (end - p < 8) return -2; p += 8; break;
      case 5: if (end - p < 4) return -2; p += 4; break;
      case 2: {
        if (read_varint(&p, end, &len) || len > (uint64_t)(end - p)) return -2;
        const ProtobufCFieldDescriptor *f = key >> 3 <= UINT32_MAX
            ? protobuf_c_message_descriptor_get_field(m->desc, (unsigned)(key >> 3)) : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
          const CoMessage *sub = m->fields[f - m->desc->fields].type;
          int rc = sub ? wire_check(sub, p, p + len, depth + 1) : 0;
          if (rc) return rc;
        } else if (f && f->type == PROTOBUF_C_TYPE_STRING) {
          if (!co_utf8_check((const char *)p, (size_t)len, 0)) return -3;
        }
        p += len;
        break;
      }
      default: return -2; /* groups (3, 4) are not proto3; protobuf-c would refuse them too */
    }
  }
  return 0;
}

int co_decode_bytes(lua_State *L, CoState *st, const CoMessage *m, const uint8_t *data, size_t len) {
  int rc = wire_check(m, data, data + len, 0);
  if (rc) return rc;
  co_arena_reset(&st->arena);
  ProtobufCMessage *msg = protobuf_c_message_unpack(m->desc, &st->arena.allocator, len, data);
  if (!msg) return -1;
  co_decode_push(L, st, m, msg);
  co_arena_reset(&st->arena);
  return 0;
}
