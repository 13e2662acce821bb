/* Unit tests of uv_udp_t and the address helpers, on both backends: echo
 * between two handles, send callbacks deferred to the loop, close with
 * queued sends (UV_ECANCELED before close_cb), try_send, truncation,
 * recvmmsg chunks, uv_udp_open of a descriptor another handle holds, and
 * the address a datagram from an unnamed sender comes with. */
#include "config.h"

#include <check.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "blitzio.h"
#include "uv.h"
#include "backend.h"
#include "check_run.h"
#include "thread_reads.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

static char slab[3 * 65536];
static int send_status[64];
static int nsend_cb;
static int close_cb_called;
static int close_saw_sends; /* nsend_cb when close_cb ran */

static void alloc_slab(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = sizeof(slab);
}

static void send_cb(uv_udp_send_t *req, int status) {
  (void)req;
  send_status[nsend_cb++] = status;
}

static void close_cb(uv_handle_t *h) {
  (void)h;
  close_cb_called++;
  close_saw_sends = nsend_cb;
}

static void bind_loopback(uv_udp_t *h, struct sockaddr_in *bound) {
  struct sockaddr_in addr;
  int len = sizeof(*bound);

  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  ck_assert_int_eq(uv_udp_bind(h, (struct sockaddr *)&addr, 0), 0);
  ck_assert_int_eq(uv_udp_getsockname(h, (struct sockaddr *)bound, &len), 0);
  ck_assert_int_eq(len, sizeof(*bound));
}

/* ---- echo ---- */

static uv_udp_t server, client;
static uv_udp_send_t echo_req, ping_req;
static char echoed[16];
static int server_got, client_got;

static void server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags) {
  uv_buf_t reply = uv_buf_init("PONG", 4);
  if (nread == 0) {
    ck_assert_ptr_null(addr);
    return;
  }
  ck_assert_int_eq(nread, 4);
  ck_assert_uint_eq(flags, 0);
  ck_assert_int_eq(memcmp(buf->base, "PING", 4), 0);
  server_got++;
  ck_assert_int_eq(uv_udp_send(&echo_req, h, &reply, 1, addr, send_cb), 0);
  ck_assert_int_eq(uv_udp_recv_stop(h), 0);
}

static void client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread == 0)
    return;
  ck_assert_ptr_nonnull(addr);
  ck_assert_int_eq(nread, 4);
  memcpy(echoed, buf->base, 4);
  client_got++;
  uv_close((uv_handle_t *)h, close_cb);
  uv_close((uv_handle_t *)&server, close_cb);
}

