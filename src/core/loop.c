/* bio_loop: backend selection, op submission with back-pressure, the
 * reap-then-dispatch turn, and the cross-thread wake (an eventfd read kept
 * armed as an internal op, so both backends wake the same way). */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <grp.h>

#include "core/core.h"
#include "core/settings.h"
#include "blitzio.h"

/* How soon a loop holding pushed-back ops tries them again. */
#define PENDING_RETRY_NS 1000000


static const bio_backend *backend_by_name(const char *name, size_t len) {
  if (len == 5 && memcmp(name, "uring", 5) == 0)
    return &bio__backend_uring;
  if (len == 5 && memcmp(name, "epoll", 5) == 0)
    return &bio__backend_epoll;
  return NULL;
}


static void wake_op_done(bio_loop *loop, bio_op *op);


static void arm_wake(bio_loop *loop) {
  bio_op *op = &loop->wake_op;
  memset(op, 0, sizeof(*op));
  op->cb = wake_op_done;
  op->opcode = BIO_OP_READ;
  op->flags = BIO_OPF_INTERNAL;
  op->fd = loop->wake_fd;
  op->buf = &loop->wake_buf;
  op->u.len = sizeof(loop->wake_buf);
  op->off = -1;
  bio__op_submit(loop, op);
}


/* A wake came (the eventfd's read, or another loop's message). */
static void wake_seen(bio_loop *loop) {
  /* wake_pending stays set: the loop is awake and looks for work before
   * it next blocks (bio__loop_reap clears it there), so wakes until then
   * cost their senders no eventfd write. Not when someone else polls our
   * backend fd (uv_backend_fd): every wake must make that fd readable;
   * nor when a client hands over what no busy of its could find. */
  bio_wake_client *c;
  if (loop->embedded || !atomic_load_explicit(&loop->wake_watched,
                                              memory_order_relaxed))
    atomic_store(&loop->wake_pending, 0);
  for (c = loop->wake_clients; c != NULL; c = c->next)
    if (c->cb != NULL)
      c->cb(loop, c->arg);
}


/* A wake client's busy says something was handed over. */
static int clients_busy(bio_loop *loop) {
  bio_wake_client *c;
  for (c = loop->wake_clients; c != NULL; c = c->next)
    if (c->busy != NULL && c->busy(c->arg))
      return 1;
  return 0;
}


static void wake_op_done(bio_loop *loop, bio_op *op) {
  if (op->res != -ECANCELED)
    arm_wake(loop);
  wake_seen(loop);
}


/* A wake another loop's backend sent (bio__loop_wake_from): as the
 * eventfd's, with nothing to arm again. */
static void wake_msg_done(bio_loop *loop, bio_op *op) {
  (void)op;
  wake_seen(loop);
}


const sigset_t *bio__wait_sigmask(const bio_loop *loop, sigset_t *buf) {
  if (!loop->block_sigprof)
    return NULL;
  pthread_sigmask(SIG_SETMASK, NULL, buf);
  sigaddset(buf, SIGPROF);
  return buf;
}


uint64_t bio__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


int bio__creds_get(bio_creds *c) {
  /* 256 groups cover every ordinary account; a process with more gets
   * an error, which its caller treats as "changed" (the safe answer). */
  gid_t groups[256];
  uid_t u[3];
  gid_t g[3];
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  int n;
  int i;

  if (getresuid(&u[0], &u[1], &u[2]) != 0 ||
      getresgid(&g[0], &g[1], &g[2]) != 0)
    return -errno;
  n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
  if (n < 0)
    return -errno;
  for (i = 0; i < n; i++) {
    h ^= (uint64_t)groups[i];
    h *= 1099511628211u;
  }
  for (i = 0; i < 3; i++) {
    c->ids[i] = (uint32_t)u[i];
    c->ids[3 + i] = (uint32_t)g[i];
  }
  c->ngroups = (uint32_t)n;
  c->groups_hash = h;
  return 0;
}


int bio__loop_supports(bio_loop *loop, unsigned opcode) {
  return loop->backend->supports(loop, opcode);
}


int bio__recv_chunk(bio_loop *loop, bio_op *op, char **data, size_t *len) {
  if (loop->backend->recv_chunk == NULL)
    return 0;
  return loop->backend->recv_chunk(loop, op, data, len);
}


void bio__recv_consume(bio_loop *loop, bio_op *op, size_t n) {
  if (loop->backend->recv_consume != NULL)
    loop->backend->recv_consume(loop, op, n);
}


