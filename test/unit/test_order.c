/* Unit tests of orders that programs observe, on both backends. Async
 * callbacks run in the order the handles were initialised (libuv walks
 * its list of them), not the order of the sends: sent from another
 * thread or the loop's, many handles, sends made during the callbacks (to
 * a handle the walk has yet to reach: this walk; to one it passed: the
 * next), a send from another thread during a callback, a handle closed
 * by an earlier callback of the walk. And closes: uv_close of a stream
 * gives its socket up before it returns, so that a peer sees the close
 * before the bytes written elsewhere right after it (Node's HTTP proxy
 * test), armed poll or one-shot; a closed listener refuses connections at
 * once. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) {
  bio_test_backend(backends[i & 1]);
}

static uv_loop_t loop;
static int closes;

static void on_close(uv_handle_t *h) {
  (void)h;
  closes++;
}


/* ---- async handles ---- */

#define NASYNC_MAX 1000

static uv_async_t asyncs[NASYNC_MAX];
static int nasync;
static int order[4 * NASYNC_MAX]; /* the handles' indexes, as called */
static int ncalls;
static int test_mode;
enum { PLAIN, SEND_DURING, THREAD_DURING, CLOSE_DURING, LARGE_DURING };

static int index_of(uv_async_t *h) {
  return (int)(h - asyncs);
}

static void *send_list(void *arg) {
  const int *which = arg;
  int i;
  for (i = 0; which[i] >= 0; i++)
    uv_async_send(&asyncs[which[i]]);
  return NULL;
}

/* Sends from another thread, which is gone before this returns. */
static void send_from_thread(const int *which) {
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, send_list, (void *)which), 0);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
}

static void async_cb(uv_async_t *h) {
  static const int d_c_a[] = {3, 2, 0, -1};
  static const int a_c[] = {0, 2, -1};
  int first = ncalls == 0;

  ck_assert_int_lt(ncalls, (int)(sizeof(order) / sizeof(order[0])));
  order[ncalls++] = index_of(h);
  if (!first || index_of(h) != 0)
    return;
  switch (test_mode) {
  case SEND_DURING:
    send_list((void *)d_c_a);
    break;
  case THREAD_DURING:
    send_from_thread(a_c);
    break;
  case CLOSE_DURING:
    uv_close((uv_handle_t *)&asyncs[1], on_close);
    break;
  case LARGE_DURING:
  {
    static const int late[] = {150, 120, 0, -1};
    send_list((void *)late);
    uv_close((uv_handle_t *)&asyncs[50], on_close);
    break;
  }
  default:
    break;
  }
}

static void init_asyncs(int backend, int n, int mode) {
  int i;
  use_backend(backend);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  nasync = n;
  ncalls = 0;
  closes = 0;
  test_mode = mode;
  for (i = 0; i < n; i++)
    ck_assert_int_eq(uv_async_init(&loop, &asyncs[i], async_cb), 0);
}

/* Runs the loop until want callbacks came (never blocking: every send is
 * made by now or by a callback), a few turns more to catch extra ones,
 * then closes every handle and the loop. */
