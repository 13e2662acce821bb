/* Unit tests for the blocking pool (src/pool): every item completes exactly
 * once on its own loop, cancel takes only queued items, UV_THREADPOOL_SIZE
 * and the slow-I/O quota hold, shutdown joins and a later submit restarts,
 * and a forked child gets a working pool. Waits are ordered by flags. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "pool/pool.h"
#include "backend.h"
#include "check_run.h"

static const char *backend_names[] = {"uring", "epoll"};

typedef struct item {
  bio_work w;
  bio_op done;
  atomic_int runs;
  int dones;
  int res;
  bio_loop *seen_loop;
  atomic_int *gate; /* when set, run waits until *gate != 0 */
  atomic_int *running; /* when set, counts concurrent runs */
  atomic_int *peak;
  pid_t tid;
} item;

static atomic_int started_count;


static void item_run(bio_work *w) {
  item *it = bio_container_of(w, item, w);
  atomic_fetch_add(&it->runs, 1);
  it->tid = (pid_t)syscall(SYS_gettid);
  if (it->running != NULL) {
    int now = atomic_fetch_add(it->running, 1) + 1;
    int peak = atomic_load(it->peak);
    while (now > peak && !atomic_compare_exchange_weak(it->peak, &peak, now))
      ;
  }
  atomic_fetch_add(&started_count, 1);
  if (it->gate != NULL)
    while (atomic_load(it->gate) == 0)
      sched_yield();
  if (it->running != NULL)
    atomic_fetch_sub(it->running, 1);
}


static void item_done(bio_loop *loop, bio_op *op) {
  item *it = bio_container_of(op, item, done);
  it->dones++;
  it->res = op->res;
  it->seen_loop = loop;
}


static void item_prep(item *it, bio_loop *loop, int kind) {
  memset(it, 0, sizeof(*it));
  it->w.run = item_run;
  it->w.loop = loop;
  it->w.done = &it->done;
  it->w.kind = kind;
  it->done.cb = item_done;
}


static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}


/* Polls loop until cond holds; gives up (and fails) after 10 s. */
#define POLL_UNTIL(loop, cond)                                                 \
  do {                                                                         \
    uint64_t end_ = mono_ms() + 10000;                                         \
    while (!(cond) && mono_ms() < end_)                                        \
      bio__loop_poll((loop), 10);                                              \
    ck_assert(cond);                                                           \
  } while (0)

/* Waits (without a loop) until cond holds; fails after 10 s. */
#define WAIT_UNTIL(cond)                                                       \
  do {                                                                         \
    uint64_t end_ = mono_ms() + 10000;                                         \
    while (!(cond) && mono_ms() < end_)                                        \
      sched_yield();                                                           \
    ck_assert(cond);                                                           \
  } while (0)


static int count_done(item *items, int n) {
  int i;
  int sum = 0;
  for (i = 0; i < n; i++)
    sum += items[i].dones;
  return sum;
}


static int count_tasks(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;

  ck_assert_ptr_nonnull(d);
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}


/* ---- many items, several loops on their own threads ---- */

#define LOOPS 4
#define PER_LOOP 2000

struct loop_job {
  const char *backend;
  item *items;
  int failures;
};


static void *loop_thread(void *arg) {
  struct loop_job *job = arg;
  bio_loop loop;
  uint64_t end;
  int i;

  if (bio__loop_init(&loop, 0) != 0) {
    job->failures++;
    return NULL;
  }
  for (i = 0; i < PER_LOOP; i++) {
    item_prep(&job->items[i], &loop, i % 3 == 0 ? BIO_WORK_FAST_IO
                                                : BIO_WORK_CPU);
    if (bio__pool_submit(&job->items[i].w) != 0)
      job->failures++;
  }
  end = mono_ms() + 20000;
  while (count_done(job->items, PER_LOOP) < PER_LOOP && mono_ms() < end)
    bio__loop_poll(&loop, 10);
  /* Nothing more may arrive. */
  bio__loop_poll(&loop, 0);
  for (i = 0; i < PER_LOOP; i++) {
    item *it = &job->items[i];
    if (atomic_load(&it->runs) != 1 || it->dones != 1 || it->res != 0 ||
        it->seen_loop != &loop ||
        atomic_load(&it->w.state) != BIO_WORK_DONE)
      job->failures++;
  }
  bio__loop_close(&loop);
  return NULL;
}


