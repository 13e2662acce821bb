/* The per-loop state of uv_async_t (compat/async.c), a member of the
 * loop's bio_uv_loop (loop.h). */
#ifndef BIO_COMPAT_ASYNC_H
#define BIO_COMPAT_ASYNC_H

#include <stdatomic.h>
#include <stddef.h>

#include "uv.h"

typedef struct bio_async_loop {
  /* uv_async_send pushes handles here (lock-free, any thread); the loop
   * takes the whole stack at a wake and runs it in init order. */
  _Atomic(uv_async_t *) stack;
  uv_async_t *ready; /* taken from the stack, callbacks not yet run */
  uv_async_t *ready_tail;
  int purge; /* closed handles may sit on the ready list */
  /* A callback of the wake's walk sent an async handle of this loop (the
   * loop thread's own flag, no atomics). */
  int self_sent;
  /* A wake's scratch for sorting a large batch, kept between wakes; freed
   * with the loop. */
  void *sort_buf;
  size_t sort_cap;
} bio_async_loop;

#endif
