/* Unit tests of uv_backend_fd and of a loop that changes threads, on both
 * backends: asking for the backend fd loses nothing in flight (a stream's
 * read, a poll handle, a listener's accept, an fs read); the embedding
 * pattern (poll(2) the fd with uv_backend_timeout, then
 * uv_run(UV_RUN_NOWAIT)) delivers I/O, timers and async sends, and leaves
 * the fd quiet once nothing is left; a loop run on one thread and then on
 * another still completes what it had started on the first; an embedder
 * that deletes a descriptor from the epoll fd behind our back (uvloop)
 * does not blind the loop. Each run has a watchdog timer: what a lost op
 * would hang fails instead. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

#define CONNS 2

/* A stream reading one end of a socketpair (the test writes the other), a
 * poll handle on another, a TCP listener the test connects to, and an fs
 * read of a pipe the test writes. */
typedef struct {
  uv_loop_t loop;
  uv_pipe_t reader;
  uv_poll_t poller;
  uv_tcp_t server;
  uv_tcp_t conns[CONNS];
  uv_fs_t fs_req;
  uv_timer_t watchdog;
  uv_timer_t timer;
  uv_async_t async;
  int peer;      /* the reader's peer */
  int poll_peer; /* the poller's peer */
  int poll_fd;
  int fs_pipe[2];
  int clients[CONNS];
  int port;
  char got[64];
  size_t ngot;
  size_t want;
  int polled;
  int accepted;
  char fs_buf[16];
  ssize_t fs_res; /* -1 until the read's callback */
  int timed;
  int asynced;
  int sockets_only; /* no listener, no fs read (the fork test) */
  int in_child;
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


static int all_arrived(void) {
  return fx.ngot >= fx.want && fx.polled &&
         (fx.sockets_only || (fx.accepted == CONNS && fx.fs_res >= 0));
}


static void done_if_complete(void) {
  if (all_arrived() && !uv_is_closing((uv_handle_t *)&fx.watchdog))
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


static void connection_cb(uv_stream_t *server, int status) {
  uv_tcp_t *c;
  ck_assert_int_eq(status, 0);
  ck_assert_int_lt(fx.accepted, CONNS);
  c = &fx.conns[fx.accepted];
  ck_assert_int_eq(uv_tcp_init(&fx.loop, c), 0);
  ck_assert_int_eq(uv_accept(server, (uv_stream_t *)c), 0);
  fx.accepted++;
  done_if_complete();
}


static void fs_read_cb(uv_fs_t *req) {
  fx.fs_res = req->result;
  uv_fs_req_cleanup(req);
  ck_assert_int_eq(fx.fs_res, 2);
  done_if_complete();
}


/* A lost op leaves the loop waiting for ever, and closing its handle
 * would wait for the op too: fail at once. */
static void watchdog_cb(uv_timer_t *t) {
  (void)t;
  if (fx.in_child)
    _exit(3);
  ck_abort_msg("watchdog: no progress in 5 s (ngot %zu, polled %d, "
               "accepted %d, fs read %zd)",
               fx.ngot, fx.polled, fx.accepted, fx.fs_res);
}


/* Connects client i to the listener (the kernel completes the handshake
 * from the backlog, before any accept). */
static void connect_client(int i) {
  struct sockaddr_in sa;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)fx.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  fx.clients[i] = fd;
}


/* The sources, each with something on its way, for tests that do not
 * care when it comes. */
static void feed_all(void) {
  int i;
  fx.want = 6;
  ck_assert_int_eq(write(fx.peer, "abcdef", 6), 6);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  for (i = 0; i < CONNS; i++)
    connect_client(i);
  ck_assert_int_eq(write(fx.fs_pipe[1], "fs", 2), 2);
}


/* A loop with a stream reading, a poll handle waiting, a listener
 * accepting and an fs read, all handed to the backend by one turn; the
 * watchdog unref'd so it never keeps the loop alive by itself. */
static void setup_with(int backend, int sockets_only) {
  struct sockaddr_in sa;
  struct sockaddr_storage name;
  int namelen = sizeof(name);
  uv_buf_t buf;
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
  fx.sockets_only = sockets_only;
  if (sockets_only)
    goto watchdog;
  ck_assert_int_eq(uv_tcp_init(&fx.loop, &fx.server), 0);
  ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
  ck_assert_int_eq(uv_tcp_bind(&fx.server, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&fx.server, 8, connection_cb),
                   0);
  ck_assert_int_eq(
      uv_tcp_getsockname(&fx.server, (struct sockaddr *)&name, &namelen), 0);
  fx.port = ntohs(((struct sockaddr_in *)&name)->sin_port);
  /* A blocking pipe: on io_uring the read waits in the kernel. */
  ck_assert_int_eq(pipe2(fx.fs_pipe, O_CLOEXEC), 0);
  fx.fs_res = -1;
  buf = uv_buf_init(fx.fs_buf, sizeof(fx.fs_buf));
  ck_assert_int_eq(
      uv_fs_read(&fx.loop, &fx.fs_req, fx.fs_pipe[0], &buf, 1, -1, fs_read_cb),
      0);
watchdog:
  ck_assert_int_eq(uv_timer_init(&fx.loop, &fx.watchdog), 0);
  ck_assert_int_eq(uv_timer_start(&fx.watchdog, watchdog_cb, 5000, 0), 0);
  uv_unref((uv_handle_t *)&fx.watchdog);
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_NOWAIT), 1);
}


