/* What the compat files share: libuv's intrusive queue format (void *[2]
 * links, which programs can see in uv_loop_t.handle_queue), our handle
 * flags, the core loop behind uv_loop_t.internal_fields (the rest of the
 * per-loop state is loop.h's), and the hooks one handle kind offers the
 * loop and uv_close. */
#ifndef BIO_COMPAT_INTERNAL_H
#define BIO_COMPAT_INTERNAL_H

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "uv.h"

#include "core/alloc.h"
#include "core/core.h"

/* ---- queues: a link is void *[2] = { next, prev }, circular ---- */

/* gcc 12 flags every list head on the stack (our detached batches) as a
 * dangling pointer, though each batch is emptied before it goes out of
 * scope. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

typedef void *bio_qlink[2];

static inline void **bio__q_next(void **q) { return (void **)q[0]; }
static inline void **bio__q_prev(void **q) { return (void **)q[1]; }
static inline void bio__q_init(void **q) {
  q[0] = q;
  q[1] = q;
}
static inline int bio__q_empty(void **h) { return h[0] == (void *)h; }
static inline void bio__q_insert_tail(void **h, void **q) {
  q[0] = h;
  q[1] = h[1];
  bio__q_prev(h)[0] = q;
  h[1] = q;
}
static inline void bio__q_insert_head(void **h, void **q) {
  q[0] = h[0];
  q[1] = h;
  bio__q_next(h)[1] = q;
  h[0] = q;
}
static inline void bio__q_remove(void **q) {
  bio__q_prev(q)[0] = q[0];
  bio__q_next(q)[1] = q[1];
}
/* Moves every element of from onto the (empty) list to; from ends empty. */
static inline void bio__q_move(void **from, void **to) {
  if (bio__q_empty(from)) {
    bio__q_init(to);
    return;
  }
  to[0] = from[0];
  to[1] = from[1];
  bio__q_next(to)[1] = to;
  bio__q_prev(to)[0] = to;
  bio__q_init(from);
}
#define bio__q_data(q, type, field) bio_container_of((void *)(q), type, field)

/* ---- handle flags: private to us, libuv's values are not an ABI fact ---- */

enum {
  BIO_H_CLOSING = 1u << 0,
  BIO_H_CLOSED = 1u << 1,
  BIO_H_ACTIVE = 1u << 2,
  BIO_H_REF = 1u << 3,
  BIO_H_INTERNAL = 1u << 4,
};

/* ---- the loop ---- */

/* uv_loop_t.internal_fields points at the loop's bio_uv_loop (loop.h),
 * whose first member is the core loop. */
static inline bio_loop *bio__core(const uv_loop_t *loop) {
  return (bio_loop *)loop->internal_fields;
}

/* ---- handle bookkeeping (libuv's active/ref counting rules) ---- */

static inline void bio__handle_init(uv_loop_t *loop, uv_handle_t *h,
                                    uv_handle_type type) {
  h->loop = loop;
  h->type = type;
  h->flags = BIO_H_REF;
  h->next_closing = NULL;
  bio__q_insert_tail(loop->handle_queue, h->handle_queue);
}

static inline void bio__handle_start(uv_handle_t *h) {
  if (h->flags & BIO_H_ACTIVE)
    return;
  h->flags |= BIO_H_ACTIVE;
  if (h->flags & BIO_H_REF)
    h->loop->active_handles++;
}

static inline void bio__handle_stop(uv_handle_t *h) {
  if (!(h->flags & BIO_H_ACTIVE))
    return;
  h->flags &= ~BIO_H_ACTIVE;
  if (h->flags & BIO_H_REF)
    h->loop->active_handles--;
}

static inline int bio__handle_closing(const uv_handle_t *h) {
  return (h->flags & (BIO_H_CLOSING | BIO_H_CLOSED)) != 0;
}

static inline void bio__req_register(uv_loop_t *loop) {
  loop->active_reqs.count++;
}
static inline void bio__req_unregister(uv_loop_t *loop) {
  assert(loop->active_reqs.count > 0);
  loop->active_reqs.count--;
}

/* The bytes in a uv_buf_t array (a write's or a send's). */
static inline size_t bio__bufs_bytes(const uv_buf_t *bufs, unsigned int nbufs) {
  size_t n = 0;
  unsigned int i;
  for (i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}

#define BIO_NBUFS(arr) (sizeof(arr) / sizeof((arr)[0]))

/* A copy of bufs the request keeps (the caller may reuse its array once
 * the call returns): in the request's small array sml when nbufs fit,
 * else on the heap (the request frees it when it is not sml). NULL: out
 * of memory. */
static inline uv_buf_t *bio__bufs_keep(uv_buf_t *sml, size_t nsml,
                                       const uv_buf_t *bufs,
                                       unsigned int nbufs) {
  uv_buf_t *kept = sml;
  if (nbufs > nsml) {
    kept = bio__malloc(nbufs * sizeof(*bufs));
    if (kept == NULL)
      return NULL;
  }
  if (nbufs > 0)
    memcpy(kept, bufs, nbufs * sizeof(*bufs));
  return kept;
}

/* ---- per-kind hooks, called by the loop and uv_close ---- */

void bio__run_timers(uv_loop_t *loop);
int bio__next_timeout(const uv_loop_t *loop); /* ms, -1 = none */
void bio__timer_close(uv_timer_t *h);
void bio__run_idle(uv_loop_t *loop);
void bio__run_prepare(uv_loop_t *loop);
void bio__run_check(uv_loop_t *loop);
void bio__async_wake(bio_loop *core, void *arg); /* the loop's wake cb */
void bio__async_close(uv_async_t *h);
void bio__async_purge(uv_loop_t *loop); /* before close callbacks run */
uint64_t bio__loop_clock_ms(void); /* libuv's "fast" clock, in ms */
/* signal.c: delivers caught signals (from the loop's wake callback);
 * gives the loop's slot back (uv_loop_close). */
void bio__signal_dispatch(uv_loop_t *loop);
void bio__signal_loop_close(uv_loop_t *loop);
void bio__signal_close(uv_signal_t *h);
/* process.c: unlinks a process handle; stops SIGCHLD watching when it was
 * the loop's last. */
void bio__process_close(uv_process_t *h);
/* inet.c: getsockname (peer 0) or getpeername (peer 1) of h's socket into
 * name, *namelen in and out, as uv_tcp/udp_getsockname want it. */
int bio__sock_name(const uv_handle_t *h, int peer, struct sockaddr *name,
                   int *namelen);

#endif
