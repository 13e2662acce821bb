/* A one-byte exchange over a listening stream, shared by the unit tests
 * of TCP and pipe listeners: the listener accepts into `accepted`, the
 * client writes 'x', the accepted end reads it and answers 'y', the
 * client reads that and everything closes. The caller sets up the three
 * handles, starts uv_listen with ex_connection_cb and the client's
 * connect with ex_connect_cb, runs the loop and calls ex_check. */
#ifndef BIO_TEST_EXCHANGE_H
#define BIO_TEST_EXCHANGE_H

#include <check.h>
#include <dirent.h>

#include "uv.h"

static uv_stream_t *ex_listener, *ex_accepted, *ex_client;
static uv_write_t ex_wreq, ex_wreq_back;
static char ex_rbuf[2][16];
static char ex_server_got, ex_client_got;
static int ex_closed;

static void ex_reset(uv_stream_t *listener, uv_stream_t *accepted,
                     uv_stream_t *client) {
  ex_listener = listener;
  ex_accepted = accepted;
  ex_client = client;
  ex_server_got = ex_client_got = 0;
  ex_closed = 0;
}


static void ex_close_cb(uv_handle_t *h) {
  (void)h;
  ex_closed++;
}


static void ex_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  buf->base = ex_rbuf[(uv_stream_t *)h == ex_client];
  buf->len = sizeof(ex_rbuf[0]);
}


static void ex_write_cb(uv_write_t *req, int status) {
  (void)req;
  ck_assert_int_eq(status, 0);
}


static void ex_client_read(uv_stream_t *s, ssize_t nread,
                           const uv_buf_t *buf) {
  if (nread == 0)
    return;
  ck_assert_int_eq(nread, 1);
  ex_client_got = buf->base[0];
  uv_close((uv_handle_t *)s, ex_close_cb);
  uv_close((uv_handle_t *)ex_accepted, ex_close_cb);
  uv_close((uv_handle_t *)ex_listener, ex_close_cb);
}


static void ex_server_read(uv_stream_t *s, ssize_t nread,
                           const uv_buf_t *buf) {
  uv_buf_t back = uv_buf_init("y", 1);

  if (nread == 0)
    return;
  ck_assert_int_eq(nread, 1);
  ex_server_got = buf->base[0];
  ck_assert_int_eq(uv_read_stop(s), 0);
  ck_assert_int_eq(uv_write(&ex_wreq_back, s, &back, 1, ex_write_cb), 0);
}


static void ex_connection_cb(uv_stream_t *listener, int status) {
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uv_accept(listener, ex_accepted), 0);
  ck_assert_int_eq(uv_read_start(ex_accepted, ex_alloc, ex_server_read), 0);
}


static void ex_connect_cb(uv_connect_t *req, int status) {
  uv_buf_t out = uv_buf_init("x", 1);

  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uv_write(&ex_wreq, req->handle, &out, 1, ex_write_cb), 0);
  ck_assert_int_eq(uv_read_start(req->handle, ex_alloc, ex_client_read), 0);
}


static void ex_check(void) {
  ck_assert_int_eq(ex_server_got, 'x');
  ck_assert_int_eq(ex_client_got, 'y');
  ck_assert_int_eq(ex_closed, 3);
}


/* Open descriptors of this process (to see that a test leaks none). */
static int ex_count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;

  ck_assert_ptr_nonnull(d);
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

#endif
