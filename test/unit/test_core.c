/* Unit tests of the completion core, run on every backend: op completion,
 * cancellation, the cross-thread wake, back-pressure beyond the CQ size,
 * fork, and (through the fault backend) submissions that fail. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "backend/fault.h"
#include "core/core.h"
#include "check_run.h"

static const char *backend_names[] = {"uring", "epoll"};

static void loop_on(bio_loop *loop, const char *backend) {
  setenv("BIO_BACKEND", backend, 1);
  ck_assert_int_eq(bio__loop_init(loop, 0), 0);
  ck_assert_str_eq(loop->backend->name,
                   strncmp(backend, "fault", 5) == 0 ? "fault" : backend);
}

typedef struct counted_op {
  bio_op op;
  int calls;
  int res;
} counted_op;

static void count_cb(bio_loop *loop, bio_op *op) {
  counted_op *c = bio_container_of(op, counted_op, op);
  (void)loop;
  c->calls++;
  c->res = op->res;
}

static void prep(counted_op *c, int opcode, int fd) {
  memset(c, 0, sizeof(*c));
  c->op.cb = count_cb;
  c->op.opcode = (uint8_t)opcode;
  c->op.fd = fd;
}

/* A read of a new pipe's read end into buf; fds gets the pipe. */
static void prep_pipe_read(counted_op *c, int fds[2], void *buf,
                           unsigned len) {
  ck_assert_int_eq(pipe(fds), 0);
  prep(c, BIO_OP_READ, fds[0]);
  c->op.buf = buf;
  c->op.u.len = len;
  c->op.off = -1;
}

/* A loop on backend i that has the capability cap: io_uring has it,
 * epoll not (that loop is closed then, and 0 comes back). */
static int loop_with(bio_loop *loop, int i, unsigned cap) {
  loop_on(loop, backend_names[i]);
  if (i == 1) {
    ck_assert_int_eq(bio__loop_supports(loop, cap), 0);
    bio__loop_close(loop);
    return 0;
  }
  ck_assert_int_ne(bio__loop_supports(loop, cap), 0);
  return 1;
}

/* Polls until pred holds or the budget of turns runs out. */
#define POLL_UNTIL(loop, cond)                                                 \
  do {                                                                         \
    int turns_ = 0;                                                            \
    while (!(cond) && turns_++ < 200)                                          \
      bio__loop_poll((loop), 50);                                              \
    ck_assert(cond);                                                           \
  } while (0)


START_TEST(nop_completes_in_poll_not_in_submit) {
  bio_loop loop;
  counted_op c;

  loop_on(&loop, backend_names[_i]);
  prep(&c, BIO_OP_NOP, -1);
  bio__op_submit(&loop, &c.op);
  ck_assert_int_eq(c.calls, 0);
  ck_assert(bio__loop_has_ops(&loop));
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert_int_eq(c.res, 0);
  ck_assert(!bio__loop_has_ops(&loop));
  bio__loop_close(&loop);
}
END_TEST


START_TEST(read_completes_when_data_arrives) {
  bio_loop loop;
  counted_op c;
  char buf[16];
  int fds[2];

  loop_on(&loop, backend_names[_i]);
  prep_pipe_read(&c, fds, buf, sizeof(buf));
  bio__op_submit(&loop, &c.op);
  bio__loop_poll(&loop, 0);
  ck_assert_int_eq(c.calls, 0);
  ck_assert_int_eq(write(fds[1], "hello", 5), 5);
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert_int_eq(c.res, 5);
  ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
}
END_TEST


START_TEST(poll_reports_readable) {
  bio_loop loop;
  counted_op c;
  int fds[2];

  loop_on(&loop, backend_names[_i]);
  ck_assert_int_eq(pipe(fds), 0);
  prep(&c, BIO_OP_POLL, fds[0]);
  c.op.u.events = POLLIN;
  bio__op_submit(&loop, &c.op);
  ck_assert_int_eq(write(fds[1], "x", 1), 1);
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert(c.res & POLLIN);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
}
END_TEST


START_TEST(cancel_inflight_read_gives_ecanceled) {
  bio_loop loop;
  counted_op c;
  char buf[4];
  int fds[2];

  loop_on(&loop, backend_names[_i]);
  prep_pipe_read(&c, fds, buf, sizeof(buf));
  bio__op_submit(&loop, &c.op);
  bio__loop_poll(&loop, 0);
  bio__op_cancel(&loop, &c.op);
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert_int_eq(c.res, -ECANCELED);
  ck_assert(!bio__loop_has_ops(&loop));
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
}
END_TEST


static bio_loop loop_for_move;

/* A loop's turns on another thread (pthread_create's argument). */
typedef struct moved_loop {
  bio_loop *loop;
  counted_op *ops;
  int n;
  int fds[2 * 300]; /* pipes, for the tests that write them */
} moved_loop;

static int all_called(const moved_loop *m) {
  int i;
  for (i = 0; i < m->n; i++)
    if (m->ops[i].calls == 0)
      return 0;
  return 1;
}

/* Turns until every op was called, for 2 s at most. */
static void *poll_all_done(void *arg) {
  moved_loop *m = arg;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!all_called(m)) {
    bio__loop_poll(m->loop, 50);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= 2)
      break;
  }
  return NULL;
}


/* io_uring: a loop that moves to another thread gets a new ring, and the
 * ops of the old one go over to it, but not one whose cancel the owner
 * asked for and the old ring had not carried out: it ends cancelled (it
 * was resubmitted, live again, and took the bytes written later). */
START_TEST(cancel_then_thread_move_gives_ecanceled) {
  moved_loop m;
  pthread_t t;
  counted_op c;
  char buf[4];
  char got;
  int fds[2];

  loop_on(&loop_for_move, backend_names[_i]);
  prep_pipe_read(&c, fds, buf, sizeof(buf));
  bio__op_submit(&loop_for_move, &c.op);
  bio__loop_poll(&loop_for_move, 0);
  bio__op_cancel(&loop_for_move, &c.op);
  m.loop = &loop_for_move;
  m.ops = &c;
  m.n = 1;
  ck_assert_int_eq(pthread_create(&t, NULL, poll_all_done, &m), 0);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_assert_int_eq(c.calls, 1);
  ck_assert_int_eq(c.res, -ECANCELED);
  ck_assert_int_eq(write(fds[1], "x", 1), 1);
  bio__loop_poll(&loop_for_move, 0);
  ck_assert_int_eq(read(fds[0], &got, 1), 1);
  ck_assert_int_eq(c.calls, 1);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop_for_move);
}
END_TEST


/* More ops in flight than the backend's first table of them holds, some
 * handed to the kernel, some still queued, all complete once after the
 * loop moved to another thread. */
START_TEST(thread_move_keeps_many_ops) {
  enum { N = 300 };
  static char bufs[N][4];
  moved_loop *m = calloc(1, sizeof(*m));
  pthread_t t;
  int i;

  ck_assert_ptr_nonnull(m);
  m->ops = calloc(N, sizeof(*m->ops));
  m->n = N;
  m->loop = &loop_for_move;
  loop_on(&loop_for_move, backend_names[_i]);
  for (i = 0; i < N; i++) {
    prep_pipe_read(&m->ops[i], &m->fds[2 * i], bufs[i], sizeof(bufs[i]));
    bio__op_submit(&loop_for_move, &m->ops[i].op);
    if (i == N / 2)
      bio__loop_poll(&loop_for_move, 0);
  }
  for (i = 0; i < N; i += 2)
    ck_assert_int_eq(write(m->fds[2 * i + 1], "ab", 2), 2);
  ck_assert_int_eq(pthread_create(&t, NULL, poll_all_done, m), 0);
  usleep(10000);
  for (i = 1; i < N; i += 2)
    ck_assert_int_eq(write(m->fds[2 * i + 1], "ab", 2), 2);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  for (i = 0; i < N; i++) {
    ck_assert_int_eq(m->ops[i].calls, 1);
    ck_assert_int_eq(m->ops[i].res, 2);
    ck_assert_int_eq(memcmp(bufs[i], "ab", 2), 0);
  }
  for (i = 0; i < 2 * N; i++)
    close(m->fds[i]);
  bio__loop_close(&loop_for_move);
  free(m->ops);
  free(m);
}
END_TEST