START_TEST(echo_between_two_handles) {
  uv_loop_t loop;
  struct sockaddr_in saddr;
  uv_buf_t ping = uv_buf_init("PING", 4);

  use_backend(_i);
  nsend_cb = close_cb_called = server_got = client_got = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &server), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &client), 0);
  bind_loopback(&server, &saddr);
  ck_assert_int_eq(uv_udp_recv_start(&server, alloc_slab, server_recv), 0);
  ck_assert_int_eq(uv_udp_recv_start(&server, alloc_slab, server_recv),
                   UV_EALREADY);
  ck_assert_int_eq(uv_udp_recv_start(&client, alloc_slab, client_recv), 0);
  ck_assert_int_eq(uv_udp_send(&ping_req, &client, &ping, 1,
                               (struct sockaddr *)&saddr, send_cb),
                   0);
  /* Never called synchronously, and counted until it is. */
  ck_assert_int_eq(nsend_cb, 0);
  ck_assert_uint_eq(uv_udp_get_send_queue_count(&client), 1);
  ck_assert_uint_eq(uv_udp_get_send_queue_size(&client), 4);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(server_got, 1);
  ck_assert_int_eq(client_got, 1);
  ck_assert_int_eq(memcmp(echoed, "PONG", 4), 0);
  ck_assert_int_eq(nsend_cb, 2);
  ck_assert_int_eq(send_status[0], 0);
  ck_assert_int_eq(send_status[1], 0);
  ck_assert_int_eq(close_cb_called, 2);
  ck_assert_uint_eq(client.send_queue_count, 0);
  ck_assert_uint_eq(client.send_queue_size, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- close with queued sends; try_send ---- */

START_TEST(close_cancels_queued_sends_before_close_cb) {
  uv_loop_t loop;
  uv_udp_t h;
  uv_udp_send_t reqs[3];
  char big[2048];
  uv_buf_t buf = uv_buf_init(big, sizeof(big));
  uv_buf_t three[3] = {uv_buf_init(big, 1), uv_buf_init(big, 2),
                       uv_buf_init(big, 3)};
  int sv[2];
  int i, r;

  use_backend(_i);
  nsend_cb = close_cb_called = close_saw_sends = 0;
  memset(big, 'x', sizeof(big));
  /* A datagram socketpair nobody reads fills up and then says EAGAIN,
   * which loopback UDP never does. */
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  ck_assert_int_eq(uv_udp_open(&h, sv[0]), 0);
  ck_assert_int_eq(uv_udp_open(&h, sv[0]), UV_EBUSY);
  /* Connected: an address is refused, none is fine. */
  ck_assert_int_eq(uv_udp_try_send(&h, &buf, 1, NULL), (int)sizeof(big));
  for (i = 0; i < 100000; i++) {
    r = uv_udp_try_send(&h, &buf, 1, NULL);
    if (r == UV_EAGAIN)
      break;
    ck_assert_int_eq(r, (int)sizeof(big));
  }
  ck_assert_int_eq(r, UV_EAGAIN);
  ck_assert_int_eq(uv_udp_send(&reqs[0], &h, &buf, 1, NULL, send_cb), 0);
  /* More than the inline buffers: the request keeps its own copy. */
  ck_assert_int_eq(uv_udp_send(&reqs[1], &h, three, 3, NULL, send_cb), 0);
  ck_assert_int_eq(uv_udp_send(&reqs[2], &h, &buf, 1, NULL, send_cb), 0);
  ck_assert_uint_eq(h.send_queue_count, 3);
  ck_assert_uint_eq(h.send_queue_size, 2 * sizeof(big) + 6);
  /* Queued sends: try_send must not overtake them. */
  ck_assert_int_eq(uv_udp_try_send(&h, &buf, 1, NULL), UV_EAGAIN);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 1);
  ck_assert_int_eq(nsend_cb, 0);
  uv_close((uv_handle_t *)&h, close_cb);
  ck_assert_int_eq(nsend_cb, 0); /* not from inside uv_close either */
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nsend_cb, 3);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(send_status[i], UV_ECANCELED);
  ck_assert_int_eq(close_cb_called, 1);
  ck_assert_int_eq(close_saw_sends, 3);
  ck_assert_uint_eq(h.send_queue_count, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  close(sv[1]);
}
END_TEST

START_TEST(try_send_and_argument_checks) {
  uv_loop_t loop;
  uv_udp_t a, b;
  uv_udp_send_t req;
  struct sockaddr_in baddr;
  uv_buf_t buf = uv_buf_init("hello", 5);
  int len = sizeof(baddr);

  use_backend(_i);
  nsend_cb = close_cb_called = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &a), 0);
  ck_assert_int_eq(uv_udp_init_ex(&loop, &b, AF_INET), 0);
  ck_assert_int_eq(uv_udp_init_ex(&loop, &b, 47), UV_EINVAL);
  ck_assert_int_eq(uv_udp_init_ex(&loop, &b, AF_INET | 1024), UV_EINVAL);
  bind_loopback(&b, &baddr);
  ck_assert_int_eq(uv_udp_try_send(&a, &buf, 1, NULL), UV_EDESTADDRREQ);
  ck_assert_int_eq(uv_udp_getpeername(&a, (struct sockaddr *)&baddr, &len),
                   UV_EBADF);
  ck_assert_int_eq(uv_udp_connect(&a, NULL), UV_ENOTCONN);
  /* The first send binds the handle to the wildcard address. */
  ck_assert_int_eq(uv_udp_try_send(&a, &buf, 1, (struct sockaddr *)&baddr), 5);
  ck_assert_int_eq(uv_udp_send(&req, &a, &buf, 1, (struct sockaddr *)&baddr,
                               send_cb),
                   0);
  /* Sent already, but its callback is owed: still counts as queued. */
  ck_assert_int_eq(uv_udp_try_send(&a, &buf, 1, (struct sockaddr *)&baddr),
                   UV_EAGAIN);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 0);
  ck_assert_int_eq(nsend_cb, 1);
  ck_assert_int_eq(send_status[0], 0);
  ck_assert_int_eq(uv_udp_connect(&a, (struct sockaddr *)&baddr), 0);
  ck_assert_int_eq(uv_udp_connect(&a, (struct sockaddr *)&baddr), UV_EISCONN);
  ck_assert_int_eq(uv_udp_try_send(&a, &buf, 1, (struct sockaddr *)&baddr),
                   UV_EISCONN);
  ck_assert_int_eq(uv_udp_try_send(&a, &buf, 1, NULL), 5);
  ck_assert_int_eq(uv_udp_connect(&a, NULL), 0);
  ck_assert_int_eq(uv_udp_set_ttl(&a, 0), UV_EINVAL);
  ck_assert_int_eq(uv_udp_set_ttl(&a, 64), 0);
  ck_assert_int_eq(uv_udp_set_multicast_ttl(&a, 256), UV_EINVAL);
  ck_assert_int_eq(uv_udp_set_broadcast(&a, 1), 0);
  uv_close((uv_handle_t *)&a, close_cb);
  uv_close((uv_handle_t *)&b, close_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(close_cb_called, 2);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- truncation and recvmmsg ---- */

static int got_partial, got_chunks, got_free, small_alloc;

static void alloc_small(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = 4;
  small_alloc++;
}

static void trunc_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                       const struct sockaddr *addr, unsigned flags) {
  (void)buf;
  if (nread == 0 && addr == NULL)
    return;
  ck_assert_int_eq(nread, 4);
  ck_assert_uint_eq(flags, UV_UDP_PARTIAL);
  got_partial++;
  uv_close((uv_handle_t *)h, close_cb);
}

