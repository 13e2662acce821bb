/* bio_runtime: tasks on several threads, thread-per-core or work stealing.
 *
 * Each worker is a thread that owns one bio_rt, with its own loop (its own
 * io_uring ring, every ring after the first attached to the first's kernel
 * worker pool; or its own epoll). A task that has started runs on its
 * worker for good: every op it submits completes on that worker's ring,
 * its alarms are that loop's, and it is woken there.
 *
 * Thread-per-core: a task starts on the worker it was spawned on; spawns
 * from outside go to the workers in turn (or to the one named) through
 * each runtime's remote stack; nothing is shared on the hot path.
 *
 * Work stealing: what moves is work not started yet. bio_runtime_spawn
 * from a worker queues the task in that worker's queue, from outside in
 * the global queue, unbound to any scope. A worker with nothing runnable
 * starts a batch (into its root scope) from its own queue, else from the
 * global one, else steals half (at most STEAL_MAX) of another worker's
 * queue; a busy one starts a few from both queues every GLOBAL_EVERY
 * turns. A worker's queue is a ring only it pushes into; it and thieves
 * take from its head with a compare-and-swap, so no lock is on the hot
 * path. A worker that finds no work looks for up to SPIN_NS more (as a
 * searcher, when the CPUs are not contended), then parks in its loop's
 * wait; a spawn that finds a parked worker, and no searcher, wakes one
 * with an eventfd write (the spawner publishes the task before it looks
 * for idle workers and searchers, a worker marks itself idle before it
 * looks at the queues a last time: one of the two sees the other; a
 * searcher that found work passes the wake on). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blitzio.h"
#include "core/alloc.h"
#include "core/core.h"
#include "task/task.h"

#define WORKERS_MAX 1024
/* Work stealing: tasks a worker starts from a queue in a turn with
 * nothing runnable (the rest stay where others can steal them), how often
 * it looks at the queues even while it has work of its own, and how many
 * it starts from each then. */
#define START_BATCH 32
#define GLOBAL_EVERY 61
#define FAIR_BATCH 4
/* At most this many tasks in one steal: the victim's queue is walked
 * under its lock, which its own spawns need too. */
#define STEAL_MAX 256
/* A worker that finds no work anywhere looks again for this long before
 * it parks (one of at most half of the workers searching, and not while
 * other threads want the CPUs): a parked worker costs whoever has work
 * for it an eventfd write, and itself a trip through the scheduler. The
 * search ends early when its CPU went to someone else (bio__spin_until). */
#define SPIN_NS 50000

/* The global queue of unstarted tasks (work stealing: spawns from
 * outside), linked through task->next. A spawner pushes onto inbox with
 * one compare-and-swap (newest first) and takes no lock; workers take
 * under lock from head (oldest first), which a taker that finds it empty
 * refills with the whole inbox, reversed. */
typedef struct task_queue {
  _Atomic(bio_task *) inbox;
  char pad[64]; /* spawners' line apart from the takers' */
  pthread_mutex_t lock;
  bio_task *head;
  atomic_long len; /* tasks in the head list (takers write it) */
} task_queue;

/* A worker's own queue of unstarted tasks (work stealing): a ring that
 * only its worker pushes into, from whose head its worker and thieves
 * take with a compare-and-swap of head, so neither side takes a lock.
 * head and tail count takes and pushes from the start (64 bits: they do
 * not wrap). When full the worker copies the ring into one twice the
 * size; a thief may still be reading the old one, so old rings are kept
 * (at most as much again as the largest) until the runtime is freed. */
typedef struct ring_buf {
  struct ring_buf *older;
  uint64_t mask;
  _Atomic(bio_task *) slot[];
} ring_buf;

#define RING_FIRST 256

typedef struct local_queue {
  /* head (thieves' CAS) and tail (the owner's store per push) each on a
   * cache line of its own, whatever the alignment. */
  char pad0[64];
  _Atomic uint64_t head;
  char pad1[64];
  _Atomic uint64_t tail;   /* written by the owner only */
  _Atomic(ring_buf *) buf; /* replaced by the owner only */
  uint64_t head_seen;      /* the owner's: head when it last looked */
  char pad2[64];
} local_queue;

typedef struct worker {
  bio_runtime *owner;
  unsigned index;
  pthread_t thread;
  bio_rt *rt;
  int err; /* the worker's start-up error */
  /* The watchdog's: the resume it saw running, since when, and whether
   * it was counted; long_tasks is read by bio_runtime_stats. */
  uint64_t seen_seq;
  bio_task *seen_task;
  uint64_t seen_since_ns;
  int seen_counted;
  atomic_ulong long_tasks;
  /* Work stealing. */
  local_queue queue;
  atomic_int idle;     /* parked, or about to: a spawn may wake it */
  atomic_ulong steals; /* tasks it took from other workers' queues */
  atomic_int has_work; /* stopping: it still has work of its own */
  unsigned turns;
  unsigned rng;
} worker;

