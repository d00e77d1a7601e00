/* The schema built in: protobuf-c descriptors plus what they lack (see proto/gen_registry.lua). */
#ifndef CLOUDOPS_SCHEMA_H
#define CLOUDOPS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* The API versions the schema's comments give (proto/versioning.lua): the first that has it,
 * the last that supports it, and the field to use instead; NULL where none is given. */
typedef struct {
  const char *min_version, *max_version, *replaced_by;
} CoVersionRange;

/* Generated, per message (sorted by full name): per-field arrays in field-number order, which is
 * also the order of protobuf-c's `fields`. */
typedef struct {
  const char *full_name;
  unsigned n_fields;
  int map_entry;
  const char *const *oneof_names; /* NULL entries for fields outside a oneof */
  const char *const *json_names;
  const CoVersionRange *versions; /* [0] the message, [1 + i] field i; NULL if nothing is versioned */
} CoMessageExtra;

extern const char co_api_version[];
extern const CoMessageExtra co_message_extra[];
extern const size_t co_n_message_extra;
extern const ProtobufCMessageDescriptor *const co_message_descs[];
extern const size_t co_message_descs_count;
extern const ProtobufCEnumDescriptor *const co_enum_descs[];
extern const size_t co_enum_descs_count;
extern const ProtobufCServiceDescriptor *const co_service_descs[];
extern const size_t co_service_descs_count;

/* Messages with a special table form. */
typedef enum {
  CO_WKT_NONE = 0,
  CO_WKT_TIMESTAMP,
  CO_WKT_DURATION,
  CO_WKT_STRUCT,
  CO_WKT_VALUE,
  CO_WKT_LIST_VALUE,
} CoWkt;

typedef struct CoMessage CoMessage;

/* What conversion needs per field, found once at init instead of per value. */
typedef struct {
  const CoMessage *type; /* message-typed fields: the field's message */
  unsigned enum_base;    /* enum-typed fields: index of the enum's first value in co_schema_names */
  unsigned char is_map;
  unsigned char repeated; /* a repeated or map field */
  unsigned char oneof;    /* 1 + the index of its oneof among the message's, or 0 */
  unsigned char presence; /* kept when it holds its default: a message, a oneof member, or a proto3
                           * `optional` scalar other than a string (as protobuf-c tracks them) */
  unsigned char wire;     /* its wire type: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit */
} CoFieldInfo;

struct CoMessage {
  const ProtobufCMessageDescriptor *desc;
  const CoMessageExtra *extra;
  CoWkt wkt;
  unsigned name_base; /* index of its first field's name in co_schema_names */
  const CoFieldInfo *fields; /* parallel to desc->fields */
  /* Field lookup by number without a search: by_number[n] is 1 + the index of field n in
   * desc->fields, or 0, for n <= max_number. */
  const unsigned char *by_number;
  unsigned max_number;
  unsigned n_repeated; /* repeated and map fields, which always decode to a table */
  const unsigned char *repeated; /* their indexes in desc->fields */
};

/* The index of field `number` in m->desc->fields, or -1 when m has no such field. */
static inline int co_field_index(const CoMessage *m, uint64_t number) {
  return number <= m->max_number ? (int)m->by_number[number] - 1 : -1;
}

/* Builds the process-wide tables once; safe to call from several threads. Returns 0 on success,
 * or -1 when the generated tables disagree with the compiled descriptors (a build error). */
int co_schema_init(void);

/* The message entry for a descriptor compiled in (never NULL for one of ours). */
const CoMessage *co_schema_message(const ProtobufCMessageDescriptor *desc);

/* Lookup by full name, or by short name where it is unique. NULL when unknown; *ambiguous is
 * set when a short name names several messages. */
const CoMessage *co_schema_find_message(const char *name, int *ambiguous);
const ProtobufCEnumDescriptor *co_schema_find_enum(const char *name, int *ambiguous);

/* Every field name (by message, in field order) and every enum value name (by enum, in the order
 * of its protobuf-c `values`), so that each Lua state can make them Lua strings once. */
const char *const *co_schema_names(size_t *count);

/* The i-th message by full name (0-based), and how many there are. */
const CoMessage *co_schema_message_at(size_t i, size_t *count);

/* The Cloud Ops service, and the output message of its method `index` (0-based). */
const ProtobufCServiceDescriptor *co_schema_service(void);
const CoMessage *co_schema_method_output(unsigned index);

/* The size of one element of a repeated field of type t in a protobuf-c struct's array. */
size_t co_element_size(ProtobufCType t);

/* Whether a repeated message field is a map (its entry type is a map entry). */
int co_field_is_map(const ProtobufCFieldDescriptor *f);

/* The oneof a field belongs to (NULL if none), by the field's index in desc->fields. */
const char *co_field_oneof(const CoMessage *m, unsigned field_index);

#endif
