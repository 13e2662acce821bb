/* Unit tests of uv_backend_fd and of a loop that changes threads, on both
 * backends: asking for the backend fd loses nothing in flight (a stream's
 * read, a poll handle); the embedding pattern (poll(2) the fd with
 * uv_backend_timeout, then uv_run(UV_RUN_NOWAIT)) delivers I/O, timers
 * and async sends, and leaves the fd quiet once nothing is left; a loop
 * run on one thread and then on another still completes what it had
 * started on the first. Each run has a watchdog timer: what a lost op
 * would hang fails instead. */
#include "config.h"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uv.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { setenv("BIO_BACKEND", backends[i], 1); }

/* A stream reading one end of a socketpair; the test writes the other. */
typedef struct {
  uv_loop_t loop;
  uv_pipe_t reader;
  uv_poll_t poller;
  uv_timer_t watchdog;
  uv_timer_t timer;
  uv_async_t async;
  int peer;      /* the reader's peer */
  int poll_peer; /* the poller's peer */
  int poll_fd;
  char got[64];
  size_t ngot;
  size_t want;
  int polled;
  int timed;
  int asynced;
  int timed_out;
} fixture;

static fixture fx;


static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char slab[64];
  (void)h;
  (void)size;
  *buf = uv_buf_init(slab, sizeof(slab));
}


static void close_all(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}


static void done_if_complete(void) {
  if (fx.ngot >= fx.want && fx.polled &&
      !uv_is_closing((uv_handle_t *)&fx.watchdog))
    uv_walk(&fx.loop, close_all, NULL);
}


static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)s;
  ck_assert_int_gt(n, 0);
  ck_assert_uint_le(fx.ngot + (size_t)n, sizeof(fx.got));
  memcpy(fx.got + fx.ngot, buf->base, (size_t)n);
  fx.ngot += (size_t)n;
  done_if_complete();
}


static void poll_cb(uv_poll_t *h, int status, int events) {
  char c;
  ck_assert_int_eq(status, 0);
  ck_assert(events & UV_READABLE);
  ck_assert_int_eq(read(fx.poll_fd, &c, 1), 1);
  fx.polled++;
  uv_poll_stop(h);
  done_if_complete();
}


static void watchdog_cb(uv_timer_t *t) {
  (void)t;
  fx.timed_out = 1;
  uv_walk(&fx.loop, close_all, NULL);
}


/* A loop with a stream reading and a poll handle waiting, both handed to
 * the backend by one turn; the watchdog unref'd so it never keeps the
 * loop alive by itself. */
static void setup(int backend) {
  int sv[2], pv[2];

  memset(&fx, 0, sizeof(fx));
  use_backend(backend);
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pv), 0);
  fx.peer = sv[1];
  fx.poll_peer = pv[1];
  fx.poll_fd = pv[0];
  ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
  ck_assert_int_eq(uv_pipe_init(&fx.loop, &fx.reader, 0), 0);
  ck_assert_int_eq(uv_pipe_open(&fx.reader, sv[0]), 0);
  ck_assert_int_eq(
      uv_read_start((uv_stream_t *)&fx.reader, alloc_cb, read_cb), 0);
  ck_assert_int_eq(uv_poll_init(&fx.loop, &fx.poller, fx.poll_fd), 0);
  ck_assert_int_eq(uv_poll_start(&fx.poller, UV_READABLE, poll_cb), 0);
  ck_assert_int_eq(uv_timer_init(&fx.loop, &fx.watchdog), 0);
  ck_assert_int_eq(uv_timer_start(&fx.watchdog, watchdog_cb, 10000, 0), 0);
  uv_unref((uv_handle_t *)&fx.watchdog);
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_NOWAIT), 1);
}


static void teardown(void) {
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
  close(fx.peer);
  close(fx.poll_peer);
  close(fx.poll_fd);
  ck_assert_int_eq(fx.timed_out, 0);
  ck_assert_uint_eq(fx.ngot, fx.want);
  ck_assert_int_eq(memcmp(fx.got, "abcdef", fx.want), 0);
  ck_assert_int_eq(fx.polled, 1);
}


/* uv_backend_fd once rebuilt the io_uring ring and dropped every op it
 * held: the read and the poll never completed (uvloop's loop.close()
 * hung on it). */
