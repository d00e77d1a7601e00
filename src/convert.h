/* Lua tables <-> protobuf-c messages, generically, by descriptor (API.md "Messages as tables"). */
#ifndef CLOUDOPS_CONVERT_H
#define CLOUDOPS_CONVERT_H

#include <stdint.h>
#include "compat.h"
#include "arena.h"
#include "schema.h"

/* Nesting limits: of Lua tables when encoding, and of messages on the wire when decoding. One
 * Lua level of a Struct is three messages (Struct, its map entry, Value), so the wire limit is
 * three times the Lua one: whatever we encode, we decode. */
#define CO_MAX_DEPTH 100
#define CO_MAX_WIRE_DEPTH (3 * CO_MAX_DEPTH)

/* One step of the path to the value being converted, for error messages. */
typedef struct {
  const char *name;    /* a field name, or a map key given as a string; NULL for an index */
  long long index;     /* an array index (1-based) or an integer map key */
} CoPathStep;

/* Per-Lua-state conversion context: kept as an upvalue of every core function, so states
 * (OpenResty's worker-thread VMs among them) never share one. */
typedef struct {
  CoArena arena;
  int names_ref;       /* registry ref: array of co_schema_names as Lua strings */
  const CoMessage *root;
  int depth;
  CoPathStep path[CO_MAX_DEPTH];
} CoState;

/* Sentinels exposed as cloudops.null and cloudops.empty_array (light userdata). */
extern const char co_empty_array_tag;
#define CO_NULL_SENTINEL ((void *)0)
#define CO_EMPTY_ARRAY_SENTINEL ((void *)&co_empty_array_tag)

/* Builds the message for the table at idx in st's arena (reset it first); raises a Lua error
 * naming the path on a value that does not fit the schema. Strings point into the table's Lua
 * strings, so the table must stay alive until the message is packed. */
ProtobufCMessage *co_encode(lua_State *L, CoState *st, const CoMessage *m, int idx);

/* Packs the table at idx as m and pushes the bytes; raises like co_encode. */
void co_encode_push_bytes(lua_State *L, CoState *st, const CoMessage *m, int idx);

/* Pushes msg as a table. */
void co_decode_push(lua_State *L, CoState *st, const CoMessage *m, const ProtobufCMessage *msg);

/* Unpacks bytes as m and pushes the table; returns 0, or (nothing pushed) -1 when the bytes are
 * not a valid m, -2 when they are cut short or nest deeper than CO_MAX_WIRE_DEPTH, -3 when a
 * string field is not valid UTF-8 (or holds a NUL). */
int co_decode_bytes(lua_State *L, CoState *st, const CoMessage *m, const uint8_t *data, size_t len);

/* Raises a Lua error prefixed with the current conversion path. */
int co_path_error(lua_State *L, CoState *st, const char *fmt, ...);

/* Time text (wkt.c): RFC 3339 timestamps and "1.5s" durations. Parsers return 0 on success. */
int co_parse_rfc3339(const char *s, size_t len, int64_t *seconds, int32_t *nanos);
int co_parse_duration(const char *s, size_t len, int64_t *seconds, int32_t *nanos);
/* Writes at most 40 bytes; returns the length, or -1 when out of the RFC 3339 range. */
int co_format_rfc3339(int64_t seconds, int32_t nanos, char *out);
/* Splits a number of seconds into seconds and nanos (rounded to the nanosecond, same sign);
 * returns -1 when it is not finite or out of range. */
int co_split_seconds(double v, int64_t *seconds, int32_t *nanos);

/* A Timestamp from a number of Unix seconds: nanos made non-negative, years 1..9999 only;
 * returns -1 out of range. */
int co_timestamp_from_seconds(double v, int64_t *seconds, int32_t *nanos);

/* UTF-8 check (strict: no overlongs, surrogates or code points past U+10FFFF); co_utf8_check
 * can also refuse NUL bytes. */
int co_utf8_valid(const char *s, size_t len);
int co_utf8_check(const char *s, size_t len, int allow_nul);

#endif
