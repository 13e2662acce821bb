/* Unit tests of TCP writes on both backends: a burst of uv_write calls in
 * one callback (which the stream gathers into few syscalls) arrives whole
 * and in order with every callback in order and status 0; a burst larger
 * than the socket buffer (partial gathered writes, then writability);
 * a burst followed at once by uv_close still delivers what libuv would
 * have written; uv_try_write after a burst keeps the order; a lone write
 * (an io_uring send op) then uv_close and a new fd at once reaches the
 * peer, not the new fd. And of reads: bytes and a FIN that came together
 * and take more reads than one wake-up's budget still end in UV_EOF; a
 * stream that stops answering (its armed poll gives way to one-shot
 * ones) loses no byte. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"
#include "thread_reads.h"

static const char *backends[] = {"uring", "epoll"};

/* _i: bit 0 the backend; bit 1 set: every lone write an io_uring send
 * op (BIO_STREAM_SEND_OP=2), else the default (only when other streams
 * wrote in the same batch). */
static void use_backend(int i) {
  bio_test_backend(backends[i & 1]);
  setenv("BIO_STREAM_SEND_OP", (i & 2) ? "2" : "1", 1);
}

/* One test's state: a listener and the accepted end read into got[]; the
 * client writes 4-byte big-endian sequence numbers. */
typedef struct {
  uv_write_t req;
  uint8_t bytes[4];
} seq_write;

static uv_loop_t loop;
static uv_tcp_t listener, server_end, client;
static uv_connect_t connect_req;
static uv_shutdown_t shutdown_req;
static seq_write *writes;
static unsigned nwrites;
static unsigned next_cb; /* write callbacks so far (they check the order) */
static int bad_cb;       /* a callback out of order or with an error */
static uint8_t *got;
static size_t ngot, got_cap;
static int eof_seen;
static int closes;
static int shutdown_status = 1;
static size_t queue_at_shutdown = 1;
static int try_write_result;
static int mode; /* what connect_cb does after the burst */
enum { THEN_SHUTDOWN, THEN_CLOSE, THEN_TRY_WRITE, THEN_CLOSE_REUSE };
static int reuse_pipe[2] = {-1, -1}; /* made right after the close */
static uint8_t marker[4] = {0xff, 0xfe, 0xfd, 0xfc};

static void on_close(uv_handle_t *h) {
  (void)h;
  closes++;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  if (ngot + suggested > got_cap) {
    got_cap = 2 * (ngot + suggested);
    got = realloc(got, got_cap);
    ck_assert_ptr_nonnull(got);
  }
  buf->base = (char *)got + ngot;
  buf->len = suggested;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n > 0) {
    ngot += (size_t)n;
    return;
  }
  if (n == UV_EOF) {
    eof_seen = 1;
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&listener, on_close);
  }
}

static void accept_and_read(uv_stream_t *l, int status, uv_alloc_cb a,
                            uv_read_cb r) {
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &server_end), 0);
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&server_end), 0);
  ck_assert_int_eq(uv_read_start((uv_stream_t *)&server_end, a, r), 0);
}

static void connection_cb(uv_stream_t *l, int status) {
  accept_and_read(l, status, alloc_cb, read_cb);
}

static void write_cb(uv_write_t *req, int status) {
  seq_write *w = (seq_write *)req;
  if (status != 0 || w != &writes[next_cb])
    bad_cb = 1;
  next_cb++;
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  shutdown_status = status;
  queue_at_shutdown = req->handle->write_queue_size;
  uv_close((uv_handle_t *)req->handle, on_close);
}

static void connect_cb(uv_connect_t *req, int status) {
  unsigned i;
  ck_assert_int_eq(status, 0);
  for (i = 0; i < nwrites; i++) {
    uv_buf_t b = uv_buf_init((char *)writes[i].bytes, 4);
    ck_assert_int_eq(uv_write(&writes[i].req, req->handle, &b, 1, write_cb),
                     0);
  }
  if (mode == THEN_TRY_WRITE) {
    uv_buf_t b = uv_buf_init((char *)marker, sizeof(marker));
    try_write_result = uv_try_write(req->handle, &b, 1);
  }
  if (mode == THEN_CLOSE_REUSE) {
    /* The pipe takes the socket's fd number: a send still naming the
     * number would land in it. */
    uv_close((uv_handle_t *)req->handle, on_close);
    ck_assert_int_eq(pipe2(reuse_pipe, O_NONBLOCK | O_CLOEXEC), 0);
  } else if (mode == THEN_CLOSE)
    uv_close((uv_handle_t *)req->handle, on_close);
  else
    ck_assert_int_eq(uv_shutdown(&shutdown_req, req->handle, shutdown_cb),
                     0);
}

