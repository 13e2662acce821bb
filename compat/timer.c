/* uv_timer_t on the core's timing wheel. The wheel entry lives in the
 * timer's private heap_node[3] + timeout words, so starting and stopping a
 * timer allocates nothing and costs O(1), where libuv pays O(log n). */
#include "config.h"

#include <limits.h>

#include "internal.h"

/* The wheel entry overlays heap_node[3] and timeout, which are adjacent. */
_Static_assert(offsetof(uv_timer_t, timeout) ==
                   offsetof(uv_timer_t, heap_node) + 3 * sizeof(void *),
               "heap_node[3] and timeout must be contiguous in uv_timer_t");
_Static_assert(sizeof(bio_timer) <= 3 * sizeof(void *) + sizeof(uint64_t),
               "bio_timer must fit uv_timer_t's heap_node[3] + timeout area");

static inline bio_timer *entry(uv_timer_t *h) {
  return (bio_timer *)(void *)h->heap_node;
}

static inline uv_timer_t *owner(bio_timer *t) {
  return bio_container_of((void *)t, uv_timer_t, heap_node);
}


UV_EXTERN int uv_timer_init(uv_loop_t *loop, uv_timer_t *handle) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  bio__handle_init(loop, (uv_handle_t *)handle, UV_TIMER);
  handle->timer_cb = NULL;
  handle->repeat = 0;
  handle->start_id = 0;
  entry(handle)->prev = NULL;
  entry(handle)->next = NULL;
  entry(handle)->due_ms = 0;
  return 0;
}


UV_EXTERN int uv_timer_stop(uv_timer_t *handle) {
  if (!(handle->flags & BIO_H_ACTIVE))
    return 0;
  bio__wheel_remove(&bio__core(handle->loop)->wheel, entry(handle));
  bio__handle_stop((uv_handle_t *)handle);
  return 0;
}


UV_EXTERN int uv_timer_start(uv_timer_t *handle, uv_timer_cb cb,
                             uint64_t timeout, uint64_t repeat) {
  uint64_t due;

  if (bio__handle_closing((uv_handle_t *)handle) || cb == NULL)
    return UV_EINVAL;
  if (handle->flags & BIO_H_ACTIVE)
    uv_timer_stop(handle);

  due = handle->loop->time + timeout;
  if (due < timeout)
    due = UINT64_MAX; /* saturate: "never", not "soon" */
  handle->timer_cb = cb;
  handle->repeat = repeat;
  bio__wheel_add(&bio__core(handle->loop)->wheel, entry(handle), due);
  handle->start_id = entry(handle)->seq;
  bio__handle_start((uv_handle_t *)handle);
  return 0;
}


UV_EXTERN int uv_timer_again(uv_timer_t *handle) {
  if (handle->timer_cb == NULL)
    return UV_EINVAL;
  if (handle->repeat != 0) {
    uv_timer_stop(handle);
    uv_timer_start(handle, handle->timer_cb, handle->repeat, handle->repeat);
  }
  return 0;
}


UV_EXTERN void uv_timer_set_repeat(uv_timer_t *handle, uint64_t repeat) {
  handle->repeat = repeat;
}


UV_EXTERN uint64_t uv_timer_get_repeat(const uv_timer_t *handle) {
  return handle->repeat;
}


UV_EXTERN uint64_t uv_timer_get_due_in(const uv_timer_t *handle) {
  const bio_timer *t = (const bio_timer *)(const void *)handle->heap_node;
  if (t->due_ms <= handle->loop->time)
    return 0;
  return t->due_ms - handle->loop->time;
}


void bio__timer_close(uv_timer_t *h) { uv_timer_stop(h); }


void bio__run_timers(uv_loop_t *loop) {
  bio_wheel *w = &bio__core(loop)->wheel;
  bio_timer *t;

  /* The timers due when the pass begins, one at a time (a callback may
   * stop or start any timer). One (re)started by a callback of this pass
   * waits for the next, even at 0 ms, as in libuv 1.46 on: a timer that
   * restarts itself at 0 ms can't keep the loop in its timer phase. */
  uint64_t limit = w->next_seq;

  while ((t = bio__wheel_pop_before(w, loop->time, limit)) != NULL) {
    uv_timer_t *h = owner(t);
    bio__handle_stop((uv_handle_t *)h);
    if (h->repeat != 0) {
      uint64_t due = loop->time + h->repeat;
      if (due < h->repeat)
        due = UINT64_MAX;
      bio__wheel_add(w, t, due);
      h->start_id = t->seq;
      bio__handle_start((uv_handle_t *)h);
    }
    h->timer_cb(h);
  }
}


int bio__next_timeout(const uv_loop_t *loop) {
  uint64_t due = bio__wheel_next_due(&bio__core(loop)->wheel);
  uint64_t diff;

  if (due == UINT64_MAX)
    return -1;
  if (due <= loop->time)
    return 0;
  diff = due - loop->time;
  return diff > INT_MAX ? INT_MAX : (int)diff;
}
