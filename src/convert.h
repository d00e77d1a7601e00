/* Lua tables <-> protobuf-c messages, generically, by descriptor (docs/reference.md, "Messages as tables"). */
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

/* Bound on what one decode may make: Lua tables created plus values stored in tables. A page
 * of 1000 realistic namespaces makes about 84,000; 8 MB of empty Namespaces (2 bytes each on
 * the wire, 12 tables and values once decoded) would make 48 million, gigabytes of Lua heap. */
#define CO_MAX_DECODE_VALUES 2000000
/* Unknown fields are kept as their bytes (`_unknown`): they are charged to that bound at one
 * value per this many bytes (at most 32 MB of them in one decode), and all the bytes copied into
 * `_unknown` strings may not pass twice the input's size plus this slack (decode.c,
 * store_unknown). */
#define CO_UNKNOWN_BYTES_PER_VALUE 16
#define CO_UNKNOWN_SLACK 65536

/* Per-Lua-state conversion context: kept as an upvalue of every core function, so states
 * (OpenResty's worker-thread VMs among them) never share one. What one conversion needs (its
 * path, depth, arena) lives with that conversion, so that a conversion started by a finalizer
 * during another (a __gc, LuaJIT's ffi.gc) leaves the outer one intact. */
typedef struct {
  CoArena arena;       /* encode's arena, lent to one conversion at a time (arena_busy) */
  int names_ref;       /* registry ref: array of co_schema_names as Lua strings */
  int arena_busy;
  int encode_ref;      /* registry ref: the protected encode body, made on first use (0: not yet) */
  int name_ptrs_ref;   /* registry ref: the userdata name_ptrs points into (0: not yet) */
  const char *const *name_ptrs; /* the names' Lua string contents, for lookup by identity */
  int result_ref;      /* registry ref: call.c's push_result_in_pcall, made once */
} CoState;

/* Sentinels exposed as cloudops.null and cloudops.empty_array (light userdata). */
extern const char co_empty_array_tag;
#define CO_NULL_SENTINEL ((void *)0)
#define CO_EMPTY_ARRAY_SENTINEL ((void *)&co_empty_array_tag)

/* Packs the table at idx as m and pushes the bytes; raises a Lua error naming the path on a value
 * that does not fit the schema. Whatever it raises, it keeps no memory. */
void co_encode_push_bytes(lua_State *L, CoState *st, const CoMessage *m, int idx);
/* The same, returning instead of raising: 0 with the bytes pushed, or lua_pcall's status with
 * the error pushed. */
int co_encode_try_push_bytes(lua_State *L, CoState *st, const CoMessage *m, int idx);

/* co_decode_bytes' results: 0, or (nothing pushed) one of these. */
enum {
  CO_DECODE_MALFORMED = -1, /* not a valid encoding of the message */
  CO_DECODE_CUT = -2,       /* cut short: a length or value runs past the end */
  CO_DECODE_UTF8 = -3,      /* a string field is not valid UTF-8, or holds a NUL */
  CO_DECODE_DEEP = -4,      /* nested deeper than CO_MAX_WIRE_DEPTH messages */
  CO_DECODE_TOO_BIG = -5,   /* would make more than CO_MAX_DECODE_VALUES Lua values */
  CO_DECODE_UNKNOWN_REPEATED = -6, /* unknown fields copied past 2 x the input + CO_UNKNOWN_SLACK */
  CO_DECODE_NOMEM = -7,     /* Lua ran out of memory (only when asked to protect) */
};

/* Unpacks bytes as m and pushes the table (docs/reference.md "Messages as tables"); returns 0 or
 * a CO_DECODE_* code. When Lua runs out of memory it raises; but with `protect`, a large
 * answer's decode (the collector paused, under a pcall of its own that restarts it) returns
 * CO_DECODE_NOMEM instead, what it made so far left to the collector: the caller of a protected
 * decode runs it under lua_pcall, and takes a LUA_ERRMEM there as CO_DECODE_NOMEM too (a call's
 * answer). Nothing is shared with other conversions, so a finalizer may convert during it. */
int co_decode_bytes(lua_State *L, CoState *st, const CoMessage *m, const uint8_t *data, size_t len, int protect);

/* Steps over the field at *pp (< end): its number, wire type, and where its value starts (after
 * the key); returns 0 or a CO_DECODE_* code. */
int co_wire_field(const uint8_t **pp, const uint8_t *end, uint32_t *number, int *wire, const uint8_t **value);

/* What a nonzero co_decode_bytes result means, as text: "cut short (...)". */
const char *co_decode_strerror(int rc);

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