/* The reading side's state, fresh for a test. */
static void reset_reader(void) {
  ngot = 0;
  got_cap = 0;
  got = NULL;
  eof_seen = 0;
  closes = 0;
}

/* A new loop with the listener on 127.0.0.1; *addr gets its address. */
static void start_listener(struct sockaddr_in *addr, uv_connection_cb cb) {
  int len = sizeof(*addr);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_tcp_init(&loop, &listener), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, addr), 0);
  ck_assert_int_eq(uv_tcp_bind(&listener, (struct sockaddr *)addr, 0), 0);
  ck_assert_int_eq(
      uv_tcp_getsockname(&listener, (struct sockaddr *)addr, &len), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 8, cb), 0);
}

static void run_burst(int backend, unsigned n, int then) {
  struct sockaddr_in addr;
  unsigned i;

  use_backend(backend);
  nwrites = n;
  mode = then;
  next_cb = 0;
  bad_cb = 0;
  reset_reader();
  shutdown_status = 1;
  queue_at_shutdown = 1;
  try_write_result = 0;
  writes = calloc(n, sizeof(*writes));
  ck_assert_ptr_nonnull(writes);
  for (i = 0; i < n; i++) {
    writes[i].bytes[0] = (uint8_t)(i >> 24);
    writes[i].bytes[1] = (uint8_t)(i >> 16);
    writes[i].bytes[2] = (uint8_t)(i >> 8);
    writes[i].bytes[3] = (uint8_t)i;
  }
  start_listener(&addr, connection_cb);
  ck_assert_int_eq(uv_tcp_init(&loop, &client), 0);
  ck_assert_int_eq(uv_tcp_connect(&connect_req, &client,
                                  (struct sockaddr *)&addr, connect_cb),
                   0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void check_sequence(size_t count) {
  size_t i;
  for (i = 0; i < count; i++) {
    uint32_t v = (uint32_t)got[4 * i] << 24 | (uint32_t)got[4 * i + 1] << 16 |
                 (uint32_t)got[4 * i + 2] << 8 | got[4 * i + 3];
    if (v != i)
      ck_abort_msg("byte %zu: sequence %u where %zu was due", 4 * i,
                   (unsigned)v, i);
  }
}

static void finish(void) {
  free(writes);
  free(got);
  writes = NULL;
  got = NULL;
}

START_TEST(burst_arrives_in_order) {
  run_burst(_i, 20000, THEN_SHUTDOWN);
  ck_assert_uint_eq(next_cb, 20000);
  ck_assert_int_eq(bad_cb, 0);
  ck_assert_int_eq(shutdown_status, 0);
  ck_assert_uint_eq(queue_at_shutdown, 0);
  ck_assert_int_eq(eof_seen, 1);
  ck_assert_uint_eq(ngot, 4u * 20000);
  check_sequence(20000);
  ck_assert_int_eq(closes, 3);
  finish();
}
END_TEST

/* 4 MiB in 4-byte writes: more than the socket takes at once, so gathered
 * writes come back short and the rest waits for writability. */
START_TEST(burst_beyond_socket_buffer) {
  unsigned n = 1024 * 1024;
  run_burst(_i, n, THEN_SHUTDOWN);
  ck_assert_uint_eq(next_cb, n);
  ck_assert_int_eq(bad_cb, 0);
  ck_assert_uint_eq(queue_at_shutdown, 0);
  ck_assert_uint_eq(ngot, 4u * n);
  check_sequence(n);
  finish();
}
END_TEST

/* uv_close right after the burst: the socket takes all 4000 bytes, which
 * libuv writes inside uv_write; none may be cancelled. */
START_TEST(burst_then_close_delivers) {
  run_burst(_i, 1000, THEN_CLOSE);
  ck_assert_uint_eq(next_cb, 1000);
  ck_assert_int_eq(bad_cb, 0);
  ck_assert_int_eq(eof_seen, 1);
  ck_assert_uint_eq(ngot, 4000);
  check_sequence(1000);
  ck_assert_int_eq(closes, 3);
  finish();
}
END_TEST

/* uv_try_write behind queued writes: all 4 bytes after them, or (the
 * first write still out as an io_uring send op) UV_EAGAIN and nothing. */
START_TEST(try_write_after_burst_keeps_order) {
  run_burst(_i, 500, THEN_TRY_WRITE);
  if ((_i & 1) == 1 || (_i & 2) == 0)
    ck_assert_int_eq(try_write_result, 4);
  else if (try_write_result != UV_EAGAIN)
    ck_assert_int_eq(try_write_result, 4);
  ck_assert_uint_eq(next_cb, 500);
  ck_assert_int_eq(bad_cb, 0);
  ck_assert_uint_eq(ngot, 4u * 500 + (try_write_result == 4 ? 4 : 0));
  check_sequence(500);
  if (try_write_result == 4)
    ck_assert_int_eq(memcmp(got + 4 * 500, marker, 4), 0);
  finish();
}
END_TEST

/* One write, then uv_close and a new fd (likely the socket's number) at
 * once: on io_uring the write is a send op not yet in the kernel; it must
 * reach the peer whole, status 0, and nothing may reach the new fd. */
START_TEST(write_then_close_reaches_peer) {
  char probe[16];
  run_burst(_i, 1, THEN_CLOSE_REUSE);
  ck_assert_uint_eq(next_cb, 1);
  ck_assert_int_eq(bad_cb, 0);
  ck_assert_int_eq(eof_seen, 1);
  ck_assert_uint_eq(ngot, 4);
  check_sequence(1);
  ck_assert_int_eq(read(reuse_pipe[0], probe, sizeof(probe)), -1);
  ck_assert_int_eq(errno, EAGAIN);
  close(reuse_pipe[0]);
  close(reuse_pipe[1]);
  finish();
}
END_TEST

/* The reads' own callbacks: small buffers, so that the bytes take many
 * reads; a guard timer ends a run that would wait for ever. */
#define SMALL_READ 1000

static uv_timer_t guard;
static int guard_fired;

static int no_buffer_once;

static void small_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  if (no_buffer_once) {
    no_buffer_once = 0;
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  alloc_cb(h, suggested < SMALL_READ ? suggested : SMALL_READ, buf);
}

/* The server end answers this many of its first bytes, one byte each: a
 * stream that answers its read wake-ups gets an armed poll. */
static size_t answer_first;

/* Knobs of the reads below: read_cb stops reading once ngot reaches
 * stop_at (0: never); alloc_cb gives no buffer once when no_buffer_once
 * is set; read_cb counts the UV_ENOBUFS it gets. */
static size_t stop_at;
static int enobufs_seen, stopped;

static void eof_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n == UV_ENOBUFS)
    enobufs_seen++;
  read_cb(s, n, buf);
  if (stop_at != 0 && n > 0 && ngot >= stop_at) {
    stop_at = 0;
    stopped = 1;
    ck_assert_int_eq(uv_read_stop(s), 0);
  }
  if (n > 0 && ngot <= answer_first) {
    uv_buf_t b = uv_buf_init((char *)marker, 1);
    ck_assert_int_eq(uv_try_write(s, &b, 1), 1);
  }
  if (n == UV_EOF)
    uv_close((uv_handle_t *)&guard, on_close);
}