int bio__recv_dgram(bio_loop *loop, bio_op *op, bio_dgram *d) {
  if (loop->backend->recv_dgram == NULL)
    return 0;
  return loop->backend->recv_dgram(loop, op, d);
}


void bio__recv_drop(bio_loop *loop, bio_op *op) {
  char *data;
  size_t len;
  while (bio__recv_chunk(loop, op, &data, &len))
    bio__recv_consume(loop, op, len);
}


static int open_wake_fd(bio_loop *loop) {
  /* Blocking on purpose: io_uring returns EAGAIN to the user for an
   * O_NONBLOCK file instead of arming its internal poll. */
  loop->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (loop->wake_fd < 0)
    return -errno;
  atomic_store(&loop->wake_pending, 0);
  return 0;
}


static int start_backend(bio_loop *loop, const bio_backend *b, int forced) {
  struct timespec pause = {0, 1000000}; /* 1 ms, doubling */
  int tries = 0;
  int err;

  for (;;) {
    loop->backend = b;
    loop->backend_data = NULL;
    loop->ring_memlock_short = 0;
    err = b->init(loop);
    /* The kernel frees a closed ring's memory (charged to the user's
     * RLIMIT_MEMLOCK, 8 MiB by default) asynchronously, within ~20 ms
     * here: a program that creates and closes loops quickly (libuv's
     * signal_multiple_loops, 300 loops in a row) gets ENOMEM until the
     * old rings are gone; with many threads doing so on few CPUs, the
     * kernel worker that frees them waits its turn behind them. Chosen
     * automatically, we fall back to epoll at once; forced
     * (BIO_BACKEND=uring), the backend first tries a smaller ring, then we
     * wait for the old ones (at most ~0.5 s) before giving up. Only io_uring's rings wait: an ENOMEM elsewhere is
     * memory that is not there (libuv's loop_init_oom test grows an
     * allocator's limit 8 bytes at a time until the init fits). */
    if (err != -ENOMEM || !forced || b != &bio__backend_uring ||
        !loop->ring_memlock_short || tries++ == 9)
      return err;
    nanosleep(&pause, NULL);
    pause.tv_nsec *= 2;
  }
}


/* How long a loop spins before it sleeps (BIO_LOOP_SPIN_US; 0 turns it
 * off). */
static unsigned spin_ns_setting(void) {
  return bio__settings()->loop_spin_ns;
}


int bio__loop_init(bio_loop *loop, uint64_t now_ms) {
  return bio__loop_init_ex(loop, now_ms, NULL);
}


/* bio_loop_options' limits (io_uring's own: IORING_MAX_ENTRIES and
 * IORING_MAX_CQ_ENTRIES). */
#define OPT_SQ_MAX 32768u
#define OPT_CQ_MAX 65536u
#define OPT_SPIN_US_MAX 10000