static void run_asyncs(int want) {
  int i;
  for (i = 0; i < 100 && ncalls < want; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  for (i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  for (i = 0; i < nasync; i++)
    if (!uv_is_closing((uv_handle_t *)&asyncs[i]))
      uv_close((uv_handle_t *)&asyncs[i], on_close);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(closes, nasync);
}

static void assert_order(const int *want, int n) {
  int i;
  char got[256] = "";
  for (i = 0; i < ncalls && strlen(got) < sizeof(got) - 8; i++)
    snprintf(got + strlen(got), sizeof(got) - strlen(got), "%d ", order[i]);
  ck_assert_msg(ncalls == n, "%d callbacks, want %d: %s", ncalls, n, got);
  for (i = 0; i < n; i++)
    ck_assert_msg(order[i] == want[i], "callback %d: handle %d, want %d (%s)",
                  i, order[i], want[i], got);
}

/* Init A, B, C; send C, A, B (_i bit 1: from another thread, before the
 * loop runs; else from the loop's): A, B, C. */
START_TEST(async_callbacks_run_in_init_order) {
  static const int c_a_b[] = {2, 0, 1, -1};
  static const int want[] = {0, 1, 2};

  init_asyncs(_i, 3, PLAIN);
  if (_i & 2)
    send_from_thread(c_a_b);
  else
    send_list((void *)c_a_b);
  run_asyncs(3);
  assert_order(want, 3);
}
END_TEST

/* A thousand handles sent in a scrambled order: one callback each, in
 * init order. */
START_TEST(async_many_run_in_init_order) {
  static int which[NASYNC_MAX + 1];
  static int want[NASYNC_MAX];
  int i;

  init_asyncs(_i, NASYNC_MAX, PLAIN);
  for (i = 0; i < NASYNC_MAX; i++) {
    which[i] = (i * 7919) % NASYNC_MAX; /* 7919 is prime: a permutation */
    want[i] = i;
  }
  which[NASYNC_MAX] = -1;
  if (_i & 2)
    send_from_thread(which);
  else
    send_list(which);
  run_asyncs(NASYNC_MAX);
  assert_order(want, NASYNC_MAX);
}
END_TEST

/* A walk large enough to be sorted in an array (100 handles of 200 sent
 * in a scrambled order, _i bit 1: from another thread). The first
 * callback (handle 0) sends 150, 120 and 0 and closes 50: 50 never runs,
 * 120 and 150 come in this walk after 99, 0 again in the next. */
START_TEST(async_large_walk_takes_own_sends_and_closes) {
  static int which[101];
  static int want[102];
  int i, n = 0;

  init_asyncs(_i, 200, LARGE_DURING);
  for (i = 0; i < 100; i++)
    which[i] = (i * 7919) % 100; /* 7919 is prime: a permutation */
  which[100] = -1;
  for (i = 0; i < 100; i++)
    if (i != 50)
      want[n++] = i;
  want[n++] = 120;
  want[n++] = 150;
  want[n++] = 0;
  if (_i & 2)
    send_from_thread(which);
  else
    send_list(which);
  run_asyncs(n);
  assert_order(want, n);
}
END_TEST

/* Init A, B, C, D; send A, B. A's callback sends D, C and A: C and D
 * come in this walk after B (libuv's walk reaches them later), A in the
 * next one. */
START_TEST(async_sends_during_callbacks_follow_the_walk) {
  static const int a_b[] = {0, 1, -1};
  static const int want[] = {0, 1, 2, 3, 0};

  init_asyncs(_i, 4, SEND_DURING);
  send_list((void *)a_b);
  run_asyncs(5);
  assert_order(want, 5);
}
END_TEST

/* Init A, B, C; send A, B. During A's callback another thread sends A
 * and C: C in this walk, A again in the next; neither is lost. */
START_TEST(async_thread_send_during_callback_not_lost) {
  static const int a_b[] = {0, 1, -1};
  static const int want[] = {0, 1, 2, 0};

  init_asyncs(_i, 3, THREAD_DURING);
  send_list((void *)a_b);
  run_asyncs(4);
  assert_order(want, 4);
}
END_TEST

/* Init A, B, C; send C, B, A. A's callback closes B: B's never runs. */
START_TEST(async_closed_during_walk_not_run) {
  static const int c_b_a[] = {2, 1, 0, -1};
  static const int want[] = {0, 2};

  init_asyncs(_i, 3, CLOSE_DURING);
  send_list((void *)c_b_a);
  run_asyncs(2);
  assert_order(want, 2);
}
END_TEST


/* ---- closing streams ---- */

static uv_tcp_t listener, conn_a, conn_b;
static int naccepted;
static int peer1 = -1, peer2 = -1; /* plain sockets: A's and B's peers */
static int a_reads, a_writes, b_reads, b_writes;
static char rbuf[64];
static uv_write_t echo_req, x_req;
/* What the peers saw in the callback that closed A and wrote to B. */
static int checked, p2_ready, p1_recv = -2, p1_errno;

static void tcp_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  (void)size;
  *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void echo_write_cb(uv_write_t *req, int status) {
  (void)req;
  ck_assert_int_eq(status, 0);
  a_writes++;
}

static void x_write_cb(uv_write_t *req, int status) {
  (void)req;
  ck_assert_int_eq(status, 0);
  b_writes++;
}

/* A answers each byte (so that, from its third wake-up, its poll stays
 * armed on io_uring). */
static void a_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  uv_buf_t b;
  if (n <= 0)
    return;
  a_reads++;
  b = uv_buf_init(buf->base, (unsigned)n);
  ck_assert_int_eq(uv_write(&echo_req, s, &b, 1, echo_write_cb), 0);
}

/* P2's byte: close A, write to B, then look at the peers as soon as B's
 * byte is there (uv_write sent it: it is the batch's first writer). */
static void b_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  static char x = 'x';
  uv_buf_t b = uv_buf_init(&x, 1);
  struct pollfd pfd;
  char c;

  (void)buf;
  if (n <= 0)
    return;
  b_reads++;
  uv_close((uv_handle_t *)&conn_a, on_close);
  ck_assert_int_eq(uv_write(&x_req, s, &b, 1, x_write_cb), 0);
  pfd.fd = peer2;
  pfd.events = POLLIN;
  pfd.revents = 0;
  p2_ready = poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN);
  errno = 0;
  p1_recv = (int)recv(peer1, &c, 1, MSG_DONTWAIT);
  p1_errno = errno;
  checked = 1;
  uv_close((uv_handle_t *)s, on_close);
  uv_close((uv_handle_t *)&listener, on_close);
}

