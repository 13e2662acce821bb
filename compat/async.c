/* uv_async_t: uv_async_send from any thread pushes the handle on the loop's
 * lock-free stack and wakes the loop; the loop runs only the handles that
 * were sent, where libuv scans every async handle of the loop per wake.
 * It runs them in the order the handles were initialised, as libuv's scan
 * of its list does, not in send order: each handle carries a sequence
 * number from its init, and a wake sorts what it took by it.
 * pending: 0 idle, 1 a sender is pushing, 2 pushed and not yet delivered. */
#include "config.h"

#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "loop.h"

/* The stack link reuses queue[0] and the init sequence number queue[1]:
 * we keep no list of all async handles (close does not touch queue). */
#define LINK(h) (*(uv_async_t **)&(h)->queue[0])
#define SEQ(h) ((uintptr_t)(h)->queue[1])

/* Process-wide, so no loop field is needed: only the order of one loop's
 * handles matters, and a loop inits its handles on one thread. */
static _Atomic uintptr_t next_seq;

/* The loop whose async walk this thread is in (bio__async_wake), so that
 * a send from one of the walk's callbacks tells the walk at once to look
 * for new arrivals. Sends from other threads are looked for after every
 * callback of a small walk (a callback that waits for a thread's send
 * then sees it run in the walk, as libuv's scan would), and left for the
 * next wake by a large one (see bio__async_wake). */
static __thread bio_uv_loop *walking;

static inline _Atomic int *pending_of(uv_async_t *h) {
  return (_Atomic int *)&h->pending;
}

_Static_assert(sizeof(_Atomic int) == sizeof(int),
               "uv_async_t.pending is used as an atomic int");


/* a was initialised before b (wrap-safe: live handles of one loop span
 * far fewer than half the counter's range). */
static inline int seq_before(uintptr_t a, uintptr_t b) {
  return (intptr_t)(a - b) < 0;
}


UV_EXTERN int uv_async_init(uv_loop_t *loop, uv_async_t *handle,
                            uv_async_cb async_cb) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  bio__handle_init(loop, (uv_handle_t *)handle, UV_ASYNC);
  handle->async_cb = async_cb;
  handle->queue[0] = NULL;
  handle->queue[1] = (void *)(atomic_fetch_add_explicit(
                                  &next_seq, 1, memory_order_relaxed) +
                              1);
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
  head = atomic_load_explicit(&ul->async.stack, memory_order_relaxed);
  do {
    LINK(handle) = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &ul->async.stack, &head, handle, memory_order_release,
      memory_order_relaxed));
  atomic_store_explicit(pending, 2, memory_order_release);
  if (walking == ul)
    ul->async.self_sent = 1;
  bio__loop_wake(&ul->core);
  return 0;
}


/* Pushes the chain first..last back on the stack (loop thread): handles
 * sent and not delivered stay where the loop looks before it sleeps
 * (loop.c's loop_has_wakes reads the stack). */
static void push_back(bio_uv_loop *ul, uv_async_t *first, uv_async_t *last) {
  uv_async_t *head = atomic_load_explicit(&ul->async.stack,
                                          memory_order_relaxed);
  do {
    LINK(last) = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &ul->async.stack, &head, first, memory_order_release,
      memory_order_relaxed));
}


/* Takes what senders pushed and appends it to the ready list (in no
 * particular order: the wake sorts). */
static void take_stack(bio_uv_loop *ul) {
  uv_async_t *h = atomic_exchange_explicit(&ul->async.stack, NULL,
                                           memory_order_acquire);
  uv_async_t *tail;

  if (h == NULL)
    return;
  for (tail = h; LINK(tail) != NULL; tail = LINK(tail))
    ;
  if (ul->async.ready == NULL)
    ul->async.ready = h;
  else
    LINK(ul->async.ready_tail) = h;
  ul->async.ready_tail = tail;
}


/* Everything sent and not yet delivered: the ready list and the stack
 * (with no ready list, the stack as it is: no walk to its tail). */
static uv_async_t *take_all(bio_uv_loop *ul) {
  uv_async_t *h;

  if (ul->async.ready == NULL)
    return atomic_exchange_explicit(&ul->async.stack, NULL,
                                    memory_order_acquire);
  take_stack(ul);
  h = ul->async.ready;
  ul->async.ready = NULL;
  ul->async.ready_tail = NULL;
  return h;
}


static uv_async_t *merge(uv_async_t *a, uv_async_t *b) {
  uv_async_t *head = NULL;
  uv_async_t **tailp = &head;

  while (a != NULL && b != NULL) {
    if (seq_before(SEQ(b), SEQ(a))) {
      *tailp = b;
      b = LINK(b);
    } else {
      *tailp = a;
      a = LINK(a);
    }
    tailp = &LINK(*tailp);
  }
  *tailp = a != NULL ? a : b;
  return head;
}


/* Sorts a list by init order: a bottom-up merge sort, O(n log n) for a
 * wake that finds many handles sent. */
