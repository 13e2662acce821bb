/* The library's settings from the environment, read in one file
 * (settings.c) and nowhere else. docs/architecture.md lists them. */
#ifndef BIO_SETTINGS_H
#define BIO_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bio_settings {
  /* BIO_LOOP_SPIN_US: how long a loop may spin before it sleeps. */
  unsigned loop_spin_ns;
  /* BIO_POOL_SPIN_US: how long an idle pool worker spins for a job. */
  uint64_t pool_spin_ns;
  int loop_stats;     /* BIO_LOOP_STATS=1: print spin counters at close */
  int uring_defer;    /* BIO_URING_DEFER, not 0: SINGLE_ISSUER|DEFER_TASKRUN */
  int stream_multi;   /* BIO_STREAM_MULTI, not 0: armed multishot polls */
  int tcp_accept_op;  /* BIO_TCP_ACCEPT_OP, not 0: the multishot accept op */
  int stream_recv_op; /* BIO_STREAM_RECV_OP, not 0: multishot recv ops */
  int stream_send_op; /* BIO_STREAM_SEND_OP: 0 never, 1 (default), 2 all */
  int uring_fs_write; /* BIO_URING_FS_WRITE=1: fs writes on io_uring */
  int heap_trim;      /* BIO_HEAP_TRIM, not 0: quiet uv loops trim the heap */
  int udp_recv_op;    /* BIO_UDP_RECV_OP=1: UDP reads by recvmsg ops */
} bio_settings;

/* The settings that hold for the whole process, read at the first call
 * (thread-safe). */
const bio_settings *bio__settings(void);

/* Read where the moment matters, as libuv reads its own:
 * BIO_BACKEND at each loop init (a libuv program picks a loop's backend
 * only through the environment): copied into buf, "" when unset; */
void bio__settings_backend(char *buf, size_t size);
/* BIO_NO_URING_FS at each loop's first fs request (not 0: the pool); */
int bio__settings_no_uring_fs(void);
/* UV_THREADPOOL_SIZE at each start of the pool (libuv's variable: 0 and
 * garbage are one thread, at most max; unset: dflt). */
unsigned bio__settings_threadpool_size(unsigned dflt, unsigned max);

#endif
