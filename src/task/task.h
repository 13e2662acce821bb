/* Internals shared by the task layer's files (task.c: scheduler, scopes,
 * notify; io.c: the futures on core ops and alarms). */
#ifndef BIO_TASK_TASK_H
#define BIO_TASK_TASK_H

#include <pthread.h>
#include <stdatomic.h>

#include "blitzio.h"
#include "core/core.h"

/* What bio_task.await points at, for cancel. */
enum {
  BIO_AWAIT_NONE = 0,
  BIO_AWAIT_IO,     /* a bio_io: an op and/or an alarm */
  BIO_AWAIT_NOTIFY, /* a waiter on a bio_notify (task->next: the notify) */
  BIO_AWAIT_JOIN,   /* another task */
  BIO_AWAIT_SCOPE,  /* a scope being closed */
};

/* Laid out by who touches what: the fields other threads read on every
 * spawn and wake (set once), the remote stacks they push onto, and what
 * only the runtime's thread writes, each group on cache lines of its own
 * (the padding: a spawner's read of loop or hosted, or its push, would
 * otherwise miss on a line the runtime's thread keeps writing). */
#define BIO_RT_PAD 64
struct bio_rt {
  /* Set before other threads see the runtime. */
  bio_loop *loop;
  int hosted;   /* on a uv loop: uv_run drives it */
  int threaded; /* a bio_runtime worker's: only that thread is ever local
                   to it */
  /* The thread that made or last ran it (atomic): before it runs, that
   * thread may queue into it directly; any other hands over. */
  pthread_t owner;
  char pad_shared[BIO_RT_PAD];
  _Atomic(bio_task *) remote;   /* spawns and wakes from other threads */
  _Atomic(bio_scope *) cancels; /* scope cancels from other threads */
  char pad_remote[BIO_RT_PAD];
  bio_scope root;
  bio_task *run_head, *run_tail; /* runnable, FIFO */
  /* The LIFO slot: the first task woken by the task now running (from
   * its resume function; not the joiner its end wakes), run right after
   * it, ahead of the queue, at most LIFO_MAX in a row (a message passed
   * between two tasks goes on without a trip through the queue and the
   * loop's poll). lifo_on: a task of this runtime is in run_task. */
  bio_task *lifo;
  int lifo_on;
  size_t live;                   /* tasks spawned and not finished */
  int run_depth;                 /* inside bio_rt_run / block_on */
  /* Counters (bio_rt_stats): written by the runtime's thread only, with
   * relaxed atomic loads and stores (no locked instruction), read from
   * any thread. */
  bio_rt_stats stats;
  /* Awaits that may still end at once in the running task's turn (the
   * cooperative budget): a task whose awaits keep finishing without
   * waiting (an epoll socket that always has data) yields when it runs
   * out, so its neighbours and the I/O get their turn. */
  int budget;
  /* A bio_runtime's: work for this runtime's thread that is not in its
   * remote stack (a work-stealing worker's queues), looked at by the
   * loop before it sleeps. Set before the runtime runs. */
  int (*more_work)(void *arg);
  void *more_work_arg;
  /* The task in its resume function now (NULL between), and a count of
   * resumes: relaxed stores by the runtime's thread, read by a
   * bio_runtime's watchdog. */
  bio_task *running;
  bio_task_fn running_fn; /* its function (the watchdog never reads the
                             task itself: it may be gone) */
  uint64_t resume_seq;
  /* The last bio__rt_turn's poll could wait and work from another
   * thread ended it (counted in stats.wakeups). */
  int woken;
  /* Its share of the loop's wake: remote_waiting is its busy, so wakes
   * from other threads coalesce while the loop is awake, hosted or not. */
  bio_wake_client wake;
};

/* The work-stealing runtime's unstarted tasks (task.c): made ready in no
 * scope, then started in rt's root scope on rt's thread. */
/* A bio_frame_alloc frame the runtime may own: room for the header, and
 * a size the joiner field can record (keep_frame). */
static inline int bio__frame_size_ok(size_t size) {
  return size >= sizeof(bio_task) && size <= UINT32_MAX;
}
void bio__task_init_unbound(bio_task *task, bio_task_fn fn, size_t frame);
int bio__spawn_frame(bio_scope *scope, bio_task *task, bio_task_fn fn,
                     size_t frame);
void bio__rt_adopt(bio_rt *rt, bio_task *task);
/* Tests (any thread): whether worker w of a work-stealing runtime, were
 * it searching for work now, would find some (runtime.c). */
int bio__runtime_search_would_end(bio_runtime *r, unsigned w);
/* One round of rt's tasks and one poll (task.c); a worker's turn. */
int bio__rt_turn(bio_rt *rt, int timeout_ms, int idle_returns);
/* Adds n to a counter of rt's stats (its own thread only). */
#define BIO_STAT_ADD(rt, field, n)                                             \
  __atomic_store_n(&(rt)->stats.field,                                        \
                   __atomic_load_n(&(rt)->stats.field, __ATOMIC_RELAXED) +     \
                       (uint64_t)(n),                                          \
                   __ATOMIC_RELAXED)
/* Awaits a task may end at once per turn before it must yield. */
#define BIO_TASK_BUDGET 128
void bio__task_wake(bio_task *t);
/* Ends t's await with res and wakes it (runtime thread). */
void bio__task_complete(bio_task *t, int res);
int bio__task_cancelled(const bio_task *t);
void bio__notify_cancel(bio_task *t, void *waiter);
/* Ends t's await with res, however it waits: through its bio_io slot
 * (stopping the slot's deadline) or directly. */
void bio__await_done(bio_task *t, int res);
/* io.c: ends an await on a bio_io slot from outside io.c (a notify or
 * a join through a slot). */
void bio__io_end_await(void *io, int res);
/* task.c: a waiter in a slot's memory joins n's queue (1), or takes its
 * permit (0); bio__notify_remove takes it out again. */
int bio__notify_enqueue(bio_task *t, void *waiter, bio_notify *n);
void bio__notify_remove(bio_notify *n, void *waiter);
/* io.c: cancels the await on io (the await then ends through its op or
 * alarm with -ECANCELED, or the op's real result if it won the race). */
void bio__io_cancel(bio_task *t, void *io);

#endif
