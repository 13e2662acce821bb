/* uv_async_t: uv_async_send from any thread pushes the handle on the loop's
 * lock-free stack and wakes the loop; the loop runs only the handles that
 * were sent, where libuv scans every async handle of the loop per wake.
 * pending: 0 idle, 1 a sender is pushing, 2 pushed and not yet delivered. */
#include "config.h"

#include <sched.h>

#include "internal.h"

/* The stack link reuses queue[0]: we keep no list of all async handles. */
#define LINK(h) (*(uv_async_t **)&(h)->queue[0])

static inline _Atomic int *pending_of(uv_async_t *h) {
  return (_Atomic int *)&h->pending;
}

_Static_assert(sizeof(_Atomic int) == sizeof(int),
               "uv_async_t.pending is used as an atomic int");


UV_EXTERN int uv_async_init(uv_loop_t *loop, uv_async_t *handle,
                            uv_async_cb async_cb) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  bio__handle_init(loop, (uv_handle_t *)handle, UV_ASYNC);
  handle->async_cb = async_cb;
  handle->queue[0] = NULL;
  handle->queue[1] = NULL;
  atomic_store_explicit(pending_of(handle), 0, memory_order_relaxed);
  bio__handle_start((uv_handle_t *)handle);
  return 0;
}


UV_EXTERN int uv_async_send(uv_async_t *handle) {
  _Atomic int *pending = pending_of(handle);
  bio_uv_loop *ul;
  uv_async_t *head;
  int expected = 0;

  /* Already on its way: sends coalesce, as libuv documents. The plain load
   * first keeps the common case free of a locked instruction. */
  if (atomic_load_explicit(pending, memory_order_relaxed) != 0)
    return 0;
  if (!atomic_compare_exchange_strong(pending, &expected, 1))
    return 0;

  ul = bio__uv(handle->loop);
  head = atomic_load_explicit(&ul->async_stack, memory_order_relaxed);
  do {
    LINK(handle) = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &ul->async_stack, &head, handle, memory_order_release,
      memory_order_relaxed));
  atomic_store_explicit(pending, 2, memory_order_release);
  bio__loop_wake(&ul->core);
  return 0;
}


/* Takes what senders pushed and appends it, oldest first, to the ready
 * list. The stack is newest-first, so reverse it. */
static void take_stack(bio_uv_loop *ul) {
  uv_async_t *h = atomic_exchange_explicit(&ul->async_stack, NULL,
                                           memory_order_acquire);
  uv_async_t *fifo = NULL;
  uv_async_t *tail;

  if (h == NULL)
    return;
  tail = h;
  while (h != NULL) {
    uv_async_t *next = LINK(h);
    LINK(h) = fifo;
    fifo = h;
    h = next;
  }
  if (ul->async_ready == NULL)
    ul->async_ready = fifo;
  else
    LINK(ul->async_ready_tail) = fifo;
  ul->async_ready_tail = tail;
}


/* A sender between its compare-exchange and its push: wait it out. */
static void wait_push_done(uv_async_t *h) {
  while (atomic_load_explicit(pending_of(h), memory_order_acquire) == 1)
    sched_yield();
}


void bio__async_wake(bio_loop *core, void *arg) {
  uv_loop_t *loop = arg;
  bio_uv_loop *ul = bio__uv(loop);
  uv_async_t *h;

  (void)core;
  take_stack(ul);
  while ((h = ul->async_ready) != NULL) {
    ul->async_ready = LINK(h);
    if (ul->async_ready == NULL)
      ul->async_ready_tail = NULL;
    LINK(h) = NULL;
    if (bio__handle_closing((uv_handle_t *)h))
      continue; /* closed after it was sent: no callback */
    wait_push_done(h);
    /* From here a new send may push h again: it will be delivered again. */
    atomic_store_explicit(pending_of(h), 0, memory_order_release);
    if (h->async_cb != NULL)
      h->async_cb(h);
  }
}


void bio__async_close(uv_async_t *h) {
  bio_uv_loop *ul = bio__uv(h->loop);

  wait_push_done(h);
  if (atomic_load_explicit(pending_of(h), memory_order_acquire) == 2) {
    /* h sits on the stack or the ready list. Unlinking it here would cost
     * a scan per close (closing a million handles would be quadratic), so
     * gather everything on the ready list, where the closing flag keeps
     * h's callback from running, and drop closing handles from the list in
     * one pass before any close callback runs (bio__async_purge). */
    take_stack(ul);
    ul->async_purge = 1;
  }
  /* Leave it "pending" so that a send after close does nothing. */
  atomic_store_explicit(pending_of(h), 2, memory_order_relaxed);
  bio__handle_stop((uv_handle_t *)h);
}


void bio__async_purge(uv_loop_t *loop) {
  bio_uv_loop *ul = bio__uv(loop);
  uv_async_t *keep = NULL;
  uv_async_t *tail = NULL;
  uv_async_t *h;

  if (!ul->async_purge)
    return;
  ul->async_purge = 0;
  for (h = ul->async_ready; h != NULL;) {
    uv_async_t *next = LINK(h);
    if (!bio__handle_closing((uv_handle_t *)h)) {
      LINK(h) = NULL;
      if (tail == NULL)
        keep = h;
      else
        LINK(tail) = h;
      tail = h;
    }
    h = next;
  }
  ul->async_ready = keep;
  ul->async_ready_tail = tail;
  /* Survivors were sent and still need their wake. */
  if (keep != NULL)
    bio__loop_wake(&ul->core);
}
