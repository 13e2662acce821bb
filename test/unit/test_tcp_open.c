/* Unit tests of TCP handles whose socket comes later than the handle, on
 * both backends: a listener from uv_tcp_open of a socket the program
 * bound (or set listening) itself accepts a connection that carries a
 * byte each way; options set on a handle with no socket yet
 * (uv_tcp_nodelay, uv_tcp_keepalive) are on the socket once it arrives,
 * whichever way it does (uv_tcp_open, bind, connect, uv_accept); keepalive
 * probes on libuv 1.44's schedule. */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "exchange.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

static uv_tcp_t listener, accepted, client;
static uv_connect_t connect_req;


/* A loopback socket bound to a free port; its address in *addr. */
static int bound_socket(struct sockaddr_in *addr) {
  socklen_t len = sizeof(*addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, addr), 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
  return fd;
}


/* libuv lets uv_listen take any socket uv_tcp_open was given: bound by
 * the program, or listening already. _i: bit 0 the backend; bit 1
 * listening already. */
START_TEST(tcp_listen_on_opened_bound_fd) {
  struct sockaddr_in addr;
  uv_loop_t loop;
  int fds_before = ex_count_fds();
  int fd;

  use_backend(_i & 1);
  fd = bound_socket(&addr);
  if (_i & 2)
    ck_assert_int_eq(listen(fd, 8), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &listener), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &accepted), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &client), 0);
  ex_reset((uv_stream_t *)&listener, (uv_stream_t *)&accepted,
           (uv_stream_t *)&client);
  ck_assert_int_eq(uv_tcp_open(&listener, fd), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 8, ex_connection_cb),
                   0);
  ck_assert_int_eq(uv_tcp_connect(&connect_req, &client,
                                  (struct sockaddr *)&addr, ex_connect_cb),
                   0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ex_check();
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(ex_count_fds(), fds_before);
}
END_TEST


/* ---- options set before the socket exists ---- */

enum { VIA_OPEN, VIA_BIND, VIA_CONNECT, VIA_ACCEPT };

#define KEEPIDLE_S 77

static int closes;


static void count_close(uv_handle_t *h) {
  (void)h;
  closes++;
}


/* A handle with no socket yet, asked for both options. */
static void init_with_opts(uv_loop_t *loop, uv_tcp_t *h) {
  uv_os_fd_t fd;

  ck_assert_int_eq(uv_tcp_init_ex(loop, h, AF_UNSPEC), 0);
  ck_assert_int_eq(uv_fileno((uv_handle_t *)h, &fd), UV_EBADF);
  ck_assert_int_eq(uv_tcp_nodelay(h, 1), 0);
  ck_assert_int_eq(uv_tcp_keepalive(h, 1, KEEPIDLE_S), 0);
}


static int sockopt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
  return v;
}


static void check_opts(uv_tcp_t *h) {
  uv_os_fd_t fd;

  ck_assert_int_eq(uv_fileno((uv_handle_t *)h, &fd), 0);
  ck_assert_int_ne(sockopt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
  ck_assert_int_ne(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), KEEPIDLE_S);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 1);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 10);
}


static void accept_with_opts(uv_stream_t *server, int status) {
  ck_assert_int_eq(status, 0);
  init_with_opts(server->loop, &accepted);
  ck_assert_int_eq(uv_accept(server, (uv_stream_t *)&accepted), 0);
  check_opts(&accepted);
  uv_close((uv_handle_t *)&accepted, count_close);
  uv_close((uv_handle_t *)server, count_close);
}


static void connect_cb(uv_connect_t *req, int status) {
  (void)req;
  /* Closed at once: the connect may or may not have finished. */
  ck_assert(status == 0 || status == UV_ECANCELED);
}


/* libuv keeps the options in the handle's flags and sets them on the
 * socket whenever one arrives. _i: bit 0 the backend; bits 1-2 how the
 * socket arrives (VIA_*). */
START_TEST(tcp_options_applied_when_fd_arrives) {
  struct sockaddr_in addr;
  uv_loop_t loop;
  int via = _i >> 1;
  int fds_before = ex_count_fds();
  int raw = -1;
  int fd;

  use_backend(_i & 1);
  closes = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  switch (via) {
  case VIA_OPEN:
    init_with_opts(&loop, &client);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(uv_tcp_open(&client, fd), 0);
    check_opts(&client);
    uv_close((uv_handle_t *)&client, count_close);
    break;
  case VIA_BIND:
    init_with_opts(&loop, &client);
    ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    ck_assert_int_eq(uv_tcp_bind(&client, (struct sockaddr *)&addr, 0), 0);
    check_opts(&client);
    uv_close((uv_handle_t *)&client, count_close);
    break;
  case VIA_CONNECT:
    /* A listening socket to connect to, never accepted from. */
    fd = bound_socket(&addr);
    ck_assert_int_eq(listen(fd, 8), 0);
    init_with_opts(&loop, &client);
    ck_assert_int_eq(uv_tcp_connect(&connect_req, &client,
                                    (struct sockaddr *)&addr, connect_cb),
                     0);
    check_opts(&client);
    uv_close((uv_handle_t *)&client, count_close);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    close(fd);
    break;
  case VIA_ACCEPT:
    ck_assert_int_eq(uv_tcp_init(&loop, &listener), 0);
    ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    ck_assert_int_eq(uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0), 0);
    {
      int len = sizeof(addr);
      ck_assert_int_eq(
          uv_tcp_getsockname(&listener, (struct sockaddr *)&addr, &len), 0);
    }
    ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 8, accept_with_opts),
                     0);
    raw = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(raw, 0);
    /* Completes in the listener's backlog, before the loop runs. */
    ck_assert_int_eq(connect(raw, (struct sockaddr *)&addr, sizeof(addr)), 0);
    break;
  }
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closes, via == VIA_ACCEPT ? 2 : 1);
  if (raw != -1)
    close(raw);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(ex_count_fds(), fds_before);
}
END_TEST


/* uv_tcp_keepalive on a handle that has its socket: the idle time asked
 * for, then libuv 1.44's probe schedule (every second, ten probes), not
 * the kernel's default (75 s, nine); off turns SO_KEEPALIVE off. */
START_TEST(tcp_keepalive_probes_as_libuv) {
  uv_loop_t loop;
  uv_tcp_t h;
  uv_os_fd_t fd;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_tcp_init_ex(&loop, &h, AF_INET), 0);
  ck_assert_int_eq(uv_fileno((uv_handle_t *)&h, &fd), 0);
  ck_assert_int_eq(uv_tcp_keepalive(&h, 1, 33), 0);
  ck_assert_int_ne(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 33);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 1);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 10);
  ck_assert_int_eq(uv_tcp_keepalive(&h, 0, 0), 0);
  ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  uv_close((uv_handle_t *)&h, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


int main(void) {
  Suite *s = suite_create("tcp_open");
  TCase *tc = tcase_create("late socket");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, tcp_listen_on_opened_bound_fd, 0, 4);
  tcase_add_loop_test(tc, tcp_options_applied_when_fd_arrives, 0, 8);
  tcase_add_loop_test(tc, tcp_keepalive_probes_as_libuv, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