struct bio_runtime {
  unsigned nworkers;
  worker *workers;
  atomic_uint next; /* round-robin spawns */
  int shape;
  task_queue global;     /* work stealing: spawns from outside */
  atomic_int idle_count; /* workers marked idle */
  /* Workers stealing, or spinning for work, now: on a line of its own
   * (each steal changes it twice; spawns read idle_count). */
  char pad_s0[64];
  atomic_int searching;
  char pad_s1[64];
  atomic_int stop;  /* shutdown asked: workers leave once idle */
  bio_loop_options loop_opts;
  int have_loop_opts;
  /* Start-up: workers come up one by one (each ring after the first
   * attaches to the first's kernel worker pool). */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned ready;
  /* The watchdog (long tasks): a thread, stopped through wd_stop under
   * lock and wd_cond. */
  uint64_t long_ns;
  uint32_t flags;
  int have_watchdog;
  int wd_stop;
  pthread_t watchdog;
  pthread_cond_t wd_cond;
};

/* initial-exec, as task.c's current_rt: no __tls_get_addr per spawn. */
static __thread __attribute__((tls_model("initial-exec"))) int
    current_worker = -1;

static int start_watchdog(bio_runtime *r);
static int queue_has(task_queue *q, memory_order mo);

BIO_EXTERN void bio_runtime_options_init(bio_runtime_options *opts) {
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof(*opts));
  opts->shape = BIO_RUNTIME_PER_CORE;
}

BIO_EXTERN int bio_worker_index(void) { return current_worker; }

static unsigned cpus_available(void) {
  cpu_set_t set;
  int n;
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return 1;
  n = CPU_COUNT(&set);
  return n > 0 ? (unsigned)n : 1;
}

static int lq_init(local_queue *q) {
  ring_buf *b = bio__malloc(sizeof(*b) + RING_FIRST * sizeof(b->slot[0]));
  if (b == NULL)
    return -ENOMEM;
  b->older = NULL;
  b->mask = RING_FIRST - 1;
  atomic_init(&q->head, 0);
  q->head_seen = 0;
  atomic_init(&q->tail, 0);
  atomic_init(&q->buf, b);
  return 0;
}

static void lq_free(local_queue *q) {
  ring_buf *b = atomic_load_explicit(&q->buf, memory_order_relaxed);
  while (b != NULL) {
    ring_buf *older = b->older;
    bio__free(b);
    b = older;
  }
  atomic_store_explicit(&q->buf, NULL, memory_order_relaxed);
}

/* Tasks in q (a snapshot; mo: seq_cst for the last look before a park). */
static uint64_t lq_len(local_queue *q, memory_order mo) {
  uint64_t t = atomic_load_explicit(&q->tail, mo);
  uint64_t h = atomic_load_explicit(&q->head, mo);
  return t > h ? t - h : 0;
}

/* The owner's room for n more (copying into a larger ring if need be):
 * the ring to write, or NULL (out of memory). */
static ring_buf *lq_room(local_queue *q, uint64_t n) {
  ring_buf *b = atomic_load_explicit(&q->buf, memory_order_relaxed), *nb;
  uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  uint64_t h = q->head_seen, cap, i;
  /* head only grows: room by an old look is room (and the thieves' line
   * is left alone). */
  if (t - h + n <= b->mask + 1)
    return b;
  /* acquire: thieves read the slots before their head CAS (release). */
  h = q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
  if (t - h + n <= b->mask + 1)
    return b;
  cap = (b->mask + 1) * 2;
  while (cap < t - h + n)
    cap *= 2;
  nb = bio__malloc(sizeof(*nb) + cap * sizeof(nb->slot[0]));
  if (nb == NULL)
    return NULL;
  nb->older = b;
  nb->mask = cap - 1;
  /* [h, t): some may be taken meanwhile; a taker that read the old ring
   * read the same tasks there (the old ring is not written again). */
  for (i = h; i != t; i++)
    atomic_store_explicit(&nb->slot[i & nb->mask],
                          atomic_load_explicit(&b->slot[i & b->mask],
                                               memory_order_relaxed),
                          memory_order_relaxed);
  atomic_store_explicit(&q->buf, nb, memory_order_release);
  return nb;
}

/* The owner's push of n tasks (list, linked through next): 0, or -ENOMEM.
 * The tail's store is seq_cst: it pairs with the parking worker's last
 * look (see wake_idle). */
static int lq_push_list(local_queue *q, bio_task *list, uint64_t n) {
  ring_buf *b = lq_room(q, n);
  uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (b == NULL)
    return -ENOMEM;
  for (; list != NULL; list = list->next)
    atomic_store_explicit(&b->slot[t++ & b->mask], list,
                          memory_order_relaxed);
  atomic_store_explicit(&q->tail, t, memory_order_seq_cst);
  return 0;
}

static int lq_push(local_queue *q, bio_task *task) {
  task->next = NULL;
  return lq_push_list(q, task, 1);
}

/* Takes up to max tasks from q's head (its owner or a thief; thief: at
 * most half, rounded up) into out. Returns how many. */
