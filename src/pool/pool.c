/* The process-wide blocking-work pool behind bio__pool_submit. Each worker
 * owns a FIFO under its own short mutex (no lock shared by every submit);
 * an idle worker first takes the oldest head of the other queues, then
 * spins briefly, then sleeps on its own futex. A submit wakes a sleeper
 * only when no worker is already awake and looking for work. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/settings.h"
#include "pool/pool.h"

#define POOL_DEFAULT_THREADS 4
#define POOL_MAX_THREADS 1024
#define POOL_STACK_BYTES (8u << 20) /* what libuv gives its pool threads */
/* How long a worker with nothing to do polls the queues before it sleeps
 * (BIO_POOL_SPIN_US overrides; one worker spins at a time). Alone it did
 * not pay: the worker's eventfd write woke the sleeping loop thread onto
 * the worker's own CPU (wake-affine), delaying the very submit it waited
 * for. With the loop spinning for the post too (core: spin_before_sleep) no
 * one sleeps or writes an eventfd between a job and the next, and libuv's
 * queue_work benchmark runs 3-10x faster here than with neither. */
#define TICKET_NONE UINT64_MAX

/* Workers sit on their own cache lines: submitters and thieves touch the
 * queue of one worker without disturbing the others. */
struct worker {
  pthread_mutex_t lock;
  bio_work *head;
  bio_work *tail;
  /* The head's ticket (TICKET_NONE: empty), readable without the lock so
   * thieves can skip empty queues and pick the oldest head. */
  _Atomic uint64_t head_ticket;
  /* The futex word: 1 while the worker sleeps (or is about to). Whoever
   * flips it to 0 owns the wake-up and counts the worker as searching. */
  _Atomic int parked;
  int has_thread;
  pthread_t thread;
  unsigned index;
} __attribute__((aligned(64)));

/* Process-wide by nature (one pool per process, as in libuv). Fields the
 * hot path touches are atomics; start, stop and fork hold start_lock. */
static struct {
  pthread_mutex_t start_lock;
  _Atomic int running; /* threads exist: submit needs no start */
  _Atomic int started; /* threads of this start that reached worker_main */
  struct worker *workers;
  void *workers_mem; /* what to free: workers is aligned inside it */
  unsigned nthreads; /* queues (and threads wanted); fixed while running */
  unsigned live;     /* queues that have a thread: submit targets */
  _Atomic int stopping;

  /* Submit side: queued and searching pair up (see notify and park). */
  _Atomic long queued;      /* items in the worker queues */
  _Atomic uint64_t tickets; /* global submit order, for thieves */
  _Atomic int searching;    /* awake workers looking for work */
  _Atomic int nparked;      /* workers with parked == 1 */
  /* Items taken by a worker and not yet finished. Counted before queued
   * drops, so queued + busy never misses an item in between. */
  _Atomic int busy;

