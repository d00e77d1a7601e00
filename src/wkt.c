/* Text forms of google.protobuf.Timestamp and Duration, and the UTF-8 check. */
#include "convert.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Timestamp range of the proto spec: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z. */
#define MIN_TS_SECONDS (-62135596800LL)
#define MAX_TS_SECONDS (253402300799LL)
/* Duration range of the proto spec: about +-10,000 years. */
#define MAX_DURATION_SECONDS (315576000000LL)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, int *out) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Reads ".ddddddddd" (1 to 9 digits) at *p; leaves nanos 0 when there is no '.'. */
static int fraction(const char **p, const char *end, int32_t *nanos) {
  *nanos = 0;
  if (*p >= end || **p != '.') return 0;
  (*p)++;
  int n = 0;
  int32_t v = 0;
  while (*p < end && **p >= '0' && **p <= '9') {
    if (++n > 9) return -1;
    v = v * 10 + (**p - '0');
    (*p)++;
  }
  if (n == 0) return -1;
  for (; n < 9; n++) v *= 10;
  *nanos = v;
  return 0;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int co_parse_rfc3339(const char *s, size_t len, int64_t *seconds, int32_t *nanos) {
  static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int Y, M, D, h, m, sec;
  if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return -1;
  if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) || digits(s + 11, 2, &h) ||
      digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
    return -1;
  if (M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 59) return -1;
  if ((unsigned)D > mdays[M - 1] + (M == 2 && is_leap(Y))) return -1;
  const char *p = s + 19, *end = s + len;
  if (fraction(&p, end, nanos)) return -1;
  int64_t offset = 0;
  if (p < end && (*p == 'Z' || *p == 'z')) {
    p++;
  } else if (p < end && (*p == '+' || *p == '-')) {
    int oh, om;
    if (end - p < 6 || p[3] != ':' || digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
      return -1;
    offset = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (p != end) return -1;
  *seconds = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + sec - offset;
  if (*seconds < MIN_TS_SECONDS || *seconds > MAX_TS_SECONDS) return -1;
  return 0;
}

int co_format_rfc3339(int64_t seconds, int32_t nanos, char *out) {
  if (seconds < MIN_TS_SECONDS || seconds > MAX_TS_SECONDS || nanos < 0 || nanos > 999999999) return -1;
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) { rem += 86400; days--; }
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  int n = snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, mo, d, (int)(rem / 3600),
                   (int)(rem / 60 % 60), (int)(rem % 60));
  /* As proto3 JSON: 0, 3, 6 or 9 fraction digits. */
  if (nanos % 1000000 == 0 && nanos) n += snprintf(out + n, 40 - n, ".%03d", (int)(nanos / 1000000));
  else if (nanos % 1000 == 0 && nanos) n += snprintf(out + n, 40 - n, ".%06d", (int)(nanos / 1000));
  else if (nanos) n += snprintf(out + n, 40 - n, ".%09d", (int)nanos);
  out[n++] = 'Z';
  out[n] = '\0';
  return n;
}

int co_parse_duration(const char *s, size_t len, int64_t *seconds, int32_t *nanos) {
  const char *p = s, *end = s + len;
  int neg = 0;
  if (p < end && *p == '-') { neg = 1; p++; }
  if (p >= end || *p < '0' || *p > '9') return -1;
  int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    v = v * 10 + (*p - '0');
    if (v > MAX_DURATION_SECONDS) return -1;
    p++;
  }
  if (fraction(&p, end, nanos)) return -1;
  if (p + 1 != end || *p != 's') return -1;
  *seconds = neg ? -v : v;
  if (neg) *nanos = -*nanos;
  return 0;
}

int co_split_seconds(double v, int64_t *seconds, int32_t *nanos) {
  /* The Duration range, which also holds every Timestamp's seconds. */
  if (!isfinite(v) || fabs(trunc(v)) > (double)MAX_DURATION_SECONDS) return -1;
  double whole = trunc(v);
  double frac = round((v - whole) * 1e9);
  int64_t s = (int64_t)whole;
  int64_t n = (int64_t)frac;
  if (n >= 1000000000) { s++; n -= 1000000000; }
  if (n <= -1000000000) { s--; n += 1000000000; }
  *seconds = s;
  *nanos = (int32_t)n;
  return 0;
}

int co_timestamp_from_seconds(double v, int64_t *seconds, int32_t *nanos) {
  char text[48];
  if (co_split_seconds(v, seconds, nanos)) return -1;
  /* A Timestamp's nanos are never negative: -1.5 is { seconds = -2, nanos = 500000000 }. */
  if (*nanos < 0) { (*seconds)--; *nanos += 1000000000; }
  return co_format_rfc3339(*seconds, *nanos, text) < 0 ? -1 : 0; /* years 1..9999 */
}

int co_utf8_valid(const char *str, size_t len) { return co_utf8_check(str, len, 1); }

int co_utf8_check(const char *str, size_t len, int allow_nul) {
  const unsigned char *s = (const unsigned char *)str, *end = s + len;
  const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
  while (s < end) {
    /* Eight ASCII bytes at a time (most of what the API sends): none with the high bit set,
     * and, unless allowed, none zero. */
    while (end - s >= 8) {
      uint64_t w;
      memcpy(&w, s, 8);
      if (w & high) break;
      if (!allow_nul && ((w - ones) & ~w & high)) return 0;
      s += 8;
    }
    if (s >= end) break;
    unsigned c = *s;
    if (c < 0x80) {
      if (c == 0 && !allow_nul) return 0;
      s++;
      continue;
    }
    size_t n;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)(end - s) <= n) return 0;
    for (size_t i = 1; i <= n; i++) {
      if ((s[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    s += n + 1;
  }
  return 1;
}