int bio__loop_init_ex(bio_loop *loop, uint64_t now_ms,
                      const bio_loop_options *opts) {
  char env_buf[64];
  const char *env = env_buf;
  const bio_backend *want = NULL;
  int err;

  memset(loop, 0, sizeof(*loop));
  loop->wake_fd = -1;
  loop->attach_wq_fd = -1;
  if (opts != NULL) {
    unsigned sq = opts->sq_entries != 0 ? opts->sq_entries : 256;
    if (opts->sq_entries > OPT_SQ_MAX || opts->cq_entries > OPT_CQ_MAX ||
        (opts->cq_entries != 0 && opts->cq_entries < sq) ||
        opts->spin_us < -1 || opts->spin_us > OPT_SPIN_US_MAX)
      return -EINVAL;
    if (opts->attach_wq != NULL) {
      loop->attach_wq_fd = bio__uring_ring_fd(opts->attach_wq);
      if (loop->attach_wq_fd < 0)
        return -EINVAL; /* not an io_uring loop */
    }
    loop->ring_sq = opts->sq_entries;
    loop->ring_cq = opts->cq_entries;
  }
  bio__wheel_init(&loop->wheel, now_ms);
  bio__wheel_init(&loop->alarms, bio__clock_ns() >> BIO_ALARM_TICK_SHIFT);
  loop->spin_ns = opts != NULL && opts->spin_us >= 0
                      ? (unsigned)opts->spin_us * 1000u
                      : spin_ns_setting();
  /* The default idle policy; an owner may install another, or none. */
  loop->idle = &bio__spin_policy;
  bio__op_list_init(&loop->pending);
  bio__op_list_init(&loop->completed);
  loop->wake_msg_op.cb = wake_msg_done;
  loop->wake_msg_op.flags = BIO_OPF_INTERNAL;
  atomic_init(&loop->wake_watched, 0);

  if (opts != NULL && opts->backend != NULL)
    env = opts->backend;
  else
    bio__settings_backend(env_buf, sizeof(env_buf));
  if (*env != '\0') {
    if (strncmp(env, "fault", 5) == 0) {
      /* fault or fault:<inner>; the fault backend reads loop->inner. */
      const char *inner = env[5] == ':' ? env + 6 : "epoll";
      loop->inner = backend_by_name(inner, strlen(inner));
      if (loop->inner == NULL)
        return -EINVAL;
      want = &bio__backend_fault;
    } else {
      want = backend_by_name(env, strlen(env));
      if (want == NULL)
        return -EINVAL;
    }
  }

  err = open_wake_fd(loop);
  if (err != 0)
    return err;

  if (want != NULL) {
    err = start_backend(loop, want, 1);
    /* BIO_BACKEND=uring (not bio_loop_options, which is a promise) whose
     * ring the user's RLIMIT_MEMLOCK can't hold, even after waiting for
     * closed rings to be freed: a loop on epoll serves the program
     * better than none (libuv would have one). Said once on stderr. */
    if (err == -ENOMEM && want == &bio__backend_uring &&
        loop->ring_memlock_short &&
        (opts == NULL || opts->backend == NULL)) {
      static atomic_int told;
      err = start_backend(loop, &bio__backend_epoll, 0);
      if (err == 0 && atomic_exchange(&told, 1) == 0)
        fprintf(stderr, "blitz-io: BIO_BACKEND=uring: io_uring_setup: out "
                        "of locked memory (RLIMIT_MEMLOCK); this loop "
                        "runs on epoll\n");
    }
  } else {
    err = start_backend(loop, &bio__backend_uring, 0);
    /* Containers often forbid io_uring (EPERM from seccomp), old kernels
     * lack it (ENOSYS), and locked-memory limits can refuse it (ENOMEM). */
    if (err != 0)
      err = start_backend(loop, &bio__backend_epoll, 0);
  }
  if (err != 0) {
    close(loop->wake_fd);
    loop->wake_fd = -1;
    return err;
  }
  arm_wake(loop);
  return 0;
}


/* BIO_LOOP_STATS=1: each loop tells stderr, as it closes, how its
 * spins went (to see what spinning costs and catches in a real program). */
static void print_stats(const bio_loop *loop) {
  if (!bio__settings()->loop_stats || loop->backend == NULL)
    return;
  fprintf(stderr,
          "blitz-io: loop %p (%s, spin %u us): spins caught %llu, missed "
          "%llu, skipped for contention %llu, preempted %llu\n",
          (const void *)loop, loop->backend->name, loop->spin_ns / 1000u,
          (unsigned long long)loop->spins_caught,
          (unsigned long long)loop->spins_missed,
          (unsigned long long)loop->spins_contended,
          (unsigned long long)loop->spins_preempted);
}


void bio__loop_close(bio_loop *loop) {
  print_stats(loop);
  /* A poster whose op we already ran may still be writing the wake fd. */
  while (atomic_load_explicit(&loop->posters, memory_order_acquire) != 0)
    sched_yield();
  if (loop->backend != NULL)
    loop->backend->close(loop);
  loop->backend = NULL;
  if (loop->wake_fd >= 0)
    close(loop->wake_fd);
  loop->wake_fd = -1;
}


static void complete_now(bio_loop *loop, bio_op *op, int res) {
  op->res = res;
  /* Not IDLE yet: owners read IDLE as "no callback will come". */
  op->state = BIO_OP_DONE;
  bio__op_list_push(&loop->completed, op);
}


/* Moves ops from pending into the backend until it pushes back. The op
 * leaves the list before the backend sees it: the backend owns op->next. */
