/* bio_task: the scheduler for one thread, scopes, joins, notify, sleeps.
 *
 * A task's state byte is changed with atomic operations only, so that a
 * wake may come from any thread (the multi-threaded runtime builds on
 * that): a wake is one compare-and-swap, then a plain push onto the run
 * queue on the runtime's thread, or a push onto its remote stack and a
 * loop wake from any other. Everything else (scopes, joins, notify lists)
 * belongs to the runtime's thread. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "blitzio.h"
#include "core/alloc.h"
#include "core/core.h"
#include "task/task.h"

/* ---- the state byte ---- */

#define ST_MASK 0x07u
#define ST_IDLE 0u      /* waiting for something */
#define ST_SCHEDULED 1u /* on a run queue */
#define ST_RUNNING 2u   /* in its resume function */
#define ST_NOTIFIED 3u  /* woken while running: run again */
#define ST_DONE 4u
#define ST_CANCELLED 0x08u /* its scope was cancelled */
#define ST_SLAB 0x10u      /* frame from bio_frame_alloc */
#define ST_RELEASE 0x40u   /* the owner's release runs once it is done */
#define ST_FRESH 0x20u     /* spawned from another thread, not started */

static inline unsigned load_state(const bio_task *t) {
  return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
}

/* initial-exec: a plain %fs-relative load, not a __tls_get_addr call per
 * spawn and wake (the library is loaded with the program, not dlopened
 * late, and these few bytes fit the static TLS reserve if it is). */
#define BIO_TLS __thread __attribute__((tls_model("initial-exec")))

static BIO_TLS bio_rt *current_rt;

/* Whether the calling thread may touch rt's queues directly: it is
 * running rt, or it is the thread that made or last ran a plain runtime
 * (a runtime moves to another thread only when nothing else touches it,
 * as a libuv loop does). A uv loop's or a worker's runtime: only from
 * inside. hosted and threaded are set before any other thread sees rt. */
static inline int on_rt_thread(bio_rt *rt) {
  pthread_t owner;
  if (current_rt == rt)
    return 1;
  if (rt->hosted || rt->threaded)
    return 0;
  __atomic_load(&rt->owner, &owner, __ATOMIC_ACQUIRE);
  return pthread_equal(owner, pthread_self());
}

/* The calling thread runs rt from now on. */
static inline void take_ownership(bio_rt *rt) {
  pthread_t self = pthread_self();
  __atomic_store(&rt->owner, &self, __ATOMIC_RELEASE);
}

/* ---- run queue and wakes ---- */

static void push_local(bio_rt *rt, bio_task *t) {
  t->next = NULL;
  if (rt->run_tail == NULL)
    rt->run_head = t;
  else
    rt->run_tail->next = t;
  rt->run_tail = t;
}

/* Into the LIFO slot when it is free, else to the queue's tail: of the
 * tasks one task wakes, the first runs next and the rest in wake order
 * after it (notify_all's waiters keep their order). */
static void push_lifo(bio_rt *rt, bio_task *t) {
  if (rt->lifo == NULL) {
    t->next = NULL;
    rt->lifo = t;
  } else {
    push_local(rt, t);
  }
}

/* The loop the calling thread runs tasks for (NULL: none): wakes it
 * sends another loop go from its backend (bio__loop_wake_via). */
static bio_loop *loop_here(void) {
  return current_rt != NULL ? current_rt->loop : NULL;
}

static void push_remote(bio_rt *rt, bio_task *t) {
  bio_task *head = atomic_load_explicit(&rt->remote, memory_order_relaxed);
  /* seq_cst: the push comes before the wake's look at the loop's flags,
   * as the loop's clear of them comes before its look at the stack (a
   * locked instruction either way on x86). */
  do
    t->next = head;
  while (!atomic_compare_exchange_weak_explicit(
      &rt->remote, &head, t, memory_order_seq_cst, memory_order_relaxed));
  if (head == NULL)
    bio__loop_wake_via(loop_here(), rt->loop);
}

/* Makes t runnable: at most once on a run queue, and a task woken while
 * it runs runs again after it returns. */