static void order_connection_cb(uv_stream_t *l, int status) {
  uv_tcp_t *c = naccepted == 0 ? &conn_a : &conn_b;
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uv_tcp_init(&loop, c), 0);
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)c), 0);
  ck_assert_int_eq(
      uv_read_start((uv_stream_t *)c, tcp_alloc, naccepted == 0 ? a_read
                                                                : b_read),
      0);
  naccepted++;
}

static void start_listener(struct sockaddr_in *addr) {
  int len = sizeof(*addr);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &listener), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, addr), 0);
  ck_assert_int_eq(
      uv_tcp_bind(&listener, (const struct sockaddr *)addr, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 8,
                             order_connection_cb),
                   0);
  ck_assert_int_eq(
      uv_tcp_getsockname(&listener, (struct sockaddr *)addr, &len), 0);
}

static int connect_to(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(connect(fd, (const struct sockaddr *)addr, sizeof(*addr)),
                   0);
  return fd;
}

static void run_until(const int *counter, int value) {
  int i;
  for (i = 0; i < 10000 && *counter < value; i++)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_ge(*counter, value);
}

/* Peer P1 talks to stream A, P2 to B. _i bit 1: A first converses three
 * times (on io_uring its read poll is armed from then on); else it has
 * only read_start'ed (a one-shot poll out). In B's read callback
 * uv_close(A), then uv_write(B, "x"): when B's byte reaches P2, P1 must
 * read A's EOF already, as with libuv, whose close(2) is at once. */
START_TEST(close_then_write_keeps_peer_order) {
  struct sockaddr_in addr;
  int rounds = (_i & 2) ? 3 : 0;
  int k;
  char c;

  use_backend(_i);
  naccepted = a_reads = a_writes = b_reads = b_writes = 0;
  checked = p2_ready = 0;
  p1_recv = -2;
  closes = 0;
  start_listener(&addr);
  peer1 = connect_to(&addr);
  run_until(&naccepted, 1);
  peer2 = connect_to(&addr);
  run_until(&naccepted, 2);
  for (k = 1; k <= rounds; k++) {
    ck_assert_int_eq(write(peer1, "m", 1), 1);
    run_until(&a_writes, k);
    ck_assert_int_eq(a_reads, k);
    ck_assert_int_eq(read(peer1, &c, 1), 1);
    ck_assert_int_eq(c, 'm');
  }
  /* Let A's poll (armed or not) reach the kernel. */
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(write(peer2, "g", 1), 1);
  run_until(&checked, 1);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(closes, 3);
  ck_assert_int_eq(b_writes, 1);
  ck_assert_msg(p2_ready, "B's byte did not reach its peer");
  ck_assert_msg(p1_recv == 0,
                "B's byte reached its peer before A's close did: recv on "
                "A's peer gave %d (%s)",
                p1_recv, p1_recv < 0 ? strerror(p1_errno) : "data");
  ck_assert_int_eq(read(peer2, &c, 1), 1);
  ck_assert_int_eq(c, 'x');
  close(peer1);
  close(peer2);
}
END_TEST

/* A listener whose accept op (io_uring: an armed multishot accept; epoll:
 * its watch) is out refuses connections as soon as uv_close returns, as
 * libuv's does: the op must not keep its socket listening. */
START_TEST(close_listener_refuses_at_once) {
  struct sockaddr_in addr;
  int fd;
  int r;

  use_backend(_i);
  closes = 0;
  naccepted = 0;
  start_listener(&addr);
  uv_run(&loop, UV_RUN_NOWAIT); /* the op reaches the kernel */
  uv_close((uv_handle_t *)&listener, on_close);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  r = connect(fd, (const struct sockaddr *)&addr, sizeof(addr));
  ck_assert_msg(r == -1 && errno == ECONNREFUSED,
                "connect to a closed listener: %d (%s)", r,
                r == 0 ? "connected" : strerror(errno));
  close(fd);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(closes, 1);
}
END_TEST


int main(void) {
  Suite *s = suite_create("order");
  TCase *tc = tcase_create("async");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, async_callbacks_run_in_init_order, 0, 4);
  tcase_add_loop_test(tc, async_many_run_in_init_order, 0, 4);
  tcase_add_loop_test(tc, async_large_walk_takes_own_sends_and_closes, 0, 4);
  tcase_add_loop_test(tc, async_sends_during_callbacks_follow_the_walk, 0,
                      2);
  tcase_add_loop_test(tc, async_thread_send_during_callback_not_lost, 0, 2);
  tcase_add_loop_test(tc, async_closed_during_walk_not_run, 0, 2);
  suite_add_tcase(s, tc);
  tc = tcase_create("close");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, close_then_write_keeps_peer_order, 0, 4);
  tcase_add_loop_test(tc, close_listener_refuses_at_once, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