static uv_async_t *sort(uv_async_t *list) {
  uv_async_t *bins[sizeof(void *) * 8];
  size_t nbins = 0;
  size_t i;

  if (list == NULL || LINK(list) == NULL)
    return list;
  while (list != NULL) {
    uv_async_t *run = list;
    list = LINK(list);
    LINK(run) = NULL;
    /* bins[i] holds a sorted run of 2^i handles, or nothing. */
    for (i = 0; i < nbins && bins[i] != NULL; i++) {
      run = merge(bins[i], run);
      bins[i] = NULL;
    }
    if (i == nbins)
      nbins++;
    bins[i] = run;
  }
  list = NULL;
  for (i = 0; i < nbins; i++)
    if (bins[i] != NULL)
      list = merge(bins[i], list);
  return list;
}


/* A large batch (libuv's million_async sends to a million handles at
 * random, far more than the caches hold): every pass over the handles
 * misses the cache on each of them. So the batch is walked once, into an
 * array of (init number, handle) pairs, sorted there by radix (11 bits a
 * pass: two passes cover two million live handles), and delivered from
 * the array: each handle is touched twice, once here and once for its
 * callback. NULL (the caller sorts the list) for a small batch or without
 * memory; else the array's length in *n. */
#define SORT_ARRAY_MIN 64
#define RADIX_BITS 11

typedef struct {
  uintptr_t key; /* the init number; less the batch's smallest once sorted */
  uv_async_t *h;
} sort_item;

static sort_item *grow_sort_buf(bio_uv_loop *ul, size_t items) {
  size_t need = 2 * items * sizeof(sort_item); /* and as much to sort in */
  void *buf;

  if (need <= ul->async.sort_cap)
    return ul->async.sort_buf;
  buf = bio__realloc(ul->async.sort_buf, need);
  if (buf == NULL)
    return NULL;
  ul->async.sort_buf = buf;
  ul->async.sort_cap = need;
  return buf;
}

static sort_item *sort_batch(bio_uv_loop *ul, uv_async_t *list, size_t *n) {
  size_t cap = ul->async.sort_cap / (2 * sizeof(sort_item));
  size_t len = 0, i;
  sort_item *a, *b, *t;
  uintptr_t min, span;
  unsigned shift;
  uv_async_t *h;

  for (h = list; h != NULL && len < SORT_ARRAY_MIN; h = LINK(h))
    len++;
  if (len < SORT_ARRAY_MIN)
    return NULL;
  a = grow_sort_buf(ul, cap > SORT_ARRAY_MIN ? cap : 4 * SORT_ARRAY_MIN);
  if (a == NULL)
    return NULL;
  cap = ul->async.sort_cap / (2 * sizeof(sort_item));
  min = SEQ(list);
  len = 0;
  for (h = list; h != NULL; h = LINK(h)) {
    if (len == cap) {
      /* The items move to the front of a buffer twice the size. */
      a = grow_sort_buf(ul, 2 * cap);
      if (a == NULL)
        return NULL; /* the list is still whole */
      cap *= 2;
    }
    a[len].key = SEQ(h);
    a[len].h = h;
    if (seq_before(SEQ(h), min))
      min = SEQ(h);
    len++;
  }
  b = a + len;
  span = 0;
  for (i = 0; i < len; i++) {
    a[i].key -= min;
    if (a[i].key > span)
      span = a[i].key;
  }
  for (shift = 0; shift < sizeof(uintptr_t) * 8 && (span >> shift) != 0;
       shift += RADIX_BITS) {
    size_t count[1u << RADIX_BITS];
    size_t sum = 0, c;
    memset(count, 0, sizeof(count));
    for (i = 0; i < len; i++)
      count[(a[i].key >> shift) & ((1u << RADIX_BITS) - 1)]++;
    for (i = 0; i < (1u << RADIX_BITS); i++) {
      c = count[i];
      count[i] = sum;
      sum += c;
    }
    for (i = 0; i < len; i++)
      b[count[(a[i].key >> shift) & ((1u << RADIX_BITS) - 1)]++] = a[i];
    t = a;
    a = b;
    b = t;
  }
  *n = len;
  return a;
}


/* A sender between its compare-exchange and its push: wait it out. */
static void wait_push_done(uv_async_t *h) {
  while (atomic_load_explicit(pending_of(h), memory_order_acquire) == 1)
    sched_yield();
}


/* Handles sent while a callback of the batch ran. Those after the last
 * delivered (cur) that existed when the batch began join the batch, as
 * libuv's scan would still reach them; the rest (sent again, or sent
 * for the first time after being passed over, or initialised since)
 * wait for the next wake on *later. Closed ones are dropped. */
