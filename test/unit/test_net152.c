/* Unit tests of the I/O side of libuv 1.45-1.52's additions, on both
 * backends: uv_pipe_bind2/uv_pipe_connect2 (abstract names, autobind,
 * truncation), uv_tcp_keepalive_ex, UV_TCP_REUSEPORT, UV_UDP_REUSEPORT,
 * uv_udp_open_ex, uv_udp_try_send2, UV_FS_UTIME_NOW/_OMIT,
 * UV_TTY_MODE_RAW_VT, UV_LOOP_USE_IO_URING_SQPOLL and uv_metrics_info. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

static int closed;
static void on_close(uv_handle_t *h) {
  (void)h;
  closed++;
}

static int sockopt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

static int fd_of(const void *h) {
  uv_os_fd_t fd = -1;
  ck_assert_int_eq(uv_fileno((const uv_handle_t *)h, &fd), 0);
  return fd;
}


/* ---- pipes ---- */

static int connect_status = 1;
static int accepted;
static uv_pipe_t pipe_server, pipe_client, pipe_peer;

static void on_connect(uv_connect_t *req, int status) {
  (void)req;
  connect_status = status;
  uv_close((uv_handle_t *)&pipe_client, on_close);
}

static void on_connection(uv_stream_t *server, int status) {
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uv_pipe_init(server->loop, &pipe_peer, 0), 0);
  ck_assert_int_eq(uv_accept(server, (uv_stream_t *)&pipe_peer), 0);
  accepted++;
  uv_close((uv_handle_t *)&pipe_peer, on_close);
  uv_close((uv_handle_t *)server, on_close);
}

/* A name with a leading NUL is a Linux abstract socket: its bytes (up to
 * namelen, NULs included) are the name, getsockname gives them back, and
 * uv_pipe_connect2 reaches it. */
