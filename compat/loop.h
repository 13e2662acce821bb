/* The per-loop state behind uv_loop_t.internal_fields: the core loop, then
 * one member per subsystem, each declared in that subsystem's header. For
 * the compat files that touch the loop's state; the rest reach the core
 * through internal.h's bio__core. */
#ifndef BIO_COMPAT_LOOP_H
#define BIO_COMPAT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "async.h"
#include "fs.h"
#include "internal.h"
#include "signal.h"
#include "stream.h"

/* uv_metrics_info and uv_metrics_idle_time (loop.c). */
typedef struct bio_metrics_loop {
  /* Turns that reached the poll phase, callbacks the polls ran, and of
   * those the ones already waiting when the poll looked (counted while
   * idle time is metered, as libuv does). */
  uint64_t loop_count, events, events_waiting;
  /* UV_METRICS_IDLE_TIME asked: the core's idle meter adds to idle_ns. */
  int track_idle;
  uint64_t idle_ns;
} bio_metrics_loop;

typedef struct bio_uv_loop {
  bio_loop core; /* first: bio__core casts internal_fields to it */
  /* Its share of the core's wake (loop.c): signals and async handles. */
  bio_wake_client wake;
  bio_async_loop async;
  bio_signal_loop signal;
  bio_stream_loop stream;
  bio_fs_loop fs;
  bio_metrics_loop metrics;
} bio_uv_loop;

_Static_assert(offsetof(bio_uv_loop, core) == 0,
               "bio__core reads internal_fields as the core loop");

static inline bio_uv_loop *bio__uv(const uv_loop_t *loop) {
  return (bio_uv_loop *)loop->internal_fields;
}

#endif
