/* bio_task: the scheduler (spawn, join, yield, wakes from other threads),
 * scopes and cancellation, deadlines, and every future, on io_uring, on
 * epoll, and on the fault backend (submissions refused with ENOMEM or
 * pushed back with EAGAIN). */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netdb.h>
#include <unistd.h>

#include "blitzio.h"
#include "backend.h"
#include "backend/fault.h"
#include "core/core.h"
#include "task/task.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll", "fault:uring",
                                 "fault:epoll"};
#define NBACKENDS 4

/* Under the io_uring-denying filter (denied-units.sh), fault:uring
 * wraps what the library picks instead. */
static void use_backend(const char *name) {
  if (bio_test_uring_denied() && strcmp(name, "fault:uring") == 0)
    name = "fault:epoll";
  bio_test_backend(name);
}

static bio_rt *new_rt(int i) {
  bio_rt *rt;
  use_backend(backends[i]);
  ck_assert_int_eq(bio_rt_new(&rt, NULL), 0);
  return rt;
}

static void free_rt(bio_rt *rt) { ck_assert_int_eq(bio_rt_free(rt), 0); }

/* ---- spawn and join ---- */

struct leaf {
  bio_task task;
  int value;
};

static int leaf_run(bio_task *t) {
  struct leaf *l = bio_container_of(t, struct leaf, task);
  return l->value * 2;
}

#define NLEAVES 10000
struct parent {
  bio_task task;
  struct leaf *leaves;
  int i;
  int r;
  long sum;
};

static int parent_run(bio_task *t) {
  struct parent *p = bio_container_of(t, struct parent, task);
  BIO_BEGIN(t);
  for (p->i = 0; p->i < NLEAVES; p->i++) {
    p->leaves[p->i].value = p->i;
    ck_assert_int_eq(bio_spawn(t->scope, &p->leaves[p->i].task, leaf_run), 0);
  }
  for (p->i = 0; p->i < NLEAVES; p->i++) {
    BIO_AWAIT(t, p->r, bio_join(t, &p->leaves[p->i].task));
    p->sum += p->r;
  }
  BIO_END(t, 7);
}

START_TEST(spawned_tasks_run_and_join_with_their_results) {
  bio_rt *rt = new_rt(_i);
  struct parent p;
  memset(&p, 0, sizeof(p));
  p.leaves = calloc(NLEAVES, sizeof(*p.leaves));
  ck_assert_uint_eq(sizeof(bio_task), 64);
  ck_assert_int_eq(bio_rt_block_on(rt, &p.task, parent_run), 7);
  ck_assert_int_eq(p.sum, (long)NLEAVES * (NLEAVES - 1));
  ck_assert(bio_task_done(&p.leaves[NLEAVES - 1].task));
  ck_assert_int_eq(bio_task_result(&p.leaves[5].task), 10);
  ck_assert_uint_eq(bio_scope_count(bio_rt_scope(rt)), 0);
  free(p.leaves);
  free_rt(rt);
}
END_TEST

/* ---- yield: round robin ---- */

static char order[64];
static int norder;

struct yielder {
  bio_task task;
  char name;
  int i;
};

static int yielder_run(bio_task *t) {
  struct yielder *y = bio_container_of(t, struct yielder, task);
  BIO_BEGIN(t);
  for (y->i = 0; y->i < 3; y->i++) {
    order[norder++] = y->name;
    BIO_YIELD(t);
  }
  BIO_END(t, 0);
}

START_TEST(yield_lets_every_other_task_run_first) {
  bio_rt *rt = new_rt(_i);
  struct yielder a = {.name = 'a'}, b = {.name = 'b'};
  norder = 0;
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &a.task, yielder_run), 0);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &b.task, yielder_run), 0);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, "ababab");
  free_rt(rt);
}
END_TEST

/* ---- sleeps: never early, in deadline order ---- */

#define NSLEEP 50
static int woke[NSLEEP];
static int nwoke;

struct sleeper {
  bio_task task;
  bio_io io;
  uint64_t deadline;
  int id;
  int r;
};

static int sleeper_run(bio_task *t) {
  struct sleeper *s = bio_container_of(t, struct sleeper, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, s->r, bio_sleep_until(t, &s->io, s->deadline));
  ck_assert_int_eq(s->r, 0);
  ck_assert_uint_ge(bio_now_ns(), s->deadline);
  woke[nwoke++] = s->id;
  BIO_END(t, 0);
}

START_TEST(sleeps_end_in_deadline_order_and_never_early) {
  bio_rt *rt = new_rt(_i);
  struct sleeper s[NSLEEP];
  uint64_t t0 = bio_now_ns();
  int i;
  memset(s, 0, sizeof(s));
  nwoke = 0;
  for (i = 0; i < NSLEEP; i++) {
    /* Spawned out of order: deadlines 0.1 ms apart, sub-millisecond. */
    int k = (i * 7) % NSLEEP;
    s[i].id = k;
    s[i].deadline = t0 + 2000000 + (uint64_t)k * 100000;
    ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &s[i].task, sleeper_run), 0);
  }
  ck_assert_int_eq(bio_rt_run(rt), 0);
  ck_assert_int_eq(nwoke, NSLEEP);
  for (i = 0; i < NSLEEP; i++)
    ck_assert_int_eq(woke[i], i);
  free_rt(rt);
}
END_TEST

/* ---- notify ---- */

struct notified {
  bio_task task;
  bio_waiter w;
  bio_notify *n;
  char name;
  int r;
};

static int notified_run(bio_task *t) {
  struct notified *x = bio_container_of(t, struct notified, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, x->r, bio_notify_wait(t, &x->w, x->n));
  ck_assert_int_eq(x->r, 0);
  order[norder++] = x->name;
  BIO_END(t, 0);
}

struct notifier {
  bio_task task;
  bio_io io;
  bio_notify *n;
  int r;
};

static int notifier_run(bio_task *t) {
  struct notifier *x = bio_container_of(t, struct notifier, task);
  BIO_BEGIN(t);
  BIO_YIELD(t); /* every waiter is parked now */
  bio_notify_one(x->n);
  bio_notify_one(x->n);
  BIO_YIELD(t);
  order[norder++] = '|';
  bio_notify_all(x->n);
  BIO_YIELD(t);
  bio_notify_one(x->n); /* no waiter: a permit for the next wait */
  BIO_END(t, 0);
}

START_TEST(notify_wakes_waiters_in_order_and_keeps_one_permit) {
  bio_rt *rt = new_rt(_i);
  bio_notify n;
  struct notified w[4];
  struct notifier src;
  struct notified late;
  int i;

  bio_notify_init(&n);
  norder = 0;
  memset(w, 0, sizeof(w));
  memset(&src, 0, sizeof(src));
  for (i = 0; i < 4; i++) {
    w[i].n = &n;
    w[i].name = (char)('a' + i);
    bio_spawn(bio_rt_scope(rt), &w[i].task, notified_run);
  }
  src.n = &n;
  bio_spawn(bio_rt_scope(rt), &src.task, notifier_run);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  order[norder] = 0;
  ck_assert_str_eq(order, "ab|cd");
  /* The permit: this wait ends at once. */
  memset(&late, 0, sizeof(late));
  late.n = &n;
  late.name = 'e';
  ck_assert_int_eq(bio_rt_block_on(rt, &late.task, notified_run), 0);
  ck_assert_int_eq(norder, 6);
  free_rt(rt);
}
END_TEST

/* The LIFO slot: a task woken by the running task runs right after it,
 * ahead of tasks queued before (a message between two tasks goes on
 * without a trip through the queue and the loop's poll); a pair that
 * keeps waking each other gives the queue its turn after LIFO_MAX (3)
 * such runs, so a third task runs before their exchange ends. */
static char trail[128];
static int ntrail;

struct pinger {
  bio_task task;
  bio_waiter w;
  bio_notify *mine, *theirs;
  char name;
  int rounds, i, r;
};

static int pinger_run(bio_task *t) {
  struct pinger *p = bio_container_of(t, struct pinger, task);
  BIO_BEGIN(t);
  for (p->i = 0; p->i < p->rounds; p->i++) {
    if (p->name == 'x')
      bio_notify_one(p->theirs);
    BIO_AWAIT(t, p->r, bio_notify_wait(t, &p->w, p->mine));
    trail[ntrail++] = p->name;
    if (p->name == 'y')
      bio_notify_one(p->theirs);
  }
  BIO_END(t, 0);
}

static int trail_run(bio_task *t) {
  (void)t;
  trail[ntrail++] = 'z';
  return 0;
}