static int wake_calls;
static void on_wake(bio_loop *loop, void *arg) {
  (void)loop;
  (void)arg;
  wake_calls++;
}

static void *waker(void *arg) {
  int i;
  for (i = 0; i < 1000; i++)
    bio__loop_wake(arg);
  return NULL;
}

START_TEST(wake_from_threads_coalesces) {
  bio_loop loop;
  pthread_t t[4];
  int i;

  loop_on(&loop, backend_names[_i]);
  wake_calls = 0;
  bio_wake_client wc = {.cb = on_wake};
  bio__loop_add_wake_client(&loop, &wc);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, waker, &loop), 0);
  for (i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  POLL_UNTIL(&loop, wake_calls >= 1);
  /* 4000 wakes, far fewer callbacks: they coalesce. */
  ck_assert_int_lt(wake_calls, 4000);
  /* And a wake after the callback is not lost. */
  i = wake_calls;
  bio__loop_wake(&loop);
  POLL_UNTIL(&loop, wake_calls == i + 1);
  bio__loop_close(&loop);
}
END_TEST


/* Two owners share one loop's wake (a uv loop and a task runtime on it):
 * each hands work over and wakes. A wake that finds the loop awake writes
 * nothing, so before it blocks the loop must ask every client, not only
 * the first: with one busy check per loop, the second owner's handover
 * was missed and the wait below never returned. */
typedef struct {
  atomic_int handed;
  int woken;
} share_client;
static int share_busy(void *arg) {
  return atomic_load(&((share_client *)arg)->handed) != 0;
}
static void share_woken(bio_loop *loop, void *arg) {
  (void)loop;
  ((share_client *)arg)->woken++;
}

START_TEST(second_wake_client_handover_seen_before_blocking) {
  bio_loop loop;
  share_client a = {0}, b = {0};
  bio_wake_client ca = {.cb = share_woken, .busy = share_busy, .arg = &a};
  bio_wake_client cb = {.cb = share_woken, .busy = share_busy, .arg = &b};

  loop_on(&loop, backend_names[_i]);
  bio__loop_set_idle_policy(&loop, NULL);
  bio__loop_add_wake_client(&loop, &ca);
  bio__loop_add_wake_client(&loop, &cb);
  ck_assert_int_eq(atomic_load(&loop.wake_watched), 1);
  /* A wake reaches both clients. */
  bio__loop_wake(&loop);
  POLL_UNTIL(&loop, b.woken == 1);
  ck_assert_int_eq(a.woken, 1);
  /* The loop is awake (its wake not yet consumed by a wait): the second
   * client's wake writes nothing, and the blocking poll must see the
   * handover and return at once (a lost wake hangs here until the
   * test's timeout). */
  atomic_store(&b.handed, 1);
  bio__loop_wake(&loop);
  ck_assert_int_ge(bio__loop_poll(&loop, -1), 0);
  ck_assert_int_eq(bio__loop_handed_over(&loop), 1);
  atomic_store(&b.handed, 0);
  /* A client with no busy makes every wake write. */
  bio__loop_remove_wake_client(&loop, &cb);
  cb.busy = NULL;
  bio__loop_add_wake_client(&loop, &cb);
  ck_assert_int_eq(atomic_load(&loop.wake_watched), 0);
  bio__loop_remove_wake_client(&loop, &cb);
  bio__loop_remove_wake_client(&loop, &ca);
  ck_assert_ptr_null(loop.wake_clients);
  bio__loop_close(&loop);
}
END_TEST


/* More ops than the completion queue holds: none may be lost. */
START_TEST(libuv_4598_ops_beyond_cq_size_all_complete) {
  enum { N = 5000 };
  bio_loop loop;
  counted_op *c = calloc(N, sizeof(*c));
  int fds[2];
  int i, done;

  loop_on(&loop, backend_names[_i]);
  ck_assert_int_eq(pipe(fds), 0);
  ck_assert_int_eq(write(fds[1], "x", 1), 1);
  for (i = 0; i < N; i++) {
    prep(&c[i], i % 2 ? BIO_OP_NOP : BIO_OP_POLL, fds[0]);
    c[i].op.u.events = POLLIN;
    bio__op_submit(&loop, &c[i].op);
  }
  for (i = 0; i < 1000 && bio__loop_has_ops(&loop); i++)
    bio__loop_poll(&loop, 50);
  for (done = 0, i = 0; i < N; i++) {
    ck_assert_int_le(c[i].calls, 1);
    done += c[i].calls;
  }
  ck_assert_int_eq(done, N);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
  free(c);
}
END_TEST


START_TEST(fork_child_gets_own_wake) {
  bio_loop loop;
  pid_t pid;
  int status;

  loop_on(&loop, backend_names[_i]);
  wake_calls = 0;
  bio_wake_client wc = {.cb = on_wake};
  bio__loop_add_wake_client(&loop, &wc);
  bio__loop_poll(&loop, 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int turns = 0;
    if (bio__loop_fork(&loop) != 0)
      _exit(2);
    bio__loop_wake(&loop);
    while (wake_calls == 0 && turns++ < 100)
      bio__loop_poll(&loop, 50);
    _exit(wake_calls == 1 ? 0 : 1);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  /* The child's wake did not reach the parent. */
  bio__loop_poll(&loop, 0);
  ck_assert_int_eq(wake_calls, 0);
  bio__loop_close(&loop);
}
END_TEST


typedef struct post_arg {
  bio_loop *loop;
  counted_op *ops;
  int n;
} post_arg;

static void *poster(void *arg) {
  post_arg *pa = arg;
  int i;
  for (i = 0; i < pa->n; i++) {
    pa->ops[i].op.res = i;
    bio__loop_post(pa->loop, &pa->ops[i].op);
  }
  return NULL;
}

static int post_seen[2];
static int post_in_order = 1;
static void post_cb(bio_loop *loop, bio_op *op) {
  counted_op *c = bio_container_of(op, counted_op, op);
  int who = c->res; /* which thread's array (set below) */
  (void)loop;
  c->calls++;
  /* Each poster's ops arrive in the order it posted them. */
  if (op->res != post_seen[who])
    post_in_order = 0;
  post_seen[who]++;
}

/* Ops completed by other threads arrive once each, in post order per
 * thread, on the loop thread. */
START_TEST(post_from_threads_delivers_each_once_in_order) {
  enum { N = 20000 };
  bio_loop loop;
  counted_op *ops = calloc(2 * N, sizeof(*ops));
  post_arg pa[2];
  pthread_t t[2];
  int i, total = 0;

  loop_on(&loop, backend_names[_i]);
  post_seen[0] = post_seen[1] = 0;
  post_in_order = 1;
  for (i = 0; i < 2 * N; i++) {
    ops[i].op.cb = post_cb;
    ops[i].res = i / N;
  }
  for (i = 0; i < 2; i++) {
    pa[i].loop = &loop;
    pa[i].ops = ops + i * N;
    pa[i].n = N;
    ck_assert_int_eq(pthread_create(&t[i], NULL, poster, &pa[i]), 0);
  }
  for (i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  POLL_UNTIL(&loop, post_seen[0] + post_seen[1] == 2 * N);
  for (i = 0; i < 2 * N; i++) {
    ck_assert_int_eq(ops[i].calls, 1);
    total += ops[i].calls;
  }
  ck_assert_int_eq(total, 2 * N);
  ck_assert_int_eq(post_in_order, 1);
  bio__loop_close(&loop);
  free(ops);
}
END_TEST


/* The spin before sleeping (loop.c, spin_before_sleep). Its length is
 * set long here, so what the tests look for can't depend on timing: an
 * event a peer thread makes 1 ms into the spin is caught by it. */
#define LONG_SPIN_NS 3000000000u /* 3 s */

typedef struct delayed_arg {
  bio_loop *loop;
  int fd;          /* write one byte here, or ... */
  bio_op *post;    /* ... post this op, or ... */
  atomic_int *flag; /* ... raise this flag and wake the loop */
} delayed_arg;

static void *delayed_event(void *arg) {
  delayed_arg *d = arg;
  struct timespec ms = {0, 1000000};
  nanosleep(&ms, NULL);
  if (d->fd >= 0)
    ck_assert_int_eq(write(d->fd, "x", 1), 1);
  else if (d->post != NULL)
    bio__loop_post(d->loop, d->post);
  else {
    atomic_store(d->flag, 1);
    bio__loop_wake(d->loop);
  }
  return NULL;
}

/* One turn of the loop, blocking, while a thread makes d's event. */
static void poll_during_delayed(bio_loop *loop, delayed_arg *d) {
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, delayed_event, d), 0);
  bio__loop_poll(loop, -1);
  pthread_join(t, NULL);
}