START_TEST(backend_fd_keeps_ops_in_flight) {
  setup(_i);
  ck_assert_int_ge(uv_backend_fd(&fx.loop), 0);
  ck_assert_int_eq(uv_backend_fd(&fx.loop), uv_backend_fd(&fx.loop));
  fx.want = 6;
  ck_assert_int_eq(write(fx.peer, "abcdef", 6), 6);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
  teardown();
}
END_TEST


static void timer_cb(uv_timer_t *t) {
  (void)t;
  fx.timed++;
}


static void async_cb(uv_async_t *a) {
  fx.asynced++;
  uv_close((uv_handle_t *)a, NULL);
}


static void *send_async(void *arg) {
  (void)arg;
  usleep(20000);
  ck_assert_int_eq(uv_async_send(&fx.async), 0);
  return NULL;
}


static int readable(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, timeout_ms);
  ck_assert_int_ge(n, 0);
  return n;
}


/* The embedding pattern: sleep in poll(2) on the backend fd, then run the
 * loop without blocking. Every kind of event reaches the loop through the
 * fd, and once all is done the fd does not stay readable (an embedder
 * would spin on it). */
START_TEST(backend_fd_embedding_wakes) {
  pthread_t thread;
  int fd, turns;

  setup(_i);
  fd = uv_backend_fd(&fx.loop);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(uv_timer_init(&fx.loop, &fx.timer), 0);
  ck_assert_int_eq(uv_timer_start(&fx.timer, timer_cb, 30, 0), 0);
  ck_assert_int_eq(uv_async_init(&fx.loop, &fx.async, async_cb), 0);
  ck_assert_int_eq(pthread_create(&thread, NULL, send_async, NULL), 0);
  fx.want = 6;
  ck_assert_int_eq(write(fx.peer, "abc", 3), 3);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  for (turns = 0; turns < 1000; turns++) {
    if (fx.ngot == 3 && fx.timed && fx.asynced && fx.polled)
      break;
    readable(fd, uv_backend_timeout(&fx.loop));
    uv_run(&fx.loop, UV_RUN_NOWAIT);
  }
  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  ck_assert_uint_eq(fx.ngot, 3);
  ck_assert_int_eq(fx.timed, 1);
  ck_assert_int_eq(fx.asynced, 1);
  ck_assert_int_eq(fx.polled, 1);
  /* Nothing left to do but wait for the reader: the fd goes quiet within
   * a few turns (what the last turn queued reaches the kernel). */
  for (turns = 0; turns < 5 && (readable(fd, 0) ||
                                uv_backend_timeout(&fx.loop) == 0);
       turns++)
    uv_run(&fx.loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(readable(fd, 0), 0);
  ck_assert_int_gt(uv_backend_timeout(&fx.loop), 0); /* the watchdog's */
  /* And bytes that come later wake it again. */
  ck_assert_int_eq(write(fx.peer, "def", 3), 3);
  ck_assert_int_eq(readable(fd, 10000), 1);
  for (turns = 0; turns < 1000 && fx.ngot < 6; turns++) {
    readable(fd, uv_backend_timeout(&fx.loop));
    uv_run(&fx.loop, UV_RUN_NOWAIT);
  }
  teardown();
}
END_TEST


static void *run_loop(void *arg) {
  (void)arg;
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  return NULL;
}


/* A loop run on one thread, then on another: the ring's single-issuer
 * rebuild once dropped the read and the poll handed to the kernel on
 * the first thread. Some bytes come before the move, some after. */
START_TEST(loop_moved_to_thread_keeps_ops) {
  pthread_t thread;

  setup(_i);
  fx.want = 6;
  ck_assert_int_eq(write(fx.peer, "abc", 3), 3);
  ck_assert_int_eq(pthread_create(&thread, NULL, run_loop, NULL), 0);
  usleep(20000);
  ck_assert_int_eq(write(fx.peer, "def", 3), 3);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  teardown();
}
END_TEST


int main(void) {
  Suite *s = suite_create("embed");
  TCase *tc = tcase_create("backend fd");
  SRunner *sr;
  int failed;

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, backend_fd_keeps_ops_in_flight, 0, 2);
  tcase_add_loop_test(tc, backend_fd_embedding_wakes, 0, 2);
  tcase_add_loop_test(tc, loop_moved_to_thread_keeps_ops, 0, 2);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
