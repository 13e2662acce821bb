/* Unit tests of uv_pipe_t on both backends: a listener made from a
 * descriptor the program bound itself (uv_pipe_open, as Node's
 * server.listen(handle), socket activation and uvloop's
 * create_unix_server(sock=...) do) accepts a connection that then
 * carries a byte each way. */
#include "config.h"

#include <check.h>
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

int main(void) {
  Suite *s = suite_create("pipe");
  TCase *tc = tcase_create("listen");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, pipe_listen_on_opened_bound_fd, 0, 4);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
