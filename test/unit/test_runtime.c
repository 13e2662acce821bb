/* bio_runtime, thread-per-core: tasks spread over the workers, each stays
 * on its worker across awaits, every one runs once (a checksum), spawns
 * from outside and from inside, block_on from a non-worker thread, and
 * shutdown that drains or cancels and leaves nothing running. 1, 2 and 4
 * workers, on io_uring and on epoll. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blitzio.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};
static const unsigned nworkers[] = {1, 2, 4};

/* The shape under test: the "stealing" case's fixture sets it. */
static int shape = BIO_RUNTIME_PER_CORE;

static void use_stealing(void) { shape = BIO_RUNTIME_STEALING; }

static bio_runtime *new_runtime(int i, unsigned workers) {
  bio_runtime_options o;
  bio_runtime *rt;
  bio_test_backend(backends[i]);
  bio_runtime_options_init(&o);
  o.workers = workers;
  o.shape = shape;
  ck_assert_int_eq(bio_runtime_new(&rt, &o), 0);
  ck_assert_uint_eq(bio_runtime_workers(rt), workers);
  return rt;
}

#define NTASKS 20000
static atomic_long checksum;
static atomic_int ran, moved;
static atomic_int per_worker[4];

struct job {
  bio_task task;
  bio_io io;
  bio_runtime *rt;
  struct job *child;
  long id;
  int worker;
  int r;
  char byte;
};

static int job_run(bio_task *t) {
  struct job *j = bio_container_of(t, struct job, task);
  BIO_BEGIN(t);
  j->worker = bio_worker_index();
  ck_assert_int_ge(j->worker, 0);
  BIO_YIELD(t);
  if (bio_worker_index() != j->worker)
    atomic_fetch_add(&moved, 1);
  BIO_AWAIT(t, j->r, bio_sleep(t, &j->io, 100000 + (uint64_t)(j->id % 7) * 50000));
  ck_assert_int_eq(j->r, 0);
  if (bio_worker_index() != j->worker)
    atomic_fetch_add(&moved, 1);
  /* Every tenth spawns a child from inside: thread-per-core, it runs on
   * this worker (and joins it there); work stealing, another may take it
   * (the join is then a wait for its end, from this worker). */
  if (j->child != NULL) {
    j->child->rt = j->rt;
    ck_assert_int_eq(bio_runtime_spawn(j->rt, &j->child->task, job_run), 0);
    if (shape == BIO_RUNTIME_PER_CORE) {
      BIO_AWAIT(t, j->r, bio_join(t, &j->child->task));
      ck_assert_int_eq(j->r, j->worker);
    } else {
      while (!bio_task_done(&j->child->task)) {
        BIO_AWAIT(t, j->r, bio_sleep(t, &j->io, 200000));
      }
      ck_assert_int_ge(bio_task_result(&j->child->task), 0);
    }
  }
  atomic_fetch_add(&checksum, j->id);
  atomic_fetch_add(&ran, 1);
  atomic_fetch_add(&per_worker[j->worker], 1);
  BIO_END(t, j->worker);
}

/* What bio_runtime_dump writes, as a string in buf. */
static void dump_text(bio_runtime *rt, char *buf, size_t size) {
  int fds[2];
  ssize_t n;
  ck_assert_int_eq(pipe(fds), 0);
  ck_assert_int_eq(bio_runtime_dump(rt, fds[1]), 0);
  n = read(fds[0], buf, size - 1);
  ck_assert_int_gt(n, 0);
  buf[n] = 0;
  close(fds[0]);
  close(fds[1]);
}

START_TEST(tasks_spread_stay_on_their_worker_and_all_run) {
  unsigned w = nworkers[_i % 3];
  bio_runtime *rt = new_runtime(_i / 3, w);
  struct job *jobs = calloc(NTASKS + NTASKS / 10, sizeof(*jobs));
  long want = 0;
  int i, nchild = 0;

  atomic_store(&checksum, 0);
  atomic_store(&ran, 0);
  atomic_store(&moved, 0);
  for (i = 0; i < 4; i++)
    atomic_store(&per_worker[i], 0);
  for (i = 0; i < NTASKS; i++) {
    jobs[i].id = i + 1;
    jobs[i].rt = rt;
    want += i + 1;
    if (i % 10 == 0) {
      struct job *c = &jobs[NTASKS + nchild++];
      c->id = 1000000 + i;
      want += c->id;
      jobs[i].child = c;
    }
    ck_assert_int_eq(bio_runtime_spawn(rt, &jobs[i].task, job_run), 0);
  }
  /* Drain: returns once every task has run to its end. */
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  ck_assert_int_eq(atomic_load(&ran), NTASKS + nchild);
  ck_assert_int_eq(atomic_load(&checksum), want);
  ck_assert_int_eq(atomic_load(&moved), 0);
  /* In turn (thread-per-core), or whoever takes them (stealing): every
   * worker ran its share, or at least some. */
  for (i = 0; i < (int)w; i++)
    ck_assert_int_gt(atomic_load(&per_worker[i]),
                     shape == BIO_RUNTIME_PER_CORE ? NTASKS / (int)w / 2 : 0);
  for (i = 0; i < NTASKS; i++)
    ck_assert(bio_task_done(&jobs[i].task));
  free(jobs);
}
END_TEST

