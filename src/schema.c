/* Process-wide schema tables: immutable after co_schema_init, so every Lua state (OpenResty's
 * worker-thread VMs included) shares them without locks. */
#include "schema.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static CoMessage *by_desc;          /* sorted by descriptor address */
static const CoMessage **by_full;   /* sorted by full name */
static const CoMessage **by_short;  /* sorted by short name */
static const ProtobufCEnumDescriptor **enums_by_full;
static size_t n_messages;
static const char **names;
static size_t n_names;
static int init_status = -1;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* The Cloud Ops service, and the output message of each of its methods, found once (a call's
 * answer is decoded without a search). */
static const ProtobufCServiceDescriptor *service;
static const CoMessage **method_outputs;

static const ProtobufCServiceDescriptor *find_service(void) {
  for (size_t i = 0; i < co_service_descs_count; i++)
    if (strcmp(co_service_descs[i]->name, "temporal.api.cloud.cloudservice.v1.CloudService") == 0)
      return co_service_descs[i];
  return co_service_descs_count ? co_service_descs[0] : NULL;
}

static int cmp_desc(const void *a, const void *b) {
  const ProtobufCMessageDescriptor *x = ((const CoMessage *)a)->desc;
  const ProtobufCMessageDescriptor *y = ((const CoMessage *)b)->desc;
  return (x > y) - (x < y);
}

static int cmp_full(const void *a, const void *b) {
  return strcmp((*(const CoMessage *const *)a)->desc->name, (*(const CoMessage *const *)b)->desc->name);
}

static int cmp_short(const void *a, const void *b) {
  return strcmp((*(const CoMessage *const *)a)->desc->short_name,
                (*(const CoMessage *const *)b)->desc->short_name);
}

static int cmp_enum(const void *a, const void *b) {
  return strcmp((*(const ProtobufCEnumDescriptor *const *)a)->name,
                (*(const ProtobufCEnumDescriptor *const *)b)->name);
}

static int cmp_extra_name(const void *key, const void *e) {
  return strcmp((const char *)key, ((const CoMessageExtra *)e)->full_name);
}

static CoWkt wkt_of(const char *name) {
  static const struct { const char *name; CoWkt wkt; } known[] = {
    {"google.protobuf.Timestamp", CO_WKT_TIMESTAMP},
    {"google.protobuf.Duration", CO_WKT_DURATION},
    {"google.protobuf.Struct", CO_WKT_STRUCT},
    {"google.protobuf.Value", CO_WKT_VALUE},
    {"google.protobuf.ListValue", CO_WKT_LIST_VALUE},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(name, known[i].name) == 0) return known[i].wkt;
  return CO_WKT_NONE;
}

static int build_fields(void);

static void build(void) {
  n_messages = co_message_descs_count;
  by_desc = calloc(n_messages, sizeof *by_desc);
  by_full = calloc(n_messages, sizeof *by_full);
  by_short = calloc(n_messages, sizeof *by_short);
  enums_by_full = calloc(co_enum_descs_count ? co_enum_descs_count : 1, sizeof *enums_by_full);
  if (!by_desc || !by_full || !by_short || !enums_by_full) return;
  for (size_t i = 0; i < n_messages; i++) {
    const ProtobufCMessageDescriptor *d = co_message_descs[i];
    const CoMessageExtra *x =
        bsearch(d->name, co_message_extra, co_n_message_extra, sizeof *co_message_extra, cmp_extra_name);
    if (!x || x->n_fields != d->n_fields) return;
    for (unsigned f = 1; f < d->n_fields; f++) /* the extra tables assume number order */
      if (d->fields[f - 1].id >= d->fields[f].id) return;
    by_desc[i] = (CoMessage){.desc = d, .extra = x, .wkt = wkt_of(d->name)};
  }
  qsort(by_desc, n_messages, sizeof *by_desc, cmp_desc);
  for (size_t i = 0; i < n_messages; i++) by_full[i] = by_short[i] = &by_desc[i];
  qsort(by_full, n_messages, sizeof *by_full, cmp_full);
  qsort(by_short, n_messages, sizeof *by_short, cmp_short);
  memcpy(enums_by_full, co_enum_descs, co_enum_descs_count * sizeof *enums_by_full);
  qsort(enums_by_full, co_enum_descs_count, sizeof *enums_by_full, cmp_enum);
  if (build_fields() != 0) return;
  service = find_service();
  if (service) {
    method_outputs = calloc(service->n_methods ? service->n_methods : 1, sizeof *method_outputs);
    if (!method_outputs) return;
    for (unsigned i = 0; i < service->n_methods; i++)
      if (!(method_outputs[i] = co_schema_message(service->methods[i].output))) return;
  }
  init_status = 0;
}

