/* Unit tests of uv_pipe_t on both backends: a listener made from a
 * descriptor the program bound itself (uv_pipe_open, as Node's
 * server.listen(handle), socket activation and uvloop's
 * create_unix_server(sock=...) do) accepts a connection that then
 * carries a byte each way. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "exchange.h"
#include "check_run.h"
#include "thread_reads.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

static uv_pipe_t listener, accepted, client;
static uv_connect_t connect_req;

/* libuv's uv_listen on a pipe needs only a descriptor: it calls listen(2)
 * on whatever uv_pipe_open was given, bound (uv_pipe_bind never ran) or
 * listening already. _i: bit 0 the backend; bit 1 listening already. */
START_TEST(pipe_listen_on_opened_bound_fd) {
  struct sockaddr_un sun;
  uv_loop_t loop;
  int fds_before = ex_count_fds();
  int fd;

  use_backend(_i & 1);
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/bio-test-pipe-%d-%d",
           (int)getpid(), _i);
  unlink(sun.sun_path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  if (_i & 2)
    ck_assert_int_eq(listen(fd, 8), 0);

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &listener, 0), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &accepted, 0), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &client, 0), 0);
  ex_reset((uv_stream_t *)&listener, (uv_stream_t *)&accepted,
           (uv_stream_t *)&client);
  ck_assert_int_eq(uv_pipe_open(&listener, fd), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 8, ex_connection_cb),
                   0);
  uv_pipe_connect(&connect_req, &client, sun.sun_path, ex_connect_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ex_check();
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  /* The listener never owned the name (uv_pipe_bind did not make it). */
  ck_assert_int_eq(unlink(sun.sun_path), 0);
  ck_assert_int_eq(ex_count_fds(), fds_before);
}
END_TEST

static char pgot[4096];
static size_t npgot;
static int peof;

static void palloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char slab[65536];
  (void)h;
  (void)size;
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void pread_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    ck_assert_uint_le(npgot + (size_t)n, sizeof(pgot));
    memcpy(pgot + npgot, buf->base, (size_t)n);
    npgot += (size_t)n;
  } else if (n == UV_EOF) {
    peof = 1;
    uv_close((uv_handle_t *)s, NULL);
  } else {
    ck_assert_int_eq(n, 0);
  }
}

/* A pipe over a Unix stream socket (one end of a socketpair, as uv_spawn's
 * stdio pipes are) reads on io_uring with recv ops into the loop's
 * buffers, as TCP does: no read(2) for its messages (the polls it had
 * cost a read each); on epoll a read per message (which shows the count
 * counts). Every byte in order, then the EOF. */
START_TEST(socket_pipe_reads_without_read_calls) {
  int recv_ops = bio_test_recv_ops_expected(_i == 0);
  uv_loop_t loop;
  uv_pipe_t p;
  char out[30 * 10];
  long long before, reads;
  int sv[2];
  size_t i;

  use_backend(_i);
  for (i = 0; i < sizeof(out); i++)
    out[i] = (char)(i * 13 + 5);
  npgot = 0;
  peof = 0;
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &p, 0), 0);
  ck_assert_int_eq(uv_pipe_open(&p, sv[0]), 0);
  ck_assert_int_eq(uv_read_start((uv_stream_t *)&p, palloc_cb, pread_cb), 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  before = bio_test_thread_reads();
  for (i = 0; i < sizeof(out); i += 10) {
    ck_assert_int_eq(write(sv[1], out + i, 10), 10);
    while (npgot < i + 10)
      ck_assert_int_ne(uv_run(&loop, UV_RUN_ONCE), 0);
  }
  reads = bio_test_thread_reads() - before;
  if (recv_ops)
    ck_assert_int_le(reads, 15);
  else
    ck_assert_int_ge(reads, 30);
  close(sv[1]);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(peof, 1);
  ck_assert_uint_eq(npgot, sizeof(out));
  ck_assert_int_eq(memcmp(pgot, out, sizeof(out)), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pipe");
  TCase *tc = tcase_create("listen");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, pipe_listen_on_opened_bound_fd, 0, 4);
  suite_add_tcase(s, tc);
  tc = tcase_create("reads");
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, socket_pipe_reads_without_read_calls, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