START_TEST(woken_task_runs_next_yet_queue_gets_its_turn) {
  bio_rt *rt = new_rt(_i);
  bio_notify to_x, to_y;
  struct pinger x, y;
  bio_task z;
  char *zpos;

  bio_notify_init(&to_x);
  bio_notify_init(&to_y);
  memset(&x, 0, sizeof(x));
  memset(&y, 0, sizeof(y));
  memset(&z, 0, sizeof(z));
  memset(trail, 0, sizeof(trail));
  ntrail = 0;
  x.name = 'x';
  x.mine = &to_x;
  x.theirs = &to_y;
  y.name = 'y';
  y.mine = &to_y;
  y.theirs = &to_x;
  x.rounds = y.rounds = 20;
  /* y waits first; x's first wake of it comes in a later round, when z
   * (spawned after x) is queued behind x. */
  bio_spawn(bio_rt_scope(rt), &y.task, pinger_run);
  bio_spawn(bio_rt_scope(rt), &x.task, pinger_run);
  bio_spawn(bio_rt_scope(rt), &z, trail_run);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  trail[ntrail] = 0;
  ck_assert_int_eq(ntrail, 41);
  /* x woke y and y ran before z, which was queued before that wake. */
  ck_assert_int_eq(trail[0], 'y');
  zpos = strchr(trail, 'z');
  ck_assert_ptr_nonnull(zpos);
  ck_assert_int_gt(zpos - trail, 0);
  /* ... but not the whole exchange: z ran after at most a chain's worth
   * of it. */
  ck_assert_int_le(zpos - trail, 4);
  free_rt(rt);
}
END_TEST

/* ---- scopes: cancel what each task awaits, close waits for all ---- */

static int sockpair(int sv[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                    sv);
}