static long lq_take(local_queue *q, bio_task **out, long max, int thief) {
  uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
  for (;;) {
    /* The tail before the ring: a tail that counts a push into a newer
     * ring was stored after that ring was. */
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    ring_buf *b = atomic_load_explicit(&q->buf, memory_order_acquire);
    uint64_t n, i;
    if (t <= h)
      return 0;
    n = t - h;
    if (thief)
      n = n / 2 + (n & 1);
    if (n > (uint64_t)max)
      n = (uint64_t)max;
    if (n > b->mask + 1)
      n = b->mask + 1; /* h is stale: the CAS fails */
    for (i = 0; i < n; i++)
      out[i] = atomic_load_explicit(&b->slot[(h + i) & b->mask],
                                    memory_order_relaxed);
    /* Success: head was still h, so those slots were not written over
     * (the owner writes only below head + its ring's size). */
    if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + n,
                                              memory_order_acq_rel,
                                              memory_order_acquire))
      return (long)n;
  }
}

/* Whether worker w should keep running its loop. */
static int keep_going(bio_runtime *r, worker *w) {
  int own;
  unsigned i;
  if (!atomic_load_explicit(&r->stop, memory_order_acquire))
    return 1;
  /* Stopping: until its tasks, and whatever was handed to it, are done. */
  own = w->rt->live != 0 ||
        atomic_load_explicit(&w->rt->remote, memory_order_acquire) != NULL ||
        atomic_load_explicit(&w->rt->cancels, memory_order_acquire) != NULL;
  if (r->shape != BIO_RUNTIME_STEALING)
    return own;
  /* Work stealing: while any worker has work of its own (it says so
   * here; every one starts out saying yes, so none leaves before each
   * has looked at itself once after the stop) or the global queue has
   * some, this one may take some of it. */
  own = own || lq_len(&w->queue, memory_order_acquire) != 0;
  atomic_store_explicit(&w->has_work, own, memory_order_release);
  if (own || queue_has(&r->global, memory_order_acquire))
    return 1;
  for (i = 0; i < r->nworkers; i++)
    if (atomic_load_explicit(&r->workers[i].has_work, memory_order_acquire))
      return 1;
  return 0;
}

/* ---- work stealing ---- */

static void queue_init(task_queue *q) {
  atomic_init(&q->inbox, NULL);
  pthread_mutex_init(&q->lock, NULL);
  q->head = NULL;
  atomic_init(&q->len, 0);
}

/* Any thread. seq_cst: pairs with a parking worker's last look (see
 * wake_idle). */
static void queue_push(task_queue *q, bio_task *t) {
  bio_task *first = atomic_load_explicit(&q->inbox, memory_order_relaxed);
  do
    t->next = first;
  while (!atomic_compare_exchange_weak_explicit(
      &q->inbox, &first, t, memory_order_seq_cst, memory_order_relaxed));
}

/* Whether q has tasks (a snapshot; mo as for lq_len). */
static int queue_has(task_queue *q, memory_order mo) {
  return atomic_load_explicit(&q->len, mo) != 0 ||
         atomic_load_explicit(&q->inbox, mo) != NULL;
}

/* Takes up to max tasks from q's head; returns them as a list. */
static bio_task *queue_take(task_queue *q, long max, long *n_out) {
  bio_task *first, *last;
  long n = 0;
  *n_out = 0;
  if (!queue_has(q, memory_order_relaxed))
    return NULL;
  pthread_mutex_lock(&q->lock);
  if (q->head == NULL) {
    /* The inbox, newest first, becomes the head list, oldest first. len
     * counts one more from before the exchange until the list is built:
     * a worker's last look before it parks must not find both empty
     * while the tasks are in our hands. */
    bio_task *t;
    long got = 0;
    atomic_fetch_add_explicit(&q->len, 1, memory_order_seq_cst);
    t = atomic_exchange_explicit(&q->inbox, NULL, memory_order_seq_cst);
    while (t != NULL) {
      bio_task *next = t->next;
      t->next = q->head;
      q->head = t;
      t = next;
      got++;
    }
    atomic_fetch_add_explicit(&q->len, got - 1, memory_order_relaxed);
  }
  first = q->head;
  last = NULL;
  while (q->head != NULL && n < max) {
    last = q->head;
    q->head = q->head->next;
    n++;
  }
  if (last != NULL)
    last->next = NULL;
  atomic_fetch_sub_explicit(&q->len, n, memory_order_relaxed);
  pthread_mutex_unlock(&q->lock);
  *n_out = n;
  return n != 0 ? first : NULL;
}

/* Starts n tasks of arr in w's runtime (w's thread). */
static long adopt_array(worker *w, bio_task **arr, long n) {
  long i;
  for (i = 0; i < n; i++)
    bio__rt_adopt(w->rt, arr[i]);
  return n;
}

/* Takes up to max tasks from w's own queue and starts them. */
static long adopt_own(worker *w, long max) {
  bio_task *got[START_BATCH];
  return adopt_array(w, got, lq_take(&w->queue, got,
                                     max < START_BATCH ? max : START_BATCH,
                                     0));
}

/* Starts the tasks of list in w's runtime (w's thread). */
static long adopt_list(worker *w, bio_task *list) {
  long n = 0;
  while (list != NULL) {
    bio_task *next = list->next;
    bio__rt_adopt(w->rt, list);
    list = next;
    n++;
  }
  return n;
}

/* Wakes one idle worker, if any: it will find the work that was just
 * published (or steal it). Not while a worker searches (steal,
 * spin_for_work): every searcher, once it stops, either found work and
 * calls wake_idle itself, or looks at the queues again before it parks;
 * the caller published before it read searching, so that look sees it. */