/* On io_uring the loop spins for its I/O: the read it queued goes to the
 * kernel when the spin starts, and the peer's write completes it within
 * the spin. */
START_TEST(spin_catches_io_completion) {
  bio_loop loop;
  counted_op c;
  delayed_arg d = {&loop, -1, NULL, NULL};
  char buf[4];
  int fds[2];

  loop_on(&loop, "uring");
  loop.spin_ns = LONG_SPIN_NS;
  loop.spin_always = 1; /* whatever else runs on the machine */
  prep_pipe_read(&c, fds, buf, sizeof(buf));
  bio__op_submit(&loop, &c.op);
  d.fd = fds[1];
  poll_during_delayed(&loop, &d);
  ck_assert_int_eq(c.calls, 1);
  ck_assert_int_eq(c.res, 1);
  ck_assert_uint_eq(loop.spins_caught, 1);
  ck_assert_uint_eq(loop.spins_missed, 0);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
}
END_TEST


static atomic_int handed_over;
static int handed_over_check(void *arg) {
  (void)arg;
  return atomic_load(&handed_over);
}

/* A post for a loop spinning for it, and a wake of a loop spinning for
 * I/O whose owner handed work over (busy_check), end the spin. (Neither
 * should need the eventfd, but a poster that comes just as the spin ends
 * may write it: that is not asserted.) */
START_TEST(spin_takes_posts_and_handed_over_wakes) {
  bio_loop loop;
  counted_op c;
  delayed_arg d = {&loop, -1, NULL, NULL};

  loop_on(&loop, backend_names[_i]);
  loop.spin_ns = LONG_SPIN_NS;
  loop.spin_always = 1; /* whatever else runs on the machine */
  prep(&c, BIO_OP_NOP, -1);
  bio__loop_expect_post(&loop);
  d.post = &c.op;
  poll_during_delayed(&loop, &d);
  ck_assert_int_eq(c.calls, 1);
  ck_assert_uint_eq(loop.spins_caught, 1);
  ck_assert_uint_eq(loop.spins_missed, 0);

  if (strcmp(loop.backend->name, "uring") == 0) {
    /* No post expected: only a loop spinning for I/O spins. */
    static bio_wake_client wc = {.busy = handed_over_check};
    atomic_store(&handed_over, 0);
    bio__loop_add_wake_client(&loop, &wc);
    d.post = NULL;
    d.flag = &handed_over;
    poll_during_delayed(&loop, &d);
    ck_assert_int_eq(atomic_load(&handed_over), 1);
    ck_assert_uint_eq(loop.spins_caught, 2);
    ck_assert_uint_eq(loop.spins_missed, 0);
  }
  bio__loop_close(&loop);
}
END_TEST


/* A spin never outlasts the wait's timeout, and one that misses makes
 * the loop sleep through 1, then 2, then 4 idle turns before it tries
 * again (each sleep here a 5 ms timeout, longer than the spin). */
START_TEST(spin_respects_timeout_and_backs_off) {
  static const uint64_t missed_after[] = {1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4};
  bio_loop loop;
  counted_op c;
  uint64_t t0;
  unsigned i;
  int fds[2];

  loop_on(&loop, "uring");
  loop.spin_ns = LONG_SPIN_NS;
  loop.spin_always = 1; /* whatever else runs on the machine */
  prep_pipe_read(&c, fds, &c.res, 1);
  bio__op_submit(&loop, &c.op);
  t0 = bio__clock_ns();
  bio__loop_poll(&loop, 1);
  /* Not the 3 s spin: the 1 ms timeout ends it (the bound is loose, so a
   * slow machine can't fail it). */
  ck_assert_uint_lt(bio__clock_ns() - t0, LONG_SPIN_NS / 2);
  ck_assert_uint_eq(loop.spins_missed, 1);
  loop.spins_missed = 0;
  loop.io_skip = loop.io_backoff = 0;
  loop.spin_ns = 1000000; /* 1 ms */
  for (i = 0; i < sizeof(missed_after) / sizeof(missed_after[0]); i++) {
    bio__loop_poll(&loop, 5);
    ck_assert_uint_eq(loop.spins_missed, missed_after[i]);
  }
  ck_assert_uint_eq(loop.spins_caught, 0);
  ck_assert_int_eq(c.calls, 0);
  close(fds[1]);
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert_int_eq(c.res, 0);
  close(fds[0]);
  bio__loop_close(&loop);
}
END_TEST


/* contention.c reads the kernel's formats: loadavg's "running/total"
 * field and cpu.stat's nr_throttled line. */
START_TEST(contention_parsers_read_kernel_formats) {
  ck_assert_int_eq(bio__loadavg_running("0.19 0.06 0.02 3/78 14080\n"), 3);
  ck_assert_int_eq(bio__loadavg_running("1.00 2.00 3.00 17/1024 1\n"), 17);
  ck_assert_int_eq(bio__loadavg_running("0.19 0.06 0.02\n"), -1);
  ck_assert_int_eq(bio__loadavg_running("garbage"), -1);
  ck_assert_int_eq(bio__cpu_stat_throttled(
                       "nr_periods 10\nnr_throttled 4\nthrottled_time 9\n"),
                   4);
  ck_assert_int_eq(bio__cpu_stat_throttled("usage_usec 5\n"), -1);
  /* Not a suffix of another name. */
  ck_assert_int_eq(bio__cpu_stat_throttled("xnr_throttled 4\n"), -1);
}
END_TEST


/* Writes text to a fresh temporary file standing in for a kernel file
 * (bio__cpu_contention_sources); returns its path in a static buffer. */