START_TEST(items_from_several_loops_complete_once) {
  struct loop_job jobs[LOOPS];
  pthread_t th[LOOPS];
  int i;

  bio_test_backend(backend_names[_i]);
  for (i = 0; i < LOOPS; i++) {
    jobs[i].backend = backend_names[_i];
    jobs[i].items = calloc(PER_LOOP, sizeof(item));
    jobs[i].failures = 0;
    ck_assert_ptr_nonnull(jobs[i].items);
    ck_assert_int_eq(pthread_create(&th[i], NULL, loop_thread, &jobs[i]), 0);
  }
  for (i = 0; i < LOOPS; i++) {
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(jobs[i].failures, 0);
    free(jobs[i].items);
  }
  bio__pool_shutdown();
}
END_TEST


/* ---- resubmitting from the done callback (uv_queue_work's pattern) ---- */

static int chain_left;

static void chain_done(bio_loop *loop, bio_op *op) {
  item *it = bio_container_of(op, item, done);
  it->dones++;
  it->res = op->res;
  if (--chain_left > 0)
    ck_assert_int_eq(bio__pool_submit(&it->w), 0);
  (void)loop;
}


START_TEST(resubmit_from_done_callback) {
  bio_loop loop;
  item it;

  bio_test_backend(backend_names[_i]);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  item_prep(&it, &loop, BIO_WORK_CPU);
  it.done.cb = chain_done;
  chain_left = 5000;
  ck_assert_int_eq(bio__pool_submit(&it.w), 0);
  POLL_UNTIL(&loop, chain_left == 0);
  ck_assert_int_eq(it.dones, 5000);
  ck_assert_int_eq(atomic_load(&it.runs), 5000);
  ck_assert_int_eq(it.res, 0);
  bio__loop_close(&loop);
  bio__pool_shutdown();
}
END_TEST


/* ---- cancellation ---- */