START_TEST(truncated_datagram_is_partial) {
  uv_loop_t loop;
  uv_udp_t h;
  struct sockaddr_in addr;
  uv_buf_t buf = uv_buf_init("0123456789", 10);

  use_backend(_i);
  got_partial = close_cb_called = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  bind_loopback(&h, &addr);
  ck_assert_int_eq(uv_udp_recv_start(&h, alloc_small, trunc_recv), 0);
  ck_assert_int_eq(uv_udp_try_send(&h, &buf, 1, (struct sockaddr *)&addr), 10);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(got_partial, 1);
  ck_assert_int_eq(close_cb_called, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void mmsg_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                      const struct sockaddr *addr, unsigned flags) {
  if (flags & UV_UDP_MMSG_FREE) {
    ck_assert_int_eq(nread, 0);
    ck_assert_ptr_eq(buf->base, slab);
    got_free++;
    if (got_chunks == 3)
      uv_close((uv_handle_t *)h, close_cb);
    return;
  }
  if (nread == 0)
    return;
  ck_assert_uint_eq(flags & UV_UDP_MMSG_CHUNK, UV_UDP_MMSG_CHUNK);
  ck_assert_ptr_nonnull(addr);
  ck_assert_int_eq(nread, 3);
  got_chunks++;
}

START_TEST(recvmmsg_chunks_then_free) {
  uv_loop_t loop;
  uv_udp_t h;
  struct sockaddr_in addr;
  uv_buf_t buf = uv_buf_init("abc", 3);
  int i;

  use_backend(_i);
  got_chunks = got_free = close_cb_called = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init_ex(&loop, &h, AF_INET | UV_UDP_RECVMMSG), 0);
  ck_assert_int_eq(uv_udp_using_recvmmsg(&h), 1);
  bind_loopback(&h, &addr);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_udp_try_send(&h, &buf, 1, (struct sockaddr *)&addr),
                     3);
  ck_assert_int_eq(uv_udp_recv_start(&h, alloc_slab, mmsg_recv), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(got_chunks, 3);
  ck_assert_int_eq(got_free, 1);
  ck_assert_int_eq(close_cb_called, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A chunk's callback closes the handle (libuv's udp_mmsg does): the buffer
 * still comes back with UV_UDP_MMSG_FREE, or the user cannot free it. */
static void mmsg_close_on_chunk(uv_udp_t *h, ssize_t nread,
                                const uv_buf_t *buf,
                                const struct sockaddr *addr, unsigned flags) {
  (void)addr;
  if (flags & UV_UDP_MMSG_FREE) {
    ck_assert_int_eq(nread, 0);
    ck_assert_ptr_eq(buf->base, slab);
    got_free++;
    return;
  }
  if (nread == 0)
    return;
  got_chunks++;
  if (got_chunks == 2)
    uv_close((uv_handle_t *)h, close_cb);
}

START_TEST(recvmmsg_free_after_close_in_chunk) {
  uv_loop_t loop;
  uv_udp_t h;
  struct sockaddr_in addr;
  uv_buf_t buf = uv_buf_init("abc", 3);
  int i;

  use_backend(_i);
  got_chunks = got_free = close_cb_called = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init_ex(&loop, &h, AF_INET | UV_UDP_RECVMMSG), 0);
  bind_loopback(&h, &addr);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_udp_try_send(&h, &buf, 1, (struct sockaddr *)&addr),
                     3);
  ck_assert_int_eq(uv_udp_recv_start(&h, alloc_slab, mmsg_close_on_chunk), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(got_chunks, 2);
  ck_assert_int_eq(got_free, 1);
  ck_assert_int_eq(close_cb_called, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- uv_udp_open of a descriptor another handle holds ---- */

static uv_udp_t holder, opener, third;
static int opener_got;

static void opener_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags) {
  (void)addr;
  (void)flags;
  if (nread == 0)
    return;
  ck_assert_int_eq(nread, 2);
  ck_assert_int_eq(memcmp(buf->base, "hi", 2), 0);
  opener_got++;
  /* The fd is watched now: a third handle may not have it. */
  ck_assert_int_eq(uv_udp_open(&third, h->io_watcher.fd), UV_EEXIST);
  ck_assert_int_eq(uv_udp_recv_stop(h), 0);
}

/* Node's dgram with {fd}: the socket is bound by a handle that does not
 * receive. libuv counts a descriptor as taken only while a handle
 * watches it (receives, or waits to send), so the open succeeds; while
 * the second handle receives, a third is refused. */
START_TEST(udp_open_fd_bound_by_idle_handle) {
  uv_loop_t loop;
  struct sockaddr_in addr;
  uv_os_fd_t fd;
  int sender;

  use_backend(_i);
  opener_got = close_cb_called = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &holder), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &opener), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &third), 0);
  bind_loopback(&holder, &addr);
  ck_assert_int_eq(uv_fileno((uv_handle_t *)&holder, &fd), 0);
  ck_assert_int_eq(uv_udp_open(&opener, fd), 0);
  ck_assert_int_eq(uv_udp_recv_start(&opener, alloc_slab, opener_recv), 0);
  sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(sender, 0);
  ck_assert_int_eq(sendto(sender, "hi", 2, 0, (struct sockaddr *)&addr,
                          sizeof(addr)),
                   2);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(opener_got, 1);
  /* Nobody watches it again: the third handle may have it too. */
  ck_assert_int_eq(uv_udp_open(&third, fd), 0);
  close(sender);
  /* Three handles, one descriptor: only the first close may close it
   * (the others would close whatever took its number). */
  third.io_watcher.fd = -1;
  opener.io_watcher.fd = -1;
  uv_close((uv_handle_t *)&third, close_cb);
  uv_close((uv_handle_t *)&opener, close_cb);
  uv_close((uv_handle_t *)&holder, close_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(close_cb_called, 3);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- the address of a datagram from an unnamed sender ---- */

static int unnamed_got, named_got, unnamed_free;
static struct sockaddr_un named_addr;
static socklen_t named_len;

/* Fills stack below the caller with a pattern, so a sockaddr the library
 * leaves unwritten reads as garbage rather than as the zeroes a fresh
 * stack would happen to hold. */
static __attribute__((noinline)) void poison_stack(void) {
  volatile unsigned char junk[64 * 1024];
  size_t i;
  for (i = 0; i < sizeof(junk); i++)
    junk[i] = 0xa5;
}

/* An abstract AF_UNIX name (no file to clean up) unique to this process. */
static socklen_t abstract_name(struct sockaddr_un *sun, char tag) {
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "bio-udp-%d-%c",
           (int)getpid(), tag);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                     strlen(sun->sun_path + 1));
}