static int answer_run(bio_task *t) {
  struct job *j = bio_container_of(t, struct job, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, j->r, bio_sleep(t, &j->io, 1000000));
  BIO_END(t, 42);
}

START_TEST(block_on_from_a_plain_thread_gives_the_result) {
  bio_runtime *rt = new_runtime(_i, 2);
  struct job j;
  int k;
  for (k = 0; k < 10; k++) {
    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(bio_runtime_block_on(rt, &j.task, answer_run), 42);
    ck_assert(bio_task_done(&j.task));
  }
  ck_assert_int_eq(bio_worker_index(), -1);
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
}
END_TEST

static atomic_int cancelled;

static int sleeper_run(bio_task *t) {
  struct job *j = bio_container_of(t, struct job, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, j->r, bio_sleep(t, &j->io, 60ull * 1000000000u));
  if (j->r == -ECANCELED)
    atomic_fetch_add(&cancelled, 1);
  BIO_END(t, j->r);
}

START_TEST(shutdown_with_cancel_ends_every_sleep_at_once) {
  bio_runtime *rt = new_runtime(_i, 4);
  struct job *jobs = calloc(1000, sizeof(*jobs));
  int i;
  atomic_store(&cancelled, 0);
  for (i = 0; i < 1000; i++)
    ck_assert_int_eq(bio_runtime_spawn(rt, &jobs[i].task, sleeper_run), 0);
  usleep(20000); /* parked, most of them */
  ck_assert_int_eq(bio_runtime_shutdown(rt, 1), 0);
  ck_assert_int_eq(atomic_load(&cancelled), 1000);
  for (i = 0; i < 1000; i++)
    ck_assert_int_eq(bio_task_result(&jobs[i].task), -ECANCELED);
  free(jobs);
}
END_TEST

static int quick_run(bio_task *t) {
  (void)t;
  return 0;
}

/* Reads one byte from fd j->id, then closes it (on its worker: the
 * loop's backend may still look at the fd after the recv). */
static int recv_one_run(bio_task *t) {
  struct job *j = bio_container_of(t, struct job, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, j->r, bio_recv(t, &j->io, (int)j->id, &j->byte, 1));
  close((int)j->id);
  BIO_END(t, j->r);
}

/* The counters a running program can read, and the dump. */
START_TEST(counters_show_what_each_worker_did) {
  bio_runtime *rt = new_runtime(_i, 2);
  bio_task tasks[100];
  bio_rt_stats st[2];
  char buf[1024];
  int i, turns = 0;
  uint64_t spawned = 0;

  memset(tasks, 0, sizeof(tasks));
  for (i = 0; i < 100; i++)
    ck_assert_int_eq(bio_runtime_spawn(rt, &tasks[i], quick_run), 0);
  while (spawned < 100 && turns++ < 1000) {
    usleep(1000);
    ck_assert_int_eq(bio_runtime_stats(rt, 0, &st[0]), 0);
    ck_assert_int_eq(bio_runtime_stats(rt, 1, &st[1]), 0);
    spawned = st[0].spawned + st[1].spawned;
  }
  ck_assert_uint_eq(spawned, 100);
  for (i = 0; i < 2; i++) {
    ck_assert_uint_eq(st[i].spawned, 50);
    ck_assert_uint_ge(st[i].handed_over, 50);
    ck_assert_uint_ge(st[i].resumes, 50);
    ck_assert_uint_ge(st[i].polls, 1);
  }
  ck_assert_int_eq(bio_runtime_stats(rt, 2, &st[0]), -EINVAL);
  /* A recv waiting on worker 1 is an op in flight there. */
  {
    struct job j;
    int sv[2];
    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    j.id = sv[0];
    ck_assert_int_eq(bio_runtime_spawn_on(rt, 1, &j.task, recv_one_run), 0);
    for (turns = 0; turns < 2000; turns++) {
      ck_assert_int_eq(bio_runtime_stats(rt, 1, &st[1]), 0);
      if (st[1].ops_in_flight >= 1)
        break;
      usleep(1000);
    }
    ck_assert_uint_ge(st[1].ops_in_flight, 1);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    while (!bio_task_done(&j.task))
      usleep(1000);
    ck_assert_int_eq(bio_task_result(&j.task), 1);
    close(sv[1]);
  }
  dump_text(rt, buf, sizeof(buf));
  ck_assert_ptr_nonnull(strstr(buf, "worker 0 ("));
  ck_assert_ptr_nonnull(strstr(buf, "worker 1 ("));
  ck_assert_ptr_nonnull(strstr(buf, "spawned 50"));
  ck_assert_ptr_nonnull(strstr(buf, "ops in flight "));
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
}
END_TEST