/* A listener whose backlog is full: a connect to it stays in progress. */
static int full_listener(struct sockaddr_in *addr, int extra[4]) {
  socklen_t len = sizeof(*addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int i;
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
  ck_assert_int_eq(listen(fd, 0), 0);
  getsockname(fd, (struct sockaddr *)addr, &len);
  for (i = 0; i < 4; i++) {
    extra[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(extra[i], (struct sockaddr *)addr, sizeof(*addr));
  }
  return fd;
}

enum { W_SLEEP, W_READ, W_CONNECT, W_NOTIFY, W_JOIN, W_ACCEPT, W_SEND_ALL,
       W_RECVFROM, W_POLL, NWAIT };

struct waiter_task {
  bio_task task;
  bio_io io;
  bio_waiter w;
  bio_notify *n;
  bio_task *target;
  int what;
  int fd;
  const struct sockaddr_in *addr;
  char buf[16];
  char *big;
  int r;
  int r2;
  int seen;
};

static int waiter_run(bio_task *t) {
  struct waiter_task *x = bio_container_of(t, struct waiter_task, task);
  BIO_BEGIN(t);
  if (x->what == W_SLEEP) {
    BIO_AWAIT(t, x->r, bio_sleep(t, &x->io, 60ull * 1000000000u));
  } else if (x->what == W_READ) {
    BIO_AWAIT(t, x->r, bio_recv(t, &x->io, x->fd, x->buf, sizeof x->buf));
  } else if (x->what == W_CONNECT) {
    BIO_AWAIT(t, x->r, bio_connect(t, &x->io, x->fd,
                                   (const struct sockaddr *)x->addr,
                                   sizeof(*x->addr)));
  } else if (x->what == W_NOTIFY) {
    BIO_AWAIT(t, x->r, bio_notify_wait(t, &x->w, x->n));
  } else if (x->what == W_JOIN) {
    BIO_AWAIT(t, x->r, bio_join(t, x->target));
  } else if (x->what == W_ACCEPT) {
    BIO_AWAIT(t, x->r, bio_accept(t, &x->io, x->fd));
  } else if (x->what == W_SEND_ALL) {
    /* More than the socket buffers hold: it blocks part way. */
    x->big = calloc(1, 8 << 20);
    BIO_AWAIT(t, x->r, bio_send_all(t, &x->io, x->fd, x->big, 8 << 20));
    free(x->big);
  } else if (x->what == W_RECVFROM) {
    BIO_AWAIT(t, x->r, bio_recvfrom(t, &x->io, x->fd, x->buf, sizeof x->buf,
                                    NULL, NULL));
  } else {
    BIO_AWAIT(t, x->r, bio_poll(t, &x->io, x->fd, POLLIN));
  }
  x->seen = 1;
  /* Once cancelled, every later await fails at once. */
  BIO_AWAIT(t, x->r2, bio_sleep(t, &x->io, 1));
  BIO_END(t, x->r);
}

struct closer {
  bio_task task;
  bio_io io;
  bio_scope *scope;
  int r;
};

/* Waits until the waiters are parked, then closes their scope with
 * cancel. */
static int closer_run(bio_task *t) {
  struct closer *c = bio_container_of(t, struct closer, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, c->r, bio_sleep(t, &c->io, 20000000)); /* 20 ms */
  BIO_AWAIT(t, c->r, bio_scope_close(t, c->scope, 1));
  BIO_END(t, c->r);
}

static int closer_nocancel_run(bio_task *t) {
  struct closer *c = bio_container_of(t, struct closer, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, c->r, bio_scope_close(t, c->scope, 0));
  BIO_END(t, c->r);
}

START_TEST(closing_a_scope_cancels_sleeps_reads_connects_and_waits) {
  bio_rt *rt = new_rt(_i);
  bio_scope scope;
  struct waiter_task w[NWAIT];
  int sv2[2], dg, pfd[2];
  struct closer c;
  struct sockaddr_in addr;
  bio_notify n;
  int sv[2], extra[4], lfd, ltcp, i;
  struct sockaddr_in any;
  socklen_t alen = sizeof(any);

  ck_assert_int_eq(sockpair(sv), 0);
  lfd = full_listener(&addr, extra);
  memset(&any, 0, sizeof(any));
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ltcp = bio_tcp_listen((struct sockaddr *)&any, sizeof(any), 8);
  ck_assert_int_ge(ltcp, 0);
  getsockname(ltcp, (struct sockaddr *)&any, &alen);
  bio_notify_init(&n);
  bio_scope_init(&scope, rt, NULL);
  ck_assert_int_eq(sockpair(sv2), 0);
  dg = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ck_assert_int_eq(bind(dg, (struct sockaddr *)&any, sizeof(any)) == 0 ||
                       errno == EADDRINUSE,
                   1);
  ck_assert_int_eq(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
  memset(w, 0, sizeof(w));
  for (i = 0; i < NWAIT; i++) {
    w[i].what = i;
    w[i].n = &n;
    w[i].addr = &addr;
    w[i].fd = i == W_READ       ? sv[0]
              : i == W_CONNECT  ? bio_tcp_socket(AF_INET)
              : i == W_ACCEPT   ? ltcp
              : i == W_SEND_ALL ? sv2[0]
              : i == W_RECVFROM ? dg
              : i == W_POLL     ? pfd[0]
                                : -1;
  }
  w[W_JOIN].target = &w[W_SLEEP].task;
  for (i = 0; i < NWAIT; i++)
    ck_assert_int_eq(bio_spawn(&scope, &w[i].task, waiter_run), 0);
  memset(&c, 0, sizeof(c));
  c.scope = &scope;
  ck_assert_int_eq(bio_rt_block_on(rt, &c.task, closer_run), 0);
  for (i = 0; i < NWAIT; i++) {
    ck_assert_msg(bio_task_done(&w[i].task), "task %d", i);
    ck_assert_int_eq(w[i].seen, 1);
    ck_assert_msg(w[i].r == -ECANCELED, "await %d: %d", i, w[i].r);
    ck_assert_int_eq(w[i].r2, -ECANCELED);
  }
  ck_assert_uint_eq(bio_scope_count(&scope), 0);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  free_rt(rt);
  close(sv[0]);
  close(sv[1]);
  close(w[W_CONNECT].fd);
  close(lfd);
  close(ltcp);
  close(sv2[0]);
  close(sv2[1]);
  close(dg);
  close(pfd[0]);
  close(pfd[1]);
  for (i = 0; i < 4; i++)
    close(extra[i]);
}
END_TEST

START_TEST(shutdown_cancels_every_task_and_returns_when_all_ended) {
  bio_rt *rt = new_rt(_i);
  struct waiter_task w[3];
  bio_scope inner;
  int i;
  memset(w, 0, sizeof(w));
  bio_scope_init(&inner, rt, NULL);
  for (i = 0; i < 3; i++) {
    w[i].what = W_SLEEP;
    ck_assert_int_eq(
        bio_spawn(i == 2 ? &inner : bio_rt_scope(rt), &w[i].task, waiter_run),
        0);
  }
  /* Let them park, then shut down: the nested scope is cancelled too. */
  ck_assert_int_eq(bio_loop_poll(bio_rt_loop(rt), 0) >= 0, 1);
  ck_assert_int_eq(bio_rt_free(rt), -EBUSY);
  ck_assert_int_eq(bio_rt_shutdown(rt), 0);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(w[i].r, -ECANCELED);
  free_rt(rt);
}
END_TEST

/* ---- deadlines ---- */

START_TEST(a_deadline_ends_a_read_and_a_connect_with_etimedout) {
  bio_rt *rt = new_rt(_i);
  struct waiter_task w[2];
  struct sockaddr_in addr;
  int sv[2], extra[4], lfd, i;
  uint64_t t0;

  ck_assert_int_eq(sockpair(sv), 0);
  lfd = full_listener(&addr, extra);
  memset(w, 0, sizeof(w));
  w[0].what = W_READ;
  w[0].fd = sv[0];
  w[1].what = W_CONNECT;
  w[1].fd = bio_tcp_socket(AF_INET);
  w[1].addr = &addr;
  t0 = bio_now_ns();
  for (i = 0; i < 2; i++) {
    bio_io_deadline(&w[i].io, t0 + 30000000); /* 30 ms */
    ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &w[i].task, waiter_run), 0);
  }
  ck_assert_int_eq(bio_rt_run(rt), 0);
  for (i = 0; i < 2; i++) {
    ck_assert_msg(w[i].r == -ETIMEDOUT, "await %d: %d", i, w[i].r);
    /* The deadline stays: the next await (a 1 ns sleep) is past it. */
    ck_assert_int_eq(w[i].r2, -ETIMEDOUT);
  }
  ck_assert_uint_ge(bio_now_ns(), t0 + 30000000);
  /* The read's op is over: the socket reads normally afterwards. */
  ck_assert_int_eq(write(sv[1], "x", 1), 1);
  ck_assert_int_eq(read(sv[0], w[0].buf, 1), 1);
  free_rt(rt);
  close(sv[0]);
  close(sv[1]);
  close(w[1].fd);
  close(lfd);
  for (i = 0; i < 4; i++)
    close(extra[i]);
}
END_TEST

/* ---- TCP: accept, connect, recv, send_all, close ---- */

#define ECHO_CLIENTS 20
#define ECHO_BYTES 200000

struct echo_conn {
  bio_task task;
  bio_io io;
  int fd;
  int n;
  char buf[4096];
};

static int echo_conn_run(bio_task *t) {
  struct echo_conn *c = bio_container_of(t, struct echo_conn, task);
  BIO_BEGIN(t);
  for (;;) {
    BIO_AWAIT(t, c->n, bio_recv(t, &c->io, c->fd, c->buf, sizeof c->buf));
    if (c->n <= 0)
      break;
    BIO_AWAIT(t, c->n, bio_send_all(t, &c->io, c->fd, c->buf, (size_t)c->n));
    if (c->n < 0)
      break;
  }
  BIO_AWAIT(t, c->n, bio_close(t, &c->io, c->fd));
  BIO_END(t, 0);
}

struct echo_server {
  bio_task task;
  bio_io io;
  int lfd;
  int fd;
  int accepted;
};

static int echo_server_run(bio_task *t) {
  struct echo_server *s = bio_container_of(t, struct echo_server, task);
  BIO_BEGIN(t);
  for (;;) {
    BIO_AWAIT(t, s->fd, bio_accept(t, &s->io, s->lfd));
    if (s->fd < 0)
      break;
    {
      struct echo_conn *c = (struct echo_conn *)(void *)bio_spawn_new(
          t->scope, sizeof(struct echo_conn), echo_conn_run);
      ck_assert_ptr_nonnull(c);
      c->fd = s->fd;
    }
    s->accepted++;
  }
  BIO_END(t, s->fd);
}

struct echo_client {
  bio_task task;
  bio_io io;
  const struct sockaddr_in *addr;
  int fd;
  int r;
  size_t got;
  char *out, *in;
};

static int echo_client_run(bio_task *t) {
  struct echo_client *c = bio_container_of(t, struct echo_client, task);
  BIO_BEGIN(t);
  c->fd = bio_tcp_socket(AF_INET);
  BIO_AWAIT(t, c->r, bio_connect(t, &c->io, c->fd,
                                 (const struct sockaddr *)c->addr,
                                 sizeof(*c->addr)));
  ck_assert_int_eq(c->r, 0);
  BIO_AWAIT(t, c->r, bio_send_all(t, &c->io, c->fd, c->out, ECHO_BYTES));
  ck_assert_int_eq(c->r, ECHO_BYTES);
  ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
  while (c->got < ECHO_BYTES) {
    BIO_AWAIT(t, c->r, bio_recv(t, &c->io, c->fd, c->in + c->got,
                                ECHO_BYTES - c->got));
    ck_assert_int_gt(c->r, 0);
    c->got += (size_t)c->r;
  }
  BIO_AWAIT(t, c->r, bio_recv(t, &c->io, c->fd, c->in, 1));
  ck_assert_int_eq(c->r, 0); /* the server closed after our FIN */
  ck_assert_int_eq(memcmp(c->in, c->out, ECHO_BYTES), 0);
  BIO_AWAIT(t, c->r, bio_close(t, &c->io, c->fd));
  BIO_END(t, 0);
}

struct echo_main {
  bio_task task;
  bio_scope servers;
  struct echo_server server;
  struct echo_client clients[ECHO_CLIENTS];
  const struct sockaddr_in *addr;
  int i;
  int r;
};

static int echo_main_run(bio_task *t) {
  struct echo_main *m = bio_container_of(t, struct echo_main, task);
  BIO_BEGIN(t);
  bio_scope_init(&m->servers, t->scope->rt, t->scope);
  bio_spawn(&m->servers, &m->server.task, echo_server_run);
  for (m->i = 0; m->i < ECHO_CLIENTS; m->i++) {
    m->clients[m->i].addr = m->addr;
    bio_spawn(t->scope, &m->clients[m->i].task, echo_client_run);
  }
  for (m->i = 0; m->i < ECHO_CLIENTS; m->i++) {
    BIO_AWAIT(t, m->r, bio_join(t, &m->clients[m->i].task));
    ck_assert_int_eq(m->r, 0);
  }
  /* The server and its connections go with their scope. */
  BIO_AWAIT(t, m->r, bio_scope_close(t, &m->servers, 1));
  BIO_END(t, m->server.accepted);
}

START_TEST(tcp_echo_between_tasks_moves_every_byte) {
  bio_rt *rt = new_rt(_i);
  struct echo_main *m = calloc(1, sizeof(*m));
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int i, k;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  m->server.lfd = bio_tcp_listen((struct sockaddr *)&addr, sizeof(addr), 64);
  ck_assert_int_ge(m->server.lfd, 0);
  getsockname(m->server.lfd, (struct sockaddr *)&addr, &len);
  m->addr = &addr;
  for (i = 0; i < ECHO_CLIENTS; i++) {
    m->clients[i].out = malloc(ECHO_BYTES);
    m->clients[i].in = malloc(ECHO_BYTES);
    for (k = 0; k < ECHO_BYTES; k++)
      m->clients[i].out[k] = (char)(k * 31 + i);
  }
  ck_assert_int_eq(bio_rt_block_on(rt, &m->task, echo_main_run),
                   ECHO_CLIENTS);
  ck_assert_int_eq(m->server.fd, -ECANCELED);
  for (i = 0; i < ECHO_CLIENTS; i++) {
    free(m->clients[i].out);
    free(m->clients[i].in);
  }
  close(m->server.lfd);
  free(m);
  free_rt(rt);
}
END_TEST

/* ---- UDP ---- */

struct udp_task {
  bio_task task;
  bio_io io;
  int a, b;
  struct sockaddr_in from;
  socklen_t fromlen;
  char buf[32];
  int r;
};

static int udp_run(bio_task *t) {
  struct udp_task *u = bio_container_of(t, struct udp_task, task);
  struct sockaddr_in to;
  socklen_t len = sizeof(to);
  BIO_BEGIN(t);
  getsockname(u->b, (struct sockaddr *)&to, &len);
  BIO_AWAIT(t, u->r, bio_sendto(t, &u->io, u->a, "ping", 4,
                                (struct sockaddr *)&to, sizeof(to)));
  ck_assert_int_eq(u->r, 4);
  u->fromlen = sizeof(u->from);
  BIO_AWAIT(t, u->r, bio_recvfrom(t, &u->io, u->b, u->buf, sizeof u->buf,
                                  (struct sockaddr *)&u->from, &u->fromlen));
  BIO_END(t, u->r);
}

START_TEST(udp_datagrams_carry_their_sender) {
  bio_rt *rt = new_rt(_i);
  struct udp_task u;
  struct sockaddr_in addr, mine;
  socklen_t len = sizeof(mine);
  memset(&u, 0, sizeof(u));
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  u.a = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  u.b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ck_assert_int_eq(bind(u.a, (struct sockaddr *)&addr, sizeof(addr)), 0);
  ck_assert_int_eq(bind(u.b, (struct sockaddr *)&addr, sizeof(addr)), 0);
  ck_assert_int_eq(bio_rt_block_on(rt, &u.task, udp_run), 4);
  ck_assert_int_eq(memcmp(u.buf, "ping", 4), 0);
  getsockname(u.a, (struct sockaddr *)&mine, &len);
  ck_assert_uint_eq(u.fromlen, sizeof(mine));
  ck_assert_uint_eq(u.from.sin_port, mine.sin_port);
  close(u.a);
  close(u.b);
  free_rt(rt);
}
END_TEST

/* ---- files ---- */

struct file_task {
  bio_task task;
  bio_io io;
  char dir[64], a[96], b[96];
  int fd;
  int r;
  char buf[64];
  struct iovec iov[2];
  struct stat st;
};

static int file_run(bio_task *t) {
  struct file_task *f = bio_container_of(t, struct file_task, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, f->r, bio_mkdir(t, &f->io, f->dir, 0700));
  ck_assert_int_eq(f->r, 0);
  BIO_AWAIT(t, f->fd, bio_open(t, &f->io, f->a, O_CREAT | O_RDWR, 0600));
  ck_assert_int_ge(f->fd, 0);
  BIO_AWAIT(t, f->r, bio_write(t, &f->io, f->fd, "hello, tasks", 12, 0));
  ck_assert_int_eq(f->r, 12);
  BIO_AWAIT(t, f->r, bio_write(t, &f->io, f->fd, "T", 1, 7));
  ck_assert_int_eq(f->r, 1);
  BIO_AWAIT(t, f->r, bio_fsync(t, &f->io, f->fd));
  ck_assert_int_eq(f->r, 0);
  BIO_AWAIT(t, f->r, bio_read(t, &f->io, f->fd, f->buf, sizeof f->buf, 0));
  ck_assert_int_eq(f->r, 12);
  ck_assert_int_eq(memcmp(f->buf, "hello, Tasks", 12), 0);
  /* Vectored, at an offset: "Tasks" becomes "TASKS" in two pieces. */
  f->iov[0].iov_base = "TA";
  f->iov[0].iov_len = 2;
  f->iov[1].iov_base = "SKS";
  f->iov[1].iov_len = 3;
  BIO_AWAIT(t, f->r, bio_writev(t, &f->io, f->fd, f->iov, 2, 7));
  ck_assert_int_eq(f->r, 5);
  f->iov[0].iov_base = f->buf;
  f->iov[0].iov_len = 7;
  f->iov[1].iov_base = f->buf + 32;
  f->iov[1].iov_len = 5;
  BIO_AWAIT(t, f->r, bio_readv(t, &f->io, f->fd, f->iov, 2, 0));
  ck_assert_int_eq(f->r, 12);
  ck_assert_int_eq(memcmp(f->buf + 32, "TASKS", 5), 0);
  ck_assert_int_eq(memcmp(f->buf, "hello, ", 7), 0);
  BIO_AWAIT(t, f->r, bio_close(t, &f->io, f->fd));
  ck_assert_int_eq(f->r, 0);
  BIO_AWAIT(t, f->r, bio_rename(t, &f->io, f->a, f->b));
  ck_assert_int_eq(f->r, 0);
  BIO_AWAIT(t, f->r, bio_stat(t, &f->io, f->b, &f->st));
  ck_assert_int_eq(f->r, 0);
  ck_assert_int_eq(f->st.st_size, 12);
  BIO_AWAIT(t, f->r, bio_stat(t, &f->io, f->a, &f->st));
  ck_assert_int_eq(f->r, -ENOENT);
  BIO_AWAIT(t, f->r, bio_unlink(t, &f->io, f->b));
  ck_assert_int_eq(f->r, 0);
  BIO_AWAIT(t, f->r, bio_open(t, &f->io, f->a, O_RDONLY, 0));
  BIO_END(t, f->r);
}

START_TEST(file_futures_write_read_rename_stat_unlink) {
  bio_rt *rt = new_rt(_i);
  struct file_task f;
  memset(&f, 0, sizeof(f));
  snprintf(f.dir, sizeof(f.dir), "/tmp/bio-task-%d-%d", (int)getpid(), _i);
  snprintf(f.a, sizeof(f.a), "%s/a", f.dir);
  snprintf(f.b, sizeof(f.b), "%s/b", f.dir);
  ck_assert_int_eq(bio_rt_block_on(rt, &f.task, file_run), -ENOENT);
  ck_assert_int_eq(rmdir(f.dir), 0);
  free_rt(rt);
}
END_TEST

/* ---- deadlines on notify waits and joins (through a slot) ---- */

struct slow_leaf {
  bio_task task;
  bio_io io;
  int r;
};

static int slow_leaf_run(bio_task *t) {
  struct slow_leaf *l = bio_container_of(t, struct slow_leaf, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, l->r, bio_sleep(t, &l->io, 60000000)); /* 60 ms */
  BIO_END(t, 77);
}

struct dl_task {
  bio_task task;
  bio_io io;
  bio_notify n;
  struct slow_leaf leaf;
  int r1, r2, r3, r4, r5;
};

static int dl_run(bio_task *t) {
  struct dl_task *d = bio_container_of(t, struct dl_task, task);
  BIO_BEGIN(t);
  bio_notify_init(&d->n);
  /* Nobody notifies: the deadline ends the wait, the waiter leaves. */
  bio_io_deadline(&d->io, bio_now_ns() + 10000000);
  BIO_AWAIT(t, d->r1, bio_notify_wait_io(t, &d->io, &d->n));
  /* Its permit is kept (no waiter to take it), and taken at once. */
  bio_notify_one(&d->n);
  bio_io_deadline(&d->io, 0);
  BIO_AWAIT(t, d->r2, bio_notify_wait_io(t, &d->io, &d->n));
  /* A join that times out leaves its target running and joinable. */
  bio_spawn(t->scope, &d->leaf.task, slow_leaf_run);
  bio_io_deadline(&d->io, bio_now_ns() + 10000000);
  BIO_AWAIT(t, d->r3, bio_join_io(t, &d->io, &d->leaf.task));
  ck_assert(!bio_task_done(&d->leaf.task));
  bio_io_deadline(&d->io, 0);
  BIO_AWAIT(t, d->r4, bio_join_io(t, &d->io, &d->leaf.task));
  BIO_END(t, 0);
}

START_TEST(deadlines_end_notify_waits_and_joins_through_a_slot) {
  bio_rt *rt = new_rt(_i);
  struct dl_task d;
  memset(&d, 0, sizeof(d));
  ck_assert_int_eq(bio_rt_block_on(rt, &d.task, dl_run), 0);
  ck_assert_int_eq(d.r1, -ETIMEDOUT);
  ck_assert_int_eq(d.r2, 0);
  ck_assert_int_eq(d.r3, -ETIMEDOUT);
  ck_assert_int_eq(d.r4, 77);
  free_rt(rt);
}
END_TEST

/* ---- the cooperative budget ---- */

static int ticks, ticks_when_read_done;

struct ticker {
  bio_task task;
  int i;
};

static int ticker_run(bio_task *t) {
  struct ticker *k = bio_container_of(t, struct ticker, task);
  BIO_BEGIN(t);
  for (k->i = 0; k->i < 1000 && ticks_when_read_done < 0; k->i++) {
    ticks++;
    BIO_YIELD(t);
  }
  BIO_END(t, 0);
}

struct greedy {
  bio_task task;
  bio_io io;
  int fd;
  int r;
  long got;
  char buf[16];
};

static int greedy_run(bio_task *t) {
  struct greedy *g = bio_container_of(t, struct greedy, task);
  BIO_BEGIN(t);
  while (g->got < 65536) {
    BIO_AWAIT(t, g->r, bio_recv(t, &g->io, g->fd, g->buf, sizeof g->buf));
    ck_assert_int_gt(g->r, 0);
    g->got += g->r;
  }
  ticks_when_read_done = ticks;
  BIO_END(t, 0);
}

/* A task whose awaits all end at once (epoll: the data is there, recv
 * succeeds without waiting) still lets its neighbours run: 4,096 reads
 * are not one turn. */
START_TEST(a_task_that_never_waits_still_yields_to_its_neighbours) {
  bio_rt *rt = new_rt(_i);
  struct greedy g;
  struct ticker k;
  static char data[65536];
  int sv[2], bufsz = 1 << 20;
  ck_assert_int_eq(sockpair(sv), 0);
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
  ck_assert_int_eq(write(sv[1], data, sizeof(data)), (int)sizeof(data));
  memset(&g, 0, sizeof(g));
  memset(&k, 0, sizeof(k));
  g.fd = sv[0];
  ticks = 0;
  ticks_when_read_done = -1;
  bio_spawn(bio_rt_scope(rt), &g.task, greedy_run);
  bio_spawn(bio_rt_scope(rt), &k.task, ticker_run);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  ck_assert_int_eq(g.got, 65536);
  /* 4,096 awaits, a budget of 128 a turn: the ticker ran in between. */
  ck_assert_int_ge(ticks_when_read_done, 16);
  close(sv[0]);
  close(sv[1]);
  free_rt(rt);
}
END_TEST

/* ---- DNS ---- */

struct dns_task {
  bio_task task;
  bio_io io;
  struct addrinfo hints;
  struct addrinfo *res;
  int r, bad;
};

static int dns_run(bio_task *t) {
  struct dns_task *d = bio_container_of(t, struct dns_task, task);
  BIO_BEGIN(t);
  d->hints.ai_family = AF_INET;
  d->hints.ai_socktype = SOCK_STREAM;
  BIO_AWAIT(t, d->r, bio_getaddrinfo(t, &d->io, "localhost", "80", &d->hints,
                                     &d->res));
  ck_assert_int_eq(d->r, 0);
  ck_assert_ptr_nonnull(d->res);
  ck_assert_int_eq(d->res->ai_family, AF_INET);
  ck_assert_uint_eq(
      ((struct sockaddr_in *)(void *)d->res->ai_addr)->sin_addr.s_addr,
      htonl(INADDR_LOOPBACK));
  ck_assert_uint_eq(
      ((struct sockaddr_in *)(void *)d->res->ai_addr)->sin_port, htons(80));
  freeaddrinfo(d->res);
  d->hints.ai_flags = 0x7fff0000; /* no such flags: EAI_BADFLAGS */
  BIO_AWAIT(t, d->bad, bio_getaddrinfo(t, &d->io, "localhost", NULL,
                                       &d->hints, &d->res));
  BIO_END(t, d->bad);
}

START_TEST(getaddrinfo_resolves_on_the_pool) {
  bio_rt *rt = new_rt(_i);
  struct dns_task d;
  memset(&d, 0, sizeof(d));
  ck_assert_int_eq(bio_rt_block_on(rt, &d.task, dns_run), -EINVAL);
  ck_assert_ptr_null(d.res);
  free_rt(rt);
}
END_TEST

/* ---- Unix-domain stream sockets ---- */

struct unix_srv {
  bio_task task;
  bio_io io;
  int lfd, fd, r;
  char buf[8];
};

static int unix_srv_run(bio_task *t) {
  struct unix_srv *u = bio_container_of(t, struct unix_srv, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, u->fd, bio_accept(t, &u->io, u->lfd));
  ck_assert_int_ge(u->fd, 0);
  BIO_AWAIT(t, u->r, bio_recv(t, &u->io, u->fd, u->buf, sizeof u->buf));
  ck_assert_int_eq(u->r, 4);
  BIO_AWAIT(t, u->r, bio_send_all(t, &u->io, u->fd, "pong", 4));
  BIO_AWAIT(t, u->r, bio_close(t, &u->io, u->fd));
  BIO_END(t, 0);
}

struct unix_cli {
  bio_task task;
  bio_io io;
  struct sockaddr_un *addr;
  int fd, r;
  char buf[8];
};

static int unix_cli_run(bio_task *t) {
  struct unix_cli *u = bio_container_of(t, struct unix_cli, task);
  BIO_BEGIN(t);
  u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  BIO_AWAIT(t, u->r, bio_connect(t, &u->io, u->fd,
                                 (struct sockaddr *)u->addr,
                                 sizeof(*u->addr)));
  ck_assert_int_eq(u->r, 0);
  BIO_AWAIT(t, u->r, bio_send_all(t, &u->io, u->fd, "ping", 4));
  BIO_AWAIT(t, u->r, bio_recv(t, &u->io, u->fd, u->buf, sizeof u->buf));
  ck_assert_int_eq(u->r, 4);
  ck_assert_int_eq(memcmp(u->buf, "pong", 4), 0);
  BIO_AWAIT(t, u->r, bio_close(t, &u->io, u->fd));
  BIO_END(t, 0);
}

START_TEST(unix_sockets_accept_connect_and_talk) {
  bio_rt *rt = new_rt(_i);
  struct unix_srv srv;
  struct unix_cli cli;
  struct sockaddr_un addr;
  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/bio-task-%d-%d.sock",
           (int)getpid(), _i);
  unlink(addr.sun_path);
  srv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  ck_assert_int_eq(listen(srv.lfd, 8), 0);
  cli.addr = &addr;
  bio_spawn(bio_rt_scope(rt), &srv.task, unix_srv_run);
  bio_spawn(bio_rt_scope(rt), &cli.task, unix_cli_run);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  ck_assert(bio_task_done(&srv.task) && bio_task_done(&cli.task));
  close(srv.lfd);
  unlink(addr.sun_path);
  free_rt(rt);
}
END_TEST

