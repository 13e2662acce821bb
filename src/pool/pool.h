/* The blocking-work thread pool (uv_queue_work, fs ops without an io_uring
 * opcode, getaddrinfo). Process-wide, started on first use, sized by
 * UV_THREADPOOL_SIZE (default 4, at most 1024). A finished item reaches its
 * loop as a completed op through bio__loop_post: no lock, one wake per
 * batch rather than per item. */
#ifndef BIO_POOL_POOL_H
#define BIO_POOL_POOL_H

#include <stdatomic.h>

#include "core/core.h"

typedef struct bio_work bio_work;

/* 40 bytes: fits the work_req area (struct uv__work) of libuv's requests.
 * The completion op lives elsewhere in the request (its reserved[6]). */
struct bio_work {
  void (*run)(bio_work *w); /* runs on a pool thread */
  bio_work *next;           /* queue link, owned by the pool */
  bio_loop *loop;           /* where done is posted */
  bio_op *done;             /* posted when run returned, or on cancel */
  _Atomic int state;        /* BIO_WORK_* */
  int kind;                 /* BIO_WORK_CPU, _FAST_IO or _SLOW_IO */
};

enum { BIO_WORK_IDLE, BIO_WORK_QUEUED, BIO_WORK_RUNNING, BIO_WORK_DONE };
/* libuv keeps slow I/O (getaddrinfo) from taking every thread. */
enum { BIO_WORK_CPU, BIO_WORK_FAST_IO, BIO_WORK_SLOW_IO };

/* Queues w (run, loop, done, kind set by the caller). done->res is 0 when
 * run ran, -ECANCELED when bio__pool_cancel won; until then the pool keeps
 * w's submit order in done->off (done is not submitted anywhere meanwhile,
 * and is posted with state IDLE). Returns 0 or -errno
 * (-ENOMEM, -EAGAIN if no thread could be started). */
int bio__pool_submit(bio_work *w);
/* Cancels w if no thread has started it: returns 0 and posts done with
 * -ECANCELED. Returns -EBUSY when it is running or finished. */
int bio__pool_cancel(bio_work *w);
/* A hint, racy by nature: nonzero when an item submitted now would wait
 * (every thread busy, or items already waiting), zero when a thread would
 * take it at once. */
int bio__pool_saturated(void);
/* Stops and joins the threads (uv_library_shutdown). Idempotent; a later
 * submit starts the pool again. */
void bio__pool_shutdown(void);

#endif