static void flush_pending(bio_loop *loop) {
  bio_op *op;
  while ((op = bio__op_list_shift(&loop->pending)) != NULL) {
    int err = loop->backend->submit(loop, op);
    if (err == -EAGAIN || err == -EBUSY) {
      op->next = loop->pending.head;
      loop->pending.head = op;
      if (op->next == NULL)
        loop->pending.tailp = &op->next;
      return;
    }
    if (err != 0) {
      if (!(op->flags & BIO_OPF_INTERNAL))
        loop->inflight--;
      complete_now(loop, op, err);
    } else {
      op->state = BIO_OP_INFLIGHT;
    }
  }
}


void bio__op_submit(bio_loop *loop, bio_op *op) {
  int err;

  assert(op->state == BIO_OP_IDLE); /* an op is in one place at a time */

  op->res = 0;
  if (!(op->flags & BIO_OPF_INTERNAL))
    loop->inflight++;
  /* Keep FIFO order: nothing may overtake an op already waiting. */
  if (loop->pending.head == NULL) {
    err = loop->backend->submit(loop, op);
    if (err == 0) {
      op->state = BIO_OP_INFLIGHT;
      return;
    }
    if (err != -EAGAIN && err != -EBUSY) {
      if (!(op->flags & BIO_OPF_INTERNAL))
        loop->inflight--;
      complete_now(loop, op, err);
      return;
    }
  }
  op->state = BIO_OP_QUEUED;
  bio__op_list_push(&loop->pending, op);
}


void bio__op_defer(bio_loop *loop, bio_op *op) {
  assert(op->state == BIO_OP_IDLE);
  complete_now(loop, op, 0);
}


int bio__op_cancel(bio_loop *loop, bio_op *op) {
  bio_op **pp;

  switch (op->state) {
  case BIO_OP_QUEUED:
    for (pp = &loop->pending.head; *pp != NULL; pp = &(*pp)->next) {
      if (*pp != op)
        continue;
      *pp = op->next;
      if (*pp == NULL)
        loop->pending.tailp = pp;
      if (!(op->flags & BIO_OPF_INTERNAL))
        loop->inflight--;
      complete_now(loop, op, -ECANCELED);
      return 0;
    }
    assert(!"QUEUED ops are always on the pending list");
    return -EBUSY;
  case BIO_OP_INFLIGHT:
  {
    int r = loop->backend->cancel(loop, op);
    /* bio__loop_flush_cancels brings its final completion in this turn. */
    if (op->flags & BIO_OPF_MULTI)
      loop->cancels_unflushed = 1;
    return r;
  }
  default:
    return -EBUSY; /* completed already, or never submitted */
  }
}


/* Moves ops other threads completed onto the completed list, oldest
 * first (the stack holds them newest first). */
static void take_posted(bio_loop *loop) {
  bio_op *op;
  bio_op *fifo = NULL;
  bio_op *tail;
  int n = 0;

  /* A plain load first: the exchange is a locked instruction, and most
   * turns of a busy loop find nothing posted. */
  if (atomic_load_explicit(&loop->posted, memory_order_relaxed) == NULL)
    return;
  op = atomic_exchange_explicit(&loop->posted, NULL, memory_order_acquire);
  tail = op;
  if (op == NULL)
    return;
  while (op != NULL) {
    bio_op *next = op->next;
    op->next = fifo;
    fifo = op;
    op = next;
    n++;
  }
  atomic_fetch_sub_explicit(&loop->posts_expected, n, memory_order_relaxed);
  *loop->completed.tailp = fifo;
  loop->completed.tailp = &tail->next;
}


void bio__op_cancel_from(bio_loop *loop, bio_remote_cancel *rc,
                         bio_op *op) {
  bio_remote_cancel *head;

  rc->op = op;
  /* Counted as a post is: close waits until this thread has let go. */
  atomic_fetch_add_explicit(&loop->posters, 1, memory_order_relaxed);
  head = atomic_load_explicit(&loop->remote_cancels, memory_order_relaxed);
  do {
    rc->next = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &loop->remote_cancels, &head, rc, memory_order_seq_cst,
      memory_order_relaxed));
  if (head == NULL)
    bio__loop_wake(loop);
  atomic_fetch_sub_explicit(&loop->posters, 1, memory_order_release);
}


/* The cancels other threads asked for, in the order they asked. */
static void take_remote_cancels(bio_loop *loop) {
  bio_remote_cancel *rc, *fifo = NULL;

  if (atomic_load_explicit(&loop->remote_cancels, memory_order_relaxed) ==
      NULL)
    return;
  rc = atomic_exchange_explicit(&loop->remote_cancels, NULL,
                                memory_order_acquire);
  while (rc != NULL) {
    bio_remote_cancel *next = rc->next;
    rc->next = fifo;
    fifo = rc;
    rc = next;
  }
  while ((rc = fifo) != NULL) {
    int r;
    fifo = rc->next;
    r = bio__op_cancel(loop, rc->op);
    if (rc->done != NULL)
      rc->done(loop, rc, r);
  }
}


