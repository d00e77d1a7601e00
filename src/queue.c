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

int co_forked(pid_t made_by) { return made_by != getpid(); }

void co_queue_ref(CoQueue *q) { q->refs++; }

void co_queue_unref(CoQueue *q) {
  if (--q->refs > 0) return;
  /* Nothing is in flight: every channel drained its calls when it closed, and every call holds
   * a reference. In a child after fork() the queue is the parent's: leave gRPC alone. */
  if (!co_forked(q->pid)) {
    grpc_completion_queue_shutdown(q->cq);
    while (grpc_completion_queue_next(q->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(q->cq);
  }
  free(q);
}

static int queue_gc(lua_State *L) {
  QueueRef *r = lua_touserdata(L, 1);
  if (r->q) {
    co_queue_unref(r->q);
    r->q = NULL;
  }
  return 0;
}

/* Pushes the state's queue object, making it on first use. */
static QueueRef *push_queue(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&queue_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_isnil(L, -1)) return lua_touserdata(L, -1);
  lua_pop(L, 1);
  QueueRef *r = lua_newuserdatauv(L, sizeof *r, 1);
  r->q = NULL;
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
  CoQueue *q = calloc(1, sizeof *q);
  if (!q) luaL_error(L, "out of memory");
  co_grpc_init();
  q->cq = grpc_completion_queue_create_for_next(NULL);
  q->refs = 1;
  q->pid = getpid();
  r->q = q;
  lua_pushlightuserdata(L, (void *)&queue_key);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
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

static int done_waiting(CoQueue *q, CoCall *until) {
  return until ? !until->in_flight : q->ready_head != NULL;
}

int co_queue_wait(lua_State *L, CoQueue *q, CoCall *until, double seconds) {
  CoInterrupt interrupt;
  co_interrupt_arm(L, &interrupt);
  gpr_timespec deadline = co_deadline_after(seconds);
  while (!done_waiting(q, until)) {
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
  /* Whatever else has completed by now is taken along, without waiting. */
  if (!until) {
    for (;;) {
      grpc_event ev = grpc_completion_queue_next(q->cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
      if (ev.type != GRPC_OP_COMPLETE) break;
      handle_event(q, ev);
    }
  }
  return 0;
}

/* core.poll(timeout): the handles of ch:start calls that have completed, waiting at most
 * timeout seconds (nil: until one does) for the first. */
int co_l_poll(lua_State *L) {
  double timeout = luaL_optnumber(L, 1, -1);
  luaL_argcheck(L, !isnan(timeout), 1, "timeout must be a number of seconds");
  lua_createtable(L, 4, 0);
  int out = lua_gettop(L);
  co_queue_push_handles(L);
  int handles = lua_gettop(L);
  CoQueue *q = co_queue(L);
  /* With nothing in flight nothing can complete: return at once rather than wait in vain. */
  if (!q->ready_head && q->in_flight) co_queue_wait(L, q, NULL, timeout);
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