static const char *fake_file(int which, const char *text) {
  static char paths[2][64];
  int fd;
  snprintf(paths[which], sizeof(paths[which]), "/tmp/bio-contention-%d-%d",
           (int)getpid(), which);
  fd = open(paths[which], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return paths[which];
}

static const char *fake_loadavg(int running) {
  char text[64];
  snprintf(text, sizeof(text), "2.00 1.50 1.00 %d/300 4242\n", running);
  return fake_file(0, text);
}

static int our_cpus(void) {
  cpu_set_t set;
  ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
  return CPU_COUNT(&set);
}

static void unfake_sources(void) {
  char path[64];
  int i;
  bio__cpu_contention_sources(NULL, NULL, 0);
  for (i = 0; i < 2; i++) {
    snprintf(path, sizeof(path), "/tmp/bio-contention-%d-%d", (int)getpid(),
             i);
    unlink(path);
  }
}

/* With more threads runnable than the CPUs we may run on, a loop about
 * to wait skips its spin and sleeps at once: spinning would take the CPU
 * that the thread it waits for needs (item 8 of the real-programs issue:
 * libuv's ping_pongs ran at 0.39x the system libuv with two `yes`
 * running). With the load gone, it spins again. The kernel's loadavg is
 * stood in for by a file, so the machine's own load can't decide. */
START_TEST(spin_skipped_when_cpus_contended) {
  bio_loop loop;
  counted_op c;
  uint64_t t0;
  int cpus = our_cpus();

  bio__cpu_contention_sources(fake_loadavg(cpus + 1), "", 0);
  loop_on(&loop, backend_names[_i]);
  loop.spin_ns = LONG_SPIN_NS;
  prep(&c, BIO_OP_NOP, -1);
  bio__loop_expect_post(&loop); /* a spin is due on both backends */
  t0 = bio__clock_ns();
  bio__loop_poll(&loop, 20);
  ck_assert_uint_lt(bio__clock_ns() - t0, LONG_SPIN_NS / 2);
  ck_assert_uint_eq(loop.spins_contended, 1);
  ck_assert_uint_eq(loop.spins_missed, 0);
  ck_assert_uint_eq(loop.spins_caught, 0);

  /* Exactly as many runnable as CPUs (the reader among them): calm. */
  fake_loadavg(cpus);
  bio__cpu_contention_reset();
  bio__loop_poll(&loop, 20);
  ck_assert_uint_eq(loop.spins_contended, 1);
  ck_assert_uint_eq(loop.spins_missed, 1);
  bio__loop_close(&loop);
  unfake_sources();
}
END_TEST


/* Under a CPU quota (a container's cgroup), a quota that ran out since
 * the last look (cpu.stat's nr_throttled grew) means contended: every
 * spun microsecond is paid for, and the peer we wait for may be
 * throttled with us. The first look only learns the count. */
START_TEST(spin_skipped_when_quota_throttled) {
  const char *stat = "nr_periods 100\nnr_throttled 7\nthrottled_usec 9\n";
  bio_loop loop;
  counted_op c;
  uint64_t now = 1000000000u;

  bio__cpu_contention_sources(fake_loadavg(1), fake_file(1, stat), 0);
  ck_assert_int_eq(bio__cpu_contended(now), 0);
  now += 20000000u; /* past the 10 ms between samples */
  ck_assert_int_eq(bio__cpu_contended(now), 0); /* unchanged: calm */
  fake_file(1, "nr_periods 101\nnr_throttled 8\nthrottled_usec 19\n");
  now += 20000000u;
  ck_assert_int_eq(bio__cpu_contended(now), 1);
  ck_assert_int_eq(bio__cpu_contended(now + 50000000u), 1); /* held */

  /* And a loop now skips its spin. */
  bio__cpu_contention_reset();
  fake_file(1, "nr_periods 102\nnr_throttled 9\nthrottled_usec 29\n");
  loop_on(&loop, backend_names[_i]);
  loop.spin_ns = LONG_SPIN_NS;
  prep(&c, BIO_OP_NOP, -1);
  bio__loop_expect_post(&loop);
  bio__loop_poll(&loop, 20);
  ck_assert_uint_eq(loop.spins_contended, 1);
  ck_assert_uint_eq(loop.spins_missed, 0);
  bio__loop_close(&loop);
  unfake_sources();
}
END_TEST


/* A spin that loses its CPU (here: the process is stopped for 20 ms in
 * the middle of it) ends, is counted, and holds further spins off: when
 * someone else runs on our CPU, spinning takes time from them. The
 * machine's load is stood in for by a calm file, and the hold is long,
 * so that neither a busy machine nor a slow one decides. */
START_TEST(spin_ends_when_preempted) {
  bio_loop *loop;
  counted_op c;
  char buf[4];
  int fds[2];
  pid_t pid;
  uint64_t t0;
  _Atomic uint64_t *stopped_at;

  bio__cpu_contention_sources(fake_loadavg(1), "", 60000000000u);
  /* Shared with the child, which watches the loop start spinning. */
  loop = mmap(NULL, sizeof(*loop) + sizeof(uint64_t),
              PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ck_assert(loop != MAP_FAILED);
  /* After the loop, shared too: when the child stopped us. */
  stopped_at = (_Atomic uint64_t *)(void *)(loop + 1);
  atomic_store(stopped_at, 0);
  loop_on(loop, "uring");
  loop->spin_ns = LONG_SPIN_NS;
  prep_pipe_read(&c, fds, buf, sizeof(buf));
  bio__op_submit(loop, &c.op);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct timespec ms20 = {0, 20000000};
    /* (A spin that the machine preempts before we look ends on its own,
     * and the loop sleeps: then stop it anyway, and write. On a busy
     * machine catching it may take a while: the time bound below counts
     * from the stop.) */
    for (t0 = bio__clock_ns(); !atomic_load(&loop->spinning) &&
                               bio__clock_ns() - t0 < 20000000000u;)
      ;
    atomic_store(stopped_at, bio__clock_ns());
    kill(getppid(), SIGSTOP);
    nanosleep(&ms20, NULL);
    kill(getppid(), SIGCONT);
    nanosleep(&ms20, NULL);
    _exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
  }
  {
    int turns = 0;
    while (c.calls != 1 && turns++ < 2000)
      bio__loop_poll(loop, 50);
  }
  ck_assert_int_eq(c.calls, 1);
  t0 = atomic_load(stopped_at);
  ck_assert_uint_ne(t0, 0);
  ck_assert_uint_lt(bio__clock_ns() - t0, LONG_SPIN_NS / 2);
  ck_assert_int_eq(c.res, 1);
  /* The stop, and any preemption the machine added. */
  ck_assert_uint_ge(loop->spins_preempted, 1);
  ck_assert_uint_eq(loop->spins_caught, 0);
  /* Held off: the next spin is skipped, unless the loop insists. */
  ck_assert(bio__cpu_contended(bio__clock_ns()));
  prep(&c, BIO_OP_NOP, -1);
  bio__loop_expect_post(loop);
  {
    /* Turns spent waiting for the child (on a busy machine, many) may
     * have been held off already: this one must be too. */
    uint64_t before = loop->spins_contended;
    bio__loop_poll(loop, 1);
    ck_assert_uint_eq(loop->spins_contended, before + 1);
  }
  waitpid(pid, NULL, 0);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(loop);
  munmap(loop, sizeof(*loop) + sizeof(uint64_t));
  unfake_sources();
}
END_TEST


static const char *fault_names[] = {"fault:uring", "fault:epoll"};

/* ---- alarms: timers the core fires ---- */

typedef struct test_alarm {
  bio_alarm alarm;
  uint64_t deadline;
  uint64_t fired_at;
  int id;
} test_alarm;

static int alarm_order[16];
static int nalarm;
static bio_alarm *restart_me;

static void alarm_cb(bio_loop *loop, bio_alarm *a) {
  test_alarm *t = bio_container_of(a, test_alarm, alarm);
  t->fired_at = bio__clock_ns();
  alarm_order[nalarm++] = t->id;
  /* Restarted from its callback, already due: waits for the next turn. */
  if (a == restart_me) {
    restart_me = NULL;
    bio__alarm_start(loop, a, 0, alarm_cb);
  }
}

/* bio_loop_poll with no timeout of its own returns for the earliest
 * alarm, fires every due alarm in deadline order, never before its
 * deadline (sub-millisecond ones too), skips a stopped one, and fires an
 * alarm restarted by its callback one turn later. */
START_TEST(alarms_fire_from_poll_in_order_never_early) {
  bio_loop loop;
  test_alarm a[6];
  uint64_t t0;
  int i, n, turns = 0;

  loop_on(&loop, backend_names[_i]);
  memset(a, 0, sizeof(a));
  nalarm = 0;
  t0 = bio__clock_ns();
  for (i = 0; i < 6; i++) {
    int k = (i * 5) % 6; /* started out of order */
    a[i].id = k;
    a[i].deadline = t0 + 1000000 + (uint64_t)k * 250000; /* 1, 1.25 ... ms */
    bio__alarm_start(&loop, &a[i].alarm, a[i].deadline, alarm_cb);
  }
  bio__alarm_stop(&loop, &a[5].alarm); /* id (5*5)%6 = 1 */
  ck_assert(!bio__alarm_active(&a[5].alarm));
  while (nalarm < 5 && turns++ < 100)
    ck_assert_int_ge(bio__loop_poll(&loop, -1), 0);
  ck_assert_int_eq(nalarm, 5);
  {
    static const int want[] = {0, 2, 3, 4, 5};
    for (i = 0; i < 5; i++)
      ck_assert_int_eq(alarm_order[i], want[i]);
  }
  for (i = 0; i < 6; i++)
    if (a[i].fired_at != 0)
      ck_assert_uint_ge(a[i].fired_at, a[i].deadline);
  ck_assert_uint_eq(a[5].fired_at, 0);

  /* The one-pass rule. */
  nalarm = 0;
  restart_me = &a[0].alarm;
  bio__alarm_start(&loop, &a[0].alarm, 0, alarm_cb);
  n = bio__loop_poll(&loop, 0);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(nalarm, 1);
  ck_assert(bio__alarm_active(&a[0].alarm));
  ck_assert_int_eq(bio__loop_poll(&loop, -1), 1);
  ck_assert_int_eq(nalarm, 2);
  bio__loop_close(&loop);
}
END_TEST

START_TEST(fault_enomem_completes_op_with_error) {
  bio_loop loop;
  counted_op c;

  loop_on(&loop, fault_names[_i]);
  ck_assert_int_eq(bio__fault_inject(&loop, ENOMEM, 0, 1), 0);
  prep(&c, BIO_OP_NOP, -1);
  bio__op_submit(&loop, &c.op);
  ck_assert_int_eq(c.calls, 0); /* errors, too, arrive through poll */
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert_int_eq(c.res, -ENOMEM);
  ck_assert_uint_eq(bio__fault_injected(&loop), 1);
  ck_assert(!bio__loop_has_ops(&loop));
  bio__loop_close(&loop);
}
END_TEST


/* EAGAIN and EBUSY mean "later": the op waits and then succeeds, and ops
 * behind it keep their order. */
START_TEST(fault_eagain_ebusy_retry_in_order) {
  static const int errs[] = {EAGAIN, EBUSY};
  int e;

  for (e = 0; e < 2; e++) {
    bio_loop loop;
    counted_op c[3];
    int i;

    loop_on(&loop, fault_names[_i]);
    ck_assert_int_eq(bio__fault_inject(&loop, errs[e], 0, 3), 0);
    for (i = 0; i < 3; i++) {
      prep(&c[i], BIO_OP_NOP, -1);
      bio__op_submit(&loop, &c[i].op);
    }
    POLL_UNTIL(&loop, c[0].calls + c[1].calls + c[2].calls == 3);
    for (i = 0; i < 3; i++)
      ck_assert_int_eq(c[i].res, 0);
    ck_assert_uint_ge(bio__fault_injected(&loop), 1);
    bio__loop_close(&loop);
  }
}
END_TEST


START_TEST(fault_cancel_of_queued_op) {
  bio_loop loop;
  counted_op c;

  loop_on(&loop, fault_names[_i]);
  ck_assert_int_eq(bio__fault_inject(&loop, EAGAIN, 0, 1000000), 0);
  prep(&c, BIO_OP_NOP, -1);
  bio__op_submit(&loop, &c.op);
  ck_assert_int_eq(c.op.state, BIO_OP_QUEUED);
  bio__op_cancel(&loop, &c.op);
  POLL_UNTIL(&loop, c.calls == 1);
  ck_assert_int_eq(c.res, -ECANCELED);
  bio__loop_close(&loop);
}
END_TEST


/* A callback that cancels an armed op (a stream closed in its read
 * callback): on io_uring dispatch hands the cancel to the kernel after
 * the turn's callbacks, so the armed op's final completion is there for
 * the next dispatch of the same turn, with no wait in between, whoever
 * owns it (the owner no longer has to remember bio__loop_flush_cancels). */
static counted_op *to_cancel;

static void cancel_other_cb(bio_loop *loop, bio_op *op) {
  count_cb(loop, op);
  bio__op_cancel(loop, &to_cancel->op);
}

START_TEST(cancel_in_callback_lands_within_dispatch) {
  bio_loop loop;
  counted_op armed, nop;
  int fds[2];

  loop_on(&loop, backend_names[_i]);
  ck_assert_int_eq(pipe(fds), 0);
  prep(&armed, BIO_OP_POLL, fds[0]);
  armed.op.u.events = POLLIN;
  armed.op.flags = BIO_OPF_MULTI;
  bio__op_submit(&loop, &armed.op);
  bio__loop_poll(&loop, 0); /* into the kernel */
  prep(&nop, BIO_OP_NOP, -1);
  nop.op.cb = cancel_other_cb;
  to_cancel = &armed;
  bio__op_submit(&loop, &nop.op);
  POLL_UNTIL(&loop, nop.calls == 1);
  /* io_uring: no reap, only what dispatch collected. epoll's cancel is
   * certain at once (no kernel holds the op) and completes with the next
   * wait, which blocks on nothing. */
  if (_i == 0)
    bio__loop_dispatch(&loop);
  else
    bio__loop_poll(&loop, 0);
  ck_assert_int_eq(armed.calls, 1);
  ck_assert_int_eq(armed.res, -ECANCELED);
  ck_assert_int_eq(armed.op.state, BIO_OP_IDLE);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
}
END_TEST

/* An armed multishot recv (io_uring only: epoll says it has none) keeps
 * what it received on the op, in order, in chunks of the loop's buffers;
 * the callback may take part of a chunk and the rest later; after the
 * bytes, the peer's EOF ends the op with res 0. */
typedef struct {
  counted_op c;
  char got[16384];
  size_t ngot;
} recv_sink;

static void recv_sink_cb(bio_loop *loop, bio_op *op) {
  recv_sink *r = bio_container_of(op, recv_sink, c.op);
  char *data;
  size_t len;
  count_cb(loop, op);
  while (bio__recv_chunk(loop, op, &data, &len)) {
    size_t take = len > 1 ? 1 : len; /* a bit at a time, then the rest */
    ck_assert_uint_le(r->ngot + len, sizeof(r->got));
    memcpy(r->got + r->ngot, data, take);
    r->ngot += take;
    bio__recv_consume(loop, op, take);
    if (bio__recv_chunk(loop, op, &data, &len) && take < 2) {
      memcpy(r->got + r->ngot, data, len);
      r->ngot += len;
      bio__recv_consume(loop, op, len);
    }
  }
}

/* An armed multishot RECVMSG on a UDP socket keeps each datagram whole
 * (the largest too: 65,507 bytes in one buffer), in order, with its
 * sender's address, until the owner takes it; epoll has no such op. */
static int dgram_fires;

static void dgram_cb(bio_loop *loop, bio_op *op) {
  (void)loop;
  (void)op;
  dgram_fires++;
}

static int udp_bound(struct sockaddr_in *a) {
  socklen_t len = sizeof(*a);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int big = 1 << 20;
  ck_assert_int_ge(fd, 0);
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &len), 0);
  return fd;
}