void bio__loop_post(bio_loop *loop, bio_op *op) {
  bio_op *head;

  /* Counted before the op is visible: once the loop has taken it, close
   * must wait until this thread no longer touches the loop. */
  atomic_fetch_add_explicit(&loop->posters, 1, memory_order_relaxed);
  head = atomic_load_explicit(&loop->posted, memory_order_relaxed);
  op->state = BIO_OP_IDLE;
  do {
    op->next = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &loop->posted, &head, op, memory_order_seq_cst, memory_order_relaxed));
  /* Only the first post after a drain needs to wake the loop; the wake
   * coalesces the rest. A spinning loop needs none: the CAS above and
   * this load pair with its store and load in spin.c's spin (all
   * seq_cst), so either it sees our op or we see it no longer spins. */
  if (!atomic_load(&loop->spinning))
    bio__loop_wake(loop);
  atomic_fetch_sub_explicit(&loop->posters, 1, memory_order_release);
}


/* Waits again after an early empty return at most this often per turn. */
#define WAIT_RETRIES_MAX 16


static int wait_once(bio_loop *loop, int64_t timeout_ns, bio_op_list *done) {
  int err;

  if (loop->idle_meter != NULL && timeout_ns != 0) {
    uint64_t t0 = bio__clock_ns();
    err = loop->backend->wait(loop, timeout_ns, done);
    loop->idle_meter(loop->idle_meter_arg, bio__clock_ns() - t0);
  } else {
    err = loop->backend->wait(loop, timeout_ns, done);
  }
  return err;
}


/* Work other threads handed over without a wake we have seen: posts,
 * cancels, and what the wake clients' busy report (compat's sent async
 * handles, a hosted task runtime's remote wakes). */
int bio__loop_handed_over(bio_loop *loop) {
  return atomic_load(&loop->posted) != NULL ||
         atomic_load(&loop->remote_cancels) != NULL || clients_busy(loop);
}


void bio__loop_set_idle_policy(bio_loop *loop, const bio_idle_policy *p) {
  loop->idle = p;
}


void bio__loop_set_quiet_cb(bio_loop *loop, void (*cb)(void *arg),
                            void *arg) {
  loop->quiet_cb = cb;
  loop->quiet_arg = arg;
}


/* A wait found nothing for BIO_QUIET_AFTER_NS after a busy spell. */
static void loop_quiet(bio_loop *loop) {
  loop->quiet_due = 0;
  if (loop->backend->trim != NULL)
    loop->backend->trim(loop);
  if (loop->quiet_cb != NULL)
    loop->quiet_cb(loop->quiet_arg);
}


void bio__loop_set_idle_meter(bio_loop *loop,
                              void (*meter)(void *arg, uint64_t ns),
                              void *arg) {
  loop->idle_meter = meter;
  loop->idle_meter_arg = arg;
}


void bio__alarm_start(bio_loop *loop, bio_alarm *alarm, uint64_t deadline_ns,
                      bio_alarm_cb cb) {
  /* Rounded up: an alarm never fires before its deadline. */
  uint64_t due = (deadline_ns >> BIO_ALARM_TICK_SHIFT) +
                 ((deadline_ns & ((1u << BIO_ALARM_TICK_SHIFT) - 1)) != 0);
  if (due < loop->alarms.elapsed_ms)
    due = loop->alarms.elapsed_ms;
  alarm->cb = cb;
  alarm->entry.prev = NULL;
  bio__wheel_add(&loop->alarms, &alarm->entry, due);
}


void bio__alarm_stop(bio_loop *loop, bio_alarm *alarm) {
  bio__wheel_remove(&loop->alarms, &alarm->entry);
}


/* The wait's timeout, cut to the earliest alarm's deadline. */
static int64_t alarm_timeout(bio_loop *loop, int64_t timeout_ns) {
  uint64_t due = bio__wheel_next_due(&loop->alarms);
  uint64_t due_ns, now;

  if (due > (UINT64_MAX >> BIO_ALARM_TICK_SHIFT))
    return timeout_ns;
  due_ns = due << BIO_ALARM_TICK_SHIFT;
  now = bio__clock_ns();
  if (due_ns <= now)
    return 0;
  if (timeout_ns < 0 || due_ns - now < (uint64_t)timeout_ns)
    return (int64_t)(due_ns - now);
  return timeout_ns;
}