/* The index of r's worker that the calling thread is, or -1. */
static int worker_here(const bio_runtime *r) {
  if (current_worker >= 0 && (unsigned)current_worker < r->nworkers &&
      pthread_equal(pthread_self(), r->workers[current_worker].thread))
    return current_worker;
  return -1;
}

/* The calling worker's loop (NULL on another thread): a wake it sends
 * goes from its ring to the woken worker's (bio__loop_wake_from). */
static bio_loop *own_loop(bio_runtime *r) {
  int i = worker_here(r);
  return i >= 0 ? r->workers[i].rt->loop : NULL;
}

static void wake_idle(bio_runtime *r) {
  unsigned i, n = r->nworkers;
  if (atomic_load_explicit(&r->idle_count, memory_order_seq_cst) == 0 ||
      atomic_load_explicit(&r->searching, memory_order_seq_cst) != 0)
    return;
  for (i = 0; i < n; i++) {
    worker *w = &r->workers[i];
    int one = 1;
    if (atomic_load_explicit(&w->idle, memory_order_relaxed) &&
        atomic_compare_exchange_strong(&w->idle, &one, 0)) {
      atomic_fetch_sub(&r->idle_count, 1);
      /* Always the write (bio__loop_wake_now): with bio__loop_wake,
       * which skips it for a spinning loop or a wake not yet consumed,
       * the fanout benchmark once left both workers parked beside a full
       * global queue. A spinning worker still sees the queues sooner
       * through its runtime's more_work (stealing_pending). */
      bio__loop_wake_from(own_loop(r), w->rt->loop);
      return;
    }
  }
}

/* Steals half of another worker's queue (at most half of the workers
 * search at once). Returns the number of tasks started (the steals
 * counter counts all it took). */
static long steal(bio_runtime *r, worker *w) {
  unsigned i, n = r->nworkers, start;
  int limit = n / 2 > 0 ? (int)(n / 2) : 1;
  long got = 0;
  if (n < 2)
    return 0;
  if (atomic_fetch_add(&r->searching, 1) >= limit) {
    atomic_fetch_sub(&r->searching, 1);
    return 0;
  }
  w->rng = w->rng * 1103515245u + 12345u;
  start = (w->rng >> 8) % n;
  for (i = 0; i < n && got == 0; i++) {
    worker *v = &r->workers[(start + i) % n];
    bio_task *taken[STEAL_MAX];
    long k, j;
    if (v == w || lq_len(&v->queue, memory_order_relaxed) == 0)
      continue;
    k = lq_take(&v->queue, taken, STEAL_MAX, 1);
    if (k == 0)
      continue;
    /* Start a batch; the rest go to this worker's queue (empty: it
     * looked there first), where whoever runs out of work first can
     * still take them. */
    got = k < START_BATCH ? k : START_BATCH;
    if (k > got) {
      for (j = got; j < k; j++)
        taken[j]->next = j + 1 < k ? taken[j + 1] : NULL;
      if (lq_push_list(&w->queue, taken[got], (uint64_t)(k - got)) != 0)
        got = k; /* no memory for a larger ring: start them all here */
    }
    adopt_array(w, taken, got);
    atomic_fetch_add_explicit(&w->steals, (unsigned long)k,
                              memory_order_relaxed);
  }
  atomic_fetch_sub(&r->searching, 1);
  if (got != 0) {
    /* There may be more where that came from: let another idle worker
     * look too. */
    wake_idle(r);
  }
  return got;
}

/* Finds work for w's next turn: returns how many tasks it started. A
 * task that has started can't move, so a worker starts queued tasks only
 * when it has nothing runnable of its own (the rest stay stealable);
 * every GLOBAL_EVERY turns it starts a few from its queue and the global
 * one anyway, so that a worker kept busy by tasks that always yield does
 * not starve them. */
static long find_work(bio_runtime *r, worker *w) {
  long n, got = 0;
  if (w->rt->run_head != NULL) {
    if (++w->turns % GLOBAL_EVERY != 0) {
      /* Every worker busy: no one is about to steal what waits here, so
       * a few start now rather than GLOBAL_EVERY turns later. */
      if (lq_len(&w->queue, memory_order_relaxed) != 0 &&
          atomic_load_explicit(&r->idle_count, memory_order_relaxed) == 0 &&
          atomic_load_explicit(&r->searching, memory_order_relaxed) == 0)
        return adopt_own(w, FAIR_BATCH);
      return 0;
    }
    got = adopt_list(w, queue_take(&r->global, FAIR_BATCH, &n));
    return got + adopt_own(w, FAIR_BATCH);
  }
  if ((got = adopt_own(w, START_BATCH)) != 0)
    return got;
  if ((got = adopt_list(w, queue_take(&r->global, START_BATCH, &n))) != 0)
    return got;
  return steal(r, w);
}

static int queues_empty(bio_runtime *r);

/* A stealing worker's more_work: a queue has tasks (seq_cst loads, as
 * the spinning loop's last look before it sleeps needs). */
static int stealing_pending(void *arg) {
  worker *w = arg;
  return !queues_empty(w->owner);
}

