/* bio_task micro-benchmarks, the same ones as the peers in bench/peers/
 * (tokio, Go): `task-bench BENCH [N]` runs one and prints "BENCH VALUE".
 *
 *   spawn_join N  spawn N trivial tasks, then join each: tasks/s
 *   pingpong N    two tasks wake each other N times: round trips/s
 *   parked_rss N  N tasks parked on one notify, 64 bytes of data each:
 *                 RSS growth per task, bytes
 *   sleep_rss N   N tasks each sleeping to its own deadline: RSS growth
 *                 per task, bytes
 *   sleep_late N  N sleeps spread over one second: p99 lateness, us
 *                 (exits 1 if any woke early)
 *   cpu_mix N W   N CPU-bound tasks over a bio_runtime of W workers:
 *                 tasks/s (cpu_mix_one: all spawned by a task on worker 0)
 *   (BIO_BENCH_SHAPE=stealing: the multi-threaded ones on the
 *   work-stealing shape, else thread-per-core; BIO_BENCH_DUMP=1: fanout
 *   and fanout_in print bio_runtime_dump on stderr at the end)
 *   mt_spawn_join N W  a root task per worker spawns N/W trivial tasks
 *                 on its worker and joins each: tasks/s
 *   fanout N W    the main thread spawns N small tasks over W workers,
 *                 the last to finish tells it (fan-in): tasks/s
 *   fanout_in N W the same from a task on worker 0 (per-core: onto the
 *                 workers in turn; stealing: into its own queue)
 *   mt_pingpong N W  two tasks on two workers wake each other N times:
 *                 round trips/s (each wake a bio_loop_post to the other
 *                 worker's loop, whose callback signals its bio_notify)
 *   fanout_frames N W, fanout_in_frames N W  the same two with each
 *                 task's frame from bio_frame_alloc, freed by the runtime
 *                 at the task's end (bio_runtime_spawn_frame)
 *
 * Frames are the caller's memory (one array), allocated inside the timed
 * or measured part, as the peers allocate theirs per spawn; the _frames
 * variants allocate per spawn, from the runtime's frame cache, as the
 * peers do (tokio's tasks from the allocator, Go's from its free list). */
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blitzio.h"

static long rss_bytes(void) {
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb * 1024;
}

static bio_rt *rt;
static long n_tasks;

/* ---- spawn_join ---- */

struct leaf {
  bio_task task;
};

static int leaf_run(bio_task *t) {
  (void)t;
  return 1;
}

struct spawner {
  bio_task task;
  struct leaf *leaves;
  long n; /* tasks to spawn (0: n_tasks) */
  sem_t *done; /* posted at the end, if not NULL */
  long i;
  long sum;
  int r;
};

static int spawner_run(bio_task *t) {
  struct spawner *s = bio_container_of(t, struct spawner, task);
  BIO_BEGIN(t);
  if (s->n == 0)
    s->n = n_tasks;
  s->leaves = malloc((size_t)s->n * sizeof(*s->leaves));
  if (s->leaves == NULL)
    return -ENOMEM;
  for (s->i = 0; s->i < s->n; s->i++)
    bio_spawn(t->scope, &s->leaves[s->i].task, leaf_run);
  for (s->i = 0; s->i < s->n; s->i++) {
    BIO_AWAIT(t, s->r, bio_join(t, &s->leaves[s->i].task));
    s->sum += s->r;
  }
  free(s->leaves);
  if (s->done != NULL)
    sem_post(s->done);
  BIO_END(t, s->sum == s->n ? 0 : -EIO);
}

/* ---- pingpong ---- */

static bio_notify to_a, to_b;
static long rounds;

struct player {
  bio_task task;
  bio_waiter w;
  long i;
  int first;
  int r;
};

static int player_run(bio_task *t) {
  struct player *p = bio_container_of(t, struct player, task);
  BIO_BEGIN(t);
  for (p->i = 0; p->i < n_tasks; p->i++) {
    if (p->first) {
      bio_notify_one(&to_b);
      BIO_AWAIT(t, p->r, bio_notify_wait(t, &p->w, &to_a));
      rounds++;
    } else {
      BIO_AWAIT(t, p->r, bio_notify_wait(t, &p->w, &to_b));
      bio_notify_one(&to_a);
    }
  }
  BIO_END(t, 0);
}