static int dgram_socket(const struct sockaddr_un *name, socklen_t len) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  if (name != NULL)
    ck_assert_int_eq(bind(fd, (const struct sockaddr *)name, len), 0);
  return fd;
}

static void unnamed_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags) {
  static const unsigned char zeroes[sizeof(struct sockaddr_in6)];
  char *data = buf->base;

  if (flags & UV_UDP_MMSG_FREE) {
    unnamed_free++;
    return;
  }
  if (nread == 0)
    return;
  ck_assert_int_eq(nread, 1);
  ck_assert_ptr_nonnull(addr);
  if (data[0] == 'n') {
    ck_assert_int_eq(addr->sa_family, AF_UNIX);
    ck_assert_int_eq(memcmp(addr, &named_addr, named_len), 0);
    named_got++;
  } else {
    /* libuv: a zeroed address, AF_UNSPEC (checked as far as every family
     * libuv hands out reaches). */
    ck_assert_int_eq(data[0], 'u');
    ck_assert_int_eq(addr->sa_family, AF_UNSPEC);
    ck_assert_int_eq(memcmp(addr, zeroes, sizeof(zeroes)), 0);
    unnamed_got++;
  }
  if (unnamed_got + named_got == 4)
    uv_close((uv_handle_t *)h, close_cb);
}

