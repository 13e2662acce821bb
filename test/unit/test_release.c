/* Unit tests, on both backends, that a socket whose handle we stop or
 * close is released before the call returns, as libuv's is. On io_uring
 * an op in the kernel (a poll) holds the socket's file: close(2) of the
 * fd alone would leave the socket open until the op's cancel landed, a
 * turn later. uv_poll_t: the program owns the fd and closes it right
 * after uv_poll_stop (or uv_close of the handle), as uvloop does; the
 * peer must see EOF at once, a listener must refuse at once. uv_udp_t:
 * after uv_close (receiving, or after recv_stop) the port is free for a
 * new socket at once. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
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
static int poll_calls;

static void on_close(uv_handle_t *h) {
  (void)h;
  closes++;
}


/* A listening TCP socket on 127.0.0.1, an ephemeral port (in *addr). */
static int listen_any(struct sockaddr_in *addr) {
  socklen_t len = sizeof(*addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  ck_assert_int_ge(fd, 0);
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
  ck_assert_int_eq(listen(fd, 8), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
  return fd;
}


/* A connected TCP pair of plain sockets. */
static void tcp_pair(int *mine, int *peer) {
  struct sockaddr_in addr;
  int lfd = listen_any(&addr);

  *peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(*peer, 0);
  ck_assert_int_eq(
      connect(*peer, (struct sockaddr *)&addr, sizeof(addr)), 0);
  *mine = accept(lfd, NULL, NULL);
  ck_assert_int_ge(*mine, 0);
  close(lfd);
}


static void poll_cb(uv_poll_t *h, int status, int events) {
  char c;
  ck_assert_int_eq(status, 0);
  ck_assert(events & UV_READABLE);
  /* Drain the byte, so the re-armed poll waits in the kernel. */
  ck_assert_int_eq(recv(h->io_watcher.fd, &c, 1, MSG_DONTWAIT), 1);
  poll_calls++;
}


/* Stops h the way variant asks (bit 1: uv_close, else uv_poll_stop). */
static void stop_poll(uv_poll_t *h, int variant) {
  if (variant & 2)
    uv_close((uv_handle_t *)h, on_close);
  else
    ck_assert_int_eq(uv_poll_stop(h), 0);
}


static void finish_loop(uv_poll_t *h, int variant) {
  if (!(variant & 2))
    uv_close((uv_handle_t *)h, on_close);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(closes, 1);
}


/* A connected socket under a started uv_poll_t whose op is in the kernel
 * (bit 2: after one callback, re-armed); the program stops the handle
 * (bit 1: uv_close), then closes the fd: the peer reads EOF at once. */
START_TEST(poll_stop_then_close_releases_socket) {
  uv_poll_t h;
  int mine, peer;
  ssize_t r;
  char c;

  use_backend(_i);
  closes = poll_calls = 0;
  tcp_pair(&mine, &peer);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_poll_init_socket(&loop, &h, mine), 0);
  ck_assert_int_eq(uv_poll_start(&h, UV_READABLE, poll_cb), 0);
  if (_i & 4) {
    ck_assert_int_eq(send(peer, "m", 1, 0), 1);
    while (poll_calls == 0)
      uv_run(&loop, UV_RUN_ONCE);
  }
  uv_run(&loop, UV_RUN_NOWAIT); /* the poll reaches the kernel */
  stop_poll(&h, _i);
  close(mine);
  r = recv(peer, &c, 1, MSG_DONTWAIT);
  ck_assert_msg(r == 0, "recv on the peer of a closed socket: %zd (%s)", r,
                r < 0 ? strerror(errno) : "data");
  finish_loop(&h, _i);
  close(peer);
}
END_TEST


/* A listening socket under a started uv_poll_t (op in the kernel): once
 * the program has stopped the handle (bit 1: uv_close) and closed the
 * fd, connections are refused at once, and the port may be bound anew. */
START_TEST(poll_stop_then_close_listener_refuses) {
  struct sockaddr_in addr;
  uv_poll_t h;
  int lfd, fd;
  int r;

  use_backend(_i);
  closes = poll_calls = 0;
  lfd = listen_any(&addr);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_poll_init_socket(&loop, &h, lfd), 0);
  ck_assert_int_eq(uv_poll_start(&h, UV_READABLE, poll_cb), 0);
  uv_run(&loop, UV_RUN_NOWAIT); /* the poll reaches the kernel */
  stop_poll(&h, _i);
  close(lfd);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  r = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
  ck_assert_msg(r == -1 && errno == ECONNREFUSED,
                "connect to a closed listener: %d (%s)", r,
                r == 0 ? "connected" : strerror(errno));
  close(fd);
  /* Nothing else listens there: the port is free for a new socket. */
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
  ck_assert_msg(r == 0, "bind to the closed listener's port: %s",
                strerror(errno));
  close(fd);
  ck_assert_int_eq(poll_calls, 0);
  finish_loop(&h, _i);
}
END_TEST


static char udp_buf[64];

static void udp_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  (void)size;
  *buf = uv_buf_init(udp_buf, sizeof(udp_buf));
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                     const struct sockaddr *addr, unsigned flags) {
  (void)h;
  (void)n;
  (void)buf;
  (void)addr;
  (void)flags;
}


/* A receiving UDP handle (its poll in the kernel), bound without
 * UV_UDP_REUSEADDR; uv_close (bit 1: after uv_udp_recv_stop; bit 2: with
 * a send's callback still owed) frees the port before it returns: a new
 * socket binds it before the loop runs again, as with libuv. */
START_TEST(udp_close_then_rebind_same_port) {
  struct sockaddr_in addr;
  int len = sizeof(addr);
  uv_udp_send_t req;
  uv_buf_t b = uv_buf_init("d", 1);
  uv_udp_t h;
  int fd, r;

  use_backend(_i);
  closes = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ck_assert_int_eq(uv_udp_bind(&h, (struct sockaddr *)&addr, 0), 0);
  ck_assert_int_eq(uv_udp_getsockname(&h, (struct sockaddr *)&addr, &len),
                   0);
  ck_assert_int_eq(uv_udp_recv_start(&h, udp_alloc, udp_recv), 0);
  uv_run(&loop, UV_RUN_NOWAIT); /* the poll reaches the kernel */
  if (_i & 2)
    ck_assert_int_eq(uv_udp_recv_stop(&h), 0);
  if (_i & 4) {
    /* To a port nobody reads: sent at once, its callback deferred. */
    struct sockaddr_in to = addr;
    to.sin_port = htons(9);
    ck_assert_int_eq(
        uv_udp_send(&req, &h, &b, 1, (struct sockaddr *)&to, NULL), 0);
  }
  uv_close((uv_handle_t *)&h, on_close);
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
  ck_assert_msg(r == 0, "bind to the closed UDP handle's port: %s",
                strerror(errno));
  close(fd);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(closes, 1);
}
END_TEST


int main(void) {
  Suite *s = suite_create("release");
  TCase *tc = tcase_create("release");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, poll_stop_then_close_releases_socket, 0, 8);
  tcase_add_loop_test(tc, poll_stop_then_close_listener_refuses, 0, 4);
  tcase_add_loop_test(tc, udp_close_then_rebind_same_port, 0, 8);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
