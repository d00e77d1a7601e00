/* The completion queue of a Lua state, and waiting on it (see call.h).
 *
 *   handles = core.poll(timeout)  -- ch:start calls that completed, at most `timeout` seconds
 *                                    away (an empty table when none did), sooner on a signal
 */
#include "call.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#define QUEUE_MT "cloudops.core.queue"
/* Waits are cut into slices this long, so that Ctrl-C stops a blocking call soon. */
#define SLICE_SECONDS 0.1

static const char queue_key = 0; /* registry key of the state's queue object */

typedef struct {
  CoQueue *q;
} QueueRef;

int co_forked(pid_t made_by) { return made_by != co_pid(); }

void co_queue_ref(CoQueue *q) { q->refs++; }

void co_queue_unref(CoQueue *q) {
  if (--q->refs > 0) return;
  /* Nothing is in flight: every channel drained its calls when it closed, and every call holds
   * a reference. A queue made in the parent before fork(), or one without gRPC (a child's),
   * leaves gRPC alone. */
  if (q->cq && !co_forked(q->pid)) {
    grpc_completion_queue_shutdown(q->cq);
    while (grpc_completion_queue_next(q->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(q->cq);
  }
  free(q);
}

/* A new queue for this process: a completion queue of its own, or none in a child forked after
 * gRPC started (co_grpc_inherited: its calls fail at once, and nothing waits on gRPC). */
static CoQueue *queue_new(void) {
  CoQueue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  co_grpc_init();
  q->cq = co_grpc_inherited() ? NULL : grpc_completion_queue_create_for_next(NULL);
  q->refs = 1;
  q->pid = co_pid();
  return q;
}

static int queue_gc(lua_State *L) {
  QueueRef *r = lua_touserdata(L, 1);
  if (r->q) {
    co_queue_unref(r->q);
    r->q = NULL;
  }
  return 0;
}

/* Pushes the state's queue object, making it on first use. A finalizer run by one of the
 * allocations here may make the queue first (a channel made in a __gc): the registry is read
 * again after them, and the queue itself (no Lua allocation) is made last. */
static QueueRef *push_queue(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&queue_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    QueueRef *fresh = lua_newuserdatauv(L, sizeof *fresh, 1);
    fresh->q = NULL;
    if (luaL_newmetatable(L, QUEUE_MT)) {
      lua_pushcfunction(L, queue_gc);
      lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    /* Its uservalue maps each ch:start call (a light userdata) to its handle, weakly, so that
     * core.poll can return the handles and a handle nobody holds can still be collected. */
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setuservalue(L, -2);
    lua_pushlightuserdata(L, (void *)&queue_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_isnil(L, -1)) { /* made meanwhile: that one it is */
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
      lua_pushlightuserdata(L, (void *)&queue_key);
      lua_pushvalue(L, -2);
      lua_rawset(L, LUA_REGISTRYINDEX);
    }
  }
  QueueRef *r = lua_touserdata(L, -1);
  /* In a child after fork(), the parent's queue is left as it is (its completion queue, and
   * the calls in flight on it, are the parent's): the child gets one of its own. */
  if (r->q && co_forked(r->q->pid)) {
    co_queue_unref(r->q);
    r->q = NULL;
  }
  if (!r->q && !(r->q = queue_new())) luaL_error(L, "out of memory");
  return r;
}

CoQueue *co_queue(lua_State *L) {
  CoQueue *q = push_queue(L)->q;
  lua_pop(L, 1);
  return q;
}

void co_queue_push_handles(lua_State *L) {
  push_queue(L);
  lua_getuservalue(L, -1);
  lua_remove(L, -2);
}

/* ---- waiting ------------------------------------------------------------------------------ */

static void handle_event(CoQueue *q, grpc_event ev) {
  if (ev.type == GRPC_OP_COMPLETE && ev.tag) co_call_complete(q, ev.tag, ev.success);
}

int co_queue_wait(lua_State *L, CoQueue *q, int (*done)(const void *), const void *arg, double seconds) {
  /* Without a completion queue (a child's after fork()) nothing is ever in flight. */
  if (!q->cq) return 0;
  CoInterrupt interrupt;
  co_interrupt_arm(L, &interrupt);
  gpr_timespec deadline = co_deadline_after(seconds);
  /* done() is asked again after every event: an event may free what it was asked about
   * before (a call whose handle was collected), never what it looks at now. */
  while (!done(arg)) {
    gpr_timespec slice = co_deadline_after(SLICE_SECONDS);
    if (gpr_time_cmp(slice, deadline) > 0) slice = deadline;
    grpc_event ev = grpc_completion_queue_next(q->cq, slice, NULL);
    if (ev.type == GRPC_OP_COMPLETE) {
      handle_event(q, ev);
      continue;
    }
    /* A signal handler that asked the interpreter to stop changed the hook. */
    if (co_interrupt_fired(&interrupt)) return 1;
    if (ev.type == GRPC_QUEUE_SHUTDOWN || gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), deadline) >= 0) return 0;
  }
  return 0;
}

static int has_ready(const void *q) { return ((const CoQueue *)q)->ready_head != NULL; }

/* Takes whatever else has completed by now along, without waiting. */
static void take_completed(CoQueue *q) {
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(q->cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE) break;
    handle_event(q, ev);
  }
}

/* core.poll(timeout): the handles of ch:start calls that have completed, waiting at most
 * timeout seconds (nil: until one does) for the first. */
int co_l_poll(lua_State *L) {
  double timeout = luaL_optnumber(L, 1, -1);
  luaL_argcheck(L, !isnan(timeout), 1, "timeout must be a number of seconds");
  lua_createtable(L, 4, 0);
  int out = lua_gettop(L);
  CoQueue *q = push_queue(L)->q;
  lua_getuservalue(L, -1);
  lua_remove(L, -2);
  int handles = lua_gettop(L);
  /* With nothing in flight nothing can complete: return at once rather than wait in vain. */
  if (!q->ready_head && q->in_flight && q->cq) {
    co_queue_wait(L, q, has_ready, q, timeout);
    take_completed(q);
  }
  lua_Integer n = 0;
  /* One at a time: each call leaves the ready list before anything is allocated, so a
   * finalizer run meanwhile never sees it half-reported. */
  while (q->ready_head) {
    CoCall *c = q->ready_head;
    q->ready_head = c->ready_next;
    if (!q->ready_head) q->ready_tail = NULL;
    c->ready_next = NULL;
    c->ready = 0;
    lua_pushlightuserdata(L, c);
    lua_rawget(L, handles);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
    lua_rawseti(L, out, ++n);
  }
  lua_settop(L, out);
  return 1;
}
