/* Asynchronous unary calls on one completion queue per Lua state (issue 10).
 *
 * The queue (CoQueue) is a GRPC_CQ_NEXT queue shared by every channel of a Lua state. A call
 * (CoCall) is a heap object that owns everything gRPC writes into: the request buffer, the
 * metadata it sends and receives, the status and its details. Its tag is itself. A Lua handle
 * (a userdata) owns the call while Lua can see it; the queue owns it while it is in flight. It
 * is freed when neither does: a handle collected in flight cancels its call, and the call is
 * freed when its completion arrives.
 *
 * Whoever waits on the queue (core.poll, a blocking ch:call, a channel being closed) handles
 * every event it receives: a call started with ch:start that completes while someone else waits
 * is put on the queue's ready list, which core.poll reports first. */
#ifndef CLOUDOPS_CALL_H
#define CLOUDOPS_CALL_H

#include <sys/types.h>
#include "core.h"

#define CO_MAX_METADATA 32

typedef struct CoQueue CoQueue;
typedef struct CoCall CoCall;
typedef struct CoChannel CoChannel;
typedef struct CoMetadata CoMetadata;

struct CoQueue {
  grpc_completion_queue *cq; /* NULL in a child forked after gRPC started (co_grpc_inherited) */
  int refs;            /* its Lua object, plus one per open channel */
  size_t in_flight;    /* calls started whose completion has not come back */
  CoCall *ready_head, *ready_tail; /* completed ch:start calls not yet reported by poll */
  pid_t pid;           /* the process that made it (see co_forked) */
};

enum { CALL_HEAP, CALL_IN_USERDATA, CALL_SPARE };

struct CoChannel {
  grpc_channel *channel; /* NULL when made in a child forked after gRPC started: calls fail */
  CoQueue *q;            /* NULL once closed */
  CoCall *live;        /* calls started on it and not yet completed */
  CoCall *spare;       /* a blocking call's memory, kept for the next one (CALL_SPARE), or NULL */
  void **registered;   /* per method index: grpc_channel_register_call handles, made on first use */
  unsigned n_methods;
  pid_t pid;
  char target[256];
};

/* Metadata checked and copied once, to be sent by many calls (core.metadata): immutable, and
 * freed when neither its Lua object nor a call still holding it needs it. */
struct CoMetadata {
  int refs;          /* its Lua object, plus one per call that holds it */
  size_t n;
  grpc_metadata md[]; /* n entries, their slices owned here */
};

struct CoCall {
  CoQueue *q;
  CoChannel *ch;                 /* NULL once the call completed */
  CoCall *live_prev, *live_next; /* the channel's live list */
  CoCall *ready_next;
  grpc_call *call;
  const ProtobufCMethodDescriptor *md;
  const CoMessage *out;      /* the method's output message */
  grpc_byte_buffer *req, *resp;
  grpc_metadata_array headers, trailers;
  grpc_status_code status;
  grpc_slice details;
  const char *error_string;  /* gRPC's, gpr_free'd */
  const char *local_error;   /* ours, static text */
  unsigned in_flight : 1, owned : 1, async : 1, ready : 1;
  /* Where its memory comes from (co_call_start): CALL_HEAP (ch:start's, freed when released),
   * CALL_IN_USERDATA (a blocking ch:call's with a metadata table: a userdata of that ch:call's
   * frame, the collector's), CALL_SPARE (a blocking ch:call's with prepared metadata: its
   * channel's spare, given back when released) */
  unsigned memory : 2;
  CoChannel *home;           /* CALL_SPARE: the channel whose spare it is */
  CoMetadata *shared_md;     /* the prepared metadata it sends (held), or NULL: send_md */
  size_t n_md;
  grpc_metadata send_md[];   /* n_md of them */
};

/* The queue of the Lua state (made on first use, with grpc_init). */
CoQueue *co_queue(lua_State *L);
void co_queue_ref(CoQueue *q);
void co_queue_unref(CoQueue *q);
/* Pushes the state's weak table from each ch:start call (a light userdata) to its handle. */
void co_queue_push_handles(lua_State *L);
/* Records the completion of c's batch (whoever waits on the queue calls it). */
void co_call_complete(CoQueue *q, CoCall *c, int success);

/* Waits on q until done(arg) is true or `seconds` pass (< 0: no limit), in short slices,
 * returning early when a signal asks the Lua state to stop (lua.c's SIGINT hook). Returns 1
 * when interrupted. Handles every event it receives; done(arg) is asked again after each, so
 * `arg` must outlive the wait (a channel, a call its caller owns: never a call the queue may
 * free, such as one whose handle was collected). */
int co_queue_wait(lua_State *L, CoQueue *q, int (*done)(const void *), const void *arg, double seconds);

/* Starts a call of method index `index` (1-based) on ch with the request payload, a deadline
 * `timeout` seconds away and the metadata at stack index md_idx (a table, a core.metadata
 * object, or 0 for none). `async`: pushes its handle (ch:start); else (a blocking ch:call)
 * the call lives in a userdata it pushes, which only the caller sees, or, with prepared
 * metadata, in its channel's spare call (nothing pushed): the caller waits until the call
 * completes, then takes its result with co_call_finish. Raises for bad arguments before anything
 * is allocated. */
CoCall *co_call_start(lua_State *L, CoChannel *ch, lua_Integer index, const char *payload,
                      size_t payload_len, double timeout, int md_idx, int async);

/* Pushes the result of a blocking call that completed (co_call_start without async) and
 * releases it, also when pushing the result raises (then raised again). Returns 5. */
int co_call_finish(lua_State *L, CoCall *c);

/* Cancels c (if still in flight) with a status and message of ours. */
void co_call_cancel(CoCall *c, grpc_status_code status, const char *message);

/* Releases a handle's ownership of c (frees it, or leaves it to its completion). */
void co_call_release(CoCall *c);

void co_call_register(lua_State *L);

#endif