static void eof_connection_cb(uv_stream_t *l, int status) {
  accept_and_read(l, status, small_alloc_cb, eof_read_cb);
}

static void guard_cb(uv_timer_t *t) {
  guard_fired = 1;
  uv_close((uv_handle_t *)t, on_close);
  uv_close((uv_handle_t *)&server_end, on_close);
  uv_close((uv_handle_t *)&listener, on_close);
}

/* Sends out[from..to) one chunk of `step` bytes at a time, each read on
 * its own wake-up before the next goes. */
static void send_one_by_one(int fd, const uint8_t *out, size_t from,
                            size_t to, size_t step) {
  size_t i;
  for (i = from; i < to; i += step) {
    size_t n = to - i < step ? to - i : step;
    ck_assert_int_eq(write(fd, out + i, n), (ssize_t)n);
    while (ngot < i + n && !guard_fired)
      uv_run(&loop, UV_RUN_ONCE);
    ck_assert_uint_eq(ngot, i + n);
  }
  uv_run(&loop, UV_RUN_NOWAIT); /* a re-armed poll reaches the kernel */
}

/* A plain client connected to the listener, with the guard running; out
 * gets total patterned bytes. */
static int start_reads_test(int backend, uint8_t *out, size_t total,
                            size_t answered) {
  struct sockaddr_in addr;
  size_t i;
  int fd;

  ck_assert_ptr_nonnull(out);
  for (i = 0; i < total; i++)
    out[i] = (uint8_t)(i * 7 + 1);
  use_backend(backend);
  reset_reader();
  guard_fired = 0;
  answer_first = answered;
  stop_at = 0;
  no_buffer_once = 0;
  enobufs_seen = 0;
  stopped = 0;
  start_listener(&addr, eof_connection_cb);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  ck_assert_int_eq(uv_timer_init(&loop, &guard), 0);
  ck_assert_int_eq(uv_timer_start(&guard, guard_cb, 5000, 0), 0);
  return fd;
}