static void setup(int backend) { setup_with(backend, 0); }


static void teardown(void) {
  int i;
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
  close(fx.peer);
  close(fx.poll_peer);
  close(fx.poll_fd);
  ck_assert_uint_eq(fx.ngot, fx.want);
  ck_assert_int_eq(memcmp(fx.got, "abcdef", fx.want), 0);
  ck_assert_int_eq(fx.polled, 1);
  if (fx.sockets_only)
    return;
  close(fx.fs_pipe[0]);
  close(fx.fs_pipe[1]);
  for (i = 0; i < CONNS; i++)
    close(fx.clients[i]);
  ck_assert_int_eq(fx.accepted, CONNS);
  ck_assert_int_eq(fx.fs_res, 2);
  ck_assert_int_eq(memcmp(fx.fs_buf, "fs", 2), 0);
}


/* uv_backend_fd once rebuilt the io_uring ring and dropped every op it
 * held: the read, the poll, the accept and the fs read never completed
 * (uvloop's loop.close() hung on it). One connection waits in the
 * backlog when the fd is asked for, one comes after. */
START_TEST(backend_fd_keeps_ops_in_flight) {
  int fd;
  setup(_i);
  connect_client(0);
  fd = uv_backend_fd(&fx.loop);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(uv_backend_fd(&fx.loop), fd);
  fx.want = 6;
  ck_assert_int_eq(write(fx.peer, "abcdef", 6), 6);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  connect_client(1);
  ck_assert_int_eq(write(fx.fs_pipe[1], "fs", 2), 2);
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_backend_fd(&fx.loop), fd); /* for the loop's life */
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
  connect_client(0);
  connect_client(1);
  ck_assert_int_eq(write(fx.fs_pipe[1], "fs", 2), 2);
  for (turns = 0; turns < 1000; turns++) {
    if (fx.ngot == 3 && fx.timed && fx.asynced && fx.polled &&
        fx.accepted == CONNS && fx.fs_res >= 0)
      break;
    readable(fd, uv_backend_timeout(&fx.loop));
    uv_run(&fx.loop, UV_RUN_NOWAIT);
  }
  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  ck_assert_uint_eq(fx.ngot, 3);
  ck_assert_int_eq(fx.timed, 1);
  ck_assert_int_eq(fx.asynced, 1);
  ck_assert_int_eq(fx.polled, 1);
  ck_assert_int_eq(fx.accepted, CONNS);
  ck_assert_int_eq(fx.fs_res, 2);
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
 * rebuild once dropped the read, the poll, the accept and the fs read
 * handed to the kernel on the first thread. Some of each source comes
 * before the move, the rest after. */
START_TEST(loop_moved_to_thread_keeps_ops) {
  pthread_t thread;

  setup(_i);
  fx.want = 6;
  ck_assert_int_eq(write(fx.peer, "abc", 3), 3);
  connect_client(0);
  ck_assert_int_eq(pthread_create(&thread, NULL, run_loop, NULL), 0);
  usleep(20000);
  ck_assert_int_eq(write(fx.peer, "def", 3), 3);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  connect_client(1);
  ck_assert_int_eq(write(fx.fs_pipe[1], "fs", 2), 2);
  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  teardown();
}
END_TEST


/* The same, with the loop's backend fd asked for first (an embedder whose
 * loop then moves): the registration of the fd moves with the ring. */
START_TEST(loop_moved_to_thread_after_backend_fd) {
  pthread_t thread;
  int fd;

  setup(_i);
  fd = uv_backend_fd(&fx.loop);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(pthread_create(&thread, NULL, run_loop, NULL), 0);
  usleep(20000);
  feed_all();
  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  ck_assert_int_eq(uv_backend_fd(&fx.loop), fd);
  teardown();
}
END_TEST


static void *ask_backend_fd(void *arg) {
  *(int *)arg = uv_backend_fd(&fx.loop);
  return NULL;
}