/* ---- from other threads ---- */

struct flag_task {
  bio_task task;
  bio_io io;
  volatile int *flag;
  int r;
};

static int setter_run(bio_task *t) {
  struct flag_task *f = bio_container_of(t, struct flag_task, task);
  *f->flag = 1;
  return 0;
}

static int watcher_run(bio_task *t) {
  struct flag_task *f = bio_container_of(t, struct flag_task, task);
  BIO_BEGIN(t);
  while (!*f->flag)
    BIO_AWAIT(t, f->r, bio_sleep(t, &f->io, 1000000));
  BIO_END(t, 5);
}

struct spawner {
  bio_rt *rt;
  struct flag_task *task;
};

static void *spawner_main(void *arg) {
  struct spawner *s = arg;
  usleep(20000);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(s->rt), &s->task->task, setter_run),
                   0);
  return NULL;
}

START_TEST(a_task_spawned_from_another_thread_runs_on_the_runtime) {
  bio_rt *rt = new_rt(_i);
  volatile int flag = 0;
  struct flag_task w, setter;
  struct spawner sp = {rt, &setter};
  pthread_t th;
  memset(&w, 0, sizeof(w));
  memset(&setter, 0, sizeof(setter));
  w.flag = setter.flag = &flag;
  ck_assert_int_eq(pthread_create(&th, NULL, spawner_main, &sp), 0);
  ck_assert_int_eq(bio_rt_block_on(rt, &w.task, watcher_run), 5);
  pthread_join(th, NULL);
  ck_assert(bio_task_done(&setter.task));
  free_rt(rt);
}
END_TEST

