/* Unit tests of the libuv loop layer on both backends: run modes, timer
 * order and repeat, the idle/prepare/check phases, async from threads,
 * close order, ref counting, walk, and backend_timeout. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blitzio.h"
#include "uv.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

/* ---- timers ---- */

static int order[16];
static int norder;

static void record_cb(uv_timer_t *t) {
  order[norder++] = (int)(intptr_t)t->data;
}

START_TEST(timers_fire_by_due_then_start_order) {
  uv_loop_t loop;
  uv_timer_t t[5];
  /* due times: 20, 10, 20, 10, 0 -> fire order 4, 1, 3, 0, 2 */
  static const uint64_t timeouts[] = {20, 10, 20, 10, 0};
  static const int expect[] = {4, 1, 3, 0, 2};
  int i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_str_eq(bio_uv_loop_backend(&loop), bio_test_expect_backend(backends[_i]));
  norder = 0;
  for (i = 0; i < 5; i++) {
    ck_assert_int_eq(uv_timer_init(&loop, &t[i]), 0);
    t[i].data = (void *)(intptr_t)i;
    ck_assert_int_eq(uv_timer_start(&t[i], record_cb, timeouts[i], 0), 0);
  }
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(norder, 5);
  for (i = 0; i < 5; i++)
    ck_assert_int_eq(order[i], expect[i]);
  for (i = 0; i < 5; i++)
    uv_close((uv_handle_t *)&t[i], NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static uint64_t started_at;
static uint64_t fired_at;
static void due_cb(uv_timer_t *t) { fired_at = uv_now(t->loop); }

START_TEST(timer_never_fires_early) {
  uv_loop_t loop;
  uv_timer_t t;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  started_at = uv_now(&loop);
  ck_assert_int_eq(uv_timer_start(&t, due_cb, 30, 0), 0);
  ck_assert_uint_eq(uv_timer_get_due_in(&t), 30);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_uint_ge(fired_at, started_at + 30);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static int repeats;
static void repeat_cb(uv_timer_t *t) {
  if (++repeats == 3)
    uv_timer_stop(t);
}

START_TEST(timer_repeat_and_again) {
  uv_loop_t loop;
  uv_timer_t t;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  ck_assert_int_eq(uv_timer_again(&t), UV_EINVAL); /* never started */
  ck_assert_int_eq(uv_timer_start(&t, NULL, 1, 1), UV_EINVAL);
  repeats = 0;
  ck_assert_int_eq(uv_timer_start(&t, repeat_cb, 1, 2), 0);
  ck_assert_uint_eq(uv_timer_get_repeat(&t), 2);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(repeats, 3);
  ck_assert(!uv_is_active((uv_handle_t *)&t));
  uv_close((uv_handle_t *)&t, NULL);
  ck_assert_int_eq(uv_timer_start(&t, repeat_cb, 1, 0), UV_EINVAL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- phases ---- */

static char phases[64];
static int nphases;
static uv_idle_t idle;
static uv_prepare_t prepare;
static uv_check_t check;

static void idle_cb(uv_idle_t *h) {
  phases[nphases++] = 'i';
  (void)h;
}
static void prepare_cb(uv_prepare_t *h) {
  phases[nphases++] = 'p';
  (void)h;
}
static void check_cb(uv_check_t *h) {
  phases[nphases++] = 'c';
  if (nphases >= 9) {
    uv_idle_stop(&idle);
    uv_prepare_stop(&prepare);
    uv_check_stop(h);
  }
}

START_TEST(idle_prepare_check_run_in_phase_order) {
  uv_loop_t loop;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  nphases = 0;
  ck_assert_int_eq(uv_idle_init(&loop, &idle), 0);
  ck_assert_int_eq(uv_prepare_init(&loop, &prepare), 0);
  ck_assert_int_eq(uv_check_init(&loop, &check), 0);
  ck_assert_int_eq(uv_idle_start(&idle, NULL), UV_EINVAL);
  ck_assert_int_eq(uv_check_start(&check, check_cb), 0);
  ck_assert_int_eq(uv_prepare_start(&prepare, prepare_cb), 0);
  ck_assert_int_eq(uv_idle_start(&idle, idle_cb), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  phases[nphases] = '\0';
  ck_assert_str_eq(phases, "ipcipcipc");
  uv_close((uv_handle_t *)&idle, NULL);
  uv_close((uv_handle_t *)&prepare, NULL);
  uv_close((uv_handle_t *)&check, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- close, ref, walk ---- */

static int closed[8];
static int nclosed;
static void close_cb(uv_handle_t *h) { closed[nclosed++] = (int)(intptr_t)h->data; }

START_TEST(close_callbacks_newest_first_and_loop_close_busy) {
  uv_loop_t loop;
  uv_timer_t t[3];
  int i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  nclosed = 0;
  for (i = 0; i < 3; i++) {
    uv_timer_init(&loop, &t[i]);
    t[i].data = (void *)(intptr_t)i;
  }
  ck_assert_int_eq(uv_loop_close(&loop), UV_EBUSY);
  for (i = 0; i < 3; i++) {
    uv_close((uv_handle_t *)&t[i], close_cb);
    ck_assert(uv_is_closing((uv_handle_t *)&t[i]));
  }
  ck_assert_int_eq(nclosed, 0); /* never from inside uv_close */
  ck_assert(uv_loop_alive(&loop));
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nclosed, 3);
  ck_assert_int_eq(closed[0], 2);
  ck_assert_int_eq(closed[2], 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static int walked;
static void walk_cb(uv_handle_t *h, void *arg) {
  walked++;
  ck_assert_ptr_eq(arg, &walked);
  uv_close(h, NULL);
}

START_TEST(unref_handle_does_not_keep_loop_alive_and_walk_closes) {
  uv_loop_t loop;
  uv_timer_t t;
  uv_idle_t i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &t);
  uv_idle_init(&loop, &i);
  uv_timer_start(&t, due_cb, 100000, 0);
  ck_assert(uv_loop_alive(&loop));
  uv_unref((uv_handle_t *)&t);
  ck_assert(!uv_has_ref((uv_handle_t *)&t));
  ck_assert(!uv_loop_alive(&loop));
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns at once */
  ck_assert_int_eq(uv_backend_timeout(&loop), 0);     /* nothing alive */
  uv_ref((uv_handle_t *)&t);
  ck_assert_int_gt(uv_backend_timeout(&loop), 1000);
  walked = 0;
  uv_walk(&loop, walk_cb, &walked);
  ck_assert_int_eq(walked, 2);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- async ---- */

static uv_async_t asyncs[64];
static int async_hits;
static int async_closed;

static void async_cb(uv_async_t *h) {
  (void)h;
  if (++async_hits >= 1 && async_closed == 0) {
    int k;
    async_closed = 1;
    for (k = 0; k < 64; k++)
      uv_close((uv_handle_t *)&asyncs[k], NULL);
  }
}

static void sender(void *arg) {
  int k;
  (void)arg;
  for (k = 0; k < 10000; k++)
    uv_async_send(&asyncs[k % 64]);
}

START_TEST(async_from_threads_then_close_while_pending) {
  uv_loop_t loop;
  uv_thread_t th[2];
  int k;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  async_hits = 0;
  async_closed = 0;
  for (k = 0; k < 64; k++)
    ck_assert_int_eq(uv_async_init(&loop, &asyncs[k], async_cb), 0);
  for (k = 0; k < 2; k++)
    ck_assert_int_eq(uv_thread_create(&th[k], sender, NULL), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  for (k = 0; k < 2; k++)
    uv_thread_join(&th[k]);
  ck_assert_int_ge(async_hits, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void stop_cb(uv_timer_t *t) { uv_stop(t->loop); }

START_TEST(run_modes) {
  uv_loop_t loop;
  uv_timer_t t;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &t);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 0);
  uv_timer_start(&t, stop_cb, 1, 1);
  /* NOWAIT never blocks; the timer is not due yet or fires: alive either way. */
  ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 1);
  /* DEFAULT returns after uv_stop with the timer still active. */
  ck_assert_int_ne(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_ONCE), 1);
  uv_close((uv_handle_t *)&t, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- memory ---- */


static int bytes_got;

static void got_byte(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  ck_assert_int_eq(n, 1);
  bytes_got++;
  uv_read_stop(s);
}

static void close_timer(uv_timer_t *t) {
  uv_close((uv_handle_t *)t, NULL);
}

static void byte_buf(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char b[1];
  (void)h;
  (void)size;
  *buf = uv_buf_init(b, sizeof(b));
}

/* A server's burst frees big buffers among small blocks that live on
 * (write requests, new handles): glibc keeps those pages resident, and
 * an idle server held on to them (28 bytes per connection after 10,000
 * connections answered at once). A loop that goes quiet after a busy
 * spell gives them back. */
START_TEST(heap_pages_given_back_when_the_loop_goes_quiet) {
  enum { N = 200, BIG = 64 * 1024 };
  static void *big[N], *small[N];
  uv_loop_t loop;
  uv_pipe_t p;
  uv_timer_t t;
  long before, freed, quiet;
  int sv[2];
  int i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  before = bio_test_rss_anon_kib();
  for (i = 0; i < N; i++) {
    big[i] = malloc(BIG);
    small[i] = malloc(200);
    ck_assert(big[i] != NULL && small[i] != NULL);
    memset(big[i], 1, BIG);
  }
  for (i = 0; i < N; i++)
    free(big[i]);
  freed = bio_test_rss_anon_kib() - before;

  /* A busy spell (a read), then nothing until the timer, 400 ms on. */
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &p, 0), 0);
  ck_assert_int_eq(uv_pipe_open(&p, sv[0]), 0);
  ck_assert_int_eq(uv_read_start((uv_stream_t *)&p, byte_buf, got_byte), 0);
  ck_assert_int_eq(write(sv[1], "x", 1), 1);
  bytes_got = 0;
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(bytes_got, 1);
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  ck_assert_int_eq(uv_timer_start(&t, close_timer, 400, 0), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  quiet = bio_test_rss_anon_kib() - before;
#ifndef BIO_TEST_RSS_SKEWED
  ck_assert_int_gt(freed, N * BIG / 1024 / 2);
  ck_assert_int_lt(quiet, freed / 4);
#else
  (void)freed;
  (void)quiet;
#endif
  for (i = 0; i < N; i++)
    free(small[i]);
  uv_close((uv_handle_t *)&p, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(sv[1]);
}
END_TEST


int main(void) {
  Suite *s = suite_create("loop");
  TCase *tc = tcase_create("uv");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, timers_fire_by_due_then_start_order, 0, 2);
  tcase_add_loop_test(tc, timer_never_fires_early, 0, 2);
  tcase_add_loop_test(tc, timer_repeat_and_again, 0, 2);
  tcase_add_loop_test(tc, idle_prepare_check_run_in_phase_order, 0, 2);
  tcase_add_loop_test(tc, close_callbacks_newest_first_and_loop_close_busy, 0,
                      2);
  tcase_add_loop_test(tc, unref_handle_does_not_keep_loop_alive_and_walk_closes,
                      0, 2);
  tcase_add_loop_test(tc, async_from_threads_then_close_while_pending, 0, 2);
  tcase_add_loop_test(tc, run_modes, 0, 2);
  tcase_add_loop_test(tc, heap_pages_given_back_when_the_loop_goes_quiet, 0,
                      2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