static void alloc_one(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = 65536; /* below recvmmsg's threshold: the plain path */
}

/* Datagrams from an unnamed sender (an unbound AF_UNIX socket, as one end
 * of a socketpair is) carry no address: recv_cb gets a zeroed one. They
 * alternate with a named sender's, whose address would linger in a reused
 * buffer, and the stack below is poisoned, so garbage shows either way.
 * _i: bit 0 the backend; bit 1 the recvmmsg path (slab has three slots:
 * a batch of three, then one of one), else one recvmsg per datagram. */
START_TEST(udp_recv_addr_zeroed_for_unnamed_sender) {
  struct sockaddr_un rname;
  socklen_t rlen;
  uv_loop_t loop;
  uv_udp_t h;
  int mmsg = (_i & 2) != 0;
  int named, unnamed;
  int i;

  use_backend(_i & 1);
  unnamed_got = named_got = unnamed_free = close_cb_called = 0;
  rlen = abstract_name(&rname, 'r');
  named_len = abstract_name(&named_addr, 'n');
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(
      uv_udp_init_ex(&loop, &h, AF_UNSPEC | (mmsg ? UV_UDP_RECVMMSG : 0)), 0);
  ck_assert_int_eq(uv_udp_open(&h, dgram_socket(&rname, rlen)), 0);
  named = dgram_socket(&named_addr, named_len);
  unnamed = dgram_socket(NULL, 0);
  for (i = 0; i < 2; i++) {
    ck_assert_int_eq(
        sendto(named, "n", 1, 0, (struct sockaddr *)&rname, rlen), 1);
    ck_assert_int_eq(
        sendto(unnamed, "u", 1, 0, (struct sockaddr *)&rname, rlen), 1);
  }
  ck_assert_int_eq(
      uv_udp_recv_start(&h, mmsg ? alloc_slab : alloc_one, unnamed_recv), 0);
  poison_stack();
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(named_got, 2);
  ck_assert_int_eq(unnamed_got, 2);
  ck_assert_int_eq(unnamed_free, mmsg ? 2 : 0);
  ck_assert_int_eq(close_cb_called, 1);
  close(named);
  close(unnamed);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- datagrams through io_uring's recvmsg op ---- */

/* The library's recvmsg and recvmmsg calls, counted here: the test
 * program's definitions, exported (Makefile.am), come before the C
 * library's for libuv.so.1. */
static int recvmsg_calls;

__attribute__((visibility("default"))) ssize_t recvmsg(int fd,
                                                       struct msghdr *m,
                                                       int flags) {
  __atomic_fetch_add(&recvmsg_calls, 1, __ATOMIC_RELAXED);
  return syscall(SYS_recvmsg, fd, m, flags);
}

__attribute__((visibility("default"))) int
recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
         struct timespec *t) {
  __atomic_fetch_add(&recvmsg_calls, 1, __ATOMIC_RELAXED);
  return (int)syscall(SYS_recvmmsg, fd, v, n, flags, t);
}

#define BURST 10
static char big_out[60000];
static size_t got_len[BURST + 4];
static int got_n, got_zero, stop_after;
static uv_udp_t *stopped;

static void alloc_64k(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char b[65536];
  (void)h;
  (void)suggested;
  buf->base = b;
  buf->len = sizeof(b);
}

