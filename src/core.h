/* Shared declarations of the C core's parts. */
#ifndef CLOUDOPS_CORE_H
#define CLOUDOPS_CORE_H

#include <sys/types.h>
#include <grpc/grpc.h>
#include "convert.h"

/* The conversion state: upvalue 1 of every core function and method. */
CoState *co_state(lua_State *L);

/* Makes the metatable `name` for a userdata class: __index holds `methods` (sharing the
 * conversion state, at stack index -1 on entry, as upvalue), __gc and __tostring are set, and
 * __close too when `close` is given (the same function as __gc: one idempotent close, as
 * liolib does). Leaves the metatable on the stack. */
void co_new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc,
                  lua_CFunction close, lua_CFunction tostring);

/* Resolves a message type name argument, raising a clear error when unknown. */
const CoMessage *co_check_message(lua_State *L, int idx);
const ProtobufCMethodDescriptor *co_find_method(const char *name);
/* Pushes { kind = "method", name, input, output, path, index }. */
void co_push_method_info(lua_State *L, const ProtobufCMethodDescriptor *md);

/* gRPC, shared by client and server (grpc_util.c). */
void co_grpc_init(void); /* lazily, once per process: never before nginx forks its workers */
/* Whether gRPC was started by another process: this one is a child forked after its parent
 * started gRPC, and must not use it (the README's Design, "fork()"). */
int co_grpc_inherited(void);
/* This process's id (a child after fork() included, through libc's fork), and whether this
 * process is not the one that made an object (a child after fork()). */
pid_t co_pid(void);
int co_forked(pid_t made_by);
/* What such a child is told to do instead. */
#define CO_FORK_ADVICE "gRPC cannot be used again in a process forked after it started (libgrpc's threads do " \
  "not survive fork(), and its connections and poller stay the parent's): start the child with exec (a new " \
  "interpreter, e.g. through os.execute or io.popen) and connect there, or fork before the first connect"
void co_push_metadata(lua_State *L, const grpc_metadata_array *md);
/* Gets a seconds argument as a deadline on the monotonic clock; < 0 or nil means none. */
gpr_timespec co_deadline_after(double seconds);

int luaopen_cloudops_core(lua_State *L);

/* Client channel (channel.c) and server (server.c). Register: stack [module, state]. */
int co_channel_new(lua_State *L);
void co_channel_register(lua_State *L);
int co_server_new(lua_State *L);
void co_server_register(lua_State *L);

/* core.trap_signals, core.caught_signal (signals.c), set on the module table on top. */
void co_signals_register(lua_State *L);

/* Whether a signal asked the interpreter to stop since co_interrupt_arm (signals.c). */
typedef struct {
  lua_State *main;
  lua_Hook hook;
  int mask;
} CoInterrupt;
void co_interrupt_arm(lua_State *L, CoInterrupt *w);
int co_interrupt_fired(const CoInterrupt *w);

/* core.poll (queue.c). */
int co_l_poll(lua_State *L);
/* core.metadata(table) (call.c): the table's metadata checked and copied once, as an object
 * that ch:call and ch:start take in the table's place. */
int co_l_metadata(lua_State *L);

#endif