/* ---- cancels and posts from other threads ---- */

static void *cancel_later(void *arg) {
  usleep(20000);
  bio_scope_cancel(arg);
  return NULL;
}

START_TEST(a_scope_cancelled_from_another_thread_ends_its_awaits) {
  bio_rt *rt = new_rt(_i);
  bio_scope scope;
  struct waiter_task w[2];
  struct closer c;
  pthread_t th;
  int i;
  memset(w, 0, sizeof(w));
  memset(&c, 0, sizeof(c));
  bio_scope_init(&scope, rt, NULL);
  for (i = 0; i < 2; i++) {
    w[i].what = W_SLEEP;
    ck_assert_int_eq(bio_spawn(&scope, &w[i].task, waiter_run), 0);
  }
  ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &scope), 0);
  /* The closer waits (without cancelling) until the other thread has. */
  c.scope = &scope;
  ck_assert_int_eq(bio_rt_block_on(rt, &c.task, closer_nocancel_run), 0);
  pthread_join(th, NULL);
  for (i = 0; i < 2; i++)
    ck_assert_int_eq(w[i].r, -ECANCELED);
  free_rt(rt);
}
END_TEST

#define POSTERS 4
#define POSTS 500
struct post_rec {
  bio_post post;
  int thread, seq;
};
static int last_seq[POSTERS];
static int nposted;
static int post_disorder;

static void on_post(void *arg) {
  struct post_rec *p = arg;
  if (p->seq != last_seq[p->thread] + 1)
    post_disorder++;
  last_seq[p->thread] = p->seq;
  nposted++;
}

struct poster_arg {
  bio_loop *loop;
  struct post_rec *recs;
  int thread;
};

static void *poster_main(void *arg) {
  struct poster_arg *a = arg;
  int k;
  for (k = 0; k < POSTS; k++) {
    a->recs[k].thread = a->thread;
    a->recs[k].seq = k + 1;
    bio_loop_post(a->loop, &a->recs[k].post, on_post, &a->recs[k]);
  }
  return NULL;
}

START_TEST(posts_from_threads_run_once_each_in_their_order) {
  bio_loop *loop;
  struct post_rec *recs = calloc(POSTERS * POSTS, sizeof(*recs));
  struct poster_arg args[POSTERS];
  pthread_t th[POSTERS];
  int i, turns = 0;

  use_backend(backends[_i]);
  ck_assert_int_eq(bio_loop_new(&loop), 0);
  memset(last_seq, 0, sizeof(last_seq));
  nposted = post_disorder = 0;
  for (i = 0; i < POSTERS; i++) {
    args[i].loop = loop;
    args[i].recs = recs + i * POSTS;
    args[i].thread = i;
    ck_assert_int_eq(pthread_create(&th[i], NULL, poster_main, &args[i]), 0);
  }
  while (nposted < POSTERS * POSTS && turns++ < 100000)
    ck_assert_int_ge(bio_loop_poll(loop, 100), 0);
  for (i = 0; i < POSTERS; i++)
    pthread_join(th[i], NULL);
  ck_assert_int_eq(nposted, POSTERS * POSTS);
  ck_assert_int_eq(post_disorder, 0);
  bio_loop_free(loop);
  free(recs);
}
END_TEST