START_TEST(recvmsg_multi_keeps_datagrams_whole) {
  static const size_t sizes[] = {1, 65507, 100, 4096, 0, 7};
  static char out[65507];
  struct sockaddr_in ra, sa;
  bio_loop loop;
  bio_op op;
  size_t i, k;
  int rfd, sfd;

  if (!loop_with(&loop, _i, BIO_CAP_RECVMSG_BUFS))
    return;
  rfd = udp_bound(&ra);
  sfd = udp_bound(&sa);
  memset(&op, 0, sizeof(op));
  op.cb = dgram_cb;
  op.opcode = BIO_OP_RECVMSG;
  op.flags = BIO_OPF_MULTI;
  op.fd = rfd;
  dgram_fires = 0;
  bio__op_submit(&loop, &op);
  bio__loop_poll(&loop, 0);
  for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    for (i = 0; i < sizes[k]; i++)
      out[i] = (char)(i * 7 + k);
    ck_assert_int_eq(sendto(sfd, out, sizes[k], 0, (struct sockaddr *)&ra,
                            sizeof(ra)),
                     (ssize_t)sizes[k]);
  }
  /* The kernel may end the op after a datagram (it does after an empty
   * one): the owner arms it again, and the rest come in order. */
  k = 0;
  while (k < sizeof(sizes) / sizeof(sizes[0])) {
    bio_dgram d;
    const struct sockaddr_in *from;
    int turns = 0;
    while (!bio__recv_dgram(&loop, &op, &d)) {
      ck_assert_int_lt(turns++, 200);
      if (op.state == BIO_OP_IDLE)
        bio__op_submit(&loop, &op);
      bio__loop_poll(&loop, 10);
    }
    ck_assert_uint_eq(d.len, sizes[k]);
    ck_assert_int_eq(d.flags & MSG_TRUNC, 0);
    ck_assert_ptr_nonnull(d.addr);
    ck_assert_uint_eq(d.addrlen, sizeof(struct sockaddr_in));
    from = d.addr;
    ck_assert_int_eq(from->sin_port, sa.sin_port);
    for (i = 0; i < sizes[k]; i++)
      if (d.data[i] != (char)(i * 7 + k))
        ck_abort_msg("datagram %zu differs at byte %zu", k, i);
    bio__recv_consume(&loop, &op, d.chunk);
    k++;
  }
  ck_assert_int_gt(dgram_fires, 0);
  if (op.state == BIO_OP_IDLE)
    bio__op_submit(&loop, &op);
  bio__loop_poll(&loop, 0);
  ck_assert_int_ne(op.state, BIO_OP_IDLE); /* still armed */
  bio__op_cancel(&loop, &op);
  POLL_UNTIL(&loop, op.state == BIO_OP_IDLE);
  close(rfd);
  close(sfd);
  bio__loop_close(&loop);
}
END_TEST