void bio__task_wake(bio_task *t) {
  unsigned s = load_state(t);
  for (;;) {
    unsigned st = s & ST_MASK;
    unsigned to;
    if (st == ST_IDLE)
      to = (s & ~ST_MASK) | ST_SCHEDULED;
    else if (st == ST_RUNNING)
      to = (s & ~ST_MASK) | ST_NOTIFIED;
    else
      return; /* scheduled, notified or done already */
    {
      uint8_t expect = (uint8_t)s;
      if (__atomic_compare_exchange_n(&t->state, &expect, (uint8_t)to, 0,
                                      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (st == ST_IDLE) {
          bio_rt *rt = t->scope->rt;
          if (current_rt != rt)
            push_remote(rt, t);
          else if (rt->lifo_on && rt->running != NULL)
            push_lifo(rt, t);
          else
            push_local(rt, t);
        }
        return;
      }
      s = expect;
    }
  }
}

/* Completes t's await with res and wakes it (runtime thread). */
void bio__task_complete(bio_task *t, int res) {
  t->res = res;
  t->await = NULL;
  t->kind = BIO_AWAIT_NONE;
  bio__task_wake(t);
}

void bio__await_done(bio_task *t, int res) {
  if (t->kind == BIO_AWAIT_IO)
    bio__io_end_await(t->await, res);
  else
    bio__task_complete(t, res);
}

/* ---- scopes ---- */

static void scope_link_task(bio_scope *s, bio_task *t) {
  t->scope_prev = NULL;
  t->scope_next = s->head;
  if (s->head != NULL)
    s->head->scope_prev = t;
  s->head = t;
  s->count++;
}

static void scope_detach(bio_scope *s) {
  bio_scope *p = s->parent;
  if (p == NULL)
    return;
  if (s->sibling_prev != NULL)
    s->sibling_prev->sibling_next = s->sibling_next;
  else
    p->child_head = s->sibling_next;
  if (s->sibling_next != NULL)
    s->sibling_next->sibling_prev = s->sibling_prev;
  s->parent = NULL;
  s->sibling_prev = s->sibling_next = NULL;
}

static void scope_unlink_task(bio_scope *s, bio_task *t) {
  if (t->scope_prev != NULL)
    t->scope_prev->scope_next = t->scope_next;
  else
    s->head = t->scope_next;
  if (t->scope_next != NULL)
    t->scope_next->scope_prev = t->scope_prev;
  t->scope_prev = t->scope_next = NULL;
  s->count--;
  if (s->count == 0 && s->closer != NULL) {
    bio_task *c = s->closer;
    s->closer = NULL;
    scope_detach(s);
    bio__await_done(c, 0);
  }
}

BIO_EXTERN void bio_scope_init(bio_scope *scope, bio_rt *rt,
                               bio_scope *parent) {
  memset(scope, 0, sizeof(*scope));
  scope->rt = rt;
  if (parent == NULL && rt != NULL && scope != &rt->root)
    parent = &rt->root;
  scope->parent = parent;
  if (parent != NULL) {
    scope->sibling_next = parent->child_head;
    if (parent->child_head != NULL)
      parent->child_head->sibling_prev = scope;
    parent->child_head = scope;
    scope->cancelled = parent->cancelled;
  }
}

BIO_EXTERN size_t bio_scope_count(const bio_scope *scope) {
  return scope != NULL ? scope->count : 0;
}

/* Stops what t awaits; its await returns -ECANCELED (or the op's real
 * result if it finished first). */
static void cancel_await(bio_task *t) {
  switch (t->kind) {
  case BIO_AWAIT_IO:
    bio__io_cancel(t, t->await);
    break;
  case BIO_AWAIT_NOTIFY:
    bio__notify_cancel(t, t->await);
    break;
  case BIO_AWAIT_JOIN: {
    bio_task *target = t->await;
    target->joiner = NULL;
    bio__task_complete(t, -ECANCELED);
    break;
  }
  case BIO_AWAIT_SCOPE: {
    /* A scope's close is not cut short (no task outlives its scope):
     * the closer cancels the scope it closes instead. */
    bio_scope_cancel(t->await);
    break;
  }
  default:
    break;
  }
}

static void cancel_task(bio_task *t) {
  unsigned s = load_state(t);
  if (s & ST_CANCELLED || (s & ST_MASK) == ST_DONE)
    return;
  __atomic_fetch_or(&t->state, (uint8_t)ST_CANCELLED, __ATOMIC_ACQ_REL);
  if ((s & ST_MASK) == ST_IDLE && t->kind != BIO_AWAIT_NONE)
    cancel_await(t);
}

/* A cancel from outside the runtime's thread: onto the runtime's stack
 * (once per scope until taken), and a wake. */
static void cancel_remote(bio_rt *rt, bio_scope *scope) {
  bio_scope *head;
  if (__atomic_exchange_n(&scope->cancel_pending, 1, __ATOMIC_ACQ_REL))
    return;
  head = atomic_load_explicit(&rt->cancels, memory_order_relaxed);
  do
    scope->cancel_next = head;
  while (!atomic_compare_exchange_weak_explicit(
      &rt->cancels, &head, scope, memory_order_seq_cst, memory_order_relaxed));
  bio__loop_wake_via(loop_here(), rt->loop);
}

BIO_EXTERN void bio_scope_cancel(bio_scope *scope) {
  bio_task *t, *next;
  bio_scope *c;

  if (scope == NULL || scope->rt == NULL)
    return;
  if (!on_rt_thread(scope->rt)) {
    cancel_remote(scope->rt, scope);
    return;
  }
  if (scope->cancelled)
    return;
  scope->cancelled = 1;
  /* A cancel may finish a task at once (a sleep): take next first. */
  for (t = scope->head; t != NULL; t = next) {
    next = t->scope_next;
    cancel_task(t);
  }
  for (c = scope->child_head; c != NULL; c = c->sibling_next)
    bio_scope_cancel(c);
}

BIO_EXTERN int bio_scope_close(bio_task *task, bio_scope *scope, int cancel) {
  if (task == NULL || scope == NULL)
    return -EINVAL;
  if (cancel || (load_state(task) & ST_CANCELLED))
    bio_scope_cancel(scope);
  if (scope->count == 0) {
    scope_detach(scope);
    return 0;
  }
  if (scope->closer != NULL)
    return -EBUSY;
  scope->closer = task;
  task->await = scope;
  task->kind = BIO_AWAIT_SCOPE;
  return BIO_PENDING;
}

/* ---- spawn, run, join ---- */

static void start_local(bio_rt *rt, bio_task *t) {
  bio_scope *s = t->scope;
  scope_link_task(s, t);
  rt->live++;
  BIO_STAT_ADD(rt, spawned, 1);
  __atomic_store_n(&rt->stats.live, rt->live, __ATOMIC_RELAXED);
  /* Atomic: other threads may poll it (bio_task_done). */
  __atomic_store_n(&t->state,
                   (uint8_t)((load_state(t) & ~ST_FRESH) |
                             (s->cancelled ? ST_CANCELLED : 0)),
                   __ATOMIC_RELEASE);
  push_local(rt, t);
}

/* A task header ready to start (scheduled, with flags), in scope. */
static void reset(bio_task *task, bio_scope *scope, bio_task_fn fn,
                  unsigned flags) {
  task->fn = fn;
  task->scope = scope;
  task->scope_prev = task->scope_next = NULL;
  task->await = NULL;
  task->joiner = NULL;
  task->kind = BIO_AWAIT_NONE;
  task->resume = 0;
  task->res = 0;
  __atomic_store_n(&task->state, (uint8_t)(ST_SCHEDULED | flags),
                   __ATOMIC_RELEASE);
}

static int prepare(bio_scope *scope, bio_task *task, bio_task_fn fn,
                   unsigned flags) {
  if (scope == NULL || task == NULL || fn == NULL || scope->rt == NULL)
    return -EINVAL;
  reset(task, scope, fn, flags);
  return 0;
}

/* A task whose frame (frame bytes from bio_frame_alloc; 0: the caller's
 * memory) finish frees: such a task can't be joined, and its joiner field
 * keeps the frame's size for the free. */
static void keep_frame(bio_task *task, size_t frame) {
  if (frame != 0)
    task->joiner = (bio_task *)(uintptr_t)frame;
}

/* For the work-stealing runtime: a task ready to start but in no scope
 * yet (it waits in a worker's queue or the global one), and its start
 * in rt's root scope by the worker that takes it (rt's thread). frame:
 * the size of a bio_frame_alloc frame the runtime frees at the end, or 0
 * (the caller's memory). */
void bio__task_init_unbound(bio_task *task, bio_task_fn fn, size_t frame) {
  reset(task, NULL, fn, ST_FRESH | (frame != 0 ? ST_SLAB : 0));
  keep_frame(task, frame);
}

void bio__rt_adopt(bio_rt *rt, bio_task *task) {
  task->scope = &rt->root;
  start_local(rt, task);
}

/* bio_spawn, and with frame != 0 for a bio_frame_alloc frame of that
 * size that finish frees. */
int bio__spawn_frame(bio_scope *scope, bio_task *task, bio_task_fn fn,
                     size_t frame) {
  int local;
  int err;
  if (scope == NULL || scope->rt == NULL)
    return -EINVAL;
  /* A runtime not running yet (and not on a uv loop, which runs when
   * uv_run says) takes spawns from whichever thread sets it up. */
  local = on_rt_thread(scope->rt);
  err = prepare(scope, task, fn,
                (local ? 0 : ST_FRESH) | (frame != 0 ? ST_SLAB : 0));
  if (err != 0)
    return err;
  keep_frame(task, frame);
  if (local)
    start_local(scope->rt, task);
  else
    push_remote(scope->rt, task); /* linked in by the runtime's thread */
  return 0;
}

BIO_EXTERN int bio_spawn(bio_scope *scope, bio_task *task, bio_task_fn fn) {
  return bio__spawn_frame(scope, task, fn, 0);
}

BIO_EXTERN int bio_spawn_detached(bio_scope *scope, bio_task *task,
                                  bio_task_fn fn, bio_release_fn release) {
  int err;
  if (release == NULL || scope == NULL || scope->rt == NULL ||
      !on_rt_thread(scope->rt))
    return -EINVAL;
  err = prepare(scope, task, fn, ST_RELEASE);
  if (err != 0)
    return err;
  /* Not joinable: the joiner field keeps the release function. */
  task->joiner = (bio_task *)(void *)release;
  start_local(scope->rt, task);
  return 0;
}

BIO_EXTERN bio_task *bio_spawn_new(bio_scope *scope, size_t size,
                                   bio_task_fn fn) {
  bio_task *t;
  if (scope == NULL || scope->rt == NULL || fn == NULL ||
      !bio__frame_size_ok(size)) {
    errno = EINVAL;
    return NULL;
  }
  t = bio_frame_alloc(size);
  if (t == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  memset(t, 0, size);
  /* Queued (the caller fills in the rest before it runs: the runtime's
   * thread, or a uv loop's hosting it, runs nothing meanwhile). */
  bio__spawn_frame(scope, t, fn, size);
  return t;
}

static void finish(bio_rt *rt, bio_task *t, int res) {
  unsigned s = load_state(t);
  int owned = (s & (ST_SLAB | ST_RELEASE)) != 0;
  bio_task *j = owned ? NULL : t->joiner;
  void *keep = owned ? (void *)t->joiner : NULL;
  uint8_t done = (uint8_t)((s & ~ST_MASK) | ST_DONE);

  t->res = res;
  t->joiner = NULL;
  rt->live--;
  __atomic_store_n(&rt->stats.live, rt->live, __ATOMIC_RELAXED);
  scope_unlink_task(t->scope, t);
  /* Done is published last: another thread that sees it (a block_on
   * caller) may free the task at once, so nothing here touches it after
   * (but for its frame's own release, which only the runtime does). */
  __atomic_store_n(&t->state, done, __ATOMIC_RELEASE);
  if (s & ST_SLAB)
    bio_frame_free(t, (size_t)(uintptr_t)keep);
  else if (s & ST_RELEASE)
    ((bio_release_fn)keep)(t);
  if (j != NULL)
    bio__await_done(j, res);
}

/* Runs t once (it was on the run queue). */
static void run_task(bio_rt *rt, bio_task *t) {
  int r;
  uint8_t expect;

  __atomic_store_n(&t->state,
                   (uint8_t)((load_state(t) & ~ST_MASK) | ST_RUNNING),
                   __ATOMIC_RELAXED);
  rt->budget = BIO_TASK_BUDGET;
  __atomic_store_n(&rt->resume_seq, rt->resume_seq + 1, __ATOMIC_RELAXED);
  __atomic_store_n(&rt->running_fn, t->fn, __ATOMIC_RELAXED);
  __atomic_store_n(&rt->running, t, __ATOMIC_RELAXED);
  r = t->fn(t);
  __atomic_store_n(&rt->running, NULL, __ATOMIC_RELAXED);
  if (r != BIO_PENDING) {
    finish(rt, t, r);
    return;
  }
  /* Waiting, unless a wake came while it ran. */
  expect = (uint8_t)load_state(t);
  for (;;) {
    uint8_t to;
    if ((expect & ST_MASK) == ST_NOTIFIED)
      to = (uint8_t)((expect & ~ST_MASK) | ST_SCHEDULED);
    else
      to = (uint8_t)((expect & ~ST_MASK) | ST_IDLE);
    if (__atomic_compare_exchange_n(&t->state, &expect, to, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      if ((to & ST_MASK) == ST_SCHEDULED)
        push_local(rt, t);
      else if ((to & ST_CANCELLED) && t->kind != BIO_AWAIT_NONE)
        cancel_await(t); /* cancelled while it ran, then awaited */
      return;
    }
  }
}

static void take_cancels(bio_rt *rt) {
  bio_scope *s = atomic_exchange_explicit(&rt->cancels, NULL,
                                          memory_order_acquire);
  while (s != NULL) {
    bio_scope *next = s->cancel_next;
    __atomic_store_n(&s->cancel_pending, 0, __ATOMIC_RELEASE);
    bio_scope_cancel(s);
    s = next;
  }
}

/* Takes what other threads handed over; returns whether there was any. */
static int take_remote(bio_rt *rt) {
  bio_task *t, *fifo = NULL;
  int any = 0;
  if (atomic_load_explicit(&rt->cancels, memory_order_relaxed) != NULL) {
    take_cancels(rt);
    any = 1;
  }
  if (atomic_load_explicit(&rt->remote, memory_order_relaxed) == NULL)
    return any;
  t = atomic_exchange_explicit(&rt->remote, NULL, memory_order_acquire);
  while (t != NULL) {
    bio_task *next = t->next;
    t->next = fifo;
    fifo = t;
    t = next;
  }
  while (fifo != NULL) {
    bio_task *next = fifo->next;
    BIO_STAT_ADD(rt, handed_over, 1);
    if (load_state(fifo) & ST_FRESH)
      start_local(rt, fifo); /* a spawn from another thread */
    else
      push_local(rt, fifo); /* a wake from another thread */
    fifo = next;
  }
  return 1;
}

/* Runs t, then what it woke into the LIFO slot, and so on, at most
 * LIFO_MAX after t; what is in the slot then joins the queue. Returns the
 * number of tasks run. */
#define LIFO_MAX 3
static int run_chain(bio_rt *rt, bio_task *t) {
  int n = 0;
  rt->lifo_on = 1;
  for (;;) {
    run_task(rt, t);
    n++;
    t = rt->lifo;
    if (t == NULL)
      break;
    rt->lifo = NULL;
    if (n > LIFO_MAX) {
      push_local(rt, t);
      break;
    }
  }
  rt->lifo_on = 0;
  return n;
}

/* Runs the tasks that are runnable now (not those they wake into the
 * queue: those wait for the next round, after the loop has looked at
 * I/O; a woken task in the LIFO slot runs at once, see run_chain). */
static int run_round(bio_rt *rt) {
  bio_task *t = rt->run_head;
  bio_task *last = rt->run_tail;
  int n = 0;

  if (t == NULL)
    return 0;
  for (;;) {
    bio_task *next;
    int was_last = t == last;
    /* The queue's head moves on before t runs: t may push itself. */
    next = t->next;
    rt->run_head = next;
    if (next == NULL)
      rt->run_tail = NULL;
    n += run_chain(rt, t);
    if (was_last || rt->run_head == NULL)
      break;
    t = rt->run_head;
  }
  BIO_STAT_ADD(rt, resumes, n);
  return n;
}

/* One poll of rt's loop, counted, with the ops in flight published. */
static int rt_poll(bio_rt *rt, int timeout) {
  BIO_STAT_ADD(rt, polls, 1);
  BIO_STAT_ADD(rt, idle_polls, timeout != 0);
  __atomic_store_n(&rt->stats.ops_in_flight, (uint64_t)rt->loop->inflight,
                   __ATOMIC_RELAXED);
  return bio__loop_poll(rt->loop, timeout);
}

static int run_until(bio_rt *rt, const bio_task *until) {
  bio_rt *saved = current_rt;
  int err = 0;

  take_ownership(rt);
  current_rt = rt;
  rt->run_depth++;
  for (;;) {
    int timeout;
    take_remote(rt);
    run_round(rt);
    if (until != NULL ? (load_state(until) & ST_MASK) == ST_DONE
                      : rt->live == 0)
      break;
    timeout = rt->run_head != NULL ? 0 : -1;
    err = rt_poll(rt, timeout);
    if (err < 0 && err != -EINTR)
      break;
    if (timeout != 0 && take_remote(rt))
      BIO_STAT_ADD(rt, wakeups, 1);
    err = 0;
  }
  rt->run_depth--;
  current_rt = saved;
  return err;
}

/* Whether the caller may drive rt (run, run_once, block_on, shutdown):
 * 0, or why not. */
static int can_drive(const bio_rt *rt) {
  if (rt == NULL)
    return -EINVAL;
  if (rt->hosted)
    return -ENOTSUP; /* uv_run drives it */
  if (current_rt == rt)
    return -EDEADLK; /* from inside one of its tasks */
  return 0;
}

BIO_EXTERN int bio_rt_run(bio_rt *rt) {
  int err = can_drive(rt);
  return err != 0 ? err : run_until(rt, NULL);
}

/* One round and one poll; the poll waits up to timeout_ms unless a task
 * is runnable (or, with idle_returns, none is alive). */
int bio__rt_turn(bio_rt *rt, int timeout_ms, int idle_returns) {
  bio_rt *saved = current_rt;
  int err;
  if (!rt->threaded && !rt->hosted)
    take_ownership(rt);
  current_rt = rt;
  rt->run_depth++;
  take_remote(rt);
  run_round(rt);
  {
    int t = rt->run_head != NULL || (idle_returns && rt->live == 0)
                ? 0
                : timeout_ms;
    err = rt_poll(rt, t);
    /* A wait that work from another thread ended: a wake-up. */
    rt->woken = take_remote(rt) && t != 0;
    if (rt->woken)
      BIO_STAT_ADD(rt, wakeups, 1);
  }
  rt->run_depth--;
  current_rt = saved;
  if (err < 0 && err != -EINTR)
    return err;
  return rt->live > INT32_MAX ? INT32_MAX : (int)rt->live;
}

BIO_EXTERN int bio_rt_run_once(bio_rt *rt, int timeout_ms) {
  int err = can_drive(rt);
  return err != 0 ? err : bio__rt_turn(rt, timeout_ms, 1);
}

BIO_EXTERN int bio_rt_block_on(bio_rt *rt, bio_task *task, bio_task_fn fn) {
  int err = can_drive(rt);
  if (err != 0)
    return err;
  err = bio_spawn(&rt->root, task, fn);
  if (err != 0)
    return err;
  err = run_until(rt, task);
  return err != 0 ? err : task->res;
}

BIO_EXTERN int bio_rt_shutdown(bio_rt *rt) {
  int err = can_drive(rt);
  if (err != 0)
    return err;
  take_remote(rt);
  bio_scope_cancel(&rt->root);
  return run_until(rt, NULL);
}

BIO_EXTERN int bio_join(bio_task *task, bio_task *target) {
  if (task == NULL || target == NULL || target == task)
    return -EINVAL;
  if (load_state(target) & (ST_SLAB | ST_RELEASE))
    return -EINVAL; /* detached: not joinable */
  if ((load_state(target) & ST_MASK) == ST_DONE)
    return target->res;
  if (load_state(task) & ST_CANCELLED)
    return -ECANCELED;
  if (target->joiner != NULL)
    return -EBUSY;
  target->joiner = task;
  task->await = target;
  task->kind = BIO_AWAIT_JOIN;
  return BIO_PENDING;
}

BIO_EXTERN int bio_task_done(const bio_task *task) {
  return task != NULL && (load_state(task) & ST_MASK) == ST_DONE;
}

BIO_EXTERN int bio_task_result(const bio_task *task) {
  return task != NULL ? task->res : -EINVAL;
}

BIO_EXTERN void bio_task_yield(bio_task *task) {
  task->res = 0;
  bio__task_wake(task); /* running: it goes to the back of the queue */
}

int bio__task_cancelled(const bio_task *t) {
  return (load_state(t) & ST_CANCELLED) != 0;
}

/* ---- the runtime ---- */

static int remote_waiting(void *arg) {
  bio_rt *rt = arg;
  /* seq_cst: after the loop's clear of its wake flag (push_remote). */
  return atomic_load(&rt->remote) != NULL ||
         atomic_load(&rt->cancels) != NULL ||
         (rt->more_work != NULL && rt->more_work(rt->more_work_arg));
}

static void on_wake(bio_loop *loop, void *arg) {
  (void)loop;
  (void)arg; /* run_until (or the guest's run) takes the remote stack
                after every poll */
}

static void join_wake(bio_rt *rt) {
  rt->wake.cb = on_wake;
  rt->wake.busy = remote_waiting;
  rt->wake.arg = rt;
  bio__loop_add_wake_client(rt->loop, &rt->wake);
}

BIO_EXTERN int bio_rt_new(bio_rt **rt_out, const bio_loop_options *opts) {
  bio_rt *rt;
  int err;

  if (rt_out == NULL)
    return -EINVAL;
  rt = bio__calloc(1, sizeof(*rt));
  if (rt == NULL)
    return -ENOMEM;
  err = bio_loop_new_ex(&rt->loop, opts);
  if (err != 0) {
    bio__free(rt);
    return err;
  }
  atomic_init(&rt->remote, NULL);
  atomic_init(&rt->cancels, NULL);
  rt->owner = pthread_self();
  bio_scope_init(&rt->root, rt, NULL);
  join_wake(rt);
  *rt_out = rt;
  return 0;
}

/* ---- a runtime on a uv loop: the loop's owner (uv_run) drives it ---- */

static void guest_run(void *arg) {
  bio_rt *rt = arg;
  bio_rt *saved = current_rt;
  current_rt = rt;
  rt->run_depth++;
  take_remote(rt);
  run_round(rt);
  rt->run_depth--;
  current_rt = saved;
}

static int guest_alive(void *arg) {
  bio_rt *rt = arg;
  return rt->live != 0 ||
         atomic_load_explicit(&rt->remote, memory_order_relaxed) != NULL;
}

static int guest_ready(void *arg) {
  bio_rt *rt = arg;
  return rt->run_head != NULL || remote_waiting(rt);
}

static const struct bio_loop_guest guest_ops = {guest_run, guest_alive,
                                                guest_ready};

BIO_EXTERN int bio_rt_new_uv(bio_rt **rt_out, void *uv_loop) {
  void *(*core_of)(void *);
  bio_loop *core;
  bio_rt *rt;

  if (rt_out == NULL || uv_loop == NULL)
    return -EINVAL;
  /* Our libuv.so.1 exports it; another libuv does not. */
  *(void **)&core_of = dlsym(RTLD_DEFAULT, "bio_uv_loop_core");
  if (core_of == NULL)
    return -ENOTSUP;
  core = core_of(uv_loop);
  if (core == NULL)
    return -EINVAL;
  if (core->guest != NULL)
    return -EBUSY;
  rt = bio__calloc(1, sizeof(*rt));
  if (rt == NULL)
    return -ENOMEM;
  rt->loop = core;
  rt->hosted = 1;
  atomic_init(&rt->remote, NULL);
  atomic_init(&rt->cancels, NULL);
  bio_scope_init(&rt->root, rt, NULL);
  core->guest_arg = rt;
  core->guest = &guest_ops;
  join_wake(rt);
  *rt_out = rt;
  return 0;
}

BIO_EXTERN int bio_rt_free(bio_rt *rt) {
  if (rt == NULL)
    return 0;
  if (rt->live != 0 ||
      atomic_load_explicit(&rt->remote, memory_order_acquire) != NULL)
    return -EBUSY;
  if (rt->hosted) {
    bio__loop_remove_wake_client(rt->loop, &rt->wake);
    rt->loop->guest = NULL;
    rt->loop->guest_arg = NULL;
  } else {
    bio_loop_free(rt->loop);
  }
  bio__free(rt);
  return 0;
}

BIO_EXTERN int bio_rt_stats_get(bio_rt *rt, bio_rt_stats *out) {
  if (rt == NULL || out == NULL)
    return -EINVAL;
  memset(out, 0, sizeof(*out));
  out->polls = __atomic_load_n(&rt->stats.polls, __ATOMIC_RELAXED);
  out->idle_polls = __atomic_load_n(&rt->stats.idle_polls, __ATOMIC_RELAXED);
  out->resumes = __atomic_load_n(&rt->stats.resumes, __ATOMIC_RELAXED);
  out->spawned = __atomic_load_n(&rt->stats.spawned, __ATOMIC_RELAXED);
  out->handed_over =
      __atomic_load_n(&rt->stats.handed_over, __ATOMIC_RELAXED);
  /* Spawned and not finished: both counters are the runtime's. */
  out->live = __atomic_load_n(&rt->stats.live, __ATOMIC_RELAXED);
  out->ops_in_flight =
      __atomic_load_n(&rt->stats.ops_in_flight, __ATOMIC_RELAXED);
  out->wakeups = __atomic_load_n(&rt->stats.wakeups, __ATOMIC_RELAXED);
  return 0;
}

BIO_EXTERN bio_loop *bio_rt_loop(bio_rt *rt) {
  return rt != NULL ? rt->loop : NULL;
}

BIO_EXTERN bio_scope *bio_rt_scope(bio_rt *rt) {
  return rt != NULL ? &rt->root : NULL;
}

BIO_EXTERN uint64_t bio_now_ns(void) { return bio__clock_ns(); }

/* ---- notify ---- */

typedef struct waiter {
  struct waiter *prev, *next;
  bio_task *task;
} waiter;

typedef struct notify {
  waiter *head, *tail;
  uintptr_t permit;
} notify;

_Static_assert(sizeof(waiter) <= sizeof(bio_waiter), "bio_waiter size");
_Static_assert(sizeof(notify) <= sizeof(bio_notify), "bio_notify size");

BIO_EXTERN void bio_notify_init(bio_notify *n) { memset(n, 0, sizeof(*n)); }

BIO_EXTERN int bio_notify_wait(bio_task *task, bio_waiter *bw,
                               bio_notify *bn) {
  if (task == NULL || bw == NULL || bn == NULL)
    return -EINVAL;
  if (bio__task_cancelled(task))
    return -ECANCELED;
  if (bio__notify_enqueue(task, bw, bn) == 0)
    return 0; /* a permit was waiting */
  task->await = bw;
  task->kind = BIO_AWAIT_NOTIFY;
  /* A waiting task is on no run queue: its link keeps the notify, which
   * a cancel needs. */
  task->next = (bio_task *)(void *)bn;
  return BIO_PENDING;
}

static void unlink_waiter(notify *n, waiter *w) {
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    n->head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    n->tail = w->prev;
  w->prev = w->next = NULL;
}

BIO_EXTERN void bio_notify_one(bio_notify *bn) {
  notify *n = (notify *)(void *)bn;
  waiter *w = n->head;
  if (w == NULL) {
    n->permit = 1;
    return;
  }
  unlink_waiter(n, w);
  bio__await_done(w->task, 0);
}

BIO_EXTERN void bio_notify_all(bio_notify *bn) {
  notify *n = (notify *)(void *)bn;
  waiter *w;
  while ((w = n->head) != NULL) {
    unlink_waiter(n, w);
    bio__await_done(w->task, 0);
  }
}

int bio__notify_enqueue(bio_task *t, void *wp, bio_notify *bn) {
  notify *n = (notify *)(void *)bn;
  waiter *w = wp;
  if (n->permit) {
    n->permit = 0;
    return 0;
  }
  w->task = t;
  w->next = NULL;
  w->prev = n->tail;
  if (n->tail != NULL)
    n->tail->next = w;
  else
    n->head = w;
  n->tail = w;
  return 1;
}

void bio__notify_remove(bio_notify *bn, void *wp) {
  unlink_waiter((notify *)(void *)bn, wp);
}

void bio__notify_cancel(bio_task *t, void *wp) {
  waiter *w = wp;
  unlink_waiter((notify *)(void *)t->next, w);
  bio__task_complete(t, -ECANCELED);
}
