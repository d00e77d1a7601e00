/* A bump allocator for one conversion at a time. Encoding builds protobuf-c structs in it and
 * decoding unpacks into it; nothing in it is freed piecemeal, so a Lua error raised halfway
 * through a conversion leaks nothing: the next co_arena_reset reclaims it all. */
#ifndef CLOUDOPS_ARENA_H
#define CLOUDOPS_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct CoChunk CoChunk;

typedef struct {
  CoChunk *head;      /* the chunk being filled; older ones follow */
  size_t total;       /* bytes held in all chunks */
  ProtobufCAllocator allocator; /* for protobuf_c_message_unpack */
} CoArena;

void co_arena_init(CoArena *a);
/* Reclaims everything; keeps one chunk of the size last needed (up to a cap) for reuse. */
void co_arena_reset(CoArena *a);
void co_arena_free(CoArena *a);
/* Zeroed memory, 16-byte aligned; NULL only when the system is out of memory. */
void *co_arena_alloc(CoArena *a, size_t size);

#endif