static int queues_empty(bio_runtime *r) {
  unsigned i;
  if (queue_has(&r->global, memory_order_seq_cst))
    return 0;
  for (i = 0; i < r->nworkers; i++)
    if (lq_len(&r->workers[i].queue, memory_order_seq_cst) != 0)
      return 0;
  return 1;
}

typedef struct search {
  bio_runtime *r;
  worker *w;
} search;

/* Work for the searcher: in a queue, handed to its runtime (a spawn, a
 * wake, a cancel), or posted to its loop (a wake through bio_loop_post,
 * a pool job's end, a cancel from another thread): the poll of its next
 * turn takes those. */
static int work_turned_up(void *arg) {
  search *s = arg;
  return !queues_empty(s->r) ||
         atomic_load_explicit(&s->w->rt->remote, memory_order_relaxed) !=
             NULL ||
         atomic_load_explicit(&s->w->rt->cancels, memory_order_relaxed) !=
             NULL ||
         bio__loop_handed_over(s->w->rt->loop) ||
         atomic_load_explicit(&s->r->stop, memory_order_relaxed);
}

int bio__runtime_search_would_end(bio_runtime *r, unsigned w) {
  search s = {r, &r->workers[w]};
  return work_turned_up(&s);
}

/* Watches the queues, and w's remote stack, for up to SPIN_NS: whether
 * something turned up (or the stop). Counts as searching. */
static int spin_for_work(bio_runtime *r, worker *w) {
  unsigned n = r->nworkers;
  int limit = n / 2 > 0 ? (int)(n / 2) : 1, found;
  uint64_t now = bio__clock_ns();
  search s = {r, w};
  if (n < 2 || bio__cpu_contended(now))
    return 0;
  if (atomic_fetch_add(&r->searching, 1) >= limit) {
    atomic_fetch_sub(&r->searching, 1);
    return 0;
  }
  /* Sixteen pauses between looks: each look reads every queue's line. */
  found = bio__spin_until(work_turned_up, &s, 16, now, now + SPIN_NS, 0) > 0;
  atomic_fetch_sub(&r->searching, 1);
  /* Spawners skipped their wakes while this one searched: pass it on. */
  if (found)
    wake_idle(r);
  return found;
}

/* A work-stealing worker's turn: find work; with none (and nothing
 * runnable), look a while longer, then park in the loop's wait, marked
 * idle. */
static int stealing_turn(bio_runtime *r, worker *w, int stopping) {
  int err, one = 1;
  if (find_work(r, w) != 0 || w->rt->run_head != NULL)
    return bio__rt_turn(w->rt, 0, 0);
  /* Draining: nothing to do here for now, but other workers may queue
   * more; look again in a millisecond (no one wakes a stopping worker). */
  if (stopping)
    return bio__rt_turn(w->rt, 1, 0);
  if (spin_for_work(r, w))
    return bio__rt_turn(w->rt, 0, 0);
  /* Idle first, then the last look (pairs with the spawner's publish,
   * then look at idle_count: wake_idle). */
  atomic_store_explicit(&w->idle, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&r->idle_count, 1, memory_order_seq_cst);
  if (!queues_empty(r) ||
      atomic_load_explicit(&r->stop, memory_order_seq_cst)) {
    if (atomic_compare_exchange_strong(&w->idle, &one, 0))
      atomic_fetch_sub(&r->idle_count, 1);
    return bio__rt_turn(w->rt, 0, 0);
  }
  err = bio__rt_turn(w->rt, -1, 0);
  one = 1;
  if (atomic_compare_exchange_strong(&w->idle, &one, 0))
    atomic_fetch_sub(&r->idle_count, 1);
  else if (!w->rt->woken)
    BIO_STAT_ADD(w->rt, wakeups, 1); /* a wake_idle chose this worker */
  return err;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  bio_runtime *r = w->owner;
  bio_loop_options opts;
  int err;

  if (r->have_loop_opts)
    opts = r->loop_opts;
  else
    bio_loop_options_init(&opts);
  /* Rings after the first share its io-wq (IORING_SETUP_ATTACH_WQ). */
  if (w->index > 0 && opts.attach_wq == NULL &&
      bio_loop_backend(r->workers[0].rt->loop) != NULL &&
      strcmp(bio_loop_backend(r->workers[0].rt->loop), "uring") == 0 &&
      (opts.backend == NULL || strcmp(opts.backend, "uring") == 0))
    opts.attach_wq = r->workers[0].rt->loop;
  err = bio_rt_new(&w->rt, &opts);
  if (err == 0) {
    w->rt->threaded = 1;
    if (r->shape == BIO_RUNTIME_STEALING) {
      w->rt->more_work = stealing_pending;
      w->rt->more_work_arg = w;
    }
  }
  pthread_mutex_lock(&r->lock);
  w->err = err;
  r->ready++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  if (err != 0)
    return NULL;
  current_worker = (int)w->index;
  w->rng = w->index * 2654435761u + 1;
  while (keep_going(r, w)) {
    /* Stopping, the last task may end in this turn's round: the poll
     * after it must not block (the stop's wake was taken long ago). */
    int stopping = atomic_load_explicit(&r->stop, memory_order_acquire);
    if (r->shape == BIO_RUNTIME_STEALING)
      err = stealing_turn(r, w, stopping);
    else
      err = bio__rt_turn(w->rt, -1, stopping);
    if (err < 0 && err != -EINTR)
      break; /* the loop failed: nothing more can run here */
  }
  current_worker = -1;
  return NULL;
}