/* Sends out[sent..total) at once with the FIN; the reads end in UV_EOF
 * with every byte in order and the three handles closed. */
static void finish_reads_shut(int fd, uint8_t *out, size_t sent,
                              size_t total, int shut_already) {
  if (!shut_already) {
    ck_assert_int_eq(write(fd, out + sent, total - sent),
                     (ssize_t)(total - sent));
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
  }
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(fd);
  ck_assert_int_eq(guard_fired, 0);
  ck_assert_int_eq(eof_seen, 1);
  ck_assert_uint_eq(ngot, total);
  ck_assert_int_eq(memcmp(got, out, total), 0);
  ck_assert_int_eq(closes, 3);
  free(out);
  free(got);
  got = NULL;
}

static void finish_reads_test(int fd, uint8_t *out, size_t sent,
                              size_t total) {
  finish_reads_shut(fd, out, sent, total, 0);
}

/* A plain client sends three single bytes, each read on its own wake-up
 * and answered, after which the stream's poll stays armed; then, all
 * before the loop runs again, 40 small reads' worth and a few bytes more,
 * and a shutdown: the armed poll's wake-ups merge into one that carries
 * bytes and the hang-up at once, and no later one comes. The reads
 * outlast one wake-up's budget; the last one is short. */
START_TEST(eof_after_many_reads) {
  const size_t total = 3 + 40 * SMALL_READ + 7;
  uint8_t *out = malloc(total);
  int fd = start_reads_test(_i, out, total, 3);

  send_one_by_one(fd, out, 0, 3, 1);
  finish_reads_test(fd, out, 3, total);
}
END_TEST

/* The same armed stream then only reads: chunks one wake-up each, none
 * answered, so that its armed poll is cancelled and one-shot polls take
 * over; not a byte is lost or reordered across the change, and more
 * chunks, then a burst with the FIN, still end in UV_EOF. */
START_TEST(sink_after_answers) {
  const size_t total = 3 + 12 * 100 + 20 * SMALL_READ;
  uint8_t *out = malloc(total);
  int fd = start_reads_test(_i, out, total, 3);

  send_one_by_one(fd, out, 0, 3, 1);
  send_one_by_one(fd, out, 3, 3 + 12 * 100, 100);
  finish_reads_test(fd, out, 3 + 12 * 100, total);
}
END_TEST

/* Sends total - first bytes after first answered ones, `step` at a
 * time, each read on its own wake-up; returns the read(2) calls the
 * thread made meanwhile. Every byte in order, then the EOF, follow. */