/* Spins for ms milliseconds of wall time, yielding every step_ms (0:
 * never): a task that blocks its worker, or one that shares it. */
struct spinner {
  bio_task task;
  uint64_t until, step_ns, next;
  uint64_t resumed, longest_ns; /* this resume's start; the longest one */
};

/* Exported (the tests build with hidden visibility) for dladdr. */
__attribute__((visibility("default"))) int long_task_spin_run(bio_task *t);
int long_task_spin_run(bio_task *t) {
  struct spinner *s = bio_container_of(t, struct spinner, task);
  s->resumed = bio_now_ns();
  BIO_BEGIN(t);
  while (bio_now_ns() < s->until) {
    if (s->step_ns != 0 && bio_now_ns() >= s->next) {
      uint64_t now = bio_now_ns();
      s->next = now + s->step_ns;
      if (now - s->resumed > s->longest_ns)
        s->longest_ns = now - s->resumed;
      BIO_YIELD(t);
    }
  }
  if (bio_now_ns() - s->resumed > s->longest_ns)
    s->longest_ns = bio_now_ns() - s->resumed;
  BIO_END(t, 0);
}

/* The watchdog counts a resume that runs past long_task_us (and names it
 * with BIO_RUNTIME_REPORT_LONG), and not a task that runs as long in
 * short resumes. */
START_TEST(a_task_that_never_yields_is_counted_and_named) {
  bio_runtime_options o;
  bio_runtime *rt;
  struct spinner blocker, sharer;
  bio_rt_stats st;
  char out[4096];
  int saved, fd, i, preempted;
  ssize_t n;
  FILE *tmp = tmpfile();

  bio_test_backend(backends[_i]);
  ck_assert_ptr_nonnull(tmp);
  bio_runtime_options_init(&o);
  o.workers = 2;
  /* 50 ms: far above what a 1 ms resume takes, even preempted on a busy
   * machine (the watchdog measures wall time). */
  o.long_task_us = 50000;
  o.flags = BIO_RUNTIME_REPORT_LONG;
  /* The report goes to stderr: catch it in a file. */
  fflush(stderr);
  saved = dup(2);
  ck_assert_int_eq(dup2(fileno(tmp), 2), 2);
  ck_assert_int_eq(bio_runtime_new(&rt, &o), 0);
  memset(&blocker, 0, sizeof(blocker));
  memset(&sharer, 0, sizeof(sharer));
  /* 300 ms in one resume on worker 0; 300 ms in 1 ms resumes on 1. */
  blocker.until = bio_now_ns() + 300000000u;
  sharer.until = blocker.until;
  sharer.step_ns = 1000000u;
  ck_assert_int_eq(
      bio_runtime_spawn_on(rt, 0, &blocker.task, long_task_spin_run), 0);
  ck_assert_int_eq(
      bio_runtime_spawn_on(rt, 1, &sharer.task, long_task_spin_run), 0);
  for (i = 0; i < 2000 && !(bio_task_done(&blocker.task) &&
                            bio_task_done(&sharer.task));
       i++)
    usleep(1000);
  ck_assert_int_eq(bio_runtime_stats(rt, 0, &st), 0);
  ck_assert_uint_eq(st.long_tasks, 1);
  ck_assert_int_eq(bio_runtime_stats(rt, 1, &st), 0);
  /* Unless a 1 ms resume really lasted about 50 ms of wall time: the OS
   * took the CPU from it midway (seen with three busy loops on two CPUs,
   * before the work-stealing ring and after, 1 to 3 runs in 80), and the
   * watchdog was right to count it. */
  preempted = sharer.longest_ns >= 40000000u;
  if (!preempted)
    ck_assert_uint_eq(st.long_tasks, 0);
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  fflush(stderr);
  ck_assert_int_eq(dup2(saved, 2), 2);
  close(saved);
  fd = fileno(tmp);
  ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
  n = read(fd, out, sizeof(out) - 1);
  ck_assert_int_gt(n, 0);
  out[n] = 0;
  ck_assert_ptr_nonnull(strstr(out, "worker 0: task "));
  ck_assert_ptr_nonnull(strstr(out, "(long_task_spin_run)"));
  if (!preempted)
    ck_assert_ptr_null(strstr(out, "worker 1:"));
  fclose(tmp);
}
END_TEST

/* ---- hops: wakes across workers that park between them ----
 *
 * CHAINS chains of hops: each hop yields, sometimes sleeps, adds its
 * number to a checksum and spawns the next hop of its chain on the next
 * worker. With few chains the workers park between hops, so every hop is
 * a wake of a worker that is parking or parked: a lost wake-up stalls a
 * chain, and the test fails on its bounded wait. BIO_SOAK_SECONDS=N makes
 * it run for N seconds instead of HOPS hops (make soak-tsan). */
#define CHAINS 3
#define RING 8 /* frames per chain, reused once their task is done */
#define HOPS 30000