/* Fires the alarms that are due, in (deadline, start) order. One pass:
 * an alarm (re)started by a callback waits for the next dispatch. */
static int fire_alarms(bio_loop *loop) {
  bio_wheel *w = &loop->alarms;
  uint64_t limit, now;
  bio_timer *t;
  int n = 0;

  if (bio__wheel_count(w) == 0)
    return 0;
  limit = w->next_seq;
  now = bio__clock_ns() >> BIO_ALARM_TICK_SHIFT;
  while ((t = bio__wheel_pop_before(w, now, limit)) != NULL) {
    bio_alarm *a = bio_container_of(t, bio_alarm, entry);
    a->cb(loop, a);
    n++;
  }
  return n;
}


int bio__loop_reap(bio_loop *loop, int timeout_ms) {
  return bio__loop_reap_ns(loop, timeout_ms < 0 ? -1
                                 : (int64_t)timeout_ms * 1000000);
}


int bio__loop_reap_ns(bio_loop *loop, int64_t timeout_ns) {
  bio_op_list done;
  uint64_t start_ns;
  uint64_t idle_start = 0; /* when we began to spin or sleep */
  int measure;
  int quiet;
  int tries = 0;
  int err;

  take_remote_cancels(loop);
  flush_pending(loop);
  loop->cancels_unflushed = 0; /* this wait submits them */
  loop->reap_found_ready =
      loop->completed.head != NULL ||
      atomic_load_explicit(&loop->posted, memory_order_relaxed) != NULL ||
      (loop->backend->ready != NULL && loop->backend->ready(loop));
  /* Idle gaps are timed only for a policy that learns from them. */
  measure = loop->idle != NULL && loop->idle->after_idle != NULL &&
            !loop->embedded;
  if (timeout_ns != 0 && bio__wheel_count(&loop->alarms) != 0)
    timeout_ns = alarm_timeout(loop, timeout_ns);
  /* Ops the backend pushed back wait for completions to make room; with
   * none in flight to bring them (the backend refused for a reason of its
   * own), a blocking wait would never come back to retry. */
  if (loop->pending.head != NULL &&
      (timeout_ns < 0 || timeout_ns > PENDING_RETRY_NS))
    timeout_ns = PENDING_RETRY_NS;
  if (loop->completed.head != NULL ||
      atomic_load_explicit(&loop->posted, memory_order_relaxed) != NULL) {
    timeout_ns = 0;
  } else if (timeout_ns != 0 && loop->idle != NULL && !loop->embedded) {
    /* About to block: the owner's idle policy may do something else
     * first (spin.c: spin for a while). Its time is idle time too. */
    idle_start = bio__clock_ns();
    if (loop->idle->before_block(loop, timeout_ns, idle_start))
      timeout_ns = 0;
    if (loop->idle_meter != NULL)
      loop->idle_meter(loop->idle_meter_arg, bio__clock_ns() - idle_start);
  }

  /* About to block: from here a wake must write the eventfd. Clear the
   * flag, then look once more for what wakes that saw it set (while we
   * were busy) handed over without a write: the seq_cst store and loads
   * here pair with the sender's push and exchange in bio__loop_wake. */
  if (timeout_ns != 0) {
    atomic_store(&loop->wake_pending, 0);
    if (bio__loop_handed_over(loop))
      timeout_ns = 0;
  }

  bio__op_list_init(&done);
  /* A wait that may block and comes back with nothing done was cut short:
   * a signal (-EINTR; or io_uring_enter reporting the SQEs it submitted
   * before the signal came). The handler of a signal we watch (signal.c)
   * has woken us, so wait again for what is left of the timeout, as
   * libuv's poll does: UV_RUN_ONCE must not return from an empty turn.
   * Bounded, so a backend that keeps returning early can't trap us. */
  /* A long wait after a busy spell goes in two: when the first quarter
   * second brings nothing, the loop is quiet (loop_quiet) and sleeps on. */
  quiet = loop->quiet_due && !loop->embedded &&
          (timeout_ns < 0 || timeout_ns > BIO_QUIET_AFTER_NS);
  start_ns = timeout_ns > 0 || quiet || (measure && timeout_ns != 0)
                 ? bio__clock_ns()
                 : 0;
  if (idle_start == 0)
    idle_start = start_ns;
  err = wait_once(loop, quiet ? BIO_QUIET_AFTER_NS : timeout_ns, &done);
  while (done.head == NULL && (err == 0 || err == -EINTR) &&
         timeout_ns != 0 && tries++ < WAIT_RETRIES_MAX) {
    int64_t left_ns = -1;
    uint64_t spent_ns = start_ns != 0 ? bio__clock_ns() - start_ns : 0;
    if (timeout_ns > 0) {
      if (spent_ns >= (uint64_t)timeout_ns)
        break; /* the timeout was reached: a normal empty turn */
      left_ns = timeout_ns - (int64_t)spent_ns;
    }
    if (quiet) {
      if (spent_ns >= BIO_QUIET_AFTER_NS) {
        quiet = 0;
        loop_quiet(loop);
      } else {
        left_ns = BIO_QUIET_AFTER_NS - (int64_t)spent_ns; /* cut short */
      }
    }
    err = wait_once(loop, left_ns, &done);
  }
  if (measure && idle_start != 0)
    loop->idle->after_idle(loop, bio__clock_ns() - idle_start);
  if (err == -EINTR)
    err = 0;
  bio__op_list_concat(&loop->completed, &done);
  take_posted(loop);
  /* Asked while we waited: before this turn's callbacks. A MULTI op's
   * final completion comes at dispatch's flush. */
  take_remote_cancels(loop);
  if (loop->completed.head != NULL)
    loop->quiet_due = 1;
  return err;
}


