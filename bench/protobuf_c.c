/* The baseline of bench/convert.lua, loaded into the bench's own process so that each
 * cloudops.decode can be timed right beside the protobuf-c work it is compared with: the same
 * heap, the same moment of a shared and noisy host. protobuf-c's own calls on a
 * GetNamespacesResponse, nothing of cloudops:
 *
 *   unpack_free(bytes, n)  n times protobuf_c_message_unpack of bytes then free_unpacked
 *   pack(bytes, n)         unpacks bytes once, then n times: its packed size, a buffer of that
 *                          size, the pack, the buffer freed
 *
 * Both raise an error when bytes are not a GetNamespacesResponse (or memory runs out). The
 * caller times them (os.clock), as it times cloudops. */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "temporal/api/cloud/cloudservice/v1/request_response.pb-c.h"

#define PAGE_DESCRIPTOR temporal__api__cloud__cloudservice__v1__get_namespaces_response__descriptor

static ProtobufCMessage *unpack(lua_State *L, int arg) {
  size_t len;
  const char *bytes = luaL_checklstring(L, arg, &len);
  ProtobufCMessage *m = protobuf_c_message_unpack(&PAGE_DESCRIPTOR, NULL, len, (const uint8_t *)bytes);
  if (!m) luaL_error(L, "protobuf-c could not unpack the bytes as a GetNamespacesResponse");
  return m;
}

static int l_unpack_free(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 2);
  for (lua_Integer i = 0; i < n; i++) protobuf_c_message_free_unpacked(unpack(L, 1), NULL);
  return 0;
}

static int l_pack(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 2);
  ProtobufCMessage *m = unpack(L, 1);
  size_t check = 0;
  for (lua_Integer i = 0; i < n; i++) {
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(size ? size : 1);
    if (!out) {
      protobuf_c_message_free_unpacked(m, NULL);
      return luaL_error(L, "out of memory");
    }
    check += protobuf_c_message_pack(m, out) + out[size / 2]; /* read, so that the pack stays */
    free(out);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  lua_pushinteger(L, (lua_Integer)(check % 10));
  return 1;
}

int luaopen_protobuf_c(lua_State *L) {
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, l_unpack_free);
  lua_setfield(L, -2, "unpack_free");
  lua_pushcfunction(L, l_pack);
  lua_setfield(L, -2, "pack");
  return 1;
}