START_TEST(cancel_queued_and_running) {
  enum { BLOCKERS = 2, QUEUED = 6 };
  item blockers[BLOCKERS];
  item queued[QUEUED];
  atomic_int gate = 0;
  bio_loop loop;
  int i;

  setenv("UV_THREADPOOL_SIZE", "2", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  atomic_store(&started_count, 0);
  for (i = 0; i < BLOCKERS; i++) {
    item_prep(&blockers[i], &loop, BIO_WORK_CPU);
    blockers[i].gate = &gate;
    ck_assert_int_eq(bio__pool_submit(&blockers[i].w), 0);
  }
  WAIT_UNTIL(atomic_load(&started_count) == BLOCKERS);

  /* Every thread is busy: these stay queued. */
  for (i = 0; i < QUEUED; i++) {
    item_prep(&queued[i], &loop, i == 0 ? BIO_WORK_SLOW_IO : BIO_WORK_CPU);
    ck_assert_int_eq(bio__pool_submit(&queued[i].w), 0);
  }
  /* Cancel every other one, out of order. */
  for (i = QUEUED - 1; i >= 0; i -= 2)
    ck_assert_int_eq(bio__pool_cancel(&queued[i].w), 0);
  ck_assert_int_eq(bio__pool_cancel(&queued[0].w), 0);
  /* Twice, or a running item: too late. */
  ck_assert_int_eq(bio__pool_cancel(&queued[1].w), -EBUSY);
  ck_assert_int_eq(bio__pool_cancel(&blockers[0].w), -EBUSY);
  /* The cancelled callbacks run from the loop, never inside cancel. */
  ck_assert_int_eq(queued[1].dones, 0);

  POLL_UNTIL(&loop, queued[1].dones == 1 && queued[3].dones == 1 &&
                        queued[5].dones == 1 && queued[0].dones == 1);
  ck_assert_int_eq(queued[1].res, -ECANCELED);
  ck_assert_int_eq(queued[0].res, -ECANCELED);
  ck_assert_int_eq(blockers[0].dones + blockers[1].dones, 0);

  atomic_store(&gate, 1);
  POLL_UNTIL(&loop, count_done(queued, QUEUED) == QUEUED &&
                        count_done(blockers, BLOCKERS) == BLOCKERS);
  for (i = 0; i < QUEUED; i++) {
    int cancelled = i % 2 == 1 || i == 0;
    ck_assert_int_eq(queued[i].dones, 1);
    ck_assert_int_eq(atomic_load(&queued[i].runs), cancelled ? 0 : 1);
    ck_assert_int_eq(queued[i].res, cancelled ? -ECANCELED : 0);
  }
  ck_assert_int_eq(blockers[0].res, 0);
  ck_assert_int_eq(bio__pool_cancel(&blockers[1].w), -EBUSY);
  bio__loop_close(&loop);
  bio__pool_shutdown();
}
END_TEST


START_TEST(bad_arguments_are_refused) {
  bio_loop loop;
  item it;

  ck_assert_int_eq(bio__pool_submit(NULL), -EINVAL);
  ck_assert_int_eq(bio__pool_cancel(NULL), -EINVAL);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  item_prep(&it, &loop, BIO_WORK_CPU);
  it.w.run = NULL;
  ck_assert_int_eq(bio__pool_submit(&it.w), -EINVAL);
  item_prep(&it, &loop, 7);
  ck_assert_int_eq(bio__pool_submit(&it.w), -EINVAL);
  item_prep(&it, &loop, BIO_WORK_CPU);
  it.w.done = NULL;
  ck_assert_int_eq(bio__pool_submit(&it.w), -EINVAL);
  /* Never submitted. */
  item_prep(&it, &loop, BIO_WORK_CPU);
  ck_assert_int_eq(bio__pool_cancel(&it.w), -EBUSY);
  bio__loop_close(&loop);
}
END_TEST


/* ---- sizing ---- */

static int distinct_tids(item *items, int n) {
  int i;
  int j;
  int count = 0;

  for (i = 0; i < n; i++) {
    for (j = 0; j < i; j++)
      if (items[j].tid == items[i].tid)
        break;
    if (j == i)
      count++;
  }
  return count;
}


START_TEST(threadpool_size_is_honoured) {
  enum { SIZE = 3, MORE = 60 };
  item held[SIZE];
  item *many = calloc(MORE, sizeof(item));
  atomic_int gate = 0;
  bio_loop loop;
  int tasks_before = count_tasks();
  int i;

  ck_assert_ptr_nonnull(many);
  setenv("UV_THREADPOOL_SIZE", "3", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  atomic_store(&started_count, 0);
  /* SIZE items that all block at once prove SIZE threads... */
  for (i = 0; i < SIZE; i++) {
    item_prep(&held[i], &loop, BIO_WORK_CPU);
    held[i].gate = &gate;
    ck_assert_int_eq(bio__pool_submit(&held[i].w), 0);
  }
  WAIT_UNTIL(atomic_load(&started_count) == SIZE);
  ck_assert_int_eq(count_tasks(), tasks_before + SIZE);
  atomic_store(&gate, 1);
  /* ...and no more ever run. */
  for (i = 0; i < MORE; i++) {
    item_prep(&many[i], &loop, i % 2 ? BIO_WORK_SLOW_IO : BIO_WORK_CPU);
    ck_assert_int_eq(bio__pool_submit(&many[i].w), 0);
  }
  POLL_UNTIL(&loop, count_done(held, SIZE) == SIZE &&
                        count_done(many, MORE) == MORE);
  ck_assert_int_eq(distinct_tids(held, SIZE), SIZE);
  ck_assert_int_le(distinct_tids(many, MORE), SIZE);
  ck_assert_int_eq(count_tasks(), tasks_before + SIZE);
  bio__loop_close(&loop);
  bio__pool_shutdown();
  free(many);
}
END_TEST


START_TEST(threadpool_size_is_clamped) {
  bio_loop loop;
  item it;
  int tasks_before = count_tasks();

  setenv("UV_THREADPOOL_SIZE", "0", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  item_prep(&it, &loop, BIO_WORK_CPU);
  ck_assert_int_eq(bio__pool_submit(&it.w), 0);
  POLL_UNTIL(&loop, it.dones == 1);
  ck_assert_int_eq(count_tasks(), tasks_before + 1);
  bio__pool_shutdown();

  setenv("UV_THREADPOOL_SIZE", "5000", 1);
  item_prep(&it, &loop, BIO_WORK_CPU);
  ck_assert_int_eq(bio__pool_submit(&it.w), 0);
  POLL_UNTIL(&loop, it.dones == 1);
  ck_assert_int_eq(count_tasks(), tasks_before + 1024);
  bio__pool_shutdown();
  WAIT_UNTIL(count_tasks() == tasks_before); /* see shutdown_drains_... */
  bio__loop_close(&loop);
}
END_TEST


/* Slow I/O may hold at most half the threads (rounded up); the rest stay
 * free for other work. */
START_TEST(slow_io_uses_half_the_threads) {
  enum { SLOW = 5 };
  item slow[SLOW];
  item fast;
  atomic_int gate = 0;
  atomic_int running = 0;
  atomic_int peak = 0;
  bio_loop loop;
  int i;

  setenv("UV_THREADPOOL_SIZE", "3", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  atomic_store(&started_count, 0);
  for (i = 0; i < SLOW; i++) {
    item_prep(&slow[i], &loop, BIO_WORK_SLOW_IO);
    slow[i].gate = &gate;
    slow[i].running = &running;
    slow[i].peak = &peak;
    ck_assert_int_eq(bio__pool_submit(&slow[i].w), 0);
  }
  WAIT_UNTIL(atomic_load(&started_count) == 2);
  /* A third thread is free: a CPU item completes while slow ones block. */
  item_prep(&fast, &loop, BIO_WORK_CPU);
  ck_assert_int_eq(bio__pool_submit(&fast.w), 0);
  POLL_UNTIL(&loop, fast.dones == 1);
  ck_assert_int_eq(atomic_load(&started_count), 3);
  ck_assert_int_eq(atomic_load(&peak), 2);
  atomic_store(&gate, 1);
  POLL_UNTIL(&loop, count_done(slow, SLOW) == SLOW);
  ck_assert_int_eq(atomic_load(&peak), 2);
  bio__loop_close(&loop);
  bio__pool_shutdown();
}
END_TEST


/* ---- shutdown and fork ---- */

START_TEST(shutdown_drains_then_reuse_restarts) {
  enum { N = 200 };
  item *items = calloc(N, sizeof(item));
  bio_loop loop;
  int tasks_before = count_tasks();
  int i;

  ck_assert_ptr_nonnull(items);
  setenv("UV_THREADPOOL_SIZE", "2", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  for (i = 0; i < N; i++) {
    item_prep(&items[i], &loop, BIO_WORK_CPU);
    ck_assert_int_eq(bio__pool_submit(&items[i].w), 0);
  }
  /* Queued work runs before the threads leave. */
  bio__pool_shutdown();
  /* Joined, but a thread's task may stay in /proc a moment after
   * pthread_join returns: the kernel wakes the joiner (clearing the tid)
   * before it reaps the task (seen 1 run in ~300). */
  WAIT_UNTIL(count_tasks() == tasks_before);
  for (i = 0; i < N; i++)
    ck_assert_int_eq(atomic_load(&items[i].runs), 1);
  POLL_UNTIL(&loop, count_done(items, N) == N);
  bio__pool_shutdown(); /* idempotent */

  for (i = 0; i < N; i++) {
    item_prep(&items[i], &loop, BIO_WORK_FAST_IO);
    ck_assert_int_eq(bio__pool_submit(&items[i].w), 0);
  }
  POLL_UNTIL(&loop, count_done(items, N) == N);
  /* The first pool's threads may still be in /proc for a moment (below). */
  WAIT_UNTIL(count_tasks() == tasks_before + 2);
  bio__pool_shutdown();
  bio__loop_close(&loop);
  free(items);
}
END_TEST


START_TEST(forked_child_gets_a_pool) {
  bio_loop loop;
  item it;
  pid_t pid;
  int status;

  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  item_prep(&it, &loop, BIO_WORK_CPU);
  ck_assert_int_eq(bio__pool_submit(&it.w), 0);
  POLL_UNTIL(&loop, it.dones == 1);
  bio__loop_close(&loop);

  pid = fork();
  ck_assert_int_ne(pid, -1);
  if (pid == 0) {
    bio_loop child_loop;
    uint64_t end = mono_ms() + 10000;
    if (bio__loop_init(&child_loop, 0) != 0)
      _exit(2);
    item_prep(&it, &child_loop, BIO_WORK_CPU);
    if (bio__pool_submit(&it.w) != 0)
      _exit(3);
    while (it.dones == 0 && mono_ms() < end)
      bio__loop_poll(&child_loop, 10);
    bio__pool_shutdown();
    _exit(it.dones == 1 && it.res == 0 ? 0 : 4);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);

  /* The parent's pool still works. */
  ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
  item_prep(&it, &loop, BIO_WORK_CPU);
  ck_assert_int_eq(bio__pool_submit(&it.w), 0);
  POLL_UNTIL(&loop, it.dones == 1);
  bio__loop_close(&loop);
  bio__pool_shutdown();
}
END_TEST


/* A fork right after the submit that started the threads: the threads must
 * be past their start-up by then (under ASan a thread still in it held the
 * allocator's lock across the fork and the child's new threads hung). */
START_TEST(fork_right_after_pool_start) {
  enum { ROUNDS = 50 };
  int round;

  setenv("UV_THREADPOOL_SIZE", "4", 1);
  for (round = 0; round < ROUNDS; round++) {
    bio_loop loop;
    item it;
    pid_t pid;
    int status;

    bio__pool_shutdown();
    ck_assert_int_eq(bio__loop_init(&loop, 0), 0);
    item_prep(&it, &loop, BIO_WORK_CPU);
    ck_assert_int_eq(bio__pool_submit(&it.w), 0);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
      bio_loop child_loop;
      item c;
      uint64_t end = mono_ms() + 5000;
      if (bio__loop_init(&child_loop, 0) != 0)
        _exit(2);
      item_prep(&c, &child_loop, BIO_WORK_CPU);
      if (bio__pool_submit(&c.w) != 0)
        _exit(3);
      while (c.dones == 0 && mono_ms() < end)
        bio__loop_poll(&child_loop, 10);
      _exit(c.dones == 1 ? 0 : 4);
    }
    POLL_UNTIL(&loop, it.dones == 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    bio__loop_close(&loop);
  }
  bio__pool_shutdown();
}
END_TEST


static Suite *pool_suite(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("pool");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, items_from_several_loops_complete_once, 0, 2);
  tcase_add_loop_test(tc, resubmit_from_done_callback, 0, 2);
  tcase_add_test(tc, cancel_queued_and_running);
  tcase_add_test(tc, bad_arguments_are_refused);
  tcase_add_test(tc, threadpool_size_is_honoured);
  tcase_add_test(tc, threadpool_size_is_clamped);
  tcase_add_test(tc, slow_io_uses_half_the_threads);
  tcase_add_test(tc, shutdown_drains_then_reuse_restarts);
  tcase_add_test(tc, forked_child_gets_a_pool);
  tcase_add_test(tc, fork_right_after_pool_start);
  suite_add_tcase(s, tc);
  return s;
}


int main(void) {
  return bio_check_run(pool_suite());
}