/* ---- parked_rss ---- */

static bio_notify gate;
static long parked;

struct parked_task {
  bio_task task;
  bio_waiter w;
  unsigned char data[64];
};

static int parked_run(bio_task *t) {
  struct parked_task *p = bio_container_of(t, struct parked_task, task);
  int r;
  BIO_BEGIN(t);
  memset(p->data, (int)(uintptr_t)p, sizeof(p->data));
  parked++;
  BIO_AWAIT(t, r, bio_notify_wait(t, &p->w, &gate));
  (void)r;
  BIO_END(t, p->data[5]);
}

/* ---- sleeps ---- */

static uint64_t sleep_start;
static uint64_t *lateness;
static long early;

struct sleeper {
  bio_task task;
  bio_io io;
};

static struct sleeper *sleepers;

static uint64_t deadline_of(long i, uint64_t base, uint64_t span) {
  return sleep_start + base + (uint64_t)i * span / (uint64_t)n_tasks;
}

static int sleeper_run(bio_task *t) {
  struct sleeper *s = bio_container_of(t, struct sleeper, task);
  long i = s - sleepers;
  int r;
  BIO_BEGIN(t);
  BIO_AWAIT(t, r, bio_sleep_until(t, &s->io,
                                  lateness != NULL
                                      ? deadline_of(i, 10000000, 1000000000)
                                      : deadline_of(i, 1000000000,
                                                    1000000000)));
  (void)r;
  if (lateness != NULL) {
    uint64_t now = bio_now_ns();
    uint64_t d = deadline_of(i, 10000000, 1000000000);
    if (now < d)
      early++;
    else
      lateness[i] = now - d;
  }
  BIO_END(t, 0);
}

/* ---- cpu_mix: CPU-bound tasks on a bio_runtime of WORKERS threads ---- */

static _Atomic unsigned long mix_sink;

struct cruncher {
  bio_task task;
  uint64_t x;
  int chunk;
};

static int cruncher_run(bio_task *t) {
  struct cruncher *c = bio_container_of(t, struct cruncher, task);
  int i;
  BIO_BEGIN(t);
  /* 20 chunks of work, yielding between them (a cooperative task). */
  for (c->chunk = 0; c->chunk < 20; c->chunk++) {
    for (i = 0; i < 20000; i++) {
      c->x ^= c->x << 13;
      c->x ^= c->x >> 7;
      c->x ^= c->x << 17;
    }
    BIO_YIELD(t);
  }
  mix_sink += c->x & 1;
  BIO_END(t, 0);
}

struct mix_spawner {
  bio_task task;
  bio_runtime *mt;
  struct cruncher *c;
};

static int mix_spawner_run(bio_task *t) {
  struct mix_spawner *s = bio_container_of(t, struct mix_spawner, task);
  long k;
  for (k = 0; k < n_tasks; k++)
    bio_runtime_spawn(s->mt, &s->c[k].task, cruncher_run);
  return 0;
}

/* ---- fanout: small tasks spread from outside, one fan-in ---- */

struct fan {
  bio_task task;
};

static atomic_long fan_left;
static sem_t fan_done;

