/* gRPC pieces shared by the client channel and the server binding. */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* The process that started gRPC. A child forked since inherits the once-flag, so gRPC stays
 * "started" there, but with none of its threads and with the parent's sockets and epoll set:
 * verified with libgrpc 1.51 here, a child's call then ignores its deadline, and a child that
 * connects to the same target writes on the parent's connection (the parent's next calls fail
 * with "Missing :path header"). grpc_shutdown and grpc_init in the child do not help (the
 * call still hangs past its deadline). gRPC's own fork support (GRPC_ENABLE_FORK_SUPPORT=1
 * and grpc_prefork/grpc_postfork_*, which Debian's build does not register and exports only
 * under C++ names) restarts the threads, but a child's channel still takes the parent's
 * connection from the global subchannel pool, and the handlers are skipped, silently, when
 * another thread is inside gRPC. So a child never touches gRPC: see co_grpc_inherited. */
static pid_t started_by;

/* gRPC writes its own log to stderr; a library keeps quiet unless the user asks for it. */
static void quiet_log(gpr_log_func_args *args) { (void)args; }

static void init(void) {
  if (!getenv("GRPC_VERBOSITY")) gpr_set_log_function(quiet_log);
  grpc_init(); /* kept for the life of the process: gRPC's own state is process-wide */
  started_by = co_pid();
}

void co_grpc_init(void) { pthread_once(&init_once, init); }

int co_grpc_inherited(void) { return started_by != 0 && started_by != co_pid(); }

/* This process's id, kept by a fork handler rather than asked of the kernel each time
 * (getpid() is a system call, ~0.2 us here, and a call asks several times). */
static pid_t current_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void after_fork_in_child(void) { current_pid = getpid(); }

static void pid_init(void) {
  current_pid = getpid();
  pthread_atfork(NULL, NULL, after_fork_in_child); /* the library is pinned: the handler stays */
}

pid_t co_pid(void) {
  pthread_once(&pid_once, pid_init);
  return current_pid;
}

void co_push_metadata(lua_State *L, const grpc_metadata_array *md) {
  lua_createtable(L, 0, (int)md->count);
  for (size_t i = 0; i < md->count; i++) {
    const grpc_metadata *m = &md->metadata[i];
    lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(m->key), GRPC_SLICE_LENGTH(m->key));
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(m->value), GRPC_SLICE_LENGTH(m->value));
    } else { /* a name sent several times: its values joined, as HTTP does */
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, (const char *)GRPC_SLICE_START_PTR(m->value), GRPC_SLICE_LENGTH(m->value));
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
}

gpr_timespec co_deadline_after(double seconds) {
  if (!(seconds >= 0)) return gpr_inf_future(GPR_CLOCK_MONOTONIC);
  if (seconds > 1e9) seconds = 1e9;
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos((int64_t)(seconds * 1e9), GPR_TIMESPAN));
}