/* The index of enum e's first value name, or -1 when e is not registered (a build error). */
static long enum_base(const ProtobufCEnumDescriptor *e, const unsigned *bases) {
  for (size_t i = 0; i < co_enum_descs_count; i++)
    if (co_enum_descs[i] == e) return bases[i];
  return -1;
}

static unsigned char wire_of(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE: return 1;
    case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT: return 5;
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES: case PROTOBUF_C_TYPE_MESSAGE: return 2;
    default: return 0;
  }
}

/* The number lookup, oneof indexes and presence of m's fields (info is m's CoFieldInfo array). */
static int index_fields(CoMessage *m, CoFieldInfo *info) {
  const ProtobufCMessageDescriptor *d = m->desc;
  unsigned max = 0;
  for (unsigned f = 0; f < d->n_fields; f++) if (d->fields[f].id > max) max = d->fields[f].id;
  if (d->n_fields > 254) return -1; /* indexes are kept in a byte */
  unsigned char *by_number = calloc(max + 1, 1), *repeated = calloc(d->n_fields ? d->n_fields : 1, 1);
  if (!by_number || !repeated) {
    free(by_number);
    free(repeated);
    return -1;
  }
  unsigned n_oneofs = 0;
  for (unsigned f = 0; f < d->n_fields; f++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[f];
    by_number[fd->id] = (unsigned char)(f + 1);
    info[f].wire = wire_of(fd->type);
    info[f].repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
    if (info[f].repeated) repeated[m->n_repeated++] = (unsigned char)f;
    const char *oneof = co_field_oneof(m, f);
    if (oneof) { /* the same oneof as an earlier field, or a new one */
      for (unsigned g = 0; g < f && !info[f].oneof; g++)
        if (info[g].oneof && strcmp(co_field_oneof(m, g), oneof) == 0) info[f].oneof = info[g].oneof;
      if (!info[f].oneof) info[f].oneof = (unsigned char)++n_oneofs;
    }
    info[f].presence = fd->type == PROTOBUF_C_TYPE_MESSAGE || oneof ||
                       (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->type != PROTOBUF_C_TYPE_STRING);
  }
  m->by_number = by_number;
  m->max_number = max;
  m->repeated = repeated;
  return 0;
}

/* The name table and each message's per-field info. */
static int build_fields(void) {
  size_t total = 0;
  for (size_t i = 0; i < n_messages; i++) total += by_desc[i].desc->n_fields;
  unsigned *bases = calloc(co_enum_descs_count + 1, sizeof *bases);
  if (!bases) return -1;
  for (size_t i = 0; i < co_enum_descs_count; i++) {
    bases[i] = (unsigned)total;
    total += co_enum_descs[i]->n_values;
  }
  names = calloc(total + 1, sizeof *names);
  if (!names) { free(bases); return -1; }
  size_t k = 0;
  for (size_t i = 0; i < n_messages; i++) {
    CoMessage *m = &by_desc[i];
    const ProtobufCMessageDescriptor *d = m->desc;
    CoFieldInfo *info = calloc(d->n_fields ? d->n_fields : 1, sizeof *info);
    if (!info) { free(bases); return -1; }
    m->name_base = (unsigned)k;
    for (unsigned f = 0; f < d->n_fields; f++) {
      const ProtobufCFieldDescriptor *fd = &d->fields[f];
      names[k++] = fd->name;
      if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        info[f].type = co_schema_message(fd->descriptor);
        info[f].is_map = fd->label == PROTOBUF_C_LABEL_REPEATED && info[f].type && info[f].type->extra->map_entry;
      } else if (fd->type == PROTOBUF_C_TYPE_ENUM) {
        long base = enum_base(fd->descriptor, bases);
        if (base < 0) { free(info); free(bases); return -1; }
        info[f].enum_base = (unsigned)base;
      }
      if (fd->type == PROTOBUF_C_TYPE_MESSAGE && !info[f].type) { free(info); free(bases); return -1; }
    }
    if (index_fields(m, info)) { free(info); free(bases); return -1; }
    m->fields = info;
  }
  for (size_t i = 0; i < co_enum_descs_count; i++)
    for (unsigned v = 0; v < co_enum_descs[i]->n_values; v++) names[k++] = co_enum_descs[i]->values[v].name;
  n_names = k;
  free(bases);
  return 0;
}