/* ---- the fault backend: refused and pushed-back submissions ---- */

START_TEST(a_refused_submission_ends_the_await_with_its_error) {
  bio_rt *rt;
  struct waiter_task w;
  int sv[2];
  use_backend(_i == 0 ? "fault:uring" : "fault:epoll");
  ck_assert_int_eq(bio_rt_new(&rt, NULL), 0);
  ck_assert_int_eq(sockpair(sv), 0);
  memset(&w, 0, sizeof(w));
  w.what = W_READ;
  w.fd = sv[0];
  /* The next two submissions fail: the read (ENOMEM ends it), then the
   * 1 ns sleep is an alarm, not a submission, and runs. */
  bio__fault_inject(bio_rt_loop(rt), ENOMEM, 0, 1);
  ck_assert_int_eq(bio_rt_block_on(rt, &w.task, waiter_run), -ENOMEM);
  ck_assert_int_eq(w.r2, 0);
  /* EAGAIN: the core holds the op and submits it again. */
  memset(&w, 0, sizeof(w));
  w.what = W_READ;
  w.fd = sv[0];
  ck_assert_int_eq(write(sv[1], "abc", 3), 3);
  bio__fault_inject(bio_rt_loop(rt), EAGAIN, 0, 3);
  ck_assert_int_eq(bio_rt_block_on(rt, &w.task, waiter_run), 3);
  close(sv[0]);
  close(sv[1]);
  free_rt(rt);
}
END_TEST

/* Short transfers on purpose (the fault backend halves the next many
 * sends and recvs): send_all still sends every byte, in order, and the
 * reader's recvs add up to it. */
#define SHORT_BYTES (4 << 20)

struct short_sender {
  bio_task task;
  bio_io io;
  int fd;
  unsigned char *buf;
};

static int short_send_run(bio_task *t) {
  struct short_sender *s = bio_container_of(t, struct short_sender, task);
  int r = 0;
  BIO_BEGIN(t);
  BIO_AWAIT(t, r, bio_send_all(t, &s->io, s->fd, s->buf, SHORT_BYTES));
  BIO_END(t, r);
}

struct short_reader {
  bio_task task;
  bio_io io;
  int fd;
  long got;
  long recvs;
  int bad;
  unsigned char buf[65536];
};

static int short_read_run(bio_task *t) {
  struct short_reader *r = bio_container_of(t, struct short_reader, task);
  int n, k;
  BIO_BEGIN(t);
  while (r->got < SHORT_BYTES) {
    BIO_AWAIT(t, n, bio_recv(t, &r->io, r->fd, r->buf, sizeof r->buf));
    if (n <= 0)
      return n < 0 ? n : -EPIPE;
    for (k = 0; k < n; k++)
      if (r->buf[k] != (unsigned char)((r->got + k) * 7 + 3))
        r->bad++;
    r->got += n;
    r->recvs++;
  }
  BIO_END(t, 0);
}

START_TEST(short_sends_and_recvs_still_move_every_byte_in_order) {
  bio_rt *rt;
  struct short_sender *snd = calloc(1, sizeof(*snd));
  struct short_reader *rd = calloc(1, sizeof(*rd));
  int sv[2];
  long k;

  use_backend(_i == 0 ? "fault:uring" : "fault:epoll");
  ck_assert_int_eq(bio_rt_new(&rt, NULL), 0);
  ck_assert_int_eq(sockpair(sv), 0);
  snd->buf = malloc(SHORT_BYTES);
  for (k = 0; k < SHORT_BYTES; k++)
    snd->buf[k] = (unsigned char)(k * 7 + 3);
  snd->fd = sv[0];
  rd->fd = sv[1];
  ck_assert_int_eq(bio__fault_short(bio_rt_loop(rt), 1000000), 0);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &rd->task, short_read_run), 0);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &snd->task, short_send_run), 0);
  ck_assert_int_eq(bio_rt_run(rt), 0);
  ck_assert_int_eq(bio_task_result(&snd->task), SHORT_BYTES);
  ck_assert_int_eq(bio_task_result(&rd->task), 0);
  ck_assert_int_eq(rd->got, SHORT_BYTES);
  ck_assert_int_eq(rd->bad, 0);
  /* Some transfers went down halved (on epoll, those the syscall tried
   * first could not finish). */
  ck_assert_uint_gt(bio__fault_injected(bio_rt_loop(rt)), 0);
  close(sv[0]);
  close(sv[1]);
  free(snd->buf);
  free(snd);
  free(rd);
  free_rt(rt);
}
END_TEST

/* ---- frame memory across threads ---- */

/* A size class no other test here uses. */
#define ODD_FRAME 712

struct frame_pair {
  void *kept, *freed;
};

static void *alloc_two_free_one(void *arg) {
  struct frame_pair *p = arg;
  p->kept = bio_frame_alloc(ODD_FRAME);
  p->freed = bio_frame_alloc(ODD_FRAME);
  bio_frame_free(p->freed, ODD_FRAME);
  return NULL;
}

static void *alloc_two(void *arg) {
  struct frame_pair *p = arg;
  p->kept = bio_frame_alloc(ODD_FRAME);
  p->freed = bio_frame_alloc(ODD_FRAME);
  return NULL;
}

/* A thread's frames outlive it: the one it freed, and the one freed on
 * another thread after it exited, serve the next thread that allocates
 * (it adopts the exited thread's cache) instead of being lost. */
START_TEST(an_exited_thread_s_frames_serve_the_next_thread) {
  struct frame_pair a, b;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, alloc_two_free_one, &a), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  ck_assert_ptr_nonnull(a.kept);
  bio_frame_free(a.kept, ODD_FRAME); /* its owner has exited */
  ck_assert_int_eq(pthread_create(&th, NULL, alloc_two, &b), 0);
  ck_assert_int_eq(pthread_join(th, NULL), 0);
  ck_assert_ptr_eq(b.kept, a.freed);
  ck_assert_ptr_eq(b.freed, a.kept);
  bio_frame_free(b.kept, ODD_FRAME);
  bio_frame_free(b.freed, ODD_FRAME);
}
END_TEST

/* ---- a socket's receiver (bio_recv_stream) ---- */

#define RX_BULK (1u << 20)

static void *rx_bulk_writer(void *arg) {
  int fd = *(int *)arg;
  static char chunk[5000];
  size_t sent = 0;
  while (sent < RX_BULK) {
    size_t i, n = RX_BULK - sent < sizeof chunk ? RX_BULK - sent
                                                 : sizeof chunk;
    ssize_t w;
    struct pollfd p = {fd, POLLOUT, 0};
    for (i = 0; i < n; i++)
      chunk[i] = (char)((sent + i) * 7 + (sent + i) / 251);
    for (i = 0; i < n; i += (size_t)w) {
      w = write(fd, chunk + i, n - i);
      if (w < 0) {
        ck_assert_int_eq(errno, EAGAIN);
        poll(&p, 1, -1);
        w = 0;
      }
    }
    sent += n;
  }
  shutdown(fd, SHUT_WR);
  return NULL;
}

struct rx_task {
  bio_task task;
  bio_io rx, other;
  int fd, peer;
  int r, i;
  size_t got;
  char buf[64];
  char *bulk;
  pthread_t writer; /* joined by the test once the task has ended */
};