static long long reads_for_messages(int backend, size_t first, size_t total,
                                    size_t step, size_t answered) {
  uint8_t *out = malloc(total);
  int fd = start_reads_test(backend, out, total, answered);
  long long before;

  send_one_by_one(fd, out, 0, first, 1);
  before = bio_test_thread_reads();
  send_one_by_one(fd, out, first, total, step);
  before = bio_test_thread_reads() - before;
  finish_reads_test(fd, out, total, total);
  return before;
}

/* A stream that converses (each message answered) reads on io_uring with
 * an armed recv op: the kernel receives, and the loop makes no read(2)
 * per message, where the answered poll's wake-up cost one each. On epoll
 * a read per message it is (which shows the count counts). Every byte
 * still arrives in order, and the EOF after it. */
START_TEST(conversing_stream_reads_without_read_calls) {
  long long reads = reads_for_messages(_i, 3, 3 + 200, 1, 3 + 200);
  if (bio_test_recv_ops_expected((_i & 1) == 0))
    ck_assert_int_le(reads, 20);
  else
    ck_assert_int_ge(reads, 200);
}
END_TEST

/* A stream that has not conversed yet (nothing answered: a request that
 * came in pieces, a peer that only talks) reads on io_uring with one-shot
 * recv ops into the loop's buffers: no read(2) for its messages either
 * (the one-shot polls it had cost a read each). */
START_TEST(fresh_stream_reads_without_read_calls) {
  long long reads = reads_for_messages(_i, 0, 40 * 10, 10, 0);
  if (bio_test_recv_ops_expected((_i & 1) == 0))
    ck_assert_int_le(reads, 15);
  else
    ck_assert_int_ge(reads, 40);
}
END_TEST

/* A fresh stream whose first recv comes back full (a bulk sender) goes
 * over to polls and reads of alloc_cb's size, then gets small messages
 * and the FIN: every byte in order, then the EOF. */
START_TEST(bulk_then_small_keeps_every_byte_in_order) {
  const size_t burst = 32 * 1024;
  const size_t total = burst + 10 * 7;
  uint8_t *out = malloc(total);
  int fd = start_reads_test(_i, out, total, 0);

  send_one_by_one(fd, out, 0, burst, burst);
  send_one_by_one(fd, out, burst, total, 7);
  finish_reads_test(fd, out, total, total);
}
END_TEST

/* The conversing stream stops reading in read_cb with bytes of the same
 * arrival still to hand over (3000 came with the FIN; read_cb takes 1000
 * at a time): nothing more reaches read_cb while it is stopped, and when
 * it starts again the rest comes first, in order, then the EOF. */