struct hop {
  bio_task task;
  bio_io io;
  struct chain *chain;
  long n;
  int r;
};

struct chain {
  bio_runtime *rt;
  struct hop ring[RING];
  long hops;          /* hops to make (0: until stop) */
  atomic_long made;   /* hops that ran */
  atomic_long sum;    /* of their numbers */
  atomic_int over;    /* the chain has ended */
};

static atomic_int soak_stop;

static int hop_run(bio_task *t) {
  struct hop *h = bio_container_of(t, struct hop, task);
  struct chain *c = h->chain;
  struct hop *next;
  unsigned w;
  BIO_BEGIN(t);
  BIO_YIELD(t);
  if (h->n % 64 == 0) {
    BIO_AWAIT(t, h->r, bio_sleep(t, &h->io, 100000));
    ck_assert_int_eq(h->r, 0);
  }
  atomic_fetch_add(&c->sum, h->n);
  atomic_fetch_add(&c->made, 1);
  if ((c->hops != 0 && h->n + 1 >= c->hops) ||
      (c->hops == 0 && atomic_load(&soak_stop))) {
    atomic_store(&c->over, 1);
    return 0;
  }
  /* RING hops ago that frame's task spawned its successor; it may still
   * be finishing on its worker: wait for it (locals don't live across a
   * yield: next is found again). */
  for (;;) {
    next = &c->ring[(h->n + 1) % RING];
    if (next->task.fn == NULL || bio_task_done(&next->task))
      break;
    BIO_YIELD(t);
  }
  next->chain = c;
  next->n = h->n + 1;
  bio_io_init(&next->io);
  w = (unsigned)(bio_worker_index() + 1) % bio_runtime_workers(c->rt);
  /* Work stealing: every other hop goes through this worker's queue, for
   * an idle worker to steal (and be woken for). */
  if (shape == BIO_RUNTIME_STEALING && (h->n & 1))
    ck_assert_int_eq(bio_runtime_spawn(c->rt, &next->task, hop_run), 0);
  else
    ck_assert_int_eq(bio_runtime_spawn_on(c->rt, w, &next->task, hop_run),
                     0);
  BIO_END(t, 0);
}

START_TEST(hops_across_parking_workers_lose_no_wake) {
  unsigned w = nworkers[1 + _i % 2];
  bio_runtime *rt = new_runtime(_i / 2, w);
  struct chain *chains = calloc(CHAINS, sizeof(*chains));
  const char *soak = getenv("BIO_SOAK_SECONDS");
  uint64_t end = 0;
  long before[CHAINS] = {0};
  int c, stalls = 0;

  if (soak != NULL && atoi(soak) > 0)
    end = bio_now_ns() + (uint64_t)atoi(soak) * 1000000000u;
  atomic_store(&soak_stop, 0);
  for (c = 0; c < CHAINS; c++) {
    chains[c].rt = rt;
    chains[c].hops = end != 0 ? 0 : HOPS;
    chains[c].ring[0].chain = &chains[c];
    ck_assert_int_eq(bio_runtime_spawn_on(rt, (unsigned)c % w,
                                          &chains[c].ring[0].task, hop_run),
                     0);
  }
  /* Every chain must move within each 10 s look (a lost wake stops one
   * for good). */
  for (;;) {
    int all_over = 1;
    sleep(end != 0 ? 1 : 0);
    usleep(end != 0 ? 0 : 10000);
    if (end != 0 && bio_now_ns() >= end)
      atomic_store(&soak_stop, 1);
    for (c = 0; c < CHAINS; c++)
      all_over &= atomic_load(&chains[c].over);
    if (all_over)
      break;
    if (++stalls % (end != 0 ? 10 : 1000) == 0) {
      for (c = 0; c < CHAINS; c++) {
        long made = atomic_load(&chains[c].made);
        ck_assert_msg(atomic_load(&chains[c].over) || made != before[c],
                      "chain %d stalled at hop %ld", c, made);
        before[c] = made;
      }
    }
  }
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  for (c = 0; c < CHAINS; c++) {
    long made = atomic_load(&chains[c].made);
    if (end == 0)
      ck_assert_int_eq(made, HOPS);
    ck_assert_int_eq(atomic_load(&chains[c].sum), made * (made - 1) / 2);
  }
  free(chains);
}
END_TEST

/* Work stealing: tasks spawned on one worker by a task there end up
 * spread over every worker (steals counted), each run once. */
struct cruncher {
  bio_task task;
  long id;
};