START_TEST(recv_multi_keeps_chunks_in_order) {
  bio_loop loop;
  static recv_sink r;
  char out[10000];
  size_t i;
  int sv[2];

  if (!loop_with(&loop, _i, BIO_CAP_RECV_BUFS))
    return;
  for (i = 0; i < sizeof(out); i++)
    out[i] = (char)(i * 13 + 5);
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  memset(&r, 0, sizeof(r));
  prep(&r.c, BIO_OP_RECV, sv[0]);
  r.c.op.cb = recv_sink_cb;
  r.c.op.flags = BIO_OPF_MULTI;
  bio__op_submit(&loop, &r.c.op);
  ck_assert_int_eq(write(sv[1], out, 5), 5);
  POLL_UNTIL(&loop, r.ngot == 5);
  ck_assert_int_ne(r.c.op.state, BIO_OP_IDLE); /* still armed */
  ck_assert_int_eq(write(sv[1], out + 5, sizeof(out) - 5),
                   (ssize_t)(sizeof(out) - 5));
  POLL_UNTIL(&loop, r.ngot == sizeof(out));
  ck_assert_int_eq(memcmp(r.got, out, sizeof(out)), 0);
  ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
  POLL_UNTIL(&loop, r.c.op.state == BIO_OP_IDLE);
  ck_assert_int_eq(r.c.res, 0);
  ck_assert_uint_eq(r.ngot, sizeof(out));
  close(sv[0]);
  close(sv[1]);
  bio__loop_close(&loop);
}
END_TEST


/* Bursts on 8 sockets at once, each turn more than the loop's first 32
 * buffers hold: armed recvs that find the ring empty end with -ENOBUFS
 * and are armed again (and the ring takes more buffers); every byte
 * arrives, in order, and each op ends with the peer's EOF. */
enum { GROW_SOCKS = 8, GROW_BURST = 64 * 1024, GROW_TURNS = 6 };

typedef struct {
  counted_op c;
  size_t ngot;
  int bad; /* a byte out of place */
} burst_sink;

static char burst_byte(size_t i) { return (char)(i * 31 + 7); }

static void burst_sink_cb(bio_loop *loop, bio_op *op) {
  burst_sink *r = bio_container_of(op, burst_sink, c.op);
  char *data;
  size_t len, i;

  count_cb(loop, op);
  while (bio__recv_chunk(loop, op, &data, &len)) {
    for (i = 0; i < len; i++)
      r->bad |= data[i] != burst_byte(r->ngot + i);
    r->ngot += len;
    bio__recv_consume(loop, op, len);
  }
  if (op->state == BIO_OP_IDLE && r->c.res == -ENOBUFS)
    bio__op_submit(loop, op);
}

static int burst_all_in(burst_sink *r, size_t want) {
  int k;
  for (k = 0; k < GROW_SOCKS; k++)
    if (r[k].ngot != want)
      return 0;
  return 1;
}

/* GROW_SOCKS socket pairs on an io_uring loop, each first end read by an
 * armed recv into r[k]. 0 when the loop has no such recvs (io_uring
 * denied, or a kernel before 6.0): the loop is closed then. */
static int burst_open(bio_loop *loop, burst_sink *r, int sv[][2]) {
  int k;

  loop_on(loop, "uring");
  if (!bio__loop_supports(loop, BIO_CAP_RECV_BUFS)) {
    bio__loop_close(loop);
    return 0;
  }
  memset(r, 0, GROW_SOCKS * sizeof(*r));
  for (k = 0; k < GROW_SOCKS; k++) {
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[k]), 0);
    prep(&r[k].c, BIO_OP_RECV, sv[k][0]);
    r[k].c.op.cb = burst_sink_cb;
    r[k].c.op.flags = BIO_OPF_MULTI;
    bio__op_submit(loop, &r[k].c.op);
  }
  bio__loop_poll(loop, 0);
  return 1;
}

/* Every byte was in place; each recv ends with its peer's EOF. */
static void burst_close(bio_loop *loop, burst_sink *r, int sv[][2]) {
  int k;

  for (k = 0; k < GROW_SOCKS; k++) {
    ck_assert_int_eq(r[k].bad, 0);
    ck_assert_int_eq(shutdown(sv[k][1], SHUT_WR), 0);
    POLL_UNTIL(loop, r[k].c.op.state == BIO_OP_IDLE && r[k].c.res == 0);
    close(sv[k][0]);
    close(sv[k][1]);
  }
  bio__loop_close(loop);
}

START_TEST(recv_bursts_on_many_sockets_keep_order) {
  static char out[GROW_BURST];
  static burst_sink r[GROW_SOCKS];
  bio_loop loop;
  int sv[GROW_SOCKS][2];
  size_t sent = 0, i;
  int k, t;

  if (!burst_open(&loop, r, sv))
    return;
  for (t = 0; t < GROW_TURNS; t++) {
    for (i = 0; i < GROW_BURST; i++)
      out[i] = burst_byte(sent + i);
    for (k = 0; k < GROW_SOCKS; k++)
      ck_assert_int_eq(write(sv[k][1], out, GROW_BURST), GROW_BURST);
    sent += GROW_BURST;
    POLL_UNTIL(&loop, burst_all_in(r, sent));
  }
  burst_close(&loop, r, sv);
}
END_TEST



/* A loop that never needs more than a few recv buffers at once touches
 * only a few: the kernel takes the ring's buffers in turn, so with all
 * 512 in the ring from the start, 2,000 one-at-a-time messages made the
 * whole 2 MiB resident (200 bytes of each connection's share at 10,000
 * idle connections). One-shot recvs, each message taken before the next
 * is sent. */
START_TEST(recv_buffers_touch_only_what_a_loop_needs) {
  bio_loop loop;
  counted_op c;
  char *data;
  size_t len;
  long before;
  int sv[2], i;

  loop_on(&loop, "uring");
  if (!bio__loop_supports(&loop, BIO_CAP_RECV_BUFS)) {
    bio__loop_close(&loop); /* io_uring denied, or a kernel before 6.0 */
    return;
  }
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  before = bio_test_rss_anon_kib();
  for (i = 0; i < 2000; i++) {
    prep(&c, BIO_OP_RECV, sv[0]);
    c.op.buf = NULL; /* into one of the loop's buffers */
    c.op.u.len = 0;
    bio__op_submit(&loop, &c.op);
    ck_assert_int_eq(write(sv[1], "0123456789", 10), 10);
    POLL_UNTIL(&loop, c.calls == 1);
    ck_assert_int_eq(c.res, 10);
    ck_assert_int_eq(bio__recv_chunk(&loop, &c.op, &data, &len), 1);
    ck_assert_uint_eq(len, 10);
    ck_assert_int_eq(memcmp(data, "0123456789", 10), 0);
    bio__recv_consume(&loop, &c.op, len);
    ck_assert_int_eq(bio__recv_chunk(&loop, &c.op, &data, &len), 0);
  }
  /* No measure under the sanitizers (check_run.h). */
#ifndef BIO_TEST_RSS_SKEWED
  ck_assert_int_lt(bio_test_rss_anon_kib() - before, 1024);
#else
  (void)before;
#endif
  close(sv[0]);
  close(sv[1]);
  bio__loop_close(&loop);
}
END_TEST