START_TEST(pipe_bind2_abstract_name_round_trips) {
  char name[64];
  char buf[128];
  size_t len = sizeof(buf);
  size_t namelen;
  uv_connect_t req;
  uv_loop_t loop;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  memset(name, 0, sizeof(name));
  namelen = 1 + (size_t)snprintf(name + 1, sizeof(name) - 1,
                                 "bio-abstract-%d-%d", (int)getpid(), _i);
  name[namelen] = 'x'; /* beyond namelen: not part of the name */
  ck_assert_int_eq(uv_pipe_init(&loop, &pipe_server, 0), 0);
  ck_assert_int_eq(uv_pipe_bind2(&pipe_server, name, namelen, 0), 0);
  ck_assert_ptr_null(pipe_server.pipe_fname); /* nothing to unlink */
  ck_assert_int_eq(uv_pipe_getsockname(&pipe_server, buf, &len), 0);
  ck_assert_uint_eq(len, namelen);
  ck_assert_int_eq(memcmp(buf, name, namelen), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&pipe_server, 4, on_connection),
                   0);
  ck_assert_int_eq(uv_pipe_init(&loop, &pipe_client, 0), 0);
  closed = accepted = 0;
  connect_status = 1;
  ck_assert_int_eq(uv_pipe_connect2(&req, &pipe_client, name, namelen, 0,
                                    on_connect),
                   0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(connect_status, 0);
  ck_assert_int_eq(accepted, 1);
  ck_assert_int_eq(closed, 3);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* namelen 0: the kernel picks an abstract name (autobind), which
 * getsockname reports: a NUL and five hex digits. */
START_TEST(pipe_bind2_empty_name_autobinds) {
  char buf[128];
  size_t len = sizeof(buf);
  uv_loop_t loop;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &pipe_server, 0), 0);
  ck_assert_int_eq(uv_pipe_bind2(&pipe_server, "", 0, 0), 0);
  ck_assert_int_eq(uv_pipe_getsockname(&pipe_server, buf, &len), 0);
  ck_assert_uint_eq(len, 6);
  ck_assert_int_eq(buf[0], '\0');
  ck_assert_uint_eq(strspn(buf + 1, "0123456789abcdef"), 5);
  uv_close((uv_handle_t *)&pipe_server, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Bad names and flags are refused before anything happens; a path too
 * long is cut to fit sun_path unless UV_PIPE_NO_TRUNCATE; connecting to
 * nothing reports UV_EINVAL through the callback. */
START_TEST(pipe_bind2_connect2_argument_checks) {
  char path[512];
  char cut[sizeof(((struct sockaddr_un *)0)->sun_path)];
  uv_connect_t req;
  uv_loop_t loop;
  uv_pipe_t p;
  char *dir;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &p, 0), 0);
  ck_assert_int_eq(uv_pipe_bind2(&p, "bad\0path", 8, 0), UV_EINVAL);
  ck_assert_int_eq(uv_pipe_bind2(&p, "/tmp/x", 6, 2), UV_EINVAL);
  ck_assert_int_eq(uv_pipe_bind2(&p, NULL, 0, 0), UV_EINVAL);
  memset(path, '@', sizeof(path));
  ck_assert_int_eq(
      uv_pipe_bind2(&p, path, sizeof(path), UV_PIPE_NO_TRUNCATE), UV_EINVAL);
  ck_assert_int_eq(uv_pipe_connect2(&req, &p, path, sizeof(path),
                                    UV_PIPE_NO_TRUNCATE, NULL),
                   UV_EINVAL);
  ck_assert_int_eq(uv_pipe_connect2(&req, &p, "/tmp/x", 6, 4, NULL),
                   UV_EINVAL);
  /* Nothing was made of the refusals. */
  ck_assert_int_eq(uv_fileno((uv_handle_t *)&p, &(uv_os_fd_t){0}), UV_EBADF);

  /* Cut to fit: the path bound is the first sizeof(sun_path) - 1 bytes. */
  dir = strdup("/tmp/bio-pipe152-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  memset(path, 'a', sizeof(path));
  memcpy(path, dir, strlen(dir));
  path[strlen(dir)] = '/';
  ck_assert_int_eq(uv_pipe_bind2(&p, path, sizeof(path), 0), 0);
  memcpy(cut, path, sizeof(cut) - 1);
  cut[sizeof(cut) - 1] = '\0';
  ck_assert_str_eq(p.pipe_fname, cut);
  ck_assert_int_eq(access(cut, F_OK), 0);
  uv_close((uv_handle_t *)&p, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(access(cut, F_OK), -1); /* unlinked at close */
  ck_assert_int_eq(rmdir(dir), 0);
  free(dir);

  /* An empty name to connect to. */
  ck_assert_int_eq(uv_pipe_init(&loop, &pipe_client, 0), 0);
  connect_status = 1;
  closed = 0;
  ck_assert_int_eq(
      uv_pipe_connect2(&req, &pipe_client, "", 0, 0, on_connect), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(connect_status, UV_EINVAL);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


/* ---- TCP ---- */

/* All three keepalive settings reach the socket, now or when it arrives;
 * zeros are refused (the kernel would refuse them), except with "off". */
START_TEST(tcp_keepalive_ex_sets_idle_interval_count) {
  struct sockaddr_in addr;
  uv_loop_t loop;
  uv_tcp_t h, later;
  int fd;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_tcp_init_ex(&loop, &h, AF_INET), 0);
  fd = fd_of(&h);
  ck_assert_int_eq(uv_tcp_keepalive_ex(&h, 1, 60, 7, 3), 0);
  ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 60);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 7);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
  ck_assert_int_eq(uv_tcp_keepalive_ex(&h, 1, 0, 10, 10), UV_EINVAL);
  ck_assert_int_eq(uv_tcp_keepalive_ex(&h, 1, 10, 0, 10), UV_EINVAL);
  ck_assert_int_eq(uv_tcp_keepalive_ex(&h, 1, 10, 10, 0), UV_EINVAL);
  ck_assert_int_eq(uv_tcp_keepalive(&h, 1, 0), UV_EINVAL);
  ck_assert_int_eq(uv_tcp_keepalive(&h, 1, 45), 0);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 45);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 1);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 10);
  ck_assert_int_eq(uv_tcp_keepalive_ex(&h, 0, 0, 0, 0), 0);
  ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);

  /* Before the socket exists: applied when bind makes it. */
  ck_assert_int_eq(uv_tcp_init(&loop, &later), 0);
  ck_assert_int_eq(uv_tcp_keepalive_ex(&later, 1, 30, 5, 4), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ck_assert_int_eq(uv_tcp_bind(&later, (struct sockaddr *)&addr, 0), 0);
  fd = fd_of(&later);
  ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 5);
  ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
  uv_close((uv_handle_t *)&h, NULL);
  uv_close((uv_handle_t *)&later, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void no_connection(uv_stream_t *s, int status) {
  (void)s;
  (void)status;
  ck_abort_msg("no connection expected");
}

/* Two listeners on one port with UV_TCP_REUSEPORT; without it the second
 * one's listen reports the taken address. */
START_TEST(tcp_reuseport_lets_two_listeners_share_a_port) {
  struct sockaddr_in addr;
  int len = sizeof(addr);
  uv_loop_t loop;
  uv_tcp_t a, b, c;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &a), 0);
  ck_assert_int_eq(
      uv_tcp_bind(&a, (struct sockaddr *)&addr, UV_TCP_REUSEPORT), 0);
  ck_assert_int_eq(sockopt(fd_of(&a), SOL_SOCKET, SO_REUSEPORT), 1);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&a, 8, no_connection), 0);
  ck_assert_int_eq(uv_tcp_getsockname(&a, (struct sockaddr *)&addr, &len),
                   0);
  ck_assert_int_eq(uv_tcp_init(&loop, &b), 0);
  ck_assert_int_eq(
      uv_tcp_bind(&b, (struct sockaddr *)&addr, UV_TCP_REUSEPORT), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&b, 8, no_connection), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &c), 0);
  ck_assert_int_eq(uv_tcp_bind(&c, (struct sockaddr *)&addr, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&c, 8, no_connection),
                   UV_EADDRINUSE);
  ck_assert_int_eq(uv_tcp_bind(&c, (struct sockaddr *)&addr, 8), UV_EINVAL);
  uv_close((uv_handle_t *)&a, NULL);
  uv_close((uv_handle_t *)&b, NULL);
  uv_close((uv_handle_t *)&c, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


/* ---- UDP ---- */

/* UV_UDP_REUSEPORT at bind, and uv_udp_open_ex's flags: the options asked
 * for and no others (uv_udp_open keeps setting SO_REUSEADDR). */
START_TEST(udp_reuseport_and_open_ex_flags) {
  struct sockaddr_in addr;
  int len = sizeof(addr);
  uv_loop_t loop;
  uv_udp_t a, b, c, d;
  int s1, s2;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &a), 0);
  ck_assert_int_eq(
      uv_udp_bind(&a, (struct sockaddr *)&addr, UV_UDP_REUSEPORT), 0);
  ck_assert_int_eq(sockopt(fd_of(&a), SOL_SOCKET, SO_REUSEPORT), 1);
  ck_assert_int_eq(sockopt(fd_of(&a), SOL_SOCKET, SO_REUSEADDR), 0);
  ck_assert_int_eq(uv_udp_getsockname(&a, (struct sockaddr *)&addr, &len),
                   0);
  ck_assert_int_eq(uv_udp_init(&loop, &b), 0);
  ck_assert_int_eq(
      uv_udp_bind(&b, (struct sockaddr *)&addr, UV_UDP_REUSEPORT), 0);

  s1 = socket(AF_INET, SOCK_DGRAM, 0);
  s2 = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(s1, 0);
  ck_assert_int_ge(s2, 0);
  ck_assert_int_eq(uv_udp_init(&loop, &c), 0);
  ck_assert_int_eq(uv_udp_open_ex(&c, s1, UV_UDP_IPV6ONLY), UV_EINVAL);
  ck_assert_int_eq(uv_udp_open_ex(&c, s1, UV_UDP_REUSEPORT), 0);
  ck_assert_int_eq(sockopt(s1, SOL_SOCKET, SO_REUSEPORT), 1);
  ck_assert_int_eq(sockopt(s1, SOL_SOCKET, SO_REUSEADDR), 0);
  ck_assert_int_ne(fcntl(s1, F_GETFL) & O_NONBLOCK, 0);
  ck_assert_int_eq(uv_udp_init(&loop, &d), 0);
  ck_assert_int_eq(uv_udp_open(&d, s2), 0);
  ck_assert_int_eq(sockopt(s2, SOL_SOCKET, SO_REUSEADDR), 1);
  ck_assert_int_eq(sockopt(s2, SOL_SOCKET, SO_REUSEPORT), 0);
  uv_close((uv_handle_t *)&a, NULL);
  uv_close((uv_handle_t *)&b, NULL);
  uv_close((uv_handle_t *)&c, NULL);
  uv_close((uv_handle_t *)&d, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Several datagrams in one call, each with its own buffers and address,
 * arrive whole and in order; bad arguments are refused. */
START_TEST(udp_try_send2_sends_each_datagram) {
  struct sockaddr_in addr;
  struct sockaddr *addrs[3];
  uv_buf_t one[1], two[2], three[1];
  uv_buf_t *bufs[3] = {one, two, three};
  unsigned int nbufs[3] = {1, 2, 1};
  socklen_t alen = sizeof(addr);
  char got[16];
  uv_loop_t loop;
  uv_udp_t h;
  int rx, i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  rx = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_ge(rx, 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ck_assert_int_eq(bind(rx, (struct sockaddr *)&addr, sizeof(addr)), 0);
  ck_assert_int_eq(getsockname(rx, (struct sockaddr *)&addr, &alen), 0);
  for (i = 0; i < 3; i++)
    addrs[i] = (struct sockaddr *)&addr;
  one[0] = uv_buf_init("one", 3);
  two[0] = uv_buf_init("tw", 2);
  two[1] = uv_buf_init("o!", 2);
  three[0] = uv_buf_init("three", 5);

  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  ck_assert_int_eq(uv_udp_try_send2(&h, 0, bufs, nbufs, addrs, 0),
                   UV_EINVAL);
  ck_assert_int_eq(uv_udp_try_send2(&h, 3, bufs, nbufs, addrs, 1),
                   UV_EINVAL);
  ck_assert_int_eq(uv_udp_try_send2(&h, 3, bufs, nbufs, NULL, 0), UV_EINVAL);
  ck_assert_int_eq(uv_udp_try_send2(&h, 3, bufs, nbufs, addrs, 0), 3);
  ck_assert_int_eq(recv(rx, got, sizeof(got), 0), 3);
  ck_assert_int_eq(memcmp(got, "one", 3), 0);
  ck_assert_int_eq(recv(rx, got, sizeof(got), 0), 4);
  ck_assert_int_eq(memcmp(got, "two!", 4), 0);
  ck_assert_int_eq(recv(rx, got, sizeof(got), 0), 5);
  ck_assert_int_eq(memcmp(got, "three", 5), 0);
  close(rx);
  uv_close((uv_handle_t *)&h, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


static int errq_calls, errq_icmp, errq_plain_errors;
static struct sockaddr_in errq_offender;
static char errq_slab[65536];

static void errq_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  (void)size;
  *buf = uv_buf_init(errq_slab, sizeof(errq_slab));
}

static void errq_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                      const struct sockaddr *addr, unsigned flags) {
  (void)h;
  (void)buf;
  errq_calls++;
  if (nread < 0 && (flags & UV_UDP_LINUX_RECVERR)) {
    ck_assert_int_eq(nread, UV_ECONNREFUSED);
    ck_assert_ptr_nonnull(addr);
    memcpy(&errq_offender, addr, sizeof(errq_offender));
    errq_icmp++;
  } else if (nread < 0) {
    errq_plain_errors++;
  }
}

static void errq_send_cb(uv_udp_send_t *req, int status) {
  (void)req;
  (void)status;
}

static void errq_stop(uv_timer_t *t) {
  uv_close((uv_handle_t *)t->data, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

/* With UV_UDP_LINUX_RECVERR, the ICMP error a send met comes to recv_cb
 * from the socket's error queue (libuv 1.52): nread UV_ECONNREFUSED, the
 * address of the host that reported it, flags UV_UDP_LINUX_RECVERR. The
 * queue is read empty, so its POLLERR stops: before, the loop woke for it
 * again and again, calling recv_cb with nothing (over a million times in
 * libuv 1.52's udp_recvmsg_unreachable_error). */
START_TEST(udp_recverr_delivers_icmp_errors_and_drains_the_queue) {
  struct sockaddr_in me, nobody;
  uv_udp_send_t req;
  uv_buf_t buf = uv_buf_init("PING", 4);
  int len = sizeof(me);
  uv_loop_t loop;
  uv_timer_t timer;
  uv_udp_t h;
  int s;

  use_backend(_i);
  /* A port nobody listens on: bound, then closed. */
  s = socket(AF_INET, SOCK_DGRAM, 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &nobody), 0);
  ck_assert_int_eq(bind(s, (struct sockaddr *)&nobody, sizeof(nobody)), 0);
  ck_assert_int_eq(getsockname(s, (struct sockaddr *)&nobody,
                               &(socklen_t){sizeof(nobody)}),
                   0);
  close(s);

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &me), 0);
  ck_assert_int_eq(
      uv_udp_bind(&h, (struct sockaddr *)&me, UV_UDP_LINUX_RECVERR), 0);
  ck_assert_int_eq(uv_udp_getsockname(&h, (struct sockaddr *)&me, &len), 0);
  ck_assert_int_eq(uv_udp_recv_start(&h, errq_alloc, errq_recv), 0);
  ck_assert_int_eq(uv_udp_send(&req, &h, &buf, 1,
                               (struct sockaddr *)&nobody, errq_send_cb),
                   0);
  ck_assert_int_eq(uv_timer_init(&loop, &timer), 0);
  timer.data = &h;
  ck_assert_int_eq(uv_timer_start(&timer, errq_stop, 300, 0), 0);
  errq_calls = errq_icmp = errq_plain_errors = 0;
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(errq_icmp, 1);
  ck_assert_int_eq(errq_offender.sin_family, AF_INET);
  ck_assert_uint_eq(ntohl(errq_offender.sin_addr.s_addr), INADDR_LOOPBACK);
  ck_assert_int_le(errq_plain_errors, 1); /* the socket's own error */
  ck_assert_int_le(errq_calls, 6);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


/* ---- files, tty, loop ---- */

/* UV_FS_UTIME_OMIT leaves a time as it is; UV_FS_UTIME_NOW sets it to the
 * current time; -infinity has no meaning and is refused. */
START_TEST(fs_utime_now_and_omit) {
  char path[] = "/tmp/bio-utime-XXXXXX";
  struct stat st;
  uv_fs_t req;
  time_t before;
  int fd;

  use_backend(_i);
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(uv_fs_utime(NULL, &req, path, 1000.0, 2000.0, NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      uv_fs_utime(NULL, &req, path, UV_FS_UTIME_OMIT, 3000.0, NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_atime, 1000);
  ck_assert_int_eq(st.st_mtime, 3000);
  before = time(NULL);
  ck_assert_int_eq(
      uv_fs_futime(NULL, &req, fd, UV_FS_UTIME_NOW, UV_FS_UTIME_OMIT, NULL),
      0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_ge(st.st_atime, before);
  ck_assert_int_eq(st.st_mtime, 3000);
  ck_assert_int_eq(uv_fs_lutime(NULL, &req, path, -INFINITY, 1.0, NULL),
                   UV_EINVAL);
  uv_fs_req_cleanup(&req);
  close(fd);
  unlink(path);
}
END_TEST

/* On Unix UV_TTY_MODE_RAW_VT is raw mode: no echo, no line editing. */
START_TEST(tty_raw_vt_is_raw) {
  struct termios t;
  uv_loop_t loop;
  uv_tty_t tty;
  int master, slave;

  use_backend(_i);
  ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_tty_init(&loop, &tty, slave, 0), 0);
  ck_assert_int_eq(uv_tty_set_mode(&tty, UV_TTY_MODE_RAW_VT), 0);
  ck_assert_int_eq(tcgetattr(slave, &t), 0);
  ck_assert_int_eq(t.c_lflag & (ECHO | ICANON), 0);
  ck_assert_int_eq(uv_tty_set_mode(&tty, UV_TTY_MODE_NORMAL), 0);
  ck_assert_int_eq(tcgetattr(slave, &t), 0);
  ck_assert_int_ne(t.c_lflag & ICANON, 0);
  uv_close((uv_handle_t *)&tty, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(slave);
  close(master);
}
END_TEST

static uint64_t seen_loop_count[8];
static int prepares;

static void count_prepare(uv_prepare_t *p) {
  uv_metrics_t m;
  ck_assert_int_eq(uv_metrics_info(p->loop, &m), 0);
  seen_loop_count[prepares++] = m.loop_count;
  if (prepares == 3)
    uv_prepare_stop(p);
}

static void noop_timer(uv_timer_t *t) { (void)t; }

static int works_done;
static void work(uv_work_t *w) { (void)w; }
static void after_work(uv_work_t *w, int status) {
  (void)w;
  ck_assert_int_eq(status, 0);
  works_done++;
}

/* loop_count counts turns that reached the poll phase (a prepare callback
 * sees the turns before its own); events counts the callbacks the polls
 * ran; with idle time metered, events already there when a poll looked
 * count as waiting. The SQPOLL option is accepted. */
START_TEST(metrics_info_counts_turns_and_events) {
  uv_work_t w[3];
  uv_metrics_t m;
  uv_prepare_t p;
  uv_timer_t t;
  uv_loop_t loop;
  int i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_metrics_info(&loop, NULL), UV_EINVAL);
  ck_assert_int_eq(uv_loop_configure(&loop, UV_LOOP_USE_IO_URING_SQPOLL), 0);
  ck_assert_int_eq(uv_loop_configure(&loop, UV_METRICS_IDLE_TIME), 0);
  ck_assert_int_eq(uv_metrics_info(&loop, &m), 0);
  ck_assert_uint_eq(m.loop_count, 0);
  ck_assert_uint_eq(m.events, 0);

  prepares = 0;
  ck_assert_int_eq(uv_prepare_init(&loop, &p), 0);
  ck_assert_int_eq(uv_prepare_start(&p, count_prepare), 0);
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  ck_assert_int_eq(uv_timer_start(&t, noop_timer, 1, 1), 0);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_run(&loop, UV_RUN_ONCE), 1);
  ck_assert_int_eq(prepares, 3);
  ck_assert_uint_eq(seen_loop_count[0], 0);
  ck_assert_uint_eq(seen_loop_count[1], 1);
  ck_assert_uint_eq(seen_loop_count[2], 2);
  ck_assert_int_eq(uv_metrics_info(&loop, &m), 0);
  ck_assert_uint_eq(m.loop_count, 3);
  uv_timer_stop(&t);

  /* Three finished jobs wait for the loop before it looks. */
  works_done = 0;
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_queue_work(&loop, &w[i], work, after_work), 0);
  uv_sleep(100);
  ck_assert_int_eq(uv_metrics_info(&loop, &m), 0);
  {
    uint64_t events0 = m.events, waiting0 = m.events_waiting;
    ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 0);
    ck_assert_int_eq(works_done, 3);
    ck_assert_int_eq(uv_metrics_info(&loop, &m), 0);
    ck_assert_uint_ge(m.events - events0, 3);
    ck_assert_uint_eq(m.events_waiting - waiting0, m.events - events0);
    ck_assert_uint_eq(m.loop_count, 4);
  }
  uv_close((uv_handle_t *)&p, NULL);
  uv_close((uv_handle_t *)&t, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


int main(void) {
  Suite *s = suite_create("net152");
  TCase *tc = tcase_create("api");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, pipe_bind2_abstract_name_round_trips, 0, 2);
  tcase_add_loop_test(tc, pipe_bind2_empty_name_autobinds, 0, 2);
  tcase_add_loop_test(tc, pipe_bind2_connect2_argument_checks, 0, 2);
  tcase_add_loop_test(tc, tcp_keepalive_ex_sets_idle_interval_count, 0, 2);
  tcase_add_loop_test(tc, tcp_reuseport_lets_two_listeners_share_a_port, 0,
                      2);
  tcase_add_loop_test(tc, udp_reuseport_and_open_ex_flags, 0, 2);
  tcase_add_loop_test(tc, udp_try_send2_sends_each_datagram, 0, 2);
  tcase_add_loop_test(tc, udp_recverr_delivers_icmp_errors_and_drains_the_queue,
                      0, 2);
  tcase_add_loop_test(tc, fs_utime_now_and_omit, 0, 2);
  tcase_add_loop_test(tc, tty_raw_vt_is_raw, 0, 2);
  tcase_add_loop_test(tc, metrics_info_counts_turns_and_events, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