int bio__loop_dispatch(bio_loop *loop) {
  bio_op *op;
  int n = 0;

  /* Everything was reaped before the first callback: a callback may
   * submit, cancel, close or re-enter without finding the CQ half-read. */
  /* Only what this turn reaped: an op completed during a callback (an
   * error, a cancel of a queued op, a deferral) runs at the next turn, so
   * a callback that defers itself again can't keep the loop from polling. */
  bio_op_list batch = loop->completed;
  if (batch.head == NULL) {
    n = fire_alarms(loop);
    bio__loop_flush_cancels(loop); /* an alarm's callback may cancel */
    return n;
  }
  bio__op_list_init(&loop->completed);
  while ((op = bio__op_list_shift(&batch)) != NULL) {
    if (op->flags & BIO_OPF_MORE) {
      /* A MULTI op that fired and stays armed: still the backend's. */
      op->flags &= (uint16_t)~(BIO_OPF_MORE | BIO_OPF_LISTED);
      op->state = BIO_OP_INFLIGHT;
      op->cb(loop, op);
      n++;
      continue;
    }
    op->flags &= (uint16_t)~BIO_OPF_LISTED;
    if (op->state == BIO_OP_INFLIGHT && !(op->flags & BIO_OPF_INTERNAL))
      loop->inflight--;
    op->state = BIO_OP_IDLE;
    op->cb(loop, op);
    n++;
  }
  /* Completions made room in the backend. */
  if (loop->pending.head != NULL)
    flush_pending(loop);
  n += fire_alarms(loop);
  /* Armed ops the callbacks cancelled: their final completions come now,
   * for the owner's next dispatch in this turn (a stream closed in its
   * read callback then closes in this turn), whoever the owner is. */
  bio__loop_flush_cancels(loop);
  return n;
}


int bio__loop_poll(bio_loop *loop, int timeout_ms) {
  int err = bio__loop_reap(loop, timeout_ms);
  int n = bio__loop_dispatch(loop);
  return err < 0 ? err : n;
}


/* The wake itself: through from's backend when it can reach to's
 * (bio__loop_wake_from), else to's eventfd. */
static void send_wake(bio_loop *from, bio_loop *to) {
  static const uint64_t one = 1;
  if (from != NULL && from != to && from->backend == to->backend &&
      from->backend->wake_other != NULL &&
      from->backend->wake_other(from, to) == 0)
    return;
  for (;;) {
    ssize_t r = write(to->wake_fd, &one, sizeof(one));
    if (r >= 0 || errno != EINTR)
      return;
  }
}


void bio__loop_wake_now(bio_loop *loop) {
  bio__loop_wake_from(NULL, loop);
}


void bio__loop_wake_from(bio_loop *from, bio_loop *to) {
  atomic_store(&to->wake_pending, 1);
  send_wake(from, to);
}