/* Wakes the loop after a second (pthread_create's argument). */
static void *late_waker(void *arg) {
  delayed_arg *d = arg;
  struct timespec t = {1, 0};
  nanosleep(&t, NULL);
  atomic_store(d->flag, 1);
  bio__loop_wake(d->loop);
  return NULL;
}

/* Bursts on 8 sockets leave the loop's recv buffers resident (what the
 * kernel wrote into); a loop that then sleeps a while with nothing come
 * gives their pages back: no idle server keeps its busiest turn's
 * buffers (10,000 connections answered at once kept 58 bytes each). */
START_TEST(recv_buffers_given_back_when_the_loop_sleeps) {
  static char out[GROW_BURST];
  static burst_sink r[GROW_SOCKS];
  atomic_int woke = 0;
  pthread_t waker_thread;
  delayed_arg d;
  bio_loop loop;
  int sv[GROW_SOCKS][2];
  long before, grown, kept;
  size_t i;
  int k, t;

  if (!burst_open(&loop, r, sv))
    return;
  for (i = 0; i < GROW_BURST; i++)
    out[i] = burst_byte(i);
  before = bio_test_rss_anon_kib();
  for (t = 0; t < 2; t++) {
    for (k = 0; k < GROW_SOCKS; k++)
      ck_assert_int_eq(write(sv[k][1], out, GROW_BURST), GROW_BURST);
    POLL_UNTIL(&loop, burst_all_in(r, (size_t)(t + 1) * GROW_BURST));
    for (i = 0; i < GROW_BURST; i++)
      out[i] = burst_byte((size_t)(t + 1) * GROW_BURST + i);
  }
  grown = bio_test_rss_anon_kib() - before;
  /* Asleep until another thread wakes it (no spin first; nothing left to
   * reap that would keep it from sleeping). */
  bio__loop_set_idle_policy(&loop, NULL);
  for (t = 0; t < 5; t++)
    bio__loop_poll(&loop, 0);
  memset(&d, 0, sizeof(d));
  d.loop = &loop;
  d.fd = -1;
  d.flag = &woke;
  ck_assert_int_eq(pthread_create(&waker_thread, NULL, late_waker, &d), 0);
  while (!atomic_load(&woke))
    bio__loop_poll(&loop, -1);
  pthread_join(waker_thread, NULL);
  kept = bio_test_rss_anon_kib() - before;
#ifndef BIO_TEST_RSS_SKEWED
  ck_assert_int_ge(grown, 100); /* 32 buffers at least: 128 KiB */
  ck_assert_int_lt(kept, grown / 4);
#else
  (void)grown;
  (void)kept;
#endif
  burst_close(&loop, r, sv);
}
END_TEST


/* The idle policy is the owner's: the reap calls the one installed (and
 * none when it is removed) before it would block, and reports the gap
 * after; the owner's meter hears of the idle time. */
static int blocks_asked, idles_told;
static int64_t asked_timeout;
static uint64_t metered_ns;

static int count_before_block(bio_loop *loop, int64_t timeout_ns,
                              uint64_t now_ns) {
  (void)loop;
  (void)now_ns;
  blocks_asked++;
  asked_timeout = timeout_ns;
  return 0;
}

static void count_after_idle(bio_loop *loop, uint64_t gap_ns) {
  (void)loop;
  (void)gap_ns;
  idles_told++;
}

static void meter(void *arg, uint64_t ns) {
  *(uint64_t *)arg += ns;
}

static const bio_idle_policy counting_policy = {count_before_block,
                                                count_after_idle};

START_TEST(idle_policy_and_meter_are_the_owners) {
  bio_loop loop;

  loop_on(&loop, backend_names[_i]);
  ck_assert_ptr_eq(loop.idle, &bio__spin_policy); /* the default */
  bio__loop_set_idle_policy(&loop, &counting_policy);
  bio__loop_set_idle_meter(&loop, meter, &metered_ns);
  blocks_asked = idles_told = 0;
  metered_ns = 0;
  bio__loop_poll(&loop, 0); /* no block: no policy, no meter */
  ck_assert_int_eq(blocks_asked, 0);
  bio__loop_poll(&loop, 3);
  ck_assert_int_eq(blocks_asked, 1);
  ck_assert_int_eq(idles_told, 1);
  ck_assert(asked_timeout > 0 && asked_timeout <= 3000000);
  ck_assert_uint_gt(metered_ns, 0);
  bio__loop_set_idle_policy(&loop, NULL);
  bio__loop_poll(&loop, 1);
  ck_assert_int_eq(blocks_asked, 1);
  ck_assert_uint_eq(loop.spins_caught + loop.spins_missed, 0);
  bio__loop_close(&loop);
}
END_TEST


/* A loop counts as quiet once a wait after a busy spell has found
 * nothing for BIO_QUIET_AFTER_NS: then, once per spell, the backend trims
 * and the owner's quiet callback runs (compat gives the heap back). Not
 * for a loop that never did anything, not for a wait cut short by an
 * arrival, not again until something completes. */
static int quiets;

static void count_quiet(void *arg) {
  ck_assert_ptr_eq(arg, &quiets);
  quiets++;
}

static void *early_post(void *arg) {
  delayed_arg *d = arg;
  struct timespec t = {0, 50000000};
  nanosleep(&t, NULL);
  bio__loop_post(d->loop, d->post);
  return NULL;
}

START_TEST(quiet_cb_runs_once_per_quiet_spell) {
  const int64_t long_ms = BIO_QUIET_AFTER_NS / 1000000 + 100;
  pthread_t th;
  delayed_arg d;
  bio_loop loop;
  counted_op c;

  loop_on(&loop, backend_names[_i]);
  bio__loop_set_idle_policy(&loop, NULL);
  bio__loop_set_quiet_cb(&loop, count_quiet, &quiets);
  quiets = 0;
  bio__loop_poll(&loop, (int)long_ms); /* nothing ever done */
  ck_assert_int_eq(quiets, 0);

  prep(&c, BIO_OP_NOP, -1);
  bio__op_submit(&loop, &c.op);
  POLL_UNTIL(&loop, c.calls == 1);
  bio__loop_poll(&loop, (int)long_ms);
  ck_assert_int_eq(quiets, 1);
  bio__loop_poll(&loop, (int)long_ms); /* still the same quiet spell */
  ck_assert_int_eq(quiets, 1);

  /* Busy again; the next wait ends with a post 50 ms in: not quiet. */
  prep(&c, BIO_OP_NOP, -1);
  bio__op_submit(&loop, &c.op);
  POLL_UNTIL(&loop, c.calls == 1);
  memset(&d, 0, sizeof(d));
  d.loop = &loop;
  prep(&c, BIO_OP_NOP, -1);
  d.post = &c.op;
  ck_assert_int_eq(pthread_create(&th, NULL, early_post, &d), 0);
  while (c.calls == 0)
    bio__loop_poll(&loop, (int)long_ms);
  pthread_join(th, NULL);
  ck_assert_int_eq(quiets, 1);
  bio__loop_poll(&loop, (int)long_ms);
  ck_assert_int_eq(quiets, 2);
  bio__loop_close(&loop);
}
END_TEST


/* A loop thread wakes another loop through its own backend: on io_uring
 * a message from ring to ring (MSG_RING), which the woken loop reaps as
 * its wake_msg_op, with no eventfd written; where the backends differ,
 * or the sender is no loop's thread, the eventfd. */
typedef struct woken_loop {
  bio_loop loop;
  atomic_int wakes;
  int msgs;
  bio_op_cb msg_cb;
} woken_loop;

static void woken_cb(bio_loop *loop, void *arg) {
  woken_loop *w = arg;
  (void)loop;
  atomic_fetch_add(&w->wakes, 1);
}

