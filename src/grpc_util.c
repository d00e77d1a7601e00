/* gRPC pieces shared by the client channel and the server binding. */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* gRPC writes its own log to stderr; a library keeps quiet unless the user asks for it. */
static void quiet_log(gpr_log_func_args *args) { (void)args; }

static void init(void) {
  if (!getenv("GRPC_VERBOSITY")) gpr_set_log_function(quiet_log);
  grpc_init(); /* kept for the life of the process: gRPC's own state is process-wide */
}

void co_grpc_init(void) { pthread_once(&init_once, init); }

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