START_TEST(stopped_with_bytes_left_gets_them_after_restart) {
  const size_t total = 3 + 3000;
  uint8_t *out = malloc(total);
  int fd = start_reads_test(_i, out, total, 3);
  size_t seen;
  int i;

  send_one_by_one(fd, out, 0, 3, 1);
  stop_at = 3 + SMALL_READ;
  ck_assert_int_eq(write(fd, out + 3, total - 3), (ssize_t)(total - 3));
  ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
  while (!stopped && !guard_fired)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(stopped, 1);
  seen = ngot;
  ck_assert_uint_ge(seen, 3 + SMALL_READ);
  ck_assert_uint_lt(seen, total);
  for (i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(ngot, seen);
  ck_assert_int_eq(eof_seen, 0);
  ck_assert_int_eq(uv_read_start((uv_stream_t *)&server_end, small_alloc_cb,
                                 eof_read_cb),
                   0);
  finish_reads_shut(fd, out, total, total, 1);
}
END_TEST

/* alloc_cb gives no buffer once in the middle of a conversation:
 * read_cb hears UV_ENOBUFS, and the bytes that were waiting come at the
 * next turn, in order. */
START_TEST(no_buffer_once_loses_no_byte) {
  const size_t total = 3 + 500 + 100;
  uint8_t *out = malloc(total);
  int fd = start_reads_test(_i, out, total, 3);

  send_one_by_one(fd, out, 0, 3, 1);
  no_buffer_once = 1;
  send_one_by_one(fd, out, 3, 3 + 500, 500);
  ck_assert_int_eq(enobufs_seen, 1);
  finish_reads_test(fd, out, 3 + 500, total);
}
END_TEST

/* ---- accepting ---- */

/* Connections made before the loop runs: they wait in the backlog
 * together (the listener's backlog is 8), and on io_uring one armed
 * accept takes them all at once. */
#define NCONN 8

static uv_tcp_t conns[NCONN];
static int clients[NCONN];
static int nconn_cb, naccepted;
static int accept_mode; /* ACCEPT_NOW, ACCEPT_LATER or CLOSE_UNACCEPTED */
static uv_timer_t accept_timer;
enum { ACCEPT_NOW, ACCEPT_LATER, CLOSE_UNACCEPTED, SENT_FIRST, FORKED_FIRST };

static uv_pipe_t ipc;
static uv_write_t ipc_req;
static int ipc_status = 1;

static void ipc_write_cb(uv_write_t *req, int status) {
  ipc_status = status;
  uv_close((uv_handle_t *)req->handle, on_close);
}

/* The listener goes over an IPC pipe to a peer that never reads it (its
 * end closes unread, dropping the descriptor): shared from then on. */
static int send_listener(void) {
  int sv[2];
  uv_buf_t b = uv_buf_init((char *)marker, 1);
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                   0);
  ck_assert_int_eq(uv_pipe_init(&loop, &ipc, 1), 0);
  ck_assert_int_eq(uv_pipe_open(&ipc, sv[0]), 0);
  ck_assert_int_eq(uv_write2(&ipc_req, (uv_stream_t *)&ipc, &b, 1,
                             (uv_stream_t *)&listener, ipc_write_cb),
                   0);
  return sv[1];
}

static unsigned short port_of(const struct sockaddr_in *a) {
  return ntohs(a->sin_port);
}

/* Takes the waiting connection: the clients connected in order, and the
 * connections come in that order. */
static void accept_one(uv_stream_t *l) {
  struct sockaddr_in peer, mine;
  int len = sizeof(peer);
  socklen_t slen = sizeof(mine);
  int i;

  ck_assert_int_lt(naccepted, NCONN);
  ck_assert_int_eq(uv_tcp_init(&loop, &conns[naccepted]), 0);
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&conns[naccepted]), 0);
  ck_assert_int_eq(uv_tcp_getpeername(&conns[naccepted],
                                      (struct sockaddr *)&peer, &len),
                   0);
  ck_assert_int_eq(
      getsockname(clients[naccepted], (struct sockaddr *)&mine, &slen), 0);
  ck_assert_uint_eq(port_of(&peer), port_of(&mine));
  naccepted++;
  if (naccepted < NCONN)
    return;
  for (i = 0; i < NCONN; i++)
    uv_close((uv_handle_t *)&conns[i], on_close);
  uv_close((uv_handle_t *)&listener, on_close);
  uv_close((uv_handle_t *)&accept_timer, on_close);
}

static void accept_timer_cb(uv_timer_t *t) {
  accept_one((uv_stream_t *)t->data);
}

/* One callback per connection, and none while one waits for uv_accept. */
static void queue_connection_cb(uv_stream_t *l, int status) {
  ck_assert_int_eq(status, 0);
  nconn_cb++;
  ck_assert_int_eq(nconn_cb, naccepted + 1);
  switch (accept_mode) {
  case ACCEPT_NOW:
  case SENT_FIRST:
  case FORKED_FIRST:
    accept_one(l);
    break;
  case ACCEPT_LATER:
    accept_timer.data = l;
    ck_assert_int_eq(uv_timer_start(&accept_timer, accept_timer_cb, 2, 0),
                     0);
    break;
  default:
    uv_close((uv_handle_t *)l, on_close);
    uv_close((uv_handle_t *)&accept_timer, on_close);
  }
}

static int count_fds(void) {
  int n = 0;
  char path[64];
  int fd;
  for (fd = 0; fd < 1024; fd++) {
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n += access(path, F_OK) == 0;
  }
  return n;
}