/* Stops and joins workers [0, n) and frees what they made. */
static void stop_workers(bio_runtime *r, unsigned n) {
  unsigned i;
  atomic_store_explicit(&r->stop, 1, memory_order_release);
  /* The stop flag is nothing a spinning loop looks at: write the wake. */
  for (i = 0; i < n; i++)
    if (r->workers[i].rt != NULL)
      bio__loop_wake_now(r->workers[i].rt->loop);
  for (i = 0; i < n; i++)
    pthread_join(r->workers[i].thread, NULL);
  /* In reverse: the first ring's io-wq is shared by the others. */
  for (i = n; i-- > 0;)
    if (r->workers[i].rt != NULL)
      bio_rt_free(r->workers[i].rt);
}

/* Stops and joins workers [0, n) and frees r. */
static void free_runtime(bio_runtime *r, unsigned n) {
  unsigned i;
  stop_workers(r, n);
  for (i = 0; i < r->nworkers; i++)
    lq_free(&r->workers[i].queue);
  pthread_mutex_destroy(&r->global.lock);
  pthread_cond_destroy(&r->cond);
  pthread_mutex_destroy(&r->lock);
  bio__free(r->workers);
  bio__free(r);
}

BIO_EXTERN int bio_runtime_new(bio_runtime **out,
                               const bio_runtime_options *opts) {
  bio_runtime_options o;
  bio_runtime *r;
  unsigned i;
  int err = 0;

  if (out == NULL)
    return -EINVAL;
  if (opts == NULL)
    bio_runtime_options_init(&o);
  else
    o = *opts;
  if (o.shape != BIO_RUNTIME_PER_CORE && o.shape != BIO_RUNTIME_STEALING)
    return -EINVAL;
  if (o.workers == 0)
    o.workers = cpus_available();
  if (o.workers > WORKERS_MAX || (o.flags & ~BIO_RUNTIME_REPORT_LONG) != 0 ||
      (o.long_task_us != UINT32_MAX && o.long_task_us > 60000000u))
    return -EINVAL;
  r = bio__calloc(1, sizeof(*r));
  if (r == NULL)
    return -ENOMEM;
  r->workers = bio__calloc(o.workers, sizeof(*r->workers));
  if (r->workers == NULL) {
    bio__free(r);
    return -ENOMEM;
  }
  r->nworkers = o.workers;
  r->shape = o.shape;
  queue_init(&r->global);
  for (i = 0; i < r->nworkers; i++) {
    atomic_init(&r->workers[i].has_work, 1);
    if (r->shape == BIO_RUNTIME_STEALING &&
        lq_init(&r->workers[i].queue) != 0) {
      while (i-- > 0)
        lq_free(&r->workers[i].queue);
      pthread_mutex_destroy(&r->global.lock);
      bio__free(r->workers);
      bio__free(r);
      return -ENOMEM;
    }
  }
  r->flags = o.flags;
  r->long_ns = o.long_task_us == UINT32_MAX ? 0
               : o.long_task_us == 0       ? 10000000u
                                           : (uint64_t)o.long_task_us * 1000u;
  if (r->long_ns != 0 && r->long_ns < 2000u)
    r->long_ns = 2000u; /* the watchdog wakes every long_ns / 2 */
  if (o.loop != NULL) {
    r->loop_opts = *o.loop;
    r->have_loop_opts = 1;
  }
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
  for (i = 0; i < r->nworkers; i++) {
    worker *w = &r->workers[i];
    w->owner = r;
    w->index = i;
    err = -pthread_create(&w->thread, NULL, worker_main, w);
    if (err == 0) {
      /* One at a time: the next may attach to this one's ring. */
      pthread_mutex_lock(&r->lock);
      while (r->ready <= i)
        pthread_cond_wait(&r->cond, &r->lock);
      err = w->err;
      pthread_mutex_unlock(&r->lock);
      if (err != 0)
        i++; /* its thread has returned: join it too */
    }
    if (err != 0) {
      free_runtime(r, i);
      return err;
    }
  }
  if (r->long_ns != 0 && (err = start_watchdog(r)) != 0) {
    free_runtime(r, r->nworkers);
    return err;
  }
  *out = r;
  return 0;
}

/* ---- the watchdog: tasks that run too long in one resume ---- */

static void report_long(bio_runtime *r, unsigned i, bio_task *t,
                        bio_task_fn fn, uint64_t ran_ns) {
  Dl_info info;
  const char *name = "?";
  if (fn != NULL && dladdr((void *)(uintptr_t)fn, &info) != 0 &&
      info.dli_sname != NULL)
    name = info.dli_sname;
  (void)r;
  fprintf(stderr,
          "blitz-io: worker %u: task %p (%s) has run %llu ms without "
          "returning\n",
          i, (void *)t, name, (unsigned long long)(ran_ns / 1000000u));
}

/* One look at every worker: a resume seen running since at least long_ns
 * ago is counted once. Returns whether any worker was in a task. */