static void burst_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                       const struct sockaddr *addr, unsigned flags) {
  ck_assert_int_ge(nread, 0);
  if (nread == 0) {
    ck_assert_ptr_null(addr);
    got_zero++;
    return;
  }
  ck_assert_ptr_nonnull(addr);
  ck_assert_uint_eq(flags, 0);
  ck_assert_int_lt(got_n, BURST + 4);
  got_len[got_n] = (size_t)nread;
  if ((size_t)nread == sizeof(big_out))
    ck_assert_int_eq(memcmp(buf->base, big_out, sizeof(big_out)), 0);
  else
    ck_assert_int_eq(buf->base[0], 'a' + got_n);
  got_n++;
  if (got_n == stop_after) {
    ck_assert_int_eq(uv_udp_recv_stop(h), 0);
    stopped = h;
  }
  if (got_n == BURST + 1)
    uv_close((uv_handle_t *)h, close_cb);
}

static void restart_reading(uv_timer_t *t) {
  ck_assert_ptr_nonnull(stopped);
  ck_assert_int_eq(uv_udp_recv_start(stopped, alloc_64k, burst_recv), 0);
  uv_close((uv_handle_t *)t, NULL);
}

/* A burst of datagrams, the largest 60,000 bytes, comes whole and in
 * order; reading stops in the middle of it (in recv_cb) and starts again
 * later, and the rest of the burst still comes, in order. On io_uring,
 * with BIO_UDP_RECV_OP=1, the loop makes no recvmsg call of its own: the
 * kernel received them (an armed multishot recvmsg). */
