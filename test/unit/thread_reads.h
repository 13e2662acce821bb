/* How many read(2) calls the test's thread made, and whether its loop
 * should read through io_uring's recv ops: for the tests that show a
 * stream's bytes come without the loop reading them itself. */
#ifndef BIO_TEST_THREAD_READS_H
#define BIO_TEST_THREAD_READS_H

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "backend.h"

/* read(2) calls this thread has made (/proc/thread-self/io's syscr). Not
 * only the loop's reads of its streams: its idle policy reads
 * /proc/loadavg and the cgroup's cpu.stat now and then. */
static inline long long bio_test_thread_reads(void) {
  char text[512];
  const char *p;
  ssize_t n;
  int fd = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);

  ck_assert_int_ge(fd, 0);
  n = read(fd, text, sizeof(text) - 1);
  close(fd);
  ck_assert_int_gt(n, 0);
  text[n] = '\0';
  p = strstr(text, "syscr: ");
  ck_assert_ptr_nonnull(p);
  return strtoll(p + 7, NULL, 10);
}

/* A loop on io_uring (uring: the test asked for it) with recv ops into
 * its buffers: a kernel with the multishot recv (6.0), the ring allowed. */
static inline int bio_test_recv_ops_expected(int uring) {
  struct utsname u;
  int major = 0, minor = 0;
  if (!uring || bio_test_uring_denied() || uname(&u) != 0 ||
      sscanf(u.release, "%d.%d", &major, &minor) != 2)
    return 0;
  return major >= 6;
}

#endif
