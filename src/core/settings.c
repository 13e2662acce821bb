/* Every environment variable that configures the library, read here: the
 * only such getenv calls in src/ and compat/ (compat/os.c reads what the
 * libuv API itself is about: uv_os_getenv's variable, uv_os_tmpdir's
 * TMPDIR and the like). Process-wide settings are read
 * once, at the first call, under pthread_once, so no two threads can see
 * them half-parsed. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/settings.h"

#define LOOP_SPIN_US_DEFAULT 50u
#define LOOP_SPIN_US_MAX 10000u
#define POOL_SPIN_US_DEFAULT 50u

static bio_settings settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;


/* Unset or empty: dflt; "0": 0; anything else: 1. */
static int flag(const char *name, int dflt) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0')
    return dflt;
  return strcmp(v, "0") != 0;
}


static void read_settings(void) {
  const char *v;

  settings.loop_spin_ns = LOOP_SPIN_US_DEFAULT * 1000u;
  v = getenv("BIO_LOOP_SPIN_US");
  if (v != NULL && *v != '\0') {
    long us = strtol(v, NULL, 10);
    settings.loop_spin_ns = us <= 0                     ? 0
                            : (unsigned long)us > LOOP_SPIN_US_MAX
                                ? LOOP_SPIN_US_MAX * 1000u
                                : (unsigned)us * 1000u;
  }
  settings.pool_spin_ns = POOL_SPIN_US_DEFAULT * 1000u;
  v = getenv("BIO_POOL_SPIN_US");
  if (v != NULL && *v != '\0')
    settings.pool_spin_ns = strtoull(v, NULL, 10) * 1000u;
  v = getenv("BIO_LOOP_STATS");
  settings.loop_stats = v != NULL && strcmp(v, "1") == 0;
  settings.uring_defer = flag("BIO_URING_DEFER", 1);
  settings.stream_multi = flag("BIO_STREAM_MULTI", 1);
  settings.tcp_accept_op = flag("BIO_TCP_ACCEPT_OP", 1);
  settings.stream_recv_op = flag("BIO_STREAM_RECV_OP", 1);
  v = getenv("BIO_STREAM_SEND_OP");
  settings.stream_send_op = v == NULL ? 1 : atoi(v);
  v = getenv("BIO_URING_FS_WRITE");
  settings.uring_fs_write = v != NULL && strcmp(v, "1") == 0;
  settings.heap_trim = flag("BIO_HEAP_TRIM", 1);
  settings.udp_recv_op = flag("BIO_UDP_RECV_OP", 0);
}


const bio_settings *bio__settings(void) {
  pthread_once(&settings_once, read_settings);
  return &settings;
}


void bio__settings_backend(char *buf, size_t size) {
  const char *v = getenv("BIO_BACKEND");
  snprintf(buf, size, "%s", v != NULL ? v : "");
}


int bio__settings_no_uring_fs(void) {
  return flag("BIO_NO_URING_FS", 0);
}


unsigned bio__settings_threadpool_size(unsigned dflt, unsigned max) {
  const char *s = getenv("UV_THREADPOOL_SIZE");
  char *end;
  long n;

  if (s == NULL || *s == '\0')
    return dflt;
  n = strtol(s, &end, 10);
  if (n < 1)
    return 1; /* libuv, too, turns 0 and garbage into one thread */
  if ((unsigned long)n > max)
    return max;
  return (unsigned)n;
}
