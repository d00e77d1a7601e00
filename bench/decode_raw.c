/* The baselines for the decode and encode benchmarks, on a GetNamespacesResponse read from a
 * file: protobuf-c's unpack and free_unpacked of its bytes, and the pack of the unpacked message
 * (its size, a buffer, the pack, the free), each repeated, printing the CPU time per operation.
 *
 *   decode_raw FILE N  ->  "decode_raw us_per_decode=<x> us_median_decode=<m> us_per_pack=<y>"
 *
 * us_per_decode is the mean over N in a loop; us_median_decode the median of N more, each
 * unpack + free timed alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "temporal/api/cloud/cloudservice/v1/request_response.pb-c.h"

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: decode_raw FILE N\n"); return 2; }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  static unsigned char buf[64 << 20];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  int n = atoi(argv[2]);
  const ProtobufCMessageDescriptor *d = &temporal__api__cloud__cloudservice__v1__get_namespaces_response__descriptor;
  double t0 = cpu_seconds();
  for (int i = 0; i < n; i++) {
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m) { fprintf(stderr, "unpack failed\n"); return 1; }
    protobuf_c_message_free_unpacked(m, NULL);
  }
  double per_decode = (cpu_seconds() - t0) / n * 1e6;
  double *alone = malloc((size_t)(n > 0 ? n : 1) * sizeof *alone);
  if (!alone) { fprintf(stderr, "out of memory\n"); return 1; }
  for (int i = 0; i < n; i++) {
    double t1 = cpu_seconds();
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m) { fprintf(stderr, "unpack failed\n"); return 1; }
    protobuf_c_message_free_unpacked(m, NULL);
    alone[i] = (cpu_seconds() - t1) * 1e6;
  }
  qsort(alone, (size_t)n, sizeof *alone, by_value);
  double median_decode = n > 0 ? alone[(n - 1) / 2] : 0;
  free(alone);
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
  size_t check = 0;
  t0 = cpu_seconds();
  for (int i = 0; i < n; i++) {
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(size ? size : 1);
    if (!out) { fprintf(stderr, "out of memory\n"); return 1; }
    check += protobuf_c_message_pack(m, out) + out[size / 2];
    free(out);
  }
  double per_pack = (cpu_seconds() - t0) / n * 1e6;
  protobuf_c_message_free_unpacked(m, NULL);
  printf("decode_raw us_per_decode=%.2f us_median_decode=%.2f us_per_pack=%.2f (%zu)\n", per_decode,
         median_decode, per_pack, check % 10);
  return 0;
}