static void woken_msg_cb(bio_loop *loop, bio_op *op) {
  woken_loop *w = bio_container_of(loop, woken_loop, loop);
  w->msgs++;
  w->msg_cb(loop, op);
}

static void *run_until_woken(void *arg) {
  woken_loop *w = arg;
  while (atomic_load(&w->wakes) == 0)
    bio__loop_poll(&w->loop, -1);
  return NULL;
}

START_TEST(wake_from_another_loop_goes_ring_to_ring) {
  /* _i: the woken loop's backend; the sender is on io_uring. */
  struct timespec settle = {0, 100000000};
  static woken_loop w;
  bio_loop from;
  pthread_t th;
  int round;

  loop_on(&from, "uring");
  bio__loop_poll(&from, 0);
  for (round = 0; round < 2; round++) {
    loop_on(&w.loop, backend_names[_i]);
    bio__loop_set_idle_policy(&w.loop, NULL);
    atomic_store(&w.wakes, 0);
    w.msgs = 0;
    w.msg_cb = w.loop.wake_msg_op.cb;
    w.loop.wake_msg_op.cb = woken_msg_cb;
    bio_wake_client wc = {.cb = woken_cb, .arg = &w};
    bio__loop_add_wake_client(&w.loop, &wc);
    ck_assert_int_eq(pthread_create(&th, NULL, run_until_woken, &w), 0);
    nanosleep(&settle, NULL); /* asleep in its wait by now */
    /* Round 1: from a thread that runs no loop (the eventfd). */
    bio__loop_wake_from(round == 0 ? &from : NULL, &w.loop);
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&w.wakes), 1);
    ck_assert_int_eq(w.msgs, round == 0 && _i == 0 ? 1 : 0);
    bio__loop_close(&w.loop);
  }
  bio__loop_close(&from);
}
END_TEST


/* Another thread cancels a loop's op (bio__op_cancel_from): the loop,
 * asleep, wakes; its thread asks the cancel and runs done; the op ends
 * with -ECANCELED. A cancel that finds the op done already hears -EBUSY
 * and changes nothing. */
typedef struct remote_cancel_arg {
  bio_loop *loop;
  bio_remote_cancel rc;
  bio_op *op;
  pthread_t loop_thread;
  int done_calls;
  int done_res;
  int done_on_loop_thread;
} remote_cancel_arg;

static void remote_cancel_done(bio_loop *loop, bio_remote_cancel *rc,
                               int res) {
  remote_cancel_arg *a = bio_container_of(rc, remote_cancel_arg, rc);
  ck_assert_ptr_eq(loop, a->loop);
  a->done_calls++;
  a->done_res = res;
  a->done_on_loop_thread = pthread_equal(pthread_self(), a->loop_thread);
}

static void *cancel_later(void *arg) {
  remote_cancel_arg *a = arg;
  struct timespec t = {0, 50000000};
  nanosleep(&t, NULL);
  bio__op_cancel_from(a->loop, &a->rc, a->op);
  return NULL;
}

START_TEST(op_cancelled_from_another_thread) {
  static remote_cancel_arg a;
  bio_loop loop;
  counted_op c;
  pthread_t th;
  int fds[2];
  int turns = 0;

  loop_on(&loop, backend_names[_i]);
  bio__loop_set_idle_policy(&loop, NULL);
  ck_assert_int_eq(pipe(fds), 0);
  prep(&c, BIO_OP_POLL, fds[0]);
  c.op.u.events = POLLIN;
  bio__op_submit(&loop, &c.op);
  bio__loop_poll(&loop, 0);
  memset(&a, 0, sizeof(a));
  a.loop = &loop;
  a.op = &c.op;
  a.rc.done = remote_cancel_done;
  a.loop_thread = pthread_self();
  ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &a), 0);
  /* No timeout: only the cancel's wake ends the wait (a lost one fails
   * the test by Check's timeout). */
  while (c.calls == 0 && turns++ < 20)
    bio__loop_poll(&loop, -1);
  pthread_join(th, NULL);
  ck_assert_int_eq(c.calls, 1);
  ck_assert_int_eq(c.res, -ECANCELED);
  ck_assert_int_eq(a.done_calls, 1);
  ck_assert(a.done_on_loop_thread);

  /* Done already: nothing to cancel. */
  memset(&a.rc, 0, sizeof(a.rc));
  a.rc.done = remote_cancel_done;
  ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &a), 0);
  pthread_join(th, NULL);
  bio__loop_poll(&loop, 0);
  ck_assert_int_eq(a.done_calls, 2);
  ck_assert_int_eq(a.done_res, -EBUSY);
  ck_assert_int_eq(c.calls, 1);
  close(fds[0]);
  close(fds[1]);
  bio__loop_close(&loop);
}
END_TEST


START_TEST(unknown_backend_is_einval) {
  bio_loop loop;
  setenv("BIO_BACKEND", "kqueue", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), -EINVAL);
  setenv("BIO_BACKEND", "fault:nope", 1);
  ck_assert_int_eq(bio__loop_init(&loop, 0), -EINVAL);
}
END_TEST


int main(void) {
  Suite *s = suite_create("core");
  TCase *tc = tcase_create("ops");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, nop_completes_in_poll_not_in_submit, 0, 2);
  tcase_add_loop_test(tc, alarms_fire_from_poll_in_order_never_early, 0, 2);
  tcase_add_loop_test(tc, read_completes_when_data_arrives, 0, 2);
  tcase_add_loop_test(tc, poll_reports_readable, 0, 2);
  tcase_add_loop_test(tc, cancel_inflight_read_gives_ecanceled, 0, 2);
  tcase_add_loop_test(tc, cancel_then_thread_move_gives_ecanceled, 0, 2);
  tcase_add_loop_test(tc, thread_move_keeps_many_ops, 0, 2);
  tcase_add_loop_test(tc, wake_from_threads_coalesces, 0, 2);
  tcase_add_loop_test(tc, second_wake_client_handover_seen_before_blocking,
                      0, 2);
  tcase_add_loop_test(tc, libuv_4598_ops_beyond_cq_size_all_complete, 0, 2);
  tcase_add_loop_test(tc, fork_child_gets_own_wake, 0, 2);
  tcase_add_loop_test(tc, post_from_threads_delivers_each_once_in_order, 0,
                      2);
  tcase_add_loop_test(tc, fault_enomem_completes_op_with_error, 0, 2);
  tcase_add_loop_test(tc, fault_eagain_ebusy_retry_in_order, 0, 2);
  tcase_add_loop_test(tc, fault_cancel_of_queued_op, 0, 2);
  tcase_add_test(tc, unknown_backend_is_einval);
  tcase_add_loop_test(tc, cancel_in_callback_lands_within_dispatch, 0, 2);
  tcase_add_loop_test(tc, idle_policy_and_meter_are_the_owners, 0, 2);
  tcase_add_loop_test(tc, recv_multi_keeps_chunks_in_order, 0, 2);
  tcase_add_loop_test(tc, recvmsg_multi_keeps_datagrams_whole, 0, 2);
  tcase_add_test(tc, recv_bursts_on_many_sockets_keep_order);
  tcase_add_test(tc, recv_buffers_touch_only_what_a_loop_needs);
  tcase_add_test(tc, recv_buffers_given_back_when_the_loop_sleeps);
  tcase_add_loop_test(tc, quiet_cb_runs_once_per_quiet_spell, 0, 2);
  tcase_add_loop_test(tc, wake_from_another_loop_goes_ring_to_ring, 0, 2);
  tcase_add_loop_test(tc, op_cancelled_from_another_thread, 0, 2);
  tcase_add_test(tc, spin_catches_io_completion);
  tcase_add_loop_test(tc, spin_takes_posts_and_handed_over_wakes, 0, 2);
  tcase_add_test(tc, spin_respects_timeout_and_backs_off);
  tcase_add_test(tc, contention_parsers_read_kernel_formats);
  tcase_add_loop_test(tc, spin_skipped_when_cpus_contended, 0, 2);
  tcase_add_loop_test(tc, spin_skipped_when_quota_throttled, 0, 2);
  tcase_add_test(tc, spin_ends_when_preempted);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