static int watch_once(bio_runtime *r, uint64_t now) {
  int busy = 0;
  unsigned i;
  for (i = 0; i < r->nworkers; i++) {
    worker *w = &r->workers[i];
    bio_rt *rt = w->rt;
    uint64_t seq = __atomic_load_n(&rt->resume_seq, __ATOMIC_RELAXED);
    bio_task *t = __atomic_load_n(&rt->running, __ATOMIC_RELAXED);
    if (t == NULL) {
      w->seen_task = NULL;
      continue;
    }
    busy = 1;
    if (t != w->seen_task || seq != w->seen_seq) {
      /* A resume not seen before: it started before now, at the latest. */
      w->seen_task = t;
      w->seen_seq = seq;
      w->seen_since_ns = now;
      w->seen_counted = 0;
      continue;
    }
    if (!w->seen_counted && now - w->seen_since_ns >= r->long_ns) {
      w->seen_counted = 1;
      atomic_fetch_add_explicit(&w->long_tasks, 1, memory_order_relaxed);
      if (r->flags & BIO_RUNTIME_REPORT_LONG)
        report_long(r, i, t,
                    __atomic_load_n(&rt->running_fn, __ATOMIC_RELAXED),
                    now - w->seen_since_ns);
    }
  }
  return busy;
}

static void *watchdog_main(void *arg) {
  bio_runtime *r = arg;
  uint64_t period = r->long_ns / 2, wait = period;
  pthread_mutex_lock(&r->lock);
  while (!r->wd_stop) {
    struct timespec ts;
    uint64_t until;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    until = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + wait;
    ts.tv_sec = (time_t)(until / 1000000000u);
    ts.tv_nsec = (long)(until % 1000000000u);
    pthread_cond_timedwait(&r->wd_cond, &r->lock, &ts);
    if (r->wd_stop)
      break;
    /* Idle workers: look less often (up to 16 periods); a task then
     * found running is still only counted after long_ns of its own. */
    if (watch_once(r, bio_now_ns()))
      wait = period;
    else if (wait < 16 * period)
      wait *= 2;
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

static int start_watchdog(bio_runtime *r) {
  pthread_condattr_t attr;
  int err;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&r->wd_cond, &attr);
  pthread_condattr_destroy(&attr);
  err = -pthread_create(&r->watchdog, NULL, watchdog_main, r);
  if (err != 0) {
    pthread_cond_destroy(&r->wd_cond);
    return err;
  }
  r->have_watchdog = 1;
  return 0;
}

static void stop_watchdog(bio_runtime *r) {
  if (!r->have_watchdog)
    return;
  pthread_mutex_lock(&r->lock);
  r->wd_stop = 1;
  pthread_cond_signal(&r->wd_cond);
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->watchdog, NULL);
  pthread_cond_destroy(&r->wd_cond);
  r->have_watchdog = 0;
}

BIO_EXTERN unsigned bio_runtime_workers(const bio_runtime *r) {
  return r != NULL ? r->nworkers : 0;
}

BIO_EXTERN bio_scope *bio_runtime_scope(bio_runtime *r, unsigned worker) {
  if (r == NULL || worker >= r->nworkers)
    return NULL;
  return bio_rt_scope(r->workers[worker].rt);
}

/* bio_runtime_spawn_on, and with frame != 0 for a bio_frame_alloc frame
 * of that size that the runtime frees at the task's end. */
static int spawn_on(bio_runtime *r, unsigned worker, bio_task *task,
                    bio_task_fn fn, size_t frame) {
  if (r == NULL || worker >= r->nworkers)
    return -EINVAL;
  /* Once shutdown began, only the workers' own tasks spawn (a drain
   * runs their work to its end). */
  if (atomic_load_explicit(&r->stop, memory_order_acquire) &&
      current_worker < 0)
    return -ESHUTDOWN;
  return bio__spawn_frame(bio_rt_scope(r->workers[worker].rt), task, fn,
                          frame);
}

static int spawn_any(bio_runtime *r, bio_task *task, bio_task_fn fn,
                     size_t frame) {
  unsigned w;
  if (r == NULL)
    return -EINVAL;
  if (r->shape == BIO_RUNTIME_STEALING) {
    int inside = worker_here(r) >= 0;
    if (task == NULL || fn == NULL)
      return -EINVAL;
    if (atomic_load_explicit(&r->stop, memory_order_acquire) && !inside)
      return -ESHUTDOWN;
    bio__task_init_unbound(task, fn, frame);
    /* Out of memory for a larger ring: the global queue takes it. */
    if (!inside || lq_push(&r->workers[current_worker].queue, task) != 0)
      queue_push(&r->global, task);
    wake_idle(r);
    return 0;
  }
  /* From a worker, its own queue: no hand-over, and the spawner's cache
   * is warm. From outside, the workers in turn. */
  if (worker_here(r) >= 0)
    w = (unsigned)current_worker;
  else
    w = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed) %
        r->nworkers;
  return spawn_on(r, w, task, fn, frame);
}

BIO_EXTERN int bio_runtime_spawn_on(bio_runtime *r, unsigned worker,
                                    bio_task *task, bio_task_fn fn) {
  return spawn_on(r, worker, task, fn, 0);
}

BIO_EXTERN int bio_runtime_spawn(bio_runtime *r, bio_task *task,
                                 bio_task_fn fn) {
  return spawn_any(r, task, fn, 0);
}