void bio__loop_wake(bio_loop *loop) {
  bio__loop_wake_via(NULL, loop);
}


void bio__loop_wake_via(bio_loop *from, bio_loop *to) {
  /* A spinning loop looks at what its clients' busy report (spin.c):
   * the client's push before this load and the loop's store of 0 before
   * its last look are all seq_cst, so either it sees the work or we see
   * it stopped. A wake with nothing handed over (or for a client that
   * has no busy) must reach the eventfd. */
  if (atomic_load(&to->wake_watched) && atomic_load(&to->spinning))
    return;
  /* A wake is on its way and has not been consumed yet (or the loop is
   * awake and will look before it blocks). A load first: while the flag
   * stays set, as it does for an awake loop, spawns from another thread
   * would otherwise each take its line for an exchange. The seq_cst load
   * orders as the exchange does against the loop's clear. */
  if (atomic_load(&to->wake_pending) != 0 ||
      atomic_exchange(&to->wake_pending, 1) != 0)
    return;
  send_wake(from, to);
}


/* wake_watched: clients there are, and each can say what it was handed. */
static void clients_changed(bio_loop *loop) {
  bio_wake_client *c;
  int watched = loop->wake_clients != NULL;
  for (c = loop->wake_clients; c != NULL; c = c->next)
    if (c->busy == NULL)
      watched = 0;
  atomic_store(&loop->wake_watched, watched);
}


void bio__loop_add_wake_client(bio_loop *loop, bio_wake_client *c) {
  bio_wake_client **p = &loop->wake_clients;
  while (*p != NULL)
    p = &(*p)->next;
  c->next = NULL;
  *p = c;
  clients_changed(loop);
}


void bio__loop_remove_wake_client(bio_loop *loop, bio_wake_client *c) {
  bio_wake_client **p = &loop->wake_clients;
  while (*p != NULL && *p != c)
    p = &(*p)->next;
  if (*p == NULL)
    return;
  *p = c->next;
  c->next = NULL;
  clients_changed(loop);
}


int bio__loop_backend_fd(bio_loop *loop) {
  if (!loop->embedded) {
    loop->embedded = 1;
    atomic_store(&loop->wake_pending, 0);
    if (bio__loop_handed_over(loop))
      bio__loop_wake(loop);
  }
  return loop->backend->fd(loop);
}


int bio__loop_busy(bio_loop *loop) {
  if (loop->completed.head != NULL || loop->pending.head != NULL ||
      atomic_load_explicit(&loop->posted, memory_order_relaxed) != NULL ||
      clients_busy(loop))
    return 1;
  return loop->backend->busy(loop);
}


int bio__loop_fork(bio_loop *loop) {
  int fd;
  int err;

  /* The child shares the parent's eventfd, so the parent's wakes would
   * reach it: put a fresh eventfd under the same number, which keeps any
   * registration of that number valid. */
  fd = eventfd(0, EFD_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (dup3(fd, loop->wake_fd, O_CLOEXEC) < 0) {
    err = -errno;
    close(fd);
    return err;
  }
  close(fd);
  atomic_store(&loop->wake_pending, 0);
  atomic_store(&loop->posters, 0); /* their threads stayed in the parent */
  /* The backend's new kernel object takes the ops in flight, our wake
   * read among them. */
  err = loop->backend->fork(loop);
  return err < 0 ? err : 0;
}


void bio__loop_flush_cancels(bio_loop *loop) {
  bio_op_list done;

  if (!loop->cancels_unflushed)
    return;
  loop->cancels_unflushed = 0;
  if (loop->backend->flush == NULL)
    return;
  bio__op_list_init(&done);
  loop->backend->flush(loop, &done);
  bio__op_list_concat(&loop->completed, &done);
}


void bio__loop_submit_now(bio_loop *loop) {
  bio_op_list done;

  flush_pending(loop);
  if (loop->backend->flush == NULL)
    return;
  loop->cancels_unflushed = 0; /* this flush hands them over too */
  bio__op_list_init(&done);
  loop->backend->flush(loop, &done);
  bio__op_list_concat(&loop->completed, &done);
}


void bio__loop_fd_closing(bio_loop *loop, int fd, int ops_out) {
  if (ops_out)
    bio__loop_submit_now(loop);
  if (loop->backend != NULL && loop->backend->forget != NULL)
    loop->backend->forget(loop, fd);
}