/* uv_backend_fd from a thread other than the one running the loop: an
 * io_uring ring with one submitter takes the eventfd's registration only
 * from that one, at its next turn (until then the fd is readable); after
 * it the fd wakes the embedder for everything. */
START_TEST(backend_fd_asked_from_other_thread) {
  pthread_t thread;
  int fd = -1, turns;

  setup(_i);
  ck_assert_int_eq(pthread_create(&thread, NULL, ask_backend_fd, &fd), 0);
  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  ck_assert_int_ge(fd, 0);
  feed_all();
  for (turns = 0; turns < 1000 && !all_arrived(); turns++) {
    readable(fd, uv_backend_timeout(&fx.loop));
    uv_run(&fx.loop, UV_RUN_NOWAIT);
  }
  ck_assert(all_arrived());
  ck_assert_int_eq(uv_backend_fd(&fx.loop), fd);
  teardown();
}
END_TEST


/* uvloop's poll stop: uv_poll_stop, then epoll_ctl(EPOLL_CTL_DEL) of the
 * descriptor on uv_backend_fd, errors ignored (on io_uring the fd is no
 * epoll fd). The loop must still see the descriptor when the poll starts
 * again, in the handle's own callback or between turns. */
static void del_behind_back(int fd) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  (void)epoll_ctl(uv_backend_fd(&fx.loop), EPOLL_CTL_DEL, fd, &ev);
}


static void restart_poll_cb(uv_poll_t *h, int status, int events) {
  char c;
  ck_assert_int_eq(status, 0);
  ck_assert(events & UV_READABLE);
  ck_assert_int_eq(read(fx.poll_fd, &c, 1), 1);
  fx.polled++;
  ck_assert_int_eq(uv_poll_stop(h), 0);
  del_behind_back(fx.poll_fd);
  if (fx.polled == 1) {
    /* Again at once, from the callback. */
    ck_assert_int_eq(uv_poll_start(h, UV_READABLE, restart_poll_cb), 0);
    ck_assert_int_eq(write(fx.poll_peer, "q", 1), 1);
  }
}


START_TEST(backend_fd_survives_epoll_ctl_del) {
  setup(_i);
  ck_assert_int_eq(uv_poll_stop(&fx.poller), 0);
  ck_assert_int_eq(
      uv_poll_start(&fx.poller, UV_READABLE, restart_poll_cb), 0);
  ck_assert_int_eq(write(fx.poll_peer, "p", 1), 1);
  while (fx.polled < 2)
    uv_run(&fx.loop, UV_RUN_ONCE); /* the watchdog ends a hang */
  ck_assert_int_eq(fx.polled, 2);
  /* Again between turns. */
  ck_assert_int_eq(uv_poll_stop(&fx.poller), 0);
  del_behind_back(fx.poll_fd);
  ck_assert_int_eq(uv_poll_start(&fx.poller, UV_READABLE, poll_cb), 0);
  fx.polled = 0;
  feed_all();
  teardown();
}
END_TEST


/* uv_loop_fork in a child: the stream's read and the poll the parent had
 * handed to the kernel are the child's too (libuv's child watches the
 * parent's descriptors again); io_uring's child once got an empty ring.
 * Without a listener (the parent's ring would accept too) or an fs read
 * (the parent's pool runs it). */
START_TEST(fork_child_keeps_ops_in_flight) {
  pid_t pid;
  int status;

  setup_with(_i, 1);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    fx.in_child = 1;
    if (uv_loop_fork(&fx.loop) != 0)
      _exit(2);
    fx.want = 6;
    if (write(fx.peer, "abcdef", 6) != 6 || write(fx.poll_peer, "p", 1) != 1)
      _exit(4);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    _exit(fx.ngot == 6 && fx.polled == 1 ? 0 : 5);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  /* The parent's loop still closes. */
  uv_walk(&fx.loop, close_all, NULL);
  ck_assert_int_eq(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
  close(fx.peer);
  close(fx.poll_peer);
  close(fx.poll_fd);
}
END_TEST


int main(void) {
  Suite *s = suite_create("embed");
  TCase *tc = tcase_create("backend fd");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, backend_fd_keeps_ops_in_flight, 0, 2);
  tcase_add_loop_test(tc, backend_fd_embedding_wakes, 0, 2);
  tcase_add_loop_test(tc, loop_moved_to_thread_keeps_ops, 0, 2);
  tcase_add_loop_test(tc, loop_moved_to_thread_after_backend_fd, 0, 2);
  tcase_add_loop_test(tc, backend_fd_asked_from_other_thread, 0, 2);
  tcase_add_loop_test(tc, backend_fd_survives_epoll_ctl_del, 0, 2);
  tcase_add_loop_test(tc, fork_child_keeps_ops_in_flight, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