static int rx_run(bio_task *t) {
  struct rx_task *x = bio_container_of(t, struct rx_task, task);
  BIO_BEGIN(t);
  /* A read takes what it has room for; the rest waits for the next. */
  ck_assert_int_eq(write(x->peer, "hello", 5), 5);
  BIO_AWAIT(t, x->r, bio_recv_stream(t, &x->rx, x->fd, x->buf, 2));
  ck_assert_int_eq(x->r, 2);
  ck_assert_int_eq(memcmp(x->buf, "he", 2), 0);
  BIO_AWAIT(t, x->r, bio_recv_stream(t, &x->rx, x->fd, x->buf, 10));
  ck_assert_int_eq(x->r, 3);
  ck_assert_int_eq(memcmp(x->buf, "llo", 3), 0);
  /* Bytes that come while the task sleeps wait for it, in order. */
  for (x->i = 0; x->i < 3; x->i++)
    ck_assert_int_eq(write(x->peer, x->i == 0 ? "abc" : x->i == 1 ? "defg"
                                                                   : "hij",
                           x->i == 1 ? 4 : 3),
                     x->i == 1 ? 4 : 3);
  BIO_AWAIT(t, x->r, bio_sleep(t, &x->other, 20000000));
  x->got = 0;
  while (x->got < 10) {
    BIO_AWAIT(t, x->r, bio_recv_stream(t, &x->rx, x->fd, x->buf + x->got,
                                       3));
    ck_assert_int_gt(x->r, 0);
    x->got += (size_t)x->r;
  }
  ck_assert_int_eq(memcmp(x->buf, "abcdefghij", 10), 0);
  /* A megabyte from another thread, read in small pieces with pauses:
   * every byte in order, then the end, and the end again. */
  ck_assert_int_eq(pthread_create(&x->writer, NULL, rx_bulk_writer, &x->peer),
                   0);
  x->got = 0;
  for (x->i = 0;; x->i++) {
    BIO_AWAIT(t, x->r, bio_recv_stream(t, &x->rx, x->fd, x->bulk + x->got,
                                       RX_BULK + 1 - x->got < 3000
                                           ? RX_BULK + 1 - x->got
                                           : 3000));
    ck_assert_int_ge(x->r, 0);
    if (x->r == 0)
      break;
    x->got += (size_t)x->r;
    if (x->i % 64 == 0)
      BIO_AWAIT(t, x->r, bio_sleep(t, &x->other, 1000000));
  }
  ck_assert_uint_eq(x->got, RX_BULK);
  for (x->got = 0; x->got < RX_BULK; x->got++)
    ck_assert_int_eq(x->bulk[x->got],
                     (char)(x->got * 7 + x->got / 251));
  BIO_AWAIT(t, x->r, bio_recv_stream(t, &x->rx, x->fd, x->buf, 1));
  ck_assert_int_eq(x->r, 0);
  BIO_AWAIT(t, x->r, bio_close(t, &x->rx, x->fd));
  BIO_END(t, x->r);
}

START_TEST(a_receiver_keeps_what_comes_between_reads_in_order) {
  bio_rt *rt = new_rt(_i);
  struct rx_task *x = calloc(1, sizeof(*x));
  int sv[2];
  ck_assert_int_eq(sockpair(sv), 0);
  x->fd = sv[0];
  x->peer = sv[1];
  x->bulk = malloc(RX_BULK + 1);
  ck_assert_int_eq(bio_rt_block_on(rt, &x->task, rx_run), 0);
  pthread_join(x->writer, NULL);
  free_rt(rt);
  close(sv[1]);
  free(x->bulk);
  free(x);
}
END_TEST

/* Closing or stopping a receiver lets go of the socket at once: its peer
 * sees the end (a multishot recv the kernel still held would keep the
 * socket open), whether the task ended its reads itself, by a deadline,
 * or by cancellation. */
struct rx_close {
  bio_task task;
  bio_io rx;
  int fd, peer, how;
  int r, r2;
  char buf[8];
};

static int rx_close_run(bio_task *t) {
  struct rx_close *c = bio_container_of(t, struct rx_close, task);
  BIO_BEGIN(t);
  ck_assert_int_eq(write(c->peer, "x", 1), 1);
  BIO_AWAIT(t, c->r, bio_recv_stream(t, &c->rx, c->fd, c->buf, sizeof c->buf));
  ck_assert_int_eq(c->r, 1);
  if (c->how == 1) {
    /* Timed out: the stream goes on, and still has to be ended. */
    bio_io_deadline(&c->rx, bio_now_ns() + 10000000);
    BIO_AWAIT(t, c->r, bio_recv_stream(t, &c->rx, c->fd, c->buf, 1));
    ck_assert_int_eq(c->r, -ETIMEDOUT);
    bio_io_deadline(&c->rx, 0);
    ck_assert_int_eq(write(c->peer, "late", 4), 4);
    BIO_AWAIT(t, c->r, bio_recv_stream(t, &c->rx, c->fd, c->buf, 8));
    ck_assert_int_eq(c->r, 4);
    ck_assert_int_eq(memcmp(c->buf, "late", 4), 0);
  } else if (c->how == 2) {
    /* Cancelled while it reads (the test thread cancels the root). */
    BIO_AWAIT(t, c->r, bio_recv_stream(t, &c->rx, c->fd, c->buf, 1));
    ck_assert_int_eq(c->r, -ECANCELED);
  }
  if (c->how == 3) {
    BIO_AWAIT(t, c->r2, bio_recv_stop(t, &c->rx));
    ck_assert_int_eq(c->r2, 0);
    ck_assert_int_eq(bio_recv_stop(t, &c->rx), 0); /* once is enough */
    close(c->fd);
  } else {
    BIO_AWAIT(t, c->r2, bio_close(t, &c->rx, c->fd));
  }
  BIO_END(t, c->r2);
}

static void *cancel_soon(void *arg) {
  usleep(20000);
  bio_scope_cancel(bio_rt_scope(arg));
  return NULL;
}

START_TEST(closing_a_receiver_lets_its_peer_see_the_end) {
  int how;
  for (how = 0; how < 4; how++) {
    bio_rt *rt = new_rt(_i);
    struct rx_close c;
    struct pollfd p;
    pthread_t th;
    int sv[2];
    char b;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(sockpair(sv), 0);
    c.fd = sv[0];
    c.peer = sv[1];
    c.how = how;
    if (how == 2)
      ck_assert_int_eq(pthread_create(&th, NULL, cancel_soon, rt), 0);
    ck_assert_int_eq(bio_rt_block_on(rt, &c.task, rx_close_run),
                     (how == 2 ? -ECANCELED : 0));
    if (how == 2)
      pthread_join(th, NULL);
    p.fd = sv[1];
    p.events = POLLIN;
    p.revents = 0;
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    ck_assert_int_eq(read(sv[1], &b, 1), 0);
    close(sv[1]);
    free_rt(rt);
  }
}
END_TEST

/* More receivers than the loop has buffers, each sent more than a
 * buffer's worth at once: every byte arrives (a read that finds the
 * buffers gone receives into its own). */
#define RX_MANY 600
#define RX_MANY_BYTES 9000

struct rx_many {
  bio_task task;
  bio_io rx;
  int fd;
  int r;
  size_t got;
  long sum;
  char buf[RX_MANY_BYTES];
};

static int rx_many_run(bio_task *t) {
  struct rx_many *m = bio_container_of(t, struct rx_many, task);
  size_t i;
  BIO_BEGIN(t);
  for (;;) {
    BIO_AWAIT(t, m->r, bio_recv_stream(t, &m->rx, m->fd, m->buf,
                                       sizeof m->buf));
    if (m->r <= 0)
      break;
    for (i = 0; i < (size_t)m->r; i++)
      m->sum += (unsigned char)m->buf[i] * (long)(m->got + i + 1);
    m->got += (size_t)m->r;
  }
  BIO_AWAIT(t, m->r, bio_close(t, &m->rx, m->fd));
  BIO_END(t, m->r);
}

struct rx_many_main {
  bio_task task;
  struct rx_many *m;
  int *peer;
  int i, r;
};

static int rx_many_main_run(bio_task *t) {
  struct rx_many_main *mm = bio_container_of(t, struct rx_many_main, task);
  static char data[RX_MANY_BYTES];
  BIO_BEGIN(t);
  for (mm->i = 0; mm->i < RX_MANY_BYTES; mm->i++)
    data[mm->i] = (char)(mm->i * 13 + 5);
  for (mm->i = 0; mm->i < RX_MANY; mm->i++)
    ck_assert_int_eq(bio_spawn(t->scope, &mm->m[mm->i].task, rx_many_run), 0);
  BIO_YIELD(t); /* every receiver reads before any byte comes */
  for (mm->i = 0; mm->i < RX_MANY; mm->i++) {
    ck_assert_int_eq(write(mm->peer[mm->i], data, RX_MANY_BYTES),
                     RX_MANY_BYTES);
    shutdown(mm->peer[mm->i], SHUT_WR);
  }
  for (mm->i = 0; mm->i < RX_MANY; mm->i++) {
    BIO_AWAIT(t, mm->r, bio_join(t, &mm->m[mm->i].task));
    ck_assert_int_eq(mm->r, 0);
  }
  BIO_END(t, 0);
}

START_TEST(more_receivers_than_loop_buffers_get_every_byte) {
  bio_rt *rt = new_rt(_i);
  struct rx_many_main mm;
  long want = 0;
  int i, sv[2];
  memset(&mm, 0, sizeof(mm));
  mm.m = calloc(RX_MANY, sizeof(*mm.m));
  mm.peer = calloc(RX_MANY, sizeof(int));
  for (i = 0; i < RX_MANY_BYTES; i++)
    want += (unsigned char)(char)(i * 13 + 5) * (long)(i + 1);
  for (i = 0; i < RX_MANY; i++) {
    ck_assert_int_eq(sockpair(sv), 0);
    mm.m[i].fd = sv[0];
    mm.peer[i] = sv[1];
  }
  ck_assert_int_eq(bio_rt_block_on(rt, &mm.task, rx_many_main_run), 0);
  for (i = 0; i < RX_MANY; i++) {
    ck_assert_uint_eq(mm.m[i].got, RX_MANY_BYTES);
    ck_assert_int_eq(mm.m[i].sum, want);
    close(mm.peer[i]);
  }
  free(mm.m);
  free(mm.peer);
  free_rt(rt);
}
END_TEST

