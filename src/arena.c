#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct CoChunk {
  CoChunk *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

enum { FIRST_CHUNK = 16 * 1024, KEEP_AT_MOST = 4 * 1024 * 1024 };

static CoChunk *chunk_new(size_t size) {
  CoChunk *c = malloc(sizeof *c + size);
  if (c) { c->next = NULL; c->size = size; c->used = 0; }
  return c;
}

static void *arena_alloc_cb(void *data, size_t size) { return co_arena_alloc(data, size); }
static void arena_free_cb(void *data, void *p) { (void)data; (void)p; }

void co_arena_init(CoArena *a) {
  a->head = NULL;
  a->total = 0;
  a->allocator.alloc = arena_alloc_cb;
  a->allocator.free = arena_free_cb;
  a->allocator.allocator_data = a;
}

void *co_arena_alloc(CoArena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  if (size == 0) size = 16;
  CoChunk *c = a->head;
  if (!c || c->size - c->used < size) {
    size_t want = c ? c->size * 2 : FIRST_CHUNK;
    if (want < size) want = size;
    CoChunk *n = chunk_new(want);
    if (!n) return NULL;
    n->next = c;
    a->head = c = n;
    a->total += want;
  }
  void *p = c->data + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

void co_arena_reset(CoArena *a) {
  CoChunk *c = a->head;
  if (!c) return;
  if (!c->next) { c->used = 0; return; }
  /* Several chunks: replace them with one that holds the whole, so the next conversion of the
   * same size needs a single chunk. */
  size_t keep = a->total <= KEEP_AT_MOST ? a->total : KEEP_AT_MOST;
  co_arena_free(a);
  a->head = chunk_new(keep);
  a->total = a->head ? keep : 0;
}

void co_arena_free(CoArena *a) {
  for (CoChunk *c = a->head, *next; c; c = next) { next = c->next; free(c); }
  a->head = NULL;
  a->total = 0;
}