static void run_accepts(int backend, int mode) {
  struct sockaddr_in addr;
  int fds_before;
  int i;

  /* The library's process-wide descriptors (made at the first loop's
   * start) are there before the count. */
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  fds_before = count_fds();
  use_backend(backend);
  nconn_cb = naccepted = 0;
  closes = 0;
  accept_mode = mode;
  int peer = -1;
  start_listener(&addr, queue_connection_cb);
  ck_assert_int_eq(uv_timer_init(&loop, &accept_timer), 0);
  if (mode == SENT_FIRST) {
    ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 1); /* armed */
    peer = send_listener();
  }
  if (mode == FORKED_FIRST) {
    /* A child that could accept on the socket too (it only exits). */
    pid_t pid;
    int status;
    ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 1); /* armed */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
      _exit(0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  }
  for (i = 0; i < NCONN; i++) {
    clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(clients[i], 0);
    ck_assert_int_eq(
        connect(clients[i], (struct sockaddr *)&addr, sizeof(addr)), 0);
  }
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  for (i = 0; i < NCONN; i++)
    close(clients[i]);
  if (peer != -1) {
    close(peer);
    ck_assert_int_eq(ipc_status, 0);
    closes--; /* the pipe's */
  }
  if (mode == CLOSE_UNACCEPTED) {
    ck_assert_int_eq(nconn_cb, 1);
    ck_assert_int_eq(closes, 2);
  } else {
    ck_assert_int_eq(nconn_cb, NCONN);
    ck_assert_int_eq(naccepted, NCONN);
    ck_assert_int_eq(closes, NCONN + 2);
  }
  /* Connections accepted and queued, never taken, were closed too. */
  ck_assert_int_eq(count_fds(), fds_before);
}

/* Connections that wait together each get a callback, in order. */
START_TEST(queued_connections_in_order) {
  run_accepts(_i, ACCEPT_NOW);
}
END_TEST

/* The callback leaves each for a timer to accept: no callback comes
 * while one waits, and each uv_accept brings the next. */
START_TEST(accept_later_one_by_one) {
  run_accepts(_i, ACCEPT_LATER);
}
END_TEST

/* Sent to another process once it accepts (an armed accept on io_uring,
 * which gives way to polls then): it accepts on, in order. */
START_TEST(accepts_after_being_sent) {
  run_accepts(_i, SENT_FIRST);
}
END_TEST

/* The same after a fork, when the socket may be shared too. */
START_TEST(accepts_after_fork) {
  run_accepts(_i, FORKED_FIRST);
}
END_TEST

/* Closed with connections waiting: no more callbacks, no fd left open. */
START_TEST(close_with_connections_waiting) {
  run_accepts(_i, CLOSE_UNACCEPTED);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tcp");
  TCase *tc = tcase_create("writes");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, burst_arrives_in_order, 0, 4);
  tcase_add_loop_test(tc, burst_beyond_socket_buffer, 0, 4);
  tcase_add_loop_test(tc, burst_then_close_delivers, 0, 4);
  tcase_add_loop_test(tc, try_write_after_burst_keeps_order, 0, 4);
  tcase_add_loop_test(tc, write_then_close_reaches_peer, 0, 4);
  suite_add_tcase(s, tc);
  tc = tcase_create("reads");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, eof_after_many_reads, 0, 2);
  tcase_add_loop_test(tc, sink_after_answers, 0, 2);
  tcase_add_loop_test(tc, conversing_stream_reads_without_read_calls, 0, 2);
  tcase_add_loop_test(tc, fresh_stream_reads_without_read_calls, 0, 2);
  tcase_add_loop_test(tc, bulk_then_small_keeps_every_byte_in_order, 0, 2);
  tcase_add_loop_test(tc, stopped_with_bytes_left_gets_them_after_restart, 0,
                      2);
  tcase_add_loop_test(tc, no_buffer_once_loses_no_byte, 0, 2);
  suite_add_tcase(s, tc);
  tc = tcase_create("accepts");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, queued_connections_in_order, 0, 2);
  tcase_add_loop_test(tc, accept_later_one_by_one, 0, 2);
  tcase_add_loop_test(tc, close_with_connections_waiting, 0, 2);
  tcase_add_loop_test(tc, accepts_after_being_sent, 0, 2);
  tcase_add_loop_test(tc, accepts_after_fork, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