static int fan_run(bio_task *t) {
  uint64_t x = (uint64_t)(uintptr_t)t * 2654435761u + 1;
  int k;
  for (k = 0; k < 8; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  /* The fan-in is one counter, as the peers'; the work's result feeds it
   * (xorshift from a nonzero seed never reaches 0: always 1) so that the
   * work can't be left out. */
  if (atomic_fetch_sub_explicit(&fan_left, 1 + (x == 0),
                                memory_order_acq_rel) == 1)
    sem_post(&fan_done);
  return 0;
}

/* BIO_BENCH_SHAPE=stealing: the work-stealing shape (else per-core). */
struct fan_root {
  bio_task task;
  bio_runtime *mt;
  struct fan *f; /* NULL: frames from bio_frame_alloc */
  int stealing;
};

/* The next fan task: the caller's array's k-th, or a frame the runtime
 * frees at the task's end. */
static struct fan *fan_at(struct fan *f, long k) {
  if (f != NULL)
    return &f[k];
  return bio_frame_alloc(sizeof(struct fan));
}

static int fan_spawn(bio_runtime *mt, struct fan *f, struct fan *one,
                     int stealing, unsigned worker) {
  if (f == NULL)
    return stealing ? bio_runtime_spawn_frame(mt, &one->task, sizeof(*one),
                                              fan_run)
                    : bio_runtime_spawn_frame_on(mt, worker, &one->task,
                                                 sizeof(*one), fan_run);
  return stealing ? bio_runtime_spawn(mt, &one->task, fan_run)
                  : bio_runtime_spawn_on(mt, worker, &one->task, fan_run);
}

static int fan_root_run(bio_task *t) {
  struct fan_root *r = bio_container_of(t, struct fan_root, task);
  unsigned w = bio_runtime_workers(r->mt);
  long k;
  for (k = 0; k < n_tasks; k++) {
    struct fan *one = fan_at(r->f, k);
    if (one == NULL || fan_spawn(r->mt, r->f, one, r->stealing,
                                 (unsigned)(k % w)) != 0)
      return -ENOMEM;
  }
  return 0;
}

static bio_runtime *new_mt(unsigned workers) {
  bio_runtime_options o;
  bio_runtime *mt;
  const char *shape = getenv("BIO_BENCH_SHAPE");
  bio_runtime_options_init(&o);
  o.workers = workers;
  if (shape != NULL && strcmp(shape, "stealing") == 0)
    o.shape = BIO_RUNTIME_STEALING;
  if (bio_runtime_new(&mt, &o) != 0)
    return NULL;
  return mt;
}

/* ---- mt_pingpong: a wake ping-pong across two workers ---- */

static bio_notify mt_to[2];  /* mt_to[k]: player k's, on its worker */
static bio_post mt_post[2];  /* a wake on its way to player k */
static bio_loop *_Atomic mt_loop[2];

static void mt_signal(void *arg) { bio_notify_one(arg); }

struct mt_player {
  bio_task task;
  bio_waiter w;
  long i;
  int me;
  int r;
  sem_t *done;
};

static int mt_player_run(bio_task *t) {
  struct mt_player *p = bio_container_of(t, struct mt_player, task);
  BIO_BEGIN(t);
  atomic_store(&mt_loop[p->me], bio_rt_loop(t->scope->rt));
  while (atomic_load(&mt_loop[1 - p->me]) == NULL)
    BIO_YIELD(t);
  /* Both on one worker (work stealing took one before it started): no
   * ping-pong across workers to measure. */
  if (atomic_load(&mt_loop[0]) == atomic_load(&mt_loop[1])) {
    sem_post(p->done);
    return -1;
  }
  for (p->i = 0; p->i < n_tasks; p->i++) {
    if (p->me == 0) {
      bio_loop_post(mt_loop[1], &mt_post[1], mt_signal, &mt_to[1]);
      BIO_AWAIT(t, p->r, bio_notify_wait(t, &p->w, &mt_to[0]));
    } else {
      BIO_AWAIT(t, p->r, bio_notify_wait(t, &p->w, &mt_to[1]));
      bio_loop_post(mt_loop[0], &mt_post[0], mt_signal, &mt_to[0]);
    }
  }
  sem_post(p->done);
  BIO_END(t, 0);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *bench = argc > 1 ? argv[1] : "";
  uint64_t t0, t1;
  long i;
  int err;

  n_tasks = argc > 2 ? atol(argv[2]) : 0;
  if (n_tasks <= 0)
    n_tasks = strcmp(bench, "sleep_late") == 0 ? 100000 : 1000000;
  if ((err = bio_rt_new(&rt, NULL)) != 0) {
    fprintf(stderr, "task-bench: bio_rt_new: %s\n", strerror(-err));
    return 1;
  }
  if (strcmp(bench, "spawn_join") == 0) {
    struct spawner s;
    memset(&s, 0, sizeof(s));
    t0 = bio_now_ns();
    err = bio_rt_block_on(rt, &s.task, spawner_run);
    t1 = bio_now_ns();
    if (err != 0)
      return 1;
    printf("spawn_join %.0f\n", (double)n_tasks * 1e9 / (double)(t1 - t0));
  } else if (strcmp(bench, "pingpong") == 0) {
    struct player a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.first = 1;
    bio_notify_init(&to_a);
    bio_notify_init(&to_b);
    bio_spawn(bio_rt_scope(rt), &b.task, player_run);
    bio_spawn(bio_rt_scope(rt), &a.task, player_run);
    t0 = bio_now_ns();
    bio_rt_run(rt);
    t1 = bio_now_ns();
    if (rounds != n_tasks)
      return 1;
    printf("pingpong %.0f\n", (double)n_tasks * 1e9 / (double)(t1 - t0));
  } else if (strcmp(bench, "parked_rss") == 0) {
    struct parked_task *p;
    long before = rss_bytes(), after;
    bio_notify_init(&gate);
    p = malloc((size_t)n_tasks * sizeof(*p));
    for (i = 0; i < n_tasks; i++)
      bio_spawn(bio_rt_scope(rt), &p[i].task, parked_run);
    while (parked < n_tasks)
      bio_rt_run_once(rt, 0);
    after = rss_bytes();
    bio_notify_all(&gate);
    bio_rt_run(rt);
    free(p);
    printf("parked_rss %.1f\n", (double)(after - before) / (double)n_tasks);
  } else if (strcmp(bench, "sleep_rss") == 0 ||
             strcmp(bench, "sleep_late") == 0) {
    int late = strcmp(bench, "sleep_late") == 0;
    long before = rss_bytes(), after;
    if (late)
      lateness = calloc((size_t)n_tasks, sizeof(*lateness));
    sleep_start = bio_now_ns();
    sleepers = malloc((size_t)n_tasks * sizeof(*sleepers));
    for (i = 0; i < n_tasks; i++) {
      bio_io_init(&sleepers[i].io);
      bio_spawn(bio_rt_scope(rt), &sleepers[i].task, sleeper_run);
    }
    bio_rt_run_once(rt, 0); /* every sleep armed */
    after = rss_bytes();
    bio_rt_run(rt);
    if (late) {
      if (early != 0) {
        fprintf(stderr, "task-bench: %ld sleeps woke early\n", early);
        return 1;
      }
      qsort(lateness, (size_t)n_tasks, sizeof(*lateness), cmp_u64);
      printf("sleep_late %.1f\n",
             (double)lateness[(size_t)n_tasks * 99 / 100] / 1000.0);
      free(lateness);
    } else {
      printf("sleep_rss %.1f\n", (double)(after - before) / (double)n_tasks);
    }
    free(sleepers);
  } else if (strcmp(bench, "cpu_mix") == 0 ||
             strcmp(bench, "cpu_mix_one") == 0) {
    /* task-bench cpu_mix N WORKERS: N crunchers over WORKERS threads,
     * spawned from outside; cpu_mix_one: spawned by one task on worker
     * 0 (thread-per-core keeps them all there; work stealing spreads
     * them). tasks/s. Compare WORKERS 1 and 2 for the scaling. */
    unsigned workers = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
    bio_runtime *mt;
    struct cruncher *c;
    if (argc <= 2)
      n_tasks = 2000;
    if ((mt = new_mt(workers)) == NULL)
      return 1;
    c = calloc((size_t)n_tasks, sizeof(*c));
    t0 = bio_now_ns();
    for (i = 0; i < n_tasks; i++)
      c[i].x = (uint64_t)i * 2654435761u + 1;
    if (strcmp(bench, "cpu_mix_one") == 0) {
      struct mix_spawner ms;
      ms.mt = mt;
      ms.c = c;
      bio_runtime_spawn_on(mt, 0, &ms.task, mix_spawner_run);
      bio_runtime_shutdown(mt, 0);
      t1 = bio_now_ns();
      free(c);
      printf("cpu_mix_one %.0f\n", (double)n_tasks * 1e9 / (double)(t1 - t0));
      return 0;
    }
    for (i = 0; i < n_tasks; i++)
      bio_runtime_spawn(mt, &c[i].task, cruncher_run);
    bio_runtime_shutdown(mt, 0); /* drains: every task ran to its end */
    t1 = bio_now_ns();
    free(c);
    printf("cpu_mix %.0f\n", (double)n_tasks * 1e9 / (double)(t1 - t0));
  } else if (strcmp(bench, "mt_pingpong") == 0) {
    /* Player 1 starts on worker 1 first; then player 0 on worker 0 (a
     * worker busy with a task never steals; an idle one may: then the
     * two share a worker, and the run reports failure). */
    unsigned workers = argc > 3 ? (unsigned)atoi(argv[3]) : 2;
    bio_runtime *mt = workers >= 2 ? new_mt(workers) : NULL;
    struct mt_player p[2];
    sem_t done;
    int k;
    if (mt == NULL)
      return 1;
    memset(p, 0, sizeof(p));
    sem_init(&done, 0, 0);
    for (k = 0; k < 2; k++) {
      bio_notify_init(&mt_to[k]);
      p[k].me = k;
      p[k].done = &done;
    }
    t0 = bio_now_ns();
    bio_runtime_spawn_on(mt, 1, &p[1].task, mt_player_run);
    while (atomic_load(&mt_loop[1]) == NULL)
      sched_yield();
    bio_runtime_spawn_on(mt, 0, &p[0].task, mt_player_run);
    sem_wait(&done);
    sem_wait(&done);
    t1 = bio_now_ns();
    bio_runtime_shutdown(mt, 0);
    if (bio_task_result(&p[0].task) != 0 || bio_task_result(&p[1].task) != 0)
      return 1;
    printf("mt_pingpong %.0f\n", (double)n_tasks * 1e9 / (double)(t1 - t0));
  } else if (strcmp(bench, "mt_spawn_join") == 0) {
    unsigned workers = argc > 3 ? (unsigned)atoi(argv[3]) : 1, w;
    bio_runtime *mt = new_mt(workers);
    struct spawner *roots;
    sem_t done;
    long sum = 0;
    if (mt == NULL || workers == 0)
      return 1;
    roots = calloc(workers, sizeof(*roots));
    sem_init(&done, 0, 0);
    t0 = bio_now_ns();
    for (w = 0; w < workers; w++) {
      roots[w].n = n_tasks / (long)workers;
      roots[w].done = &done;
      bio_runtime_spawn_on(mt, w, &roots[w].task, spawner_run);
    }
    for (w = 0; w < workers; w++)
      sem_wait(&done);
    t1 = bio_now_ns();
    bio_runtime_shutdown(mt, 0);
    for (w = 0; w < workers; w++) {
      if (bio_task_result(&roots[w].task) != 0)
        return 1;
      sum += roots[w].sum;
    }
    free(roots);
    printf("mt_spawn_join %.0f\n", (double)sum * 1e9 / (double)(t1 - t0));
  } else if (strcmp(bench, "fanout") == 0 ||
             strcmp(bench, "fanout_in") == 0 ||
             strcmp(bench, "fanout_frames") == 0 ||
             strcmp(bench, "fanout_in_frames") == 0) {
    unsigned workers = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
    bio_runtime *mt = new_mt(workers);
    const char *shape = getenv("BIO_BENCH_SHAPE");
    int stealing = shape != NULL && strcmp(shape, "stealing") == 0;
    int frames = strstr(bench, "_frames") != NULL;
    struct fan_root root;
    struct fan *f = NULL;
    if (mt == NULL)
      return 1;
    sem_init(&fan_done, 0, 0);
    atomic_store(&fan_left, n_tasks);
    t0 = bio_now_ns();
    if (!frames && (f = malloc((size_t)n_tasks * sizeof(*f))) == NULL)
      return 1;
    if (strncmp(bench, "fanout_in", 9) == 0) {
      root.mt = mt;
      root.f = f;
      root.stealing = stealing;
      bio_runtime_spawn_on(mt, 0, &root.task, fan_root_run);
    } else {
      /* From outside: stealing's global queue, or the workers in turn. */
      for (i = 0; i < n_tasks; i++) {
        struct fan *one = fan_at(f, i);
        if (one == NULL || fan_spawn(mt, f, one, 1, 0) != 0)
          return 1;
      }
    }
    sem_wait(&fan_done);
    t1 = bio_now_ns();
    if (getenv("BIO_BENCH_DUMP") != NULL)
      bio_runtime_dump(mt, 2);
    bio_runtime_shutdown(mt, 0);
    free(f);
    if (atomic_load(&fan_left) != 0)
      return 1;
    printf("%s %.0f\n", bench, (double)n_tasks * 1e9 / (double)(t1 - t0));
  } else {
    fprintf(stderr, "usage: task-bench spawn_join|pingpong|parked_rss|"
                    "sleep_rss|sleep_late [N] | cpu_mix|mt_spawn_join|mt_pingpong|"
                    "fanout|fanout_in|fanout_frames|fanout_in_frames [N [WORKERS]]\n");
    return 2;
  }
  bio_rt_free(rt);
  return 0;
}