START_TEST(udp_burst_in_order_across_recv_stop) {
  struct sockaddr_in addr;
  uv_loop_t loop;
  uv_udp_t h, tx;
  uv_timer_t t;
  int i;

  use_backend(_i);
  setenv("BIO_UDP_RECV_OP", "1", 1); /* read once, in this test's process */
  got_n = got_zero = close_cb_called = 0;
  stop_after = 3;
  stopped = NULL;
  for (i = 0; i < (int)sizeof(big_out); i++)
    big_out[i] = (char)(i * 31 + 7);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &tx), 0);
  bind_loopback(&h, &addr);
  for (i = 0; i < BURST; i++) {
    char c = (char)('a' + i);
    uv_buf_t b = i == 5 ? uv_buf_init(big_out, sizeof(big_out))
                        : uv_buf_init(&c, 1);
    if (i == 5)
      big_out[0] = c; /* its first byte says its place too */
    ck_assert_int_eq(uv_udp_try_send(&tx, &b, 1, (struct sockaddr *)&addr),
                     (int)b.len);
  }
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  recvmsg_calls = 0;
  ck_assert_int_eq(uv_udp_recv_start(&h, alloc_64k, burst_recv), 0);
  /* Stopped after three: the timer starts it again 50 ms on, and one
   * datagram more comes after the burst (then the handle closes). */
  for (i = 0; stopped == NULL && i < 1000; i++)
    (void)uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(got_n, 3);
  ck_assert_int_eq(uv_timer_start(&t, restart_reading, 50, 0), 0);
  {
    uv_buf_t b = uv_buf_init("z", 1);
    char c = (char)('a' + BURST);
    b.base = &c;
    ck_assert_int_eq(uv_udp_try_send(&tx, &b, 1, (struct sockaddr *)&addr),
                     1);
  }
  uv_close((uv_handle_t *)&tx, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(got_n, BURST + 1);
  for (i = 0; i < BURST + 1; i++)
    ck_assert_uint_eq(got_len[i], i == 5 ? sizeof(big_out) : 1);
  ck_assert_int_eq(close_cb_called, 1);
  if (bio_test_recv_ops_expected(_i == 0))
    ck_assert_int_eq(recvmsg_calls, 0);
  else
    ck_assert_int_gt(recvmsg_calls, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Reading stops with datagrams left on the op, and the handle closes:
 * they go (no leak under ASan, no callback). */
START_TEST(udp_close_with_datagrams_left) {
  struct sockaddr_in addr;
  uv_loop_t loop;
  uv_udp_t h, tx;
  int i;

  use_backend(_i);
  setenv("BIO_UDP_RECV_OP", "1", 1);
  got_n = got_zero = close_cb_called = 0;
  stop_after = 1;
  stopped = NULL;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &h), 0);
  ck_assert_int_eq(uv_udp_init(&loop, &tx), 0);
  bind_loopback(&h, &addr);
  for (i = 0; i < 5; i++) {
    char c = (char)('a' + i);
    uv_buf_t b = uv_buf_init(&c, 1);
    ck_assert_int_eq(uv_udp_try_send(&tx, &b, 1, (struct sockaddr *)&addr),
                     1);
  }
  ck_assert_int_eq(uv_udp_recv_start(&h, alloc_64k, burst_recv), 0);
  for (i = 0; stopped == NULL && i < 1000; i++)
    (void)uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(got_n, 1);
  uv_close((uv_handle_t *)&h, close_cb);
  uv_close((uv_handle_t *)&tx, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(got_n, 1);
  ck_assert_int_eq(close_cb_called, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


/* ---- addresses ---- */

START_TEST(address_helpers) {
  struct sockaddr_in6 a6;
  struct sockaddr_in a4;
  char text[64];
  size_t size;

  (void)_i;
  ck_assert_int_eq(uv_ip6_addr("fe80::1%lo", 7, &a6), 0);
  ck_assert_uint_eq(a6.sin6_scope_id, if_nametoindex("lo"));
  ck_assert_int_eq(uv_ip6_addr("fe80::1%5", 7, &a6), 0);
  ck_assert_uint_eq(a6.sin6_scope_id, 5);
  ck_assert_int_eq(uv_ip6_name(&a6, text, sizeof(text)), 0);
  ck_assert_str_eq(text, "fe80::1");
  ck_assert_int_eq(uv_ip6_addr("fe80::zz", 7, &a6), UV_EINVAL);
  ck_assert_int_eq(uv_ip4_addr("10.1.2.3", 80, &a4), 0);
  ck_assert_int_eq(uv_ip_name((struct sockaddr *)&a4, text, sizeof(text)), 0);
  ck_assert_str_eq(text, "10.1.2.3");
  ck_assert_int_eq(uv_ip4_name(&a4, text, 4), UV_ENOSPC);
  ck_assert_int_eq(uv_inet_pton(AF_UNIX, "x", text), UV_EAFNOSUPPORT);
  size = sizeof(text);
  ck_assert_int_eq(uv_if_indextoname(if_nametoindex("lo"), text, &size), 0);
  ck_assert_str_eq(text, "lo");
  ck_assert_uint_eq(size, 2);
  size = 2;
  ck_assert_int_eq(uv_if_indextoname(if_nametoindex("lo"), text, &size),
                   UV_ENOBUFS);
  ck_assert_uint_eq(size, 3);
}
END_TEST

START_TEST(interface_addresses_include_loopback) {
  uv_interface_address_t *ifs;
  int n, i, loopback = 0;

  (void)_i;
  ck_assert_int_eq(uv_interface_addresses(&ifs, &n), 0);
  for (i = 0; i < n; i++)
    if (ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET)
      loopback++;
  ck_assert_int_ge(loopback, 1);
  uv_free_interface_addresses(ifs, n);
}
END_TEST

int main(void) {
  Suite *s = suite_create("udp");
  TCase *tc = tcase_create("uv");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, echo_between_two_handles, 0, 2);
  tcase_add_loop_test(tc, close_cancels_queued_sends_before_close_cb, 0, 2);
  tcase_add_loop_test(tc, try_send_and_argument_checks, 0, 2);
  tcase_add_loop_test(tc, truncated_datagram_is_partial, 0, 2);
  tcase_add_loop_test(tc, recvmmsg_chunks_then_free, 0, 2);
  tcase_add_loop_test(tc, recvmmsg_free_after_close_in_chunk, 0, 2);
  tcase_add_loop_test(tc, udp_open_fd_bound_by_idle_handle, 0, 2);
  tcase_add_loop_test(tc, udp_recv_addr_zeroed_for_unnamed_sender, 0, 4);
  tcase_add_loop_test(tc, udp_burst_in_order_across_recv_stop, 0, 2);
  tcase_add_loop_test(tc, udp_close_with_datagrams_left, 0, 2);
  tcase_add_loop_test(tc, address_helpers, 0, 1);
  tcase_add_loop_test(tc, interface_addresses_include_loopback, 0, 1);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