  /* Slow I/O (getaddrinfo and friends): one FIFO, and at most half the
   * threads (rounded up) on it, so DNS cannot starve file I/O. */
  pthread_mutex_t slow_lock;
  bio_work *slow_head;
  bio_work *slow_tail;
  _Atomic long slow_queued;
  _Atomic unsigned slow_running; /* changed under slow_lock */
  unsigned slow_max;
  uint64_t spin_ns; /* BIO_POOL_SPIN_US, 50 us by default */
} pool = {
    .start_lock = PTHREAD_MUTEX_INITIALIZER,
    .slow_lock = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
/* The worker the current thread is, for nested submits (none: NULL). */
static __thread struct worker *self;
/* Each submitting thread spreads its items over the queues on its own
 * cursor: no shared counter to fight over. */
static __thread unsigned cursor;


/* ---- small helpers ---- */

static void futex_wait(_Atomic int *word, int expected) {
  syscall(SYS_futex, (int *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL,
          0);
}


static void futex_wake(_Atomic int *word) {
  syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}


/* The ticket rides in the completion op's offset field, unused until the
 * op is posted: bio_work itself has no room left in its 40 bytes. */
static inline uint64_t ticket_of(const bio_work *w) {
  return (uint64_t)w->done->off;
}


static unsigned threads_wanted(void) {
  return bio__settings_threadpool_size(POOL_DEFAULT_THREADS,
                                       POOL_MAX_THREADS);
}


/* Work that some awake worker could take right now. */
static inline int work_available(void) {
  if (atomic_load(&pool.queued) > 0)
    return 1;
  return atomic_load(&pool.slow_queued) > 0 &&
         atomic_load_explicit(&pool.slow_running, memory_order_relaxed) <
             pool.slow_max;
}


/* ---- waking ---- */

/* Wakes one sleeping worker, preferring hint. The woken worker is counted
 * as searching before it runs, so that the submits that follow do not
 * wake a second one for the same item. */
static void wake_one(unsigned hint) {
  unsigned n = pool.nthreads;
  unsigned i;

  atomic_fetch_add(&pool.searching, 1);
  if (atomic_load(&pool.nparked) > 0) {
    for (i = 0; i < n; i++) {
      struct worker *wk = &pool.workers[(hint + i) % n];
      int one = 1;
      if (atomic_load_explicit(&wk->parked, memory_order_relaxed) != 1)
        continue;
      if (atomic_compare_exchange_strong(&wk->parked, &one, 0)) {
        atomic_fetch_sub(&pool.nparked, 1);
        futex_wake(&wk->parked);
        return;
      }
    }
  }
  /* Everyone is busy or already awake: they look at the queues before
   * they sleep (park re-checks after announcing itself). */
  atomic_fetch_sub(&pool.searching, 1);
}


/* After an item was queued (the seq_cst increment of queued came first).
 * A searching worker sees it; a worker about to park re-checks queued
 * after leaving the searching count. One of the two orders must hold, so
 * skipping the wake here never strands an item. */
static inline void notify(unsigned hint) {
  if (atomic_load(&pool.searching) > 0)
    return;
  wake_one(hint);
}


/* ---- queues ---- */

/* Called with q->lock held. */
static bio_work *pop_locked(struct worker *q) {
  bio_work *w = q->head;

  if (w == NULL)
    return NULL;
  q->head = w->next;
  if (q->head == NULL) {
    q->tail = NULL;
    atomic_store_explicit(&q->head_ticket, TICKET_NONE, memory_order_relaxed);
  } else {
    atomic_store_explicit(&q->head_ticket, ticket_of(q->head),
                          memory_order_relaxed);
  }
  w->next = NULL;
  assert(atomic_load_explicit(&w->state, memory_order_relaxed) ==
         BIO_WORK_QUEUED);
  atomic_store_explicit(&w->state, BIO_WORK_RUNNING, memory_order_relaxed);
  atomic_fetch_add_explicit(&pool.busy, 1, memory_order_relaxed);
  atomic_fetch_sub(&pool.queued, 1);
  return w;
}


/* The head of the slow queue, if its quota allows and it is older than
 * ticket `before` (the oldest other item): slow items keep their place in
 * submit order, as behind libuv's single queue, and only the quota holds
 * them back. */
static bio_work *take_slow(uint64_t before) {
  bio_work *w = NULL;

  pthread_mutex_lock(&pool.slow_lock);
  if (pool.slow_head != NULL && ticket_of(pool.slow_head) < before &&
      atomic_load_explicit(&pool.slow_running, memory_order_relaxed) <
          pool.slow_max) {
    w = pool.slow_head;
    pool.slow_head = w->next;
    if (pool.slow_head == NULL)
      pool.slow_tail = NULL;
    w->next = NULL;
    atomic_store_explicit(&w->state, BIO_WORK_RUNNING, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.busy, 1, memory_order_relaxed);
    atomic_fetch_sub(&pool.slow_queued, 1);
    atomic_fetch_add_explicit(&pool.slow_running, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&pool.slow_lock);
  return w;
}


/* The next item for me: the oldest head among all the queues, our own
 * included, so items start in submit order as from libuv's single queue.
 * Programs rely on it: a blocked batch of items must hold back everything
 * queued after it (slow I/O too), which is what makes those later items
 * cancellable. Slow I/O beyond its quota waits and lets others pass. */
static bio_work *take(struct worker *me) {
  (void)me;
  for (;;) {
    struct worker *victim = NULL;
    uint64_t oldest = TICKET_NONE;
    bio_work *w;
    unsigned i;

    if (atomic_load_explicit(&pool.queued, memory_order_relaxed) > 0) {
      for (i = 0; i < pool.nthreads; i++) {
        uint64_t t = atomic_load_explicit(&pool.workers[i].head_ticket,
                                          memory_order_relaxed);
        if (t < oldest) {
          oldest = t;
          victim = &pool.workers[i];
        }
      }
    }
    if (atomic_load_explicit(&pool.slow_queued, memory_order_relaxed) > 0 &&
        (w = take_slow(oldest)) != NULL)
      return w;
    if (victim == NULL)
      return NULL;
    pthread_mutex_lock(&victim->lock);
    /* Take it only if it is still the item we chose: had another worker
     * taken it meanwhile, the next in that queue need not be the oldest. */
    w = victim->head != NULL && ticket_of(victim->head) == oldest
            ? pop_locked(victim)
            : NULL;
    pthread_mutex_unlock(&victim->lock);
    if (w != NULL)
      return w;
    /* Someone took it first: look again. */
  }
}


int bio__pool_saturated(void) {
  long waiting;

  if (!atomic_load_explicit(&pool.running, memory_order_acquire))
    return 0; /* a submit would start threads for it */
  waiting = atomic_load_explicit(&pool.queued, memory_order_relaxed) +
            atomic_load_explicit(&pool.slow_queued, memory_order_relaxed);
  return waiting > 0 ||
         (unsigned)atomic_load_explicit(&pool.busy, memory_order_relaxed) >=
             pool.live;
}


/* ---- workers ---- */

static void run_item(bio_work *w) {
  bio_loop *loop = w->loop;
  bio_op *done = w->done;
  int slow = w->kind == BIO_WORK_SLOW_IO;

  w->run(w);
  atomic_fetch_sub_explicit(&pool.busy, 1, memory_order_relaxed);
  if (slow) {
    pthread_mutex_lock(&pool.slow_lock);
    atomic_fetch_sub_explicit(&pool.slow_running, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool.slow_lock);
  }
  done->res = 0;
  atomic_store_explicit(&w->state, BIO_WORK_DONE, memory_order_release);
  /* From here the loop may run the owner's callback, which may free w. */
  bio__loop_post(loop, done);
}


/* Polls for work for up to pool.spin_ns. Returns 1 when there may be
 * some (or the pool stops), 0 when the time ran out. */
static int spin_for_work(void) {
  uint64_t deadline = 0;
  unsigned i;

  if (pool.spin_ns == 0 || bio__cpu_contended(bio__clock_ns()))
    return work_available();
  for (i = 1;; i++) {
    if (work_available() || atomic_load_explicit(&pool.stopping,
                                                 memory_order_relaxed))
      return 1;
    bio__cpu_relax();
    if ((i & 63) == 0) {
      uint64_t t = bio__clock_ns();
      if (deadline == 0)
        deadline = t + pool.spin_ns;
      else if (t >= deadline)
        return 0;
    }
  }
}


/* Leaves the searching count and sleeps until woken. *searching tells on
 * return whether the caller is counted as searching again. */
static void park(struct worker *me, int *searching) {
  atomic_fetch_add(&pool.nparked, 1);
  atomic_store(&me->parked, 1);
  atomic_fetch_sub(&pool.searching, 1);
  *searching = 0;

  /* A submit that saw us searching did not wake anyone: look once more
   * now that we no longer count. */
  if (work_available() || atomic_load(&pool.stopping)) {
    int one = 1;
    if (atomic_compare_exchange_strong(&me->parked, &one, 0))
      atomic_fetch_sub(&pool.nparked, 1);
    else
      *searching = 1; /* a waker beat us to it and counted us */
    return;
  }
  while (atomic_load(&me->parked) == 1)
    futex_wait(&me->parked, 1);
  *searching = 1;
}


static void *worker_main(void *arg) {
  struct worker *me = arg;
  int searching = 0;

  self = me;
  /* The name libuv gives its pool threads (1.48 on): tools and programs
   * look for it (ps, top, a debugger's thread list, libuv's own tests). */
  pthread_setname_np(pthread_self(), "libuv-worker");
  atomic_fetch_add(&pool.started, 1);
  futex_wake(&pool.started);
  for (;;) {
    bio_work *w = take(me);

    if (w != NULL) {
      /* The last searcher to find work hands the job on: more items may
       * wait that nobody is awake for. */
      if (searching) {
        searching = 0;
        if (atomic_fetch_sub(&pool.searching, 1) == 1 && work_available())
          wake_one(me->index + 1);
      }
      run_item(w);
      continue;
    }
    if (atomic_load(&pool.stopping))
      break;
    if (!searching) {
      searching = 1;
      /* One spinner is enough: the others go straight to sleep. */
      if (atomic_fetch_add(&pool.searching, 1) == 0 && spin_for_work())
        continue;
    }
    park(me, &searching);
  }
  if (searching)
    atomic_fetch_sub(&pool.searching, 1);
  self = NULL;
  return NULL;
}


/* ---- start, stop, fork ---- */

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);


static void register_atfork(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}


static int alloc_workers(unsigned n) {
  size_t bytes = (size_t)n * sizeof(struct worker) + 63;
  uintptr_t p;
  unsigned i;

  pool.workers_mem = bio__calloc(1, bytes);
  if (pool.workers_mem == NULL)
    return -ENOMEM;
  p = ((uintptr_t)pool.workers_mem + 63) & ~(uintptr_t)63;
  pool.workers = (struct worker *)p;
  for (i = 0; i < n; i++) {
    struct worker *wk = &pool.workers[i];
    pthread_mutex_init(&wk->lock, NULL);
    atomic_init(&wk->head_ticket, TICKET_NONE);
    atomic_init(&wk->parked, 0);
    wk->index = i;
  }
  pool.nthreads = n;
  pool.slow_max = (n + 1) / 2;
  pool.spin_ns = bio__settings()->pool_spin_ns;
  return 0;
}


static void free_workers(void) {
  unsigned i;

  for (i = 0; i < pool.nthreads; i++)
    pthread_mutex_destroy(&pool.workers[i].lock);
  bio__free(pool.workers_mem);
  pool.workers_mem = NULL;
  pool.workers = NULL;
  pool.nthreads = 0;
  pool.live = 0;
}


/* Starts a thread for every queue (the queues may already hold items, as
 * after fork). Called with start_lock held. */
static int start_threads(void) {
  pthread_attr_t attr;
  unsigned i;
  unsigned made = 0;

  if (pthread_attr_init(&attr) != 0)
    return -ENOMEM;
  pthread_attr_setstacksize(&attr, POOL_STACK_BYTES);
  atomic_store(&pool.started, 0);
  for (i = 0; i < pool.nthreads; i++) {
    struct worker *wk = &pool.workers[i];
    wk->has_thread = pthread_create(&wk->thread, &attr, worker_main, wk) == 0;
    if (!wk->has_thread)
      break;
    made++;
  }
  pthread_attr_destroy(&attr);
  if (made == 0)
    return -EAGAIN;
  /* Wait until every thread runs our code, as libuv's pool does: a fork
   * while a thread is still starting copies whatever lock the thread's
   * start holds (ASan's allocator: its child's threads then hang). */
  for (;;) {
    int n = atomic_load(&pool.started);
    if ((unsigned)n >= made)
      break;
    futex_wait(&pool.started, n);
  }
  /* Fewer threads than asked: submits use only queues somebody serves
   * (thieves still scan all of them, which is harmless). */
  pool.live = made;
  return 0;
}


static int pool_start(void) {
  int err = 0;

  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&pool.start_lock);
  if (atomic_load_explicit(&pool.running, memory_order_relaxed))
    goto out;
  if (pool.workers == NULL) {
    err = alloc_workers(threads_wanted());
    if (err != 0)
      goto out;
  }
  err = start_threads();
  if (err != 0) {
    if (atomic_load(&pool.queued) == 0 && pool.slow_head == NULL)
      free_workers();
    goto out;
  }
  atomic_store_explicit(&pool.running, 1, memory_order_release);
out:
  pthread_mutex_unlock(&pool.start_lock);
  return err;
}


void bio__pool_shutdown(void) {
  unsigned i;

  pthread_mutex_lock(&pool.start_lock);
  if (!atomic_load(&pool.running)) {
    pthread_mutex_unlock(&pool.start_lock);
    return;
  }
  /* Workers finish what is queued, then see stopping and leave. */
  atomic_store(&pool.stopping, 1);
  for (i = 0; i < pool.nthreads; i++) {
    struct worker *wk = &pool.workers[i];
    int one = 1;
    if (atomic_compare_exchange_strong(&wk->parked, &one, 0)) {
      atomic_fetch_sub(&pool.nparked, 1);
      atomic_fetch_add(&pool.searching, 1);
      futex_wake(&wk->parked);
    }
  }
  for (i = 0; i < pool.nthreads; i++) {
    struct worker *wk = &pool.workers[i];
    if (wk->has_thread && wk != self)
      pthread_join(wk->thread, NULL);
    wk->has_thread = 0;
  }
  free_workers();
  atomic_store(&pool.running, 0);
  atomic_store(&pool.stopping, 0);
  atomic_store(&pool.searching, 0);
  atomic_store(&pool.nparked, 0);
  pthread_mutex_unlock(&pool.start_lock);
}


/* fork() must not copy a queue mid-update: hold every lock across it. */
static void atfork_prepare(void) {
  unsigned i;

  pthread_mutex_lock(&pool.start_lock);
  pthread_mutex_lock(&pool.slow_lock);
  for (i = 0; i < pool.nthreads; i++)
    pthread_mutex_lock(&pool.workers[i].lock);
}


static void atfork_parent(void) {
  unsigned i = pool.nthreads;

  while (i-- > 0)
    pthread_mutex_unlock(&pool.workers[i].lock);
  pthread_mutex_unlock(&pool.slow_lock);
  pthread_mutex_unlock(&pool.start_lock);
}


/* The child has no pool threads. Queued items stay queued; the next
 * submit starts threads for them (libuv's child behaves the same). Items
 * that were running are lost with their threads. */
static void atfork_child(void) {
  unsigned i = pool.nthreads;

  while (i-- > 0) {
    struct worker *wk = &pool.workers[i];
    pthread_mutex_unlock(&wk->lock);
    wk->has_thread = 0;
    atomic_store_explicit(&wk->parked, 0, memory_order_relaxed);
  }
  atomic_store_explicit(&pool.running, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.stopping, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.searching, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.nparked, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.slow_running, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.busy, 0, memory_order_relaxed);
  pool.live = 0;
  self = NULL;
  pthread_mutex_unlock(&pool.slow_lock);
  pthread_mutex_unlock(&pool.start_lock);
}


/* ---- the API ---- */

int bio__pool_submit(bio_work *w) {
  struct worker *q;
  uint64_t ticket;
  int err;

  if (w == NULL || w->run == NULL || w->loop == NULL || w->done == NULL)
    return -EINVAL;
  if (w->kind != BIO_WORK_CPU && w->kind != BIO_WORK_FAST_IO &&
      w->kind != BIO_WORK_SLOW_IO)
    return -EINVAL;
  if (!atomic_load_explicit(&pool.running, memory_order_acquire)) {
    err = pool_start();
    if (err != 0)
      return err;
  }

  w->next = NULL;
  atomic_store_explicit(&w->state, BIO_WORK_QUEUED, memory_order_relaxed);
  bio__loop_expect_post(w->loop);
  ticket = atomic_fetch_add_explicit(&pool.tickets, 1, memory_order_relaxed);
  w->done->off = (int64_t)ticket;

  if (w->kind == BIO_WORK_SLOW_IO) {
    pthread_mutex_lock(&pool.slow_lock);
    if (pool.slow_tail != NULL)
      pool.slow_tail->next = w;
    else
      pool.slow_head = w;
    pool.slow_tail = w;
    atomic_fetch_add(&pool.slow_queued, 1);
    pthread_mutex_unlock(&pool.slow_lock);
    notify(0);
    return 0;
  }

  /* A worker submitting from its run callback keeps the item: it will be
   * free for it soon, and its cache is warm. */
  q = self;
  if (q == NULL)
    q = &pool.workers[cursor++ % pool.live];

  pthread_mutex_lock(&q->lock);
  if (q->tail != NULL) {
    q->tail->next = w;
  } else {
    q->head = w;
    atomic_store_explicit(&q->head_ticket, ticket, memory_order_relaxed);
  }
  q->tail = w;
  /* Counted under the lock, so a taker never drives it below zero. */
  atomic_fetch_add(&pool.queued, 1);
  pthread_mutex_unlock(&q->lock);
  notify(q->index);
  return 0;
}


/* Unlinks w from the FIFO at headp and tailp. Returns 1 if found. */
static int unlink_item(bio_work **headp, bio_work **tailp, bio_work *w) {
  bio_work *prev = NULL;
  bio_work *it;

  for (it = *headp; it != NULL; prev = it, it = it->next) {
    if (it != w)
      continue;
    if (prev == NULL)
      *headp = w->next;
    else
      prev->next = w->next;
    if (*tailp == w)
      *tailp = prev;
    w->next = NULL;
    return 1;
  }
  return 0;
}


/* Moves a queued w to DONE; only under the lock of the queue holding it,
 * where the taker's QUEUED -> RUNNING happens too. */
static void mark_cancelled(bio_work *w) {
  int expected = BIO_WORK_QUEUED;
  int ok = atomic_compare_exchange_strong(&w->state, &expected,
                                          BIO_WORK_DONE);
  (void)ok;
  assert(ok);
}


int bio__pool_cancel(bio_work *w) {
  int found = 0;
  unsigned i;

  if (w == NULL)
    return -EINVAL;
  if (atomic_load_explicit(&w->state, memory_order_acquire) !=
      BIO_WORK_QUEUED)
    return -EBUSY;
  pthread_mutex_lock(&pool.start_lock);
  if (pool.workers == NULL) {
    pthread_mutex_unlock(&pool.start_lock);
    return -EBUSY;
  }

  /* w says which FIFO it went to only by kind; among the worker queues,
   * search them all (cancel is rare, and the queues are short). */
  if (w->kind == BIO_WORK_SLOW_IO) {
    pthread_mutex_lock(&pool.slow_lock);
    found = unlink_item(&pool.slow_head, &pool.slow_tail, w);
    if (found) {
      mark_cancelled(w);
      atomic_fetch_sub(&pool.slow_queued, 1);
    }
    pthread_mutex_unlock(&pool.slow_lock);
  }
  for (i = 0; !found && i < pool.nthreads; i++) {
    struct worker *q = &pool.workers[i];
    if (atomic_load_explicit(&q->head_ticket, memory_order_relaxed) ==
        TICKET_NONE)
      continue;
    pthread_mutex_lock(&q->lock);
    found = unlink_item(&q->head, &q->tail, w);
    if (found) {
      mark_cancelled(w);
      atomic_store_explicit(
          &q->head_ticket, q->head != NULL ? ticket_of(q->head) : TICKET_NONE,
          memory_order_relaxed);
      atomic_fetch_sub(&pool.queued, 1);
    }
    pthread_mutex_unlock(&q->lock);
  }
  pthread_mutex_unlock(&pool.start_lock);

  if (!found)
    return -EBUSY; /* a worker took it meanwhile */
  w->done->res = -ECANCELED;
  bio__loop_post(w->loop, w->done);
  return 0;
}