BIO_EXTERN int bio_runtime_spawn_frame(bio_runtime *r, bio_task *task,
                                       size_t size, bio_task_fn fn) {
  if (task == NULL || !bio__frame_size_ok(size))
    return -EINVAL;
  return spawn_any(r, task, fn, size);
}

BIO_EXTERN int bio_runtime_spawn_frame_on(bio_runtime *r, unsigned worker,
                                          bio_task *task, size_t size,
                                          bio_task_fn fn) {
  if (task == NULL || !bio__frame_size_ok(size))
    return -EINVAL;
  return spawn_on(r, worker, task, fn, size);
}

/* block_on: a task on the same worker joins the caller's and tells the
 * caller's thread, which waits on a condition variable. */
typedef struct blocker {
  bio_task task;
  bio_task *target;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
  int result;
} blocker;

static int blocker_run(bio_task *t) {
  blocker *b = bio_container_of(t, blocker, task);
  int r;
  BIO_BEGIN(t);
  BIO_AWAIT(t, r, bio_join(t, b->target));
  pthread_mutex_lock(&b->lock);
  b->result = r;
  b->done = 1;
  pthread_cond_signal(&b->cond);
  pthread_mutex_unlock(&b->lock);
  BIO_END(t, 0);
}

BIO_EXTERN int bio_runtime_block_on(bio_runtime *r, bio_task *task,
                                    bio_task_fn fn) {
  blocker b;
  unsigned w;
  int err;

  if (r == NULL || task == NULL || fn == NULL)
    return -EINVAL;
  if (current_worker >= 0)
    return -EDEADLK; /* a worker must not block on its own runtime */
  memset(&b, 0, sizeof(b));
  b.target = task;
  pthread_mutex_init(&b.lock, NULL);
  pthread_cond_init(&b.cond, NULL);
  w = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed) %
      r->nworkers;
  /* The task first, then its joiner: both reach the worker in this
   * order (its remote stack is taken oldest first). */
  err = bio_runtime_spawn_on(r, w, task, fn);
  if (err == 0)
    err = bio_runtime_spawn_on(r, w, &b.task, blocker_run);
  if (err == 0) {
    pthread_mutex_lock(&b.lock);
    while (!b.done)
      pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    err = b.result;
    /* The blocker's last touch of b was the unlock above, but its task
     * header is the worker's until the task is done. */
    while (!bio_task_done(&b.task))
      sched_yield();
  }
  pthread_cond_destroy(&b.cond);
  pthread_mutex_destroy(&b.lock);
  return err;
}

BIO_EXTERN int bio_runtime_stats(bio_runtime *r, unsigned worker,
                                 bio_rt_stats *out) {
  int err;
  if (r == NULL || worker >= r->nworkers)
    return -EINVAL;
  err = bio_rt_stats_get(r->workers[worker].rt, out);
  if (err == 0) {
    struct worker *w = &r->workers[worker];
    out->long_tasks =
        atomic_load_explicit(&w->long_tasks, memory_order_relaxed);
    out->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
    out->queued = r->shape == BIO_RUNTIME_STEALING
                      ? lq_len(&w->queue, memory_order_relaxed)
                      : 0;
  }
  return err;
}

BIO_EXTERN int bio_runtime_dump(bio_runtime *r, int fd) {
  unsigned i;
  if (r == NULL || fd < 0)
    return -EINVAL;
  for (i = 0; i < r->nworkers; i++) {
    bio_rt_stats st;
    bio_runtime_stats(r, i, &st);
    if (dprintf(fd,
                "worker %u (%s): live %llu, spawned %llu, resumes %llu, "
                "polls %llu (idle %llu), handed over %llu, long tasks "
                "%llu, steals %llu, queued %llu, ops in flight %llu, "
                "wakeups %llu\n",
                i, bio_loop_backend(r->workers[i].rt->loop),
                (unsigned long long)st.live, (unsigned long long)st.spawned,
                (unsigned long long)st.resumes, (unsigned long long)st.polls,
                (unsigned long long)st.idle_polls,
                (unsigned long long)st.handed_over,
                (unsigned long long)st.long_tasks,
                (unsigned long long)st.steals,
                (unsigned long long)st.queued,
                (unsigned long long)st.ops_in_flight,
                (unsigned long long)st.wakeups) < 0)
      return -errno;
  }
  if (r->shape == BIO_RUNTIME_STEALING &&
      dprintf(fd, "global queue %ld%s\n",
              atomic_load_explicit(&r->global.len, memory_order_relaxed),
              atomic_load_explicit(&r->global.inbox, memory_order_relaxed) !=
                      NULL
                  ? " and more in its inbox"
                  : "") < 0)
    return -errno;
  return 0;
}

BIO_EXTERN int bio_runtime_shutdown(bio_runtime *r, int cancel) {
  unsigned i;
  if (r == NULL)
    return -EINVAL;
  if (current_worker >= 0)
    return -EDEADLK;
  if (cancel)
    for (i = 0; i < r->nworkers; i++)
      bio_scope_cancel(bio_rt_scope(r->workers[i].rt));
  /* The watchdog reads the workers' runtimes: it stops first. */
  stop_watchdog(r);
  free_runtime(r, r->nworkers);
  return 0;
}
