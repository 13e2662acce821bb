/* Tasks on a libuv loop (bio_rt_new_uv): they run inside uv_run beside
 * the loop's handles, keep uv_run going while they live, are woken by
 * I/O and timers of the same loop, and can be spawned from another
 * thread; the loop can't close under them. On io_uring and epoll. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "blitzio.h"
#include "uv.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};
static char trace[64];
static int ntrace;
static int sv[2];

static void timer_cb(uv_timer_t *t) {
  if (ntrace < 40)
    trace[ntrace++] = 'T';
  if (uv_timer_get_repeat(t) != 0 && strchr(trace, 'S') != NULL &&
      strchr(trace, 'W') == NULL) {
    trace[ntrace++] = 'W';
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    uv_timer_stop(t);
  }
}

struct reader {
  bio_task task;
  bio_io io;
  char buf[4];
  int r;
  int naps;
};

static int reader_run(bio_task *t) {
  struct reader *r = bio_container_of(t, struct reader, task);
  BIO_BEGIN(t);
  /* Sleep until the timer has ticked at least once: on a busy machine
   * the first sleep may end before the 1 ms timer's first run, so the
   * order is asserted through the count of naps, not through timing. */
  do {
    BIO_AWAIT(t, r->r, bio_sleep(t, &r->io, 3000000));
    r->naps++;
  } while (strchr(trace, 'T') == NULL && r->naps < 1000);
  trace[ntrace++] = 'S';
  BIO_AWAIT(t, r->r, bio_recv(t, &r->io, sv[0], r->buf, sizeof r->buf));
  trace[ntrace++] = 'R';
  BIO_END(t, r->r);
}

/* A task sleeps, then reads what a uv timer's callback writes; uv_run
 * returns once both the timer and the task are done. */
START_TEST(tasks_run_inside_uv_run_beside_handles) {
  uv_loop_t loop;
  uv_timer_t timer;
  struct reader r;
  bio_rt *rt;

  bio_test_backend(backends[_i]);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                   0);
  ck_assert_int_eq(bio_rt_new_uv(&rt, &loop), 0);
  ck_assert_int_eq(bio_rt_run(rt), -ENOTSUP);
  memset(&r, 0, sizeof(r));
  memset(trace, 0, sizeof(trace));
  ntrace = 0;
  ck_assert_int_eq(uv_timer_init(&loop, &timer), 0);
  ck_assert_int_eq(uv_timer_start(&timer, timer_cb, 1, 1), 0);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &r.task, reader_run), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert(bio_task_done(&r.task));
  ck_assert_int_eq(bio_task_result(&r.task), 1);
  /* The timer ticked while the task slept, wrote after the sleeps
   * ended, and the read ended last. */
  ck_assert_int_lt(r.naps, 1000);
  ck_assert_int_eq(trace[0], 'T');
  ck_assert_ptr_nonnull(strchr(trace, 'W'));
  ck_assert(strchr(trace, 'S') < strchr(trace, 'W'));
  ck_assert_int_eq(trace[ntrace - 1], 'R');
  /* The loop can't close while the runtime is on it. */
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), UV_EBUSY);
  ck_assert_int_eq(bio_rt_free(rt), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(sv[0]);
  close(sv[1]);
}
END_TEST

static int flag_run(bio_task *t) {
  (void)t;
  return 9;
}

static void *spawn_later(void *arg) {
  bio_task *t = arg;
  usleep(20000);
  ck_assert_int_eq(bio_spawn(t->scope, t, flag_run), 0);
  return NULL;
}

static void keepalive_cb(uv_timer_t *t) { (void)t; }

/* uv_run, blocked in its poll, wakes for a task spawned by another
 * thread and runs it. */
START_TEST(a_task_spawned_from_another_thread_wakes_uv_run) {
  uv_loop_t loop;
  uv_timer_t keep;
  bio_task t;
  bio_rt *rt;
  pthread_t th;
  int turns = 0;

  bio_test_backend(backends[_i]);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(bio_rt_new_uv(&rt, &loop), 0);
  ck_assert_int_eq(bio_rt_new_uv(&rt, &loop), -EBUSY);
  /* A long timer keeps the loop blocking in its poll meanwhile. */
  uv_timer_init(&loop, &keep);
  uv_timer_start(&keep, keepalive_cb, 60000, 0);
  memset(&t, 0, sizeof(t));
  t.scope = bio_rt_scope(rt);
  ck_assert_int_eq(pthread_create(&th, NULL, spawn_later, &t), 0);
  while (!bio_task_done(&t) && turns++ < 100)
    uv_run(&loop, UV_RUN_ONCE);
  pthread_join(th, NULL);
  ck_assert(bio_task_done(&t));
  ck_assert_int_eq(bio_task_result(&t), 9);
  ck_assert_int_lt(turns, 10);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(bio_rt_free(rt), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Threads spawn tasks into the runtime and send the loop's async handle
 * at once: the uv loop and the runtime share the loop's wake, and a wake
 * that finds the loop awake writes nothing, so the loop must ask both
 * before it blocks. Every task runs, and uv_run never sleeps through a
 * spawn (a lost wake sleeps on the 60 s timer past the test's timeout). */
enum { SPAWNERS = 4, SPAWNS = 500 };
static bio_task spawned[SPAWNERS][SPAWNS];
static atomic_int ran;
static bio_scope *spawn_scope;
static uv_async_t spawn_async;

static int count_run(bio_task *t) {
  (void)t;
  atomic_fetch_add(&ran, 1);
  return 0;
}

static void *spawn_many(void *arg) {
  bio_task *ts = arg;
  int i;
  for (i = 0; i < SPAWNS; i++) {
    ck_assert_int_eq(bio_spawn(spawn_scope, &ts[i], count_run), 0);
    if (i % 8 == 0)
      uv_async_send(&spawn_async);
    if (i % 64 == 0)
      usleep(200);
  }
  return NULL;
}

static int asyncs_run;
static void spawn_async_cb(uv_async_t *a) {
  (void)a;
  asyncs_run++;
}

START_TEST(spawns_from_threads_beside_async_sends_all_wake_uv_run) {
  uv_loop_t loop;
  uv_timer_t keep;
  bio_rt *rt;
  pthread_t th[SPAWNERS];
  int i;

  bio_test_backend(backends[_i]);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(bio_rt_new_uv(&rt, &loop), 0);
  ck_assert_int_eq(uv_async_init(&loop, &spawn_async, spawn_async_cb), 0);
  uv_timer_init(&loop, &keep);
  uv_timer_start(&keep, keepalive_cb, 60000, 0);
  memset(spawned, 0, sizeof(spawned));
  atomic_store(&ran, 0);
  asyncs_run = 0;
  spawn_scope = bio_rt_scope(rt);
  for (i = 0; i < SPAWNERS; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, spawn_many, spawned[i]), 0);
  while (atomic_load(&ran) < SPAWNERS * SPAWNS)
    uv_run(&loop, UV_RUN_ONCE);
  for (i = 0; i < SPAWNERS; i++)
    pthread_join(th[i], NULL);
  ck_assert_int_gt(asyncs_run, 0);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_close((uv_handle_t *)&spawn_async, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(bio_rt_free(rt), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("task_uv");
  TCase *tc = tcase_create("task_uv");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, tasks_run_inside_uv_run_beside_handles, 0, 2);
  tcase_add_loop_test(tc, a_task_spawned_from_another_thread_wakes_uv_run, 0,
                      2);
  tcase_add_loop_test(tc,
                      spawns_from_threads_beside_async_sends_all_wake_uv_run,
                      0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
