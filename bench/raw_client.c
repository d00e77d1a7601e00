/* The baseline for `make bench`: N sequential unary GetNamespaces calls straight on the gRPC C
 * core and protobuf-c, doing what the Lua client must do per call (pack the request, send it
 * with the two Cloud headers, unpack the response), and printing the client's CPU time.
 *
 *   raw_client HOST:PORT N  ->  "raw_client cpu_us_per_call=<x> wall_us_per_call=<y>" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include "temporal/api/cloud/cloudservice/v1/request_response.pb-c.h"

static double seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int one_call(grpc_channel *ch, grpc_completion_queue *cq, void *method) {
  Temporal__Api__Cloud__Cloudservice__V1__GetNamespacesRequest req =
      TEMPORAL__API__CLOUD__CLOUDSERVICE__V1__GET_NAMESPACES_REQUEST__INIT;
  req.page_size = 10;
  size_t len = protobuf_c_message_get_packed_size(&req.base);
  grpc_slice s = grpc_slice_malloc(len);
  protobuf_c_message_pack(&req.base, GRPC_SLICE_START_PTR(s));
  grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);

  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(30, GPR_TIMESPAN));
  grpc_call *call = grpc_channel_create_registered_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, deadline, NULL);
  grpc_metadata md[2];
  memset(md, 0, sizeof md);
  md[0].key = grpc_slice_from_static_string("authorization");
  md[0].value = grpc_slice_from_copied_string("Bearer bench-key");
  md[1].key = grpc_slice_from_static_string("temporal-cloud-api-version");
  md[1].value = grpc_slice_from_copied_string("v0.19.1");
  grpc_metadata_array headers, trailers;
  grpc_metadata_array_init(&headers);
  grpc_metadata_array_init(&trailers);
  grpc_byte_buffer *recv = NULL;
  grpc_status_code status;
  grpc_slice details;
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 2;
  ops[0].data.send_initial_metadata.metadata = md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &headers;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  if (grpc_call_start_batch(call, ops, 6, ops, NULL) != GRPC_CALL_OK) return -1;
  grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  int ok = status == GRPC_STATUS_OK && recv;
  if (recv) {
    grpc_byte_buffer_reader r;
    grpc_byte_buffer_reader_init(&r, recv);
    grpc_slice all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *resp = protobuf_c_message_unpack(
        &temporal__api__cloud__cloudservice__v1__get_namespaces_response__descriptor, NULL,
        GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    if (!resp) ok = 0; else protobuf_c_message_free_unpacked(resp, NULL);
    grpc_slice_unref(all);
    grpc_byte_buffer_destroy(recv);
  }
  grpc_byte_buffer_destroy(send);
  grpc_slice_unref(md[1].value);
  grpc_slice_unref(md[0].value);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&headers);
  grpc_metadata_array_destroy(&trailers);
  grpc_call_unref(call);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: raw_client HOST:PORT N\n"); return 2; }
  int n = atoi(argv[2]);
  grpc_init();
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(argv[1], creds, NULL);
  grpc_channel_credentials_release(creds);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  void *method = grpc_channel_register_call(ch, "/temporal.api.cloud.cloudservice.v1.CloudService/GetNamespaces", NULL, NULL);
  for (int i = 0; i < 50; i++) /* warm up: connection, caches */
    if (one_call(ch, cq, method)) { fprintf(stderr, "call failed\n"); return 1; }
  double c0 = seconds(CLOCK_PROCESS_CPUTIME_ID), w0 = seconds(CLOCK_MONOTONIC);
  for (int i = 0; i < n; i++)
    if (one_call(ch, cq, method)) { fprintf(stderr, "call failed\n"); return 1; }
  double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = seconds(CLOCK_MONOTONIC) - w0;
  printf("raw_client cpu_us_per_call=%.2f wall_us_per_call=%.2f\n", cpu / n * 1e6, wall / n * 1e6);
  grpc_channel_destroy(ch);
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_destroy(cq);
  grpc_shutdown();
  return 0;
}