struct rx_bad {
  bio_task task;
  bio_io rx, plain;
  int fd, peer;
  int r;
  char buf[4];
};

static int rx_bad_run(bio_task *t) {
  struct rx_bad *b = bio_container_of(t, struct rx_bad, task);
  BIO_BEGIN(t);
  ck_assert_int_eq(bio_recv_stream(NULL, &b->rx, b->fd, b->buf, 1), -EINVAL);
  ck_assert_int_eq(bio_recv_stream(t, NULL, b->fd, b->buf, 1), -EINVAL);
  ck_assert_int_eq(bio_recv_stream(t, &b->rx, -1, b->buf, 1), -EINVAL);
  ck_assert_int_eq(bio_recv_stream(t, &b->rx, b->fd, NULL, 1), -EINVAL);
  ck_assert_int_eq(bio_recv_stop(NULL, &b->rx), -EINVAL);
  ck_assert_int_eq(bio_recv_stop(t, NULL), -EINVAL);
  ck_assert_int_eq(bio_recv_stop(t, &b->plain), 0); /* not a receiver */
  ck_assert_int_eq(write(b->peer, "ab", 2), 2);
  BIO_AWAIT(t, b->r, bio_recv_stream(t, &b->rx, b->fd, b->buf, 1));
  ck_assert_int_eq(b->r, 1);
  if (bio__loop_supports(t->scope->rt->loop, BIO_CAP_RECV_BUFS)) {
    /* The slot is fd's receiver now. */
    ck_assert_int_eq(bio_recv_stream(t, &b->rx, b->peer, b->buf, 1),
                     -EINVAL);
    ck_assert_int_eq(bio_recv(t, &b->rx, b->fd, b->buf, 1), -EBUSY);
    ck_assert_int_eq(bio_send(t, &b->rx, b->fd, "x", 1), -EBUSY);
  }
  BIO_AWAIT(t, b->r, bio_recv_stream(t, &b->rx, b->fd, b->buf, 4));
  ck_assert_int_eq(b->r, 1);
  ck_assert_int_eq(b->buf[0], 'b');
  BIO_AWAIT(t, b->r, bio_close(t, &b->rx, b->fd));
  BIO_END(t, b->r);
}

START_TEST(a_receiver_refuses_bad_input_and_other_awaits) {
  bio_rt *rt = new_rt(_i);
  struct rx_bad b;
  int sv[2];
  memset(&b, 0, sizeof(b));
  ck_assert_int_eq(sockpair(sv), 0);
  b.fd = sv[0];
  b.peer = sv[1];
  ck_assert_int_eq(bio_rt_block_on(rt, &b.task, rx_bad_run), 0);
  close(sv[1]);
  free_rt(rt);
}
END_TEST

/* ---- a searching worker and posts to its loop ---- */

/* Work stealing: a worker with nothing to run searches the queues a while
 * (up to 50 us) before it parks. A post to its loop (a wake from another
 * worker through bio_loop_post, a pool job's end) is work for it too, and
 * must end the search: a wake ping-pong between two workers took the
 * whole search for every wake (23,000 round trips/s against 80,000-
 * 130,000 once the search saw posts). Worker 1 is held in a task that
 * doesn't yield, so that its loop takes nothing meanwhile. */
static atomic_int held, release;
static int hold_run(bio_task *t) {
  (void)t;
  atomic_store(&held, 1);
  while (!atomic_load(&release))
    ;
  return 0;
}
static void post_noop(void *arg) { (void)arg; }

START_TEST(a_searching_worker_sees_a_post_to_its_loop) {
  bio_runtime_options o;
  bio_runtime *rt;
  bio_task h;
  bio_post post;
  use_backend(backends[_i]);
  bio_runtime_options_init(&o);
  o.workers = 2;
  o.shape = BIO_RUNTIME_STEALING;
  ck_assert_int_eq(bio_runtime_new(&rt, &o), 0);
  atomic_store(&held, 0);
  atomic_store(&release, 0);
  memset(&h, 0, sizeof(h));
  ck_assert_int_eq(bio_runtime_spawn_on(rt, 1, &h, hold_run), 0);
  while (!atomic_load(&held))
    usleep(100);
  /* The task may have been stolen: hold_run runs on worker 0 or 1. */
  {
    unsigned w = bio_rt_loop(h.scope->rt) == bio_rt_loop(
                                                  bio_runtime_scope(rt, 0)->rt)
                     ? 0
                     : 1;
    ck_assert_int_eq(bio__runtime_search_would_end(rt, w), 0);
    bio_loop_post(bio_rt_loop(h.scope->rt), &post, post_noop, NULL);
    ck_assert_int_eq(bio__runtime_search_would_end(rt, w), 1);
  }
  atomic_store(&release, 1);
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_arguments_are_einval) {
  bio_rt *rt = new_rt(0);
  struct leaf l;
  ck_assert_int_eq(bio_rt_new(NULL, NULL), -EINVAL);
  ck_assert_int_eq(bio_spawn(NULL, &l.task, leaf_run), -EINVAL);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), NULL, leaf_run), -EINVAL);
  ck_assert_int_eq(bio_spawn(bio_rt_scope(rt), &l.task, NULL), -EINVAL);
  ck_assert_ptr_null(bio_spawn_new(bio_rt_scope(rt), 8, leaf_run));
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_int_eq(bio_rt_run(NULL), -EINVAL);
  free_rt(rt);
}
END_TEST

int main(void) {
  Suite *s = suite_create("task");
  TCase *tc = tcase_create("task");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, spawned_tasks_run_and_join_with_their_results, 0,
                      NBACKENDS);
  tcase_add_loop_test(tc, yield_lets_every_other_task_run_first, 0, 2);
  tcase_add_loop_test(tc, sleeps_end_in_deadline_order_and_never_early, 0,
                      2);
  tcase_add_loop_test(tc, woken_task_runs_next_yet_queue_gets_its_turn, 0,
                      2);
  tcase_add_loop_test(tc, notify_wakes_waiters_in_order_and_keeps_one_permit,
                      0, 2);
  tcase_add_loop_test(
      tc, closing_a_scope_cancels_sleeps_reads_connects_and_waits, 0,
      NBACKENDS);
  tcase_add_loop_test(tc, shutdown_cancels_every_task_and_returns_when_all_ended,
                      0, 2);
  tcase_add_loop_test(tc, a_deadline_ends_a_read_and_a_connect_with_etimedout,
                      0, NBACKENDS);
  tcase_add_loop_test(tc, tcp_echo_between_tasks_moves_every_byte, 0,
                      NBACKENDS);
  tcase_add_loop_test(tc, udp_datagrams_carry_their_sender, 0, 2);
  tcase_add_loop_test(tc, getaddrinfo_resolves_on_the_pool, 0, 2);
  tcase_add_loop_test(
      tc, a_task_that_never_waits_still_yields_to_its_neighbours, 0, 2);
  tcase_add_loop_test(tc, deadlines_end_notify_waits_and_joins_through_a_slot,
                      0, 2);
  tcase_add_loop_test(tc, unix_sockets_accept_connect_and_talk, 0,
                      NBACKENDS);
  tcase_add_loop_test(tc, file_futures_write_read_rename_stat_unlink, 0,
                      NBACKENDS);
  tcase_add_loop_test(tc, a_task_spawned_from_another_thread_runs_on_the_runtime,
                      0, 2);
  tcase_add_loop_test(
      tc, a_scope_cancelled_from_another_thread_ends_its_awaits, 0, 2);
  tcase_add_loop_test(tc, posts_from_threads_run_once_each_in_their_order, 0,
                      2);
  tcase_add_loop_test(
      tc, short_sends_and_recvs_still_move_every_byte_in_order, 0, 2);
  tcase_add_loop_test(tc, a_refused_submission_ends_the_await_with_its_error,
                      0, 2);
  tcase_add_loop_test(tc, a_receiver_keeps_what_comes_between_reads_in_order,
                      0, NBACKENDS);
  tcase_add_loop_test(tc, closing_a_receiver_lets_its_peer_see_the_end, 0,
                      NBACKENDS);
  tcase_add_loop_test(tc, more_receivers_than_loop_buffers_get_every_byte, 0,
                      2);
  tcase_add_loop_test(tc, a_receiver_refuses_bad_input_and_other_awaits, 0,
                      2);
  tcase_add_loop_test(tc, a_searching_worker_sees_a_post_to_its_loop, 0, 2);
  tcase_add_test(tc, bad_arguments_are_einval);
  tcase_add_test(tc, an_exited_thread_s_frames_serve_the_next_thread);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
