/* What the fs files (fs.c: uv_fs_* requests; fs_event.c: inotify-backed
 * uv_fs_event_t; fs_poll.c: stat-polling uv_fs_poll_t) offer the rest of
 * compat: the requests' per-loop state (a member of the loop's
 * bio_uv_loop, loop.h) and the teardown hooks uv_close and uv_loop_close
 * call, kept out of internal.h so the fs code can grow without every
 * compat file rebuilding. */
#ifndef BIO_COMPAT_FS_H
#define BIO_COMPAT_FS_H

#include <stdint.h>

#include "uv.h"

/* The uv_fs_t requests' per-loop state. */
typedef struct bio_fs_loop {
  /* The uv_fs_type values (one bit each) that run as io_uring ops on this
   * loop (fs_uring.c), decided at the first async request (probed). */
  uint64_t native;
  int probed;
  unsigned stats_out; /* async stats in flight (see bio__fs_use_native) */
} bio_fs_loop;

/* uv_close of a UV_FS_EVENT handle: stops it; nothing stays in flight on
 * the handle's behalf, so its close callback may run at the next closing
 * phase. */
void bio__fs_event_close(uv_fs_event_t *handle);

/* uv_close of a UV_FS_POLL handle: stops it. Returns 1 when a stat or
 * timer of the handle is still winding down; fs_poll.c then queues the
 * handle for its close callback itself. Returns 0 otherwise. */
int bio__fs_poll_close(uv_fs_poll_t *handle);

/* uv_loop_close, once every handle is closed: releases the loop's inotify
 * fd and watch table. Touches neither the core nor the backend, so it may
 * run before or after bio__loop_close. Idempotent. */
void bio__fs_event_loop_close(uv_loop_t *loop);

#endif