const char *const *co_schema_names(size_t *count) {
  *count = n_names;
  return names;
}

int co_schema_init(void) {
  pthread_once(&init_once, build);
  return init_status;
}

const CoMessage *co_schema_message(const ProtobufCMessageDescriptor *desc) {
  CoMessage key = {.desc = desc};
  return bsearch(&key, by_desc, n_messages, sizeof *by_desc, cmp_desc);
}

/* Binary search over a sorted array of names read through `name_of`; sets *count to the
 * number of equal names and returns the first, or NULL. */
static const void *find_sorted(const void *const *arr, size_t n, const char *name,
                               const char *(*name_of)(const void *), size_t *count) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(name_of(arr[mid]), name) < 0) lo = mid + 1; else hi = mid;
  }
  size_t end = lo;
  while (end < n && strcmp(name_of(arr[end]), name) == 0) end++;
  *count = end - lo;
  return *count ? arr[lo] : NULL;
}

static const char *msg_full(const void *p) { return ((const CoMessage *)p)->desc->name; }
static const char *msg_short(const void *p) { return ((const CoMessage *)p)->desc->short_name; }
static const char *enum_full(const void *p) { return ((const ProtobufCEnumDescriptor *)p)->name; }
static const char *enum_short(const void *p) { return ((const ProtobufCEnumDescriptor *)p)->short_name; }

const CoMessage *co_schema_find_message(const char *name, int *ambiguous) {
  size_t count;
  *ambiguous = 0;
  const CoMessage *m = find_sorted((const void *const *)by_full, n_messages, name, msg_full, &count);
  if (m) return m;
  m = find_sorted((const void *const *)by_short, n_messages, name, msg_short, &count);
  if (count > 1) { *ambiguous = 1; return NULL; }
  return m;
}

const ProtobufCEnumDescriptor *co_schema_find_enum(const char *name, int *ambiguous) {
  size_t count, n = co_enum_descs_count;
  *ambiguous = 0;
  const ProtobufCEnumDescriptor *e = find_sorted((const void *const *)enums_by_full, n, name, enum_full, &count);
  if (e) return e;
  const ProtobufCEnumDescriptor *found = NULL; /* short enum names: a rare lookup, a linear scan */
  for (size_t i = 0; i < n; i++) {
    if (strcmp(enum_short(enums_by_full[i]), name) != 0) continue;
    if (found) { *ambiguous = 1; return NULL; }
    found = enums_by_full[i];
  }
  return found;
}

const CoMessage *co_schema_message_at(size_t i, size_t *count) {
  *count = n_messages;
  return i < n_messages ? by_full[i] : NULL;
}

const ProtobufCServiceDescriptor *co_schema_service(void) { return service; }

const CoMessage *co_schema_method_output(unsigned index) { return method_outputs[index]; }

size_t co_element_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4; /* the 32-bit integer types */
  }
}

int co_field_is_map(const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return 0;
  const CoMessage *m = co_schema_message(f->descriptor);
  return m && m->extra->map_entry;
}

const char *co_field_oneof(const CoMessage *m, unsigned field_index) {
  return m->extra->oneof_names ? m->extra->oneof_names[field_index] : NULL;
}