static uv_async_t *take_arrivals(bio_uv_loop *ul, uv_async_t *batch,
                                 uintptr_t cur, uintptr_t last,
                                 uv_async_t **later) {
  uv_async_t *h = take_all(ul);
  uv_async_t *join = NULL;

  while (h != NULL) {
    uv_async_t *next = LINK(h);
    if (bio__handle_closing((uv_handle_t *)h)) {
      LINK(h) = NULL;
    } else if (seq_before(cur, SEQ(h)) && !seq_before(last, SEQ(h))) {
      LINK(h) = join;
      join = h;
    } else {
      LINK(h) = *later;
      *later = h;
    }
    h = next;
  }
  return join == NULL ? batch : merge(batch, sort(join));
}


/* Runs h's callback, as a wake delivers it: 1 if it ran. */
static int deliver(bio_uv_loop *ul, uv_async_t *h) {
  LINK(h) = NULL;
  if (bio__handle_closing((uv_handle_t *)h))
    return 0; /* closed after it was sent: no callback */
  wait_push_done(h);
  /* From here a new send may push h again: it will be delivered again. */
  atomic_store_explicit(pending_of(h), 0, memory_order_release);
  if (h->async_cb == NULL)
    return 0;
  walking = ul; /* again: an earlier callback may have run another loop */
  h->async_cb(h);
  return 1;
}


/* How far ahead of the delivery a large batch's handles are fetched. */
#define PREFETCH_AHEAD 8

void bio__async_wake(bio_loop *core, void *arg) {
  uv_loop_t *loop = arg;
  bio_uv_loop *ul = bio__uv(loop);
  /* Handles initialised from here on are not part of this batch. */
  uintptr_t last = atomic_load_explicit(&next_seq, memory_order_relaxed);
  uv_async_t *list = take_all(ul);
  size_t n = 0, i = 0;
  sort_item *arr = sort_batch(ul, list, &n);
  /* A small batch is a sorted list; a large one the array, and the list
   * holds only handles that join it as it goes (take_arrivals). */
  uv_async_t *batch = arr == NULL ? sort(list) : NULL;
  uv_async_t *later = NULL;
  uv_async_t *tail = NULL;
  bio_uv_loop *outer = walking; /* a callback may run another loop */
  uv_async_t *h;
  uintptr_t cur;

  (void)core;
  walking = ul;
  ul->async.self_sent = 0;
  for (;;) {
    if (batch != NULL && (i == n || seq_before(SEQ(batch), SEQ(arr[i].h)))) {
      h = batch;
      batch = LINK(h);
    } else if (i < n) {
      h = arr[i++].h;
      if (i + PREFETCH_AHEAD < n)
        __builtin_prefetch(arr[i + PREFETCH_AHEAD].h, 1);
    } else {
      break;
    }
    cur = SEQ(h);
    if (!deliver(ul, h))
      continue;
    /* Sends from this callback, or handles gathered by a close, join the
     * batch if the walk has not passed them; so do other threads' sends
     * in a small batch. A large one leaves those for the next wake: a
     * look here after each callback would miss the cache on the line the
     * senders keep writing (libuv's million_async ran at 0.52-0.65x
     * libuv looking after each, or every 1024). */
    if (ul->async.self_sent || ul->async.ready != NULL ||
        (arr == NULL &&
         atomic_load_explicit(&ul->async.stack, memory_order_relaxed) !=
             NULL)) {
      ul->async.self_sent = 0;
      batch = take_arrivals(ul, batch, cur, last, &later);
    }
  }
  walking = outer;
  /* Back on the stack for the next wake, but for those closed by a later
   * callback of the batch: the stack is not purged. */
  batch = NULL;
  while ((h = later) != NULL) {
    later = LINK(h);
    LINK(h) = NULL;
    if (bio__handle_closing((uv_handle_t *)h))
      continue;
    LINK(h) = batch;
    if (batch == NULL)
      tail = h;
    batch = h;
  }
  if (batch != NULL)
    push_back(ul, batch, tail);
}


void bio__async_close(uv_async_t *h) {
  bio_uv_loop *ul = bio__uv(h->loop);

  wait_push_done(h);
  if (atomic_load_explicit(pending_of(h), memory_order_acquire) == 2) {
    /* h sits on the stack, the ready list or a wake's batch. Unlinking it
     * here would cost a scan per close (closing a million handles would
     * be quadratic), so gather the stack on the ready list, where the
     * closing flag keeps h's callback from running, and drop closing
     * handles from the list in one pass before any close callback runs
     * (bio__async_purge; a wake's batch drops them as it goes). */
    take_stack(ul);
    ul->async.purge = 1;
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

  if (!ul->async.purge)
    return;
  ul->async.purge = 0;
  h = ul->async.ready;
  ul->async.ready = NULL;
  ul->async.ready_tail = NULL;
  while (h != NULL) {
    uv_async_t *next = LINK(h);
    if (!bio__handle_closing((uv_handle_t *)h)) {
      LINK(h) = keep;
      if (keep == NULL)
        tail = h;
      keep = h;
    }
    h = next;
  }
  /* Survivors were sent and still need their wake: back on the stack,
   * where the loop looks before it sleeps. */
  if (keep != NULL) {
    push_back(ul, keep, tail);
    bio__loop_wake(&ul->core);
  }
}