static int crunch_run(bio_task *t) {
  struct cruncher *c = bio_container_of(t, struct cruncher, task);
  uint64_t x = (uint64_t)c->id * 2654435761u + 1;
  int k, w = bio_worker_index();
  for (k = 0; k < 200000; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  atomic_fetch_add(&checksum, c->id + (long)(x == 0));
  atomic_fetch_add(&per_worker[w], 1);
  return 0;
}

#define NCRUNCH 400
struct fanner {
  bio_task task;
  bio_runtime *rt;
  struct cruncher *c;
};

static int fanner_run(bio_task *t) {
  struct fanner *f = bio_container_of(t, struct fanner, task);
  int i;
  for (i = 0; i < NCRUNCH; i++)
    ck_assert_int_eq(bio_runtime_spawn(f->rt, &f->c[i].task, crunch_run), 0);
  return 0;
}

/* Starts f's task on worker 0, which spawns NCRUNCH crunchers there;
 * returns the checksum they will make. */
static long fan_from_worker_0(struct fanner *f, bio_runtime *rt) {
  long want = 0;
  int i;
  f->rt = rt;
  f->c = calloc(NCRUNCH, sizeof(*f->c));
  atomic_store(&checksum, 0);
  for (i = 0; i < 4; i++)
    atomic_store(&per_worker[i], 0);
  for (i = 0; i < NCRUNCH; i++) {
    f->c[i].id = i + 1;
    want += i + 1;
  }
  ck_assert_int_eq(bio_runtime_spawn_on(rt, 0, &f->task, fanner_run), 0);
  return want;
}

START_TEST(tasks_spawned_on_one_worker_are_stolen_by_the_others) {
  unsigned w = nworkers[1 + _i % 2], i;
  bio_runtime *rt = new_runtime(_i / 2, w);
  struct fanner f;
  uint64_t steals = 0;
  long want = fan_from_worker_0(&f, rt);

  /* Wait for the end while the workers run, then read the counters. */
  while (atomic_load(&checksum) < want)
    usleep(1000);
  for (i = 0; i < w; i++) {
    bio_rt_stats st;
    ck_assert_int_eq(bio_runtime_stats(rt, i, &st), 0);
    steals += st.steals;
    ck_assert_uint_eq(st.queued, 0);
  }
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  ck_assert_int_eq(atomic_load(&checksum), want);
  ck_assert_uint_gt(steals, 0);
  for (i = 0; i < w; i++)
    ck_assert_int_gt(atomic_load(&per_worker[i]), 0);
  free(f.c);
}
END_TEST

/* A million tasks from outside over the workers (2, io_uring): each
 * yields, every 64th sleeps, every 16th spawns a child through the
 * runtime (on a worker, maybe another with stealing) and waits for it to
 * finish, yielding; a checksum of every id says each ran exactly once. */
#define MILLION 1000000
struct mtask {
  bio_task task;
  bio_io io;
  bio_runtime *rt;
  struct mtask *child;
  long id;
  int r;
};

static atomic_long m_sum, m_ran;

static int mtask_run(bio_task *t) {
  struct mtask *m = bio_container_of(t, struct mtask, task);
  BIO_BEGIN(t);
  BIO_YIELD(t);
  if (m->id % 64 == 0) {
    BIO_AWAIT(t, m->r, bio_sleep(t, &m->io, 50000));
    ck_assert_int_eq(m->r, 0);
  }
  if (m->child != NULL) {
    m->child->rt = m->rt;
    ck_assert_int_eq(bio_runtime_spawn(m->rt, &m->child->task, mtask_run), 0);
    while (!bio_task_done(&m->child->task))
      BIO_YIELD(t);
  }
  atomic_fetch_add_explicit(&m_sum, m->id, memory_order_relaxed);
  atomic_fetch_add_explicit(&m_ran, 1, memory_order_relaxed);
  BIO_END(t, 0);
}

START_TEST(a_million_tasks_yield_sleep_spawn_and_wait_across_workers) {
  bio_runtime *rt = new_runtime(0, 2);
  long nchild = MILLION / 16, want = 0, i, k = 0;
  struct mtask *m = calloc(MILLION + nchild, sizeof(*m));
  ck_assert_ptr_nonnull(m);
  atomic_store(&m_sum, 0);
  atomic_store(&m_ran, 0);
  for (i = 0; i < MILLION; i++) {
    m[i].id = i + 1;
    m[i].rt = rt;
    want += i + 1;
    if (i % 16 == 0) {
      struct mtask *c = &m[MILLION + k++];
      c->id = 2 * (long)MILLION + i;
      want += c->id;
      m[i].child = c;
    }
  }
  for (i = 0; i < MILLION; i++)
    ck_assert_int_eq(bio_runtime_spawn(rt, &m[i].task, mtask_run), 0);
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  ck_assert_int_eq(atomic_load(&m_ran), MILLION + nchild);
  ck_assert_int_eq(atomic_load(&m_sum), want);
  free(m);
}
END_TEST

/* Work stealing: a shutdown that drains keeps every worker until no
 * worker has work left, so the work queued on one is still spread. */
START_TEST(a_draining_shutdown_still_spreads_the_work) {
  unsigned w = nworkers[1 + _i % 2], i;
  bio_runtime *rt = new_runtime(_i / 2, w);
  struct fanner f;
  long want = fan_from_worker_0(&f, rt);

  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  ck_assert_int_eq(atomic_load(&checksum), want);
  for (i = 0; i < w; i++)
    ck_assert_int_gt(atomic_load(&per_worker[i]), 0);
  free(f.c);
}
END_TEST

/* Work stealing: spawns from outside, one at a time, each after the last
 * has ended (the workers have parked by then, or are parking): each must
 * wake a worker. A lost wake leaves a task unstarted: the bounded wait
 * fails. */
START_TEST(spawns_from_outside_wake_a_parked_worker) {
  unsigned w = nworkers[1 + _i % 2];
  bio_runtime *rt = new_runtime(_i / 2, w);
  bio_task t;
  int i, k;
  const char *soak = getenv("BIO_SOAK_SECONDS");
  uint64_t end = soak != NULL && atoi(soak) > 0
                     ? bio_now_ns() + (uint64_t)atoi(soak) * 1000000000u
                     : 0;
  /* 3000 spawns, or (make soak-tsan) as many as fit in the soak. */
  for (i = 0; end != 0 ? bio_now_ns() < end : i < 3000; i++) {
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(bio_runtime_spawn(rt, &t, quick_run), 0);
    for (k = 0; k < 100000 && !bio_task_done(&t); k++)
      if (k > 100)
        usleep(50);
    ck_assert_msg(bio_task_done(&t), "spawn %d was never started", i);
    if (i % 100 == 0)
      usleep(2000); /* long enough to park for sure */
  }
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
}
END_TEST

/* The wakeups counter: none while the workers sit parked with nothing
 * to do; then each spawn from outside, made once the last has run and
 * the workers have parked again, wakes one of them (thread-per-core: the
 * one it goes to; work stealing: an idle one, called by wake_idle, or by
 * a searcher that found the task and passes the wake on). */
START_TEST(wakeups_count_spawns_onto_parked_workers) {
  bio_runtime *rt = new_runtime(_i, 2);
  bio_rt_stats st;
  bio_task t;
  uint64_t before = 0, after = 0;
  unsigned w;
  int i, k;
  char buf[2048];

  usleep(20000);
  for (w = 0; w < 2; w++) {
    ck_assert_int_eq(bio_runtime_stats(rt, w, &st), 0);
    before += st.wakeups;
  }
  ck_assert_uint_eq(before, 0);
  for (i = 0; i < 20; i++) {
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(bio_runtime_spawn(rt, &t, quick_run), 0);
    for (k = 0; k < 20000 && !bio_task_done(&t); k++)
      usleep(50);
    ck_assert(bio_task_done(&t));
    usleep(5000); /* parked again */
  }
  for (w = 0; w < 2; w++) {
    ck_assert_int_eq(bio_runtime_stats(rt, w, &st), 0);
    after += st.wakeups;
  }
  ck_assert_uint_gt(after, 0);
  /* One per spawn, give or take a searcher passing a wake on. */
  ck_assert_uint_le(after, 40);
  dump_text(rt, buf, sizeof(buf));
  ck_assert_ptr_nonnull(strstr(buf, ", wakeups "));
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
}
END_TEST

/* Frames the runtime frees (bio_runtime_spawn_frame): spawned from this
 * thread, finished and freed on the workers. A frame freed on a worker
 * goes back to the cache of the thread that allocated it, so the second
 * round's frames are all the first round's (a cache per thread that kept
 * what it freed would leave the workers hoarding them, and this thread
 * carving and page-faulting new memory for every spawn). */
#define FRAME_TASKS 1000
struct framed {
  bio_task task;
  long id;
  /* A size class of its own: no other test's frames wait in the cache of
   * this class. */
  char pad[344];
};

static atomic_long frames_done;

static int framed_run(bio_task *t) {
  struct framed *f = bio_container_of(t, struct framed, task);
  atomic_fetch_add(&checksum, f->id);
  atomic_fetch_add(&frames_done, 1);
  return 0;
}

static int ptr_cmp(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

START_TEST(frames_freed_on_workers_go_back_to_the_spawning_thread) {
  uintptr_t *first = malloc(FRAME_TASKS * sizeof(*first));
  struct framed **f = malloc(FRAME_TASKS * sizeof(*f));
  long round, i, want = 0;

  atomic_store(&checksum, 0);
  atomic_store(&frames_done, 0);
  /* A runtime per round: its shutdown has joined the workers, so every
   * frame of the round has been freed when the next round allocates. The
   * frames of a round are all allocated before the first is spawned (so
   * none is reused within the round). */
  for (round = 0; round < 2; round++) {
    bio_runtime *rt = new_runtime(_i / 2, nworkers[1 + _i % 2]);
    for (i = 0; i < FRAME_TASKS; i++) {
      f[i] = bio_frame_alloc(sizeof(**f));
      ck_assert_ptr_nonnull(f[i]);
      if (round == 0)
        first[i] = (uintptr_t)f[i];
      else
        ck_assert_msg(bsearch(&(uintptr_t){(uintptr_t)f[i]}, first,
                              FRAME_TASKS, sizeof(*first), ptr_cmp) != NULL,
                      "frame %ld of the second round is new memory", i);
      f[i]->id = round * FRAME_TASKS + i + 1;
      want += f[i]->id;
    }
    for (i = 0; i < FRAME_TASKS; i++)
      ck_assert_int_eq(bio_runtime_spawn_frame(rt, &f[i]->task, sizeof(**f),
                                               framed_run),
                       0);
    ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
    ck_assert_int_eq(atomic_load(&frames_done), (round + 1) * FRAME_TASKS);
    if (round == 0)
      qsort(first, FRAME_TASKS, sizeof(*first), ptr_cmp);
  }
  ck_assert_int_eq(atomic_load(&checksum), want);
  free(first);
  free(f);
}
END_TEST

/* Work stealing with every worker busy (a task on each that always
 * yields, so none is idle or searching): tasks spawned on a worker start
 * there within a few turns. Before, they waited for the busy worker's
 * fairness look, every 61 turns, 4 at a time, while no one would steal
 * them: connections accepted on a busy worker waited, and the idle
 * moments of the others took them all. */
#define BUSY_KIDS 8
static atomic_int busy_worker = -1, busy_stop, kids_ran;

static int kid_run(bio_task *t) {
  (void)t;
  atomic_fetch_add(&kids_ran, 1);
  return 0;
}

struct busy {
  bio_task task;
  bio_runtime *rt;
  int spawner;
  long turns;
  int i;
  bio_task kids[BUSY_KIDS];
};

static int busy_run(bio_task *t) {
  struct busy *b = bio_container_of(t, struct busy, task);
  BIO_BEGIN(t);
  if (!b->spawner) {
    atomic_store(&busy_worker, bio_worker_index());
    while (!atomic_load(&busy_stop))
      BIO_YIELD(t);
  } else {
    ck_assert_int_ne(bio_worker_index(), atomic_load(&busy_worker));
    for (b->i = 0; b->i < BUSY_KIDS; b->i++)
      ck_assert_int_eq(bio_runtime_spawn(b->rt, &b->kids[b->i], kid_run), 0);
    while (atomic_load(&kids_ran) < BUSY_KIDS) {
      BIO_YIELD(t);
      b->turns++;
    }
    atomic_store(&busy_stop, 1);
  }
  BIO_END(t, 0);
}

START_TEST(tasks_queued_on_a_busy_worker_start_when_no_one_is_idle) {
  bio_runtime *rt = new_runtime(_i, 2);
  struct busy other, spawner;
  memset(&other, 0, sizeof(other));
  memset(&spawner, 0, sizeof(spawner));
  atomic_store(&busy_worker, -1);
  atomic_store(&busy_stop, 0);
  atomic_store(&kids_ran, 0);
  other.rt = spawner.rt = rt;
  spawner.spawner = 1;
  ck_assert_int_eq(bio_runtime_spawn_on(rt, 1, &other.task, busy_run), 0);
  while (atomic_load(&busy_worker) < 0)
    usleep(100);
  /* A busy worker never steals: the spawner stays where it is put. */
  ck_assert_int_eq(bio_runtime_spawn_on(rt, 1u - (unsigned)atomic_load(
                                                    &busy_worker),
                                        &spawner.task, busy_run),
                   0);
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  ck_assert_int_eq(atomic_load(&kids_ran), BUSY_KIDS);
  ck_assert_int_lt(spawner.turns, 20);
}
END_TEST

START_TEST(bad_options_are_refused) {
  bio_runtime_options o;
  bio_runtime *rt;
  bio_runtime_options_init(&o);
  ck_assert_int_eq(o.shape, BIO_RUNTIME_PER_CORE);
  ck_assert_int_eq(bio_runtime_new(NULL, &o), -EINVAL);
  o.shape = 99;
  ck_assert_int_eq(bio_runtime_new(&rt, &o), -EINVAL);
  o.shape = BIO_RUNTIME_PER_CORE;
  o.workers = 100000;
  ck_assert_int_eq(bio_runtime_new(&rt, &o), -EINVAL);
  o.workers = 1;
  o.flags = 0x80; /* not a flag */
  ck_assert_int_eq(bio_runtime_new(&rt, &o), -EINVAL);
  o.flags = 0;
  o.long_task_us = 60000001; /* over a minute */
  ck_assert_int_eq(bio_runtime_new(&rt, &o), -EINVAL);
  /* UINT32_MAX: no watchdog; stealing takes spawns with NULL refused. */
  o.long_task_us = UINT32_MAX;
  o.shape = BIO_RUNTIME_STEALING;
  ck_assert_int_eq(bio_runtime_new(&rt, &o), 0);
  ck_assert_int_eq(bio_runtime_spawn(rt, NULL, quick_run), -EINVAL);
  {
    /* A frame too small for the header, or NULL: refused, not freed. */
    struct framed *f = bio_frame_alloc(sizeof(*f));
    ck_assert_int_eq(bio_runtime_spawn_frame(rt, &f->task, 8, framed_run),
                     -EINVAL);
    ck_assert_int_eq(bio_runtime_spawn_frame(rt, NULL, sizeof(*f),
                                             framed_run),
                     -EINVAL);
    ck_assert_int_eq(
        bio_runtime_spawn_frame(rt, &f->task, sizeof(*f), NULL), -EINVAL);
    ck_assert_int_eq(bio_runtime_spawn_frame_on(rt, 7, &f->task, sizeof(*f),
                                                framed_run),
                     -EINVAL);
    bio_frame_free(f, sizeof(*f));
  }
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
  ck_assert_int_eq(bio_runtime_spawn(NULL, NULL, NULL), -EINVAL);
  o.long_task_us = 0;
  o.shape = BIO_RUNTIME_PER_CORE;
  /* 0: one per CPU. */
  o.workers = 0;
  ck_assert_int_eq(bio_runtime_new(&rt, &o), 0);
  ck_assert_uint_ge(bio_runtime_workers(rt), 1);
  ck_assert_ptr_null(bio_runtime_scope(rt, bio_runtime_workers(rt)));
  ck_assert_int_eq(bio_runtime_spawn_on(rt, bio_runtime_workers(rt), NULL,
                                        NULL),
                   -EINVAL);
  ck_assert_int_eq(bio_runtime_shutdown(rt, 0), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("runtime");
  TCase *tc = tcase_create("runtime"), *hops, *steal, *hops_steal;
  double tcase_timeout = getenv("BIO_SOAK_SECONDS") != NULL
                             ? atoi(getenv("BIO_SOAK_SECONDS")) * 2 + 60
                             : 60;

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, tasks_spread_stay_on_their_worker_and_all_run, 0,
                      6);
  tcase_add_loop_test(tc, block_on_from_a_plain_thread_gives_the_result, 0,
                      2);
  tcase_add_loop_test(tc, shutdown_with_cancel_ends_every_sleep_at_once, 0,
                      2);
  tcase_add_loop_test(tc, counters_show_what_each_worker_did, 0, 2);
  tcase_add_test(tc, bad_options_are_refused);
  tcase_add_loop_test(tc, frames_freed_on_workers_go_back_to_the_spawning_thread,
                      0, 4);
  tcase_add_loop_test(tc, wakeups_count_spawns_onto_parked_workers, 0, 2);
  tcase_add_loop_test(tc, a_task_that_never_yields_is_counted_and_named, 0,
                      2);
  tcase_add_test(tc, a_million_tasks_yield_sleep_spawn_and_wait_across_workers);
  suite_add_tcase(s, tc);
  /* 2 and 4 workers, io_uring and epoll; its own case, for make soak-tsan
   * (CK_RUN_CASE=hops). */
  /* The same on the work-stealing shape, and stealing itself. */
  steal = tcase_create("stealing");
  tcase_set_timeout(steal, 60);
  tcase_add_checked_fixture(steal, use_stealing, NULL);
  tcase_add_loop_test(steal, tasks_spread_stay_on_their_worker_and_all_run,
                      0, 6);
  tcase_add_loop_test(steal, block_on_from_a_plain_thread_gives_the_result,
                      0, 2);
  tcase_add_loop_test(steal, shutdown_with_cancel_ends_every_sleep_at_once,
                      0, 2);
  tcase_add_loop_test(
      steal, tasks_spawned_on_one_worker_are_stolen_by_the_others, 0, 4);
  tcase_add_loop_test(steal, a_task_that_never_yields_is_counted_and_named,
                      0, 2);
  tcase_add_loop_test(steal, spawns_from_outside_wake_a_parked_worker, 0, 4);
  tcase_add_loop_test(
      steal, tasks_queued_on_a_busy_worker_start_when_no_one_is_idle, 0, 2);
  tcase_add_loop_test(steal, wakeups_count_spawns_onto_parked_workers, 0, 2);
  tcase_add_loop_test(steal, a_draining_shutdown_still_spreads_the_work, 0, 4);
  tcase_add_loop_test(
      steal, frames_freed_on_workers_go_back_to_the_spawning_thread, 0, 4);
  tcase_add_test(steal,
                 a_million_tasks_yield_sleep_spawn_and_wait_across_workers);
  suite_add_tcase(s, steal);
  hops = tcase_create("hops");
  tcase_set_timeout(hops, tcase_timeout);
  tcase_add_loop_test(hops, hops_across_parking_workers_lose_no_wake, 0, 4);
  suite_add_tcase(s, hops);
  hops_steal = tcase_create("hops-stealing");
  tcase_set_timeout(hops_steal, tcase_timeout);
  tcase_add_checked_fixture(hops_steal, use_stealing, NULL);
  tcase_add_loop_test(hops_steal, hops_across_parking_workers_lose_no_wake, 0,
                      4);
  tcase_add_loop_test(hops_steal, spawns_from_outside_wake_a_parked_worker, 0,
                      4);
  suite_add_tcase(s, hops_steal);
  return bio_check_run(s);
}
