/* bio_runtime: tasks on several threads, thread-per-core.
 *
 * Each worker is a thread that owns one bio_rt, with its own loop (its own
 * io_uring ring, every ring after the first attached to the first's kernel
 * worker pool; or its own epoll). A task runs on the worker it was spawned
 * on, every op it submits completes on that worker's ring, and it is woken
 * there: nothing is shared on the hot path. Spawns from outside go to the
 * workers in turn (or to the one named) through each runtime's remote
 * stack; shutdown cancels through the same hand-over. Work stealing, the
 * other shape, builds on the same workers later. */
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
} worker;

struct bio_runtime {
  unsigned nworkers;
  worker *workers;
  atomic_uint next; /* round-robin spawns */
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

static __thread int current_worker = -1;

static int start_watchdog(bio_runtime *r);

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

/* Whether worker w should keep running its loop. */
static int keep_going(bio_runtime *r, worker *w) {
  if (!atomic_load_explicit(&r->stop, memory_order_acquire))
    return 1;
  /* Stopping: until its tasks, and whatever was handed to it, are done. */
  return w->rt->live != 0 ||
         atomic_load_explicit(&w->rt->remote, memory_order_acquire) != NULL ||
         atomic_load_explicit(&w->rt->cancels, memory_order_acquire) != NULL;
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
  if (err == 0)
    w->rt->threaded = 1;
  pthread_mutex_lock(&r->lock);
  w->err = err;
  r->ready++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  if (err != 0)
    return NULL;
  current_worker = (int)w->index;
  while (keep_going(r, w)) {
    /* Stopping, the last task may end in this turn's round: the poll
     * after it must not block (the stop's wake was taken long ago). */
    err = bio__rt_turn(w->rt, -1,
                       atomic_load_explicit(&r->stop, memory_order_acquire));
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
  if (o.shape != BIO_RUNTIME_PER_CORE)
    return o.shape == BIO_RUNTIME_STEALING ? -ENOTSUP : -EINVAL;
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
      stop_workers(r, i);
      pthread_cond_destroy(&r->cond);
      pthread_mutex_destroy(&r->lock);
      bio__free(r->workers);
      bio__free(r);
      return err;
    }
  }
  if (r->long_ns != 0 && (err = start_watchdog(r)) != 0) {
    stop_workers(r, r->nworkers);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    bio__free(r->workers);
    bio__free(r);
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

BIO_EXTERN int bio_runtime_spawn_on(bio_runtime *r, unsigned worker,
                                    bio_task *task, bio_task_fn fn) {
  if (r == NULL || worker >= r->nworkers)
    return -EINVAL;
  /* Once shutdown began, only the workers' own tasks spawn (a drain
   * runs their work to its end). */
  if (atomic_load_explicit(&r->stop, memory_order_acquire) &&
      current_worker < 0)
    return -ESHUTDOWN;
  return bio_spawn(bio_rt_scope(r->workers[worker].rt), task, fn);
}

BIO_EXTERN int bio_runtime_spawn(bio_runtime *r, bio_task *task,
                                 bio_task_fn fn) {
  unsigned w;
  if (r == NULL)
    return -EINVAL;
  /* From a worker, its own queue: no hand-over, and the spawner's cache
   * is warm. From outside, the workers in turn. */
  if (current_worker >= 0 && (unsigned)current_worker < r->nworkers &&
      pthread_equal(pthread_self(), r->workers[current_worker].thread))
    w = (unsigned)current_worker;
  else
    w = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed) %
        r->nworkers;
  return bio_runtime_spawn_on(r, w, task, fn);
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
  if (err == 0)
    out->long_tasks = atomic_load_explicit(&r->workers[worker].long_tasks,
                                           memory_order_relaxed);
  return err;
}

BIO_EXTERN int bio_runtime_dump(bio_runtime *r, int fd) {
  unsigned i;
  if (r == NULL || fd < 0)
    return -EINVAL;
  for (i = 0; i < r->nworkers; i++) {
    bio_rt_stats st;
    bio_rt_stats_get(r->workers[i].rt, &st);
    if (dprintf(fd,
                "worker %u (%s): live %llu, spawned %llu, resumes %llu, "
                "polls %llu (idle %llu), handed over %llu, long tasks "
                "%llu\n",
                i, bio_loop_backend(r->workers[i].rt->loop),
                (unsigned long long)st.live, (unsigned long long)st.spawned,
                (unsigned long long)st.resumes, (unsigned long long)st.polls,
                (unsigned long long)st.idle_polls,
                (unsigned long long)st.handed_over,
                (unsigned long long)atomic_load_explicit(
                    &r->workers[i].long_tasks, memory_order_relaxed)) < 0)
      return -errno;
  }
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
  stop_workers(r, r->nworkers);
  pthread_cond_destroy(&r->cond);
  pthread_mutex_destroy(&r->lock);
  bio__free(r->workers);
  bio__free(r);
  return 0;
}
