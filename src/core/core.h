/* The completion core: a bio_loop owns one backend (io_uring or epoll), a
 * timing wheel and a cross-thread wake. Work is submitted as bio_op structs
 * embedded in their owners' memory; every op completes exactly once through
 * its callback, called from bio__loop_poll after the backend was reaped. */
#ifndef BIO_CORE_CORE_H
#define BIO_CORE_CORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wheel.h"

#ifndef bio_container_of /* blitzio.h has the same */
#define bio_container_of(ptr, type, member)                                    \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

typedef struct bio_loop bio_loop;
typedef struct bio_op bio_op;
typedef struct bio_backend bio_backend;
typedef struct bio_remote_cancel bio_remote_cancel;
typedef struct bio_dgram bio_dgram;

typedef void (*bio_op_cb)(bio_loop *loop, bio_op *op);

enum bio_opcode {
  BIO_OP_NOP = 0,
  BIO_OP_READ,    /* read(fd, buf, len) at off (-1: current position) */
  BIO_OP_WRITE,   /* write(fd, buf, len) at off (-1: current position) */
  BIO_OP_POLL,    /* wait until fd has one of u.events; res = revents */
  BIO_OP_RECVMSG, /* recvmsg(fd, buf as struct msghdr *, u.msg_flags) */
  BIO_OP_SENDMSG, /* sendmsg(fd, buf as struct msghdr *, u.msg_flags) */
  BIO_OP_SEND,    /* send(fd, buf, u.len, MSG_NOSIGNAL); native on io_uring
                     only (epoll waits for POLLOUT first: the owner
                     had better write itself there) */
  /* accept4(fd, NULL, NULL, u.sys_flags) on a listening socket, always
   * with BIO_OPF_MULTI: armed, it accepts each connection as it comes
   * (io_uring's multishot accept, 5.19) and hands each new fd, at reap,
   * to the bio_fd_sink that buf points to; the callback then runs once
   * for all the fds of a turn (res 0) or for the error that ended the op
   * (res < 0; say -EMFILE). Ask bio__loop_supports first: epoll has no
   * such op (its owners poll and accept themselves). */
  BIO_OP_ACCEPT,
  /* recv(fd, buf, u.len, 0) on a socket. With BIO_OPF_POLL_FIRST the
   * owner expects no data yet (a request/response peer that was just
   * answered): io_uring then arms its poll without trying the recv first
   * (IORING_RECVSEND_POLL_FIRST, 5.19; a hint, ignored before).
   * With BIO_OPF_MULTI (ask bio__loop_supports(loop, BIO_CAP_RECV_BUFS)
   * first; buf and u.len unused): armed, it receives each arrival into a
   * buffer of the loop's own (io_uring's multishot recv into a provided-
   * buffer ring, 6.0) and keeps the data on the op, in order, until the
   * owner takes it (bio__recv_chunk, bio__recv_consume) in its callback;
   * whatever the owner leaves there, it must copy out before it returns
   * (bio__recv_drop then gives the buffers back). Each callback takes
   * the data of its firings; when the op has ended (state IDLE), res
   * says why, after that data: 0 the peer's EOF, > 0 the kernel stopped
   * it with nothing wrong (arm it again), -ENOBUFS the loop's buffers ran
   * out (the bytes wait in the socket: arm it again), else the error
   * (-ECANCELED, -ECONNRESET, ...). With buf NULL and no MULTI (the
   * same capability): one recv into one of the loop's buffers (up to
   * BIO_RECV_BUF_BYTES), its data kept on the op in the same way; res
   * the byte count, 0 the EOF, or the error. */
  BIO_OP_RECV,
  /* File-system ops: io_uring only. A backend without them (epoll) refuses
   * them with -EINVAL; callers ask bio__loop_supports first and use the
   * blocking pool otherwise. fd is a directory fd (AT_FDCWD) for the
   * path-taking ones, whose paths are NUL-terminated and stay valid until
   * the callback. */
  BIO_OP_FS_FIRST,
  BIO_OP_READV = BIO_OP_FS_FIRST, /* readv(fd, buf as iovec *, u.len) at off */
  BIO_OP_WRITEV,    /* writev(fd, buf as iovec *, u.len) at off */
  BIO_OP_OPENAT,    /* openat(fd, buf, u.sys_flags, mode); res = new fd */
  BIO_OP_CLOSE,     /* close(fd) */
  BIO_OP_STATX,     /* statx(fd, buf, u.sys_flags, BIO_STATX_MASK, buf2) */
  BIO_OP_FSYNC,     /* fsync(fd); fdatasync when u.sys_flags has
                       BIO_FSYNC_DATASYNC */
  BIO_OP_UNLINKAT,  /* unlinkat(fd, buf, u.sys_flags: AT_REMOVEDIR) */
  BIO_OP_RENAMEAT,  /* renameat(fd, buf, fd, buf2) */
  BIO_OP_MKDIRAT,   /* mkdirat(fd, buf, mode) */
  BIO_OP_SYMLINKAT, /* symlinkat(buf (the target), fd, buf2) */
  BIO_OP_LINKAT,    /* linkat(fd, buf, fd, buf2, u.sys_flags) */
  BIO_OP_FTRUNCATE, /* ftruncate(fd, off) */
  BIO_OP_COUNT
};

/* bio__loop_supports: the loop's backend has BIO_OP_RECV into buffers of
 * its own, armed (BIO_OPF_MULTI) or one-shot (buf NULL); not an opcode: a
 * capability. */
#define BIO_CAP_RECV_BUFS 0x100u
/* BIO_OP_RECVMSG with BIO_OPF_MULTI on a datagram socket (buf and u.len
 * unused; u.msg_flags as recvmsg's): armed, it receives each datagram
 * whole, with its sender's address, into a buffer of the loop's own
 * (io_uring's multishot recvmsg into a provided-buffer ring, 6.0) and
 * keeps them on the op, in order, until the owner takes them
 * (bio__recv_dgram, then bio__recv_consume of its chunk). */
#define BIO_CAP_RECVMSG_BUFS 0x101u
/* The size of each of those buffers. */
#define BIO_RECV_BUF_BYTES 4096u

/* What BIO_OP_STATX asks for: everything uv_stat_t holds. */
#define BIO_STATX_MASK 0x00000fffu /* STATX_BASIC_STATS | STATX_BTIME */
#define BIO_FSYNC_DATASYNC 1u

enum bio_op_state {
  BIO_OP_IDLE = 0, /* not submitted, or completed */
  BIO_OP_QUEUED,   /* submitted, not yet handed to the kernel */
  BIO_OP_INFLIGHT, /* the backend owns it */
  BIO_OP_DONE,     /* completed, callback not yet run: still not idle */
};

/* 48 bytes, so that it fits the 48 bytes of a libuv uv__io_t that come
 * before its fd (handles embed their ops there). The owner keeps it alive
 * and untouched from submit until its callback runs. */
struct bio_op {
  bio_op_cb cb;
  bio_op *next; /* submission queue / completion list / backend lists */
  void *buf;    /* data buffer, struct msghdr * for RECVMSG/SENDMSG, the
                   (first) path for path-taking fs ops */
  union {
    int64_t off;   /* READ/WRITE/READV/WRITEV: file offset, -1: current
                      position; FTRUNCATE: the new length */
    void *buf2;    /* STATX: struct statx *; RENAMEAT/LINKAT/SYMLINKAT:
                      the second path */
    uint32_t mode; /* OPENAT/MKDIRAT: permission bits */
  };
  int32_t res;  /* >= 0 on success, -errno on failure */
  int32_t fd;
  union {
    uint32_t len;       /* READ/WRITE: buffer length; READV/WRITEV: iovecs */
    uint32_t events;    /* POLL: POLLIN, POLLOUT, ... */
    uint32_t msg_flags; /* RECVMSG/SENDMSG: MSG_* flags */
    uint32_t sys_flags; /* fs ops: the syscall's flags argument */
  } u;
  uint8_t opcode;
  uint8_t state;
  uint16_t flags; /* the owner's, but for the BIO_OPF_CORE_MASK bits */
};

/* Set by the owner: the op must act with the credentials the process has
 * when it reaches the kernel. io_uring checks them against the ring
 * creator's (CVE-2024-22017) and, when they differ, completes the op
 * unperformed with -EPERM and BIO_OPF_CREDS_STALE set: the owner then
 * does the work some other way (the fs layer: on the pool). */
#define BIO_OPF_USER_CREDS 0x0001
/* Flag bits the core and backends keep for themselves. */
#define BIO_OPF_CREDS_STALE 0x2000 /* backend: not performed, see above */
#define BIO_OPF_CANCELLED 0x4000   /* backend: report -ECANCELED */
#define BIO_OPF_INTERNAL 0x8000    /* core: does not keep the loop alive */
#define BIO_OPF_CORE_MASK 0xec00 /* with BIO_OPF_MORE, BIO_OPF_LISTED */

_Static_assert(sizeof(struct bio_op) == 48, "bio_op must stay 48 bytes");

/* bio_op.flags. MULTI (owner, POLL only): the op stays armed after it
 * fires, as a multishot poll (IORING_POLL_ADD_MULTI, 5.13) or a standing
 * epoll interest; each callback then finds the op still INFLIGHT, until a
 * final completion (a cancel, an error) leaves it IDLE. The owner must
 * not resubmit an op that is still armed. Firings the owner has not seen
 * yet are merged into one callback (their events or'ed). MORE and LISTED
 * belong to the backends and the core. */
enum {
  BIO_OPF_MULTI = 0x0002,
  /* Owner: run it on a kernel worker, not inline at submit (io_uring's
   * IOSQE_ASYNC, 5.6). For big page-cache copies: inline, they would all
   * run one after another on the loop's thread; workers copy in parallel. */
  BIO_OPF_ASYNC = 0x0004,
  /* Owner, RECV only: see BIO_OP_RECV. */
  BIO_OPF_POLL_FIRST = 0x0008,
  BIO_OPF_MORE = 0x0400,   /* this completion leaves the op armed */
  BIO_OPF_LISTED = 0x0800, /* on a completion list, callback not run */
};

/* For backends: records one firing of an armed MULTI op (more: it stays
 * armed). Returns 1 if the op must be appended to the completion list, 0
 * if it is on one already (the firing was merged into it). */
static inline int bio__op_fire_multi(bio_op *op, int32_t res, int more) {
  int listed = (op->flags & BIO_OPF_LISTED) != 0;
  if (!listed || res < 0 || op->res < 0)
    op->res = listed && op->res < 0 ? op->res : res;
  else
    op->res |= res;
  op->flags = (uint16_t)((op->flags & ~BIO_OPF_MORE) | BIO_OPF_LISTED |
                         (more ? BIO_OPF_MORE : 0));
  return !listed;
}

/* Where an armed BIO_OP_ACCEPT puts the fds it accepted: take runs on
 * the loop's thread inside the backend's reap, so it must not call back
 * into the loop; it owns fd from then on. */
typedef struct bio_fd_sink bio_fd_sink;
struct bio_fd_sink {
  void (*take)(bio_fd_sink *sink, int fd);
};

/* An intrusive FIFO of ops. */
typedef struct bio_op_list {
  bio_op *head;
  bio_op **tailp;
} bio_op_list;

static inline void bio__op_list_init(bio_op_list *l) {
  l->head = NULL;
  l->tailp = &l->head;
}

static inline void bio__op_list_push(bio_op_list *l, bio_op *op) {
  op->next = NULL;
  *l->tailp = op;
  l->tailp = &op->next;
}

/* Moves all of from to the end of to (from is left as it was: reinit it
 * before reuse). */
static inline void bio__op_list_concat(bio_op_list *to, bio_op_list *from) {
  if (from->head == NULL)
    return;
  *to->tailp = from->head;
  to->tailp = from->tailp;
}

static inline bio_op *bio__op_list_shift(bio_op_list *l) {
  bio_op *op = l->head;
  if (op != NULL) {
    l->head = op->next;
    if (l->head == NULL)
      l->tailp = &l->head;
  }
  return op;
}

/* The interface every backend implements (like ae's aeApi*): the loop never
 * knows which one it has. All calls but wake come from the loop's thread. */
struct bio_backend {
  const char *name;
  int (*init)(bio_loop *loop);
  void (*close)(bio_loop *loop);
  /* Takes ownership of op, or fails with -errno without touching it:
   * -EAGAIN / -EBUSY mean "reap completions, then try again". */
  int (*submit)(bio_loop *loop, bio_op *op);
  /* Asks for op's early completion with -ECANCELED (or its real result if
   * it wins the race). The op still completes through the normal path.
   * Returns 0 when it is sure to complete with -ECANCELED (it never
   * reached the kernel), -EBUSY when the outcome is the race's. */
  int (*cancel)(bio_loop *loop, bio_op *op);
  /* Flushes submissions and waits up to timeout_ns (-1: forever, 0: no
   * wait) for completions or a wake; appends completed ops to done, with
   * res set. Returns 0 or -errno (-EINTR is not an error to the caller). */
  int (*wait)(bio_loop *loop, int64_t timeout_ns, bio_op_list *done);
  /* A file descriptor that becomes readable when wait would not block
   * (for embedding: uv_backend_fd), the same one for the loop's life. It
   * must not disturb what is in flight. */
  int (*fd)(bio_loop *loop);
  /* Nonzero when work is done or queued that the fd does not show yet
   * (unsubmitted SQEs, completions not reported): wait must not block. */
  int (*busy)(bio_loop *loop);
  /* After fork(), in the child: rebuild kernel state. The ops in flight
   * stay in flight, or complete (with an error) through the next wait.
   * Returns 0 or -errno. */
  int (*fork)(bio_loop *loop);
  /* Optional: fd is about to be closed by its owner, with no op of ours
   * waiting on it; drop any kernel interest that would outlive close. */
  void (*forget)(bio_loop *loop, int fd);
  /* Optional: submits what is queued and appends what has completed to
   * done, without waiting. The core calls it after cancelling an armed
   * MULTI op, so that the op's final completion comes in the same turn
   * (a stream closed in its read callback closes in that turn). */
  void (*flush)(bio_loop *loop, bio_op_list *done);
  /* Nonzero when submit can take ops of this opcode (the io_uring probe). */
  int (*supports)(bio_loop *loop, unsigned opcode);
  /* With BIO_CAP_RECV_BUFS: the oldest data an armed BIO_OP_RECV holds
   * (returns 1 and sets *data, *len), or 0 when it holds none; consume
   * takes n bytes of that chunk (all of them gives its buffer back). */
  int (*recv_chunk)(bio_loop *loop, bio_op *op, char **data, size_t *len);
  void (*recv_consume)(bio_loop *loop, bio_op *op, size_t n);
  /* With BIO_CAP_RECVMSG_BUFS: the oldest datagram an armed RECVMSG
   * holds (bio__recv_dgram). */
  int (*recv_dgram)(bio_loop *loop, bio_op *op, bio_dgram *d);
  /* Optional, and called over and over while the loop spins before it
   * sleeps: submits what is queued without waiting, and returns nonzero
   * when wait would find completions now (or can't tell: stop spinning).
   * Must cost no syscall when nothing is queued. */
  int (*ready)(bio_loop *loop);
  /* Optional: the loop has been quiet for a while (bio__loop_reap_ns):
   * give back the memory of caches that only a busy loop needs. */
  void (*trim)(bio_loop *loop);
  /* Optional, called on from's thread: makes the wait of loop to (same
   * backend, another thread's) return through from's kernel object, no
   * eventfd written or read: to's backend then lists to->wake_msg_op at
   * its reap. 0 when sent; else -errno (the core writes to's eventfd). */
  int (*wake_other)(bio_loop *from, bio_loop *to);
};

extern const bio_backend bio__backend_uring;
extern const bio_backend bio__backend_epoll;
extern const bio_backend bio__backend_fault;

typedef void (*bio_wake_cb)(bio_loop *loop, void *arg);

/* One of the owners that share a loop's wake (a uv loop, and a task
 * runtime on it): what it runs when a wake comes, and how the loop asks
 * it, before every blocking wait, whether something was handed to it
 * without a wake (bio__loop_wake coalesces: a wake while the loop is
 * awake writes nothing). Embedded in its owner; either function may be
 * NULL. A client without busy makes every wake write the eventfd. */
typedef struct bio_wake_client bio_wake_client;
struct bio_wake_client {
  bio_wake_client *next;
  bio_wake_cb cb;
  int (*busy)(void *arg);
  void *arg;
};

/* A core timer (an alarm): a wheel entry with its callback, embedded in
 * its owner (a task's sleep or deadline). The loop fires it from
 * bio__loop_dispatch, never before its deadline, and caps every wait at
 * the earliest one. The alarm wheel counts in ticks of 2^14 ns (16.4 us),
 * so a task's deadline is kept to well under a millisecond. */
typedef struct bio_alarm bio_alarm;
typedef void (*bio_alarm_cb)(bio_loop *loop, bio_alarm *alarm);
struct bio_alarm {
  bio_timer entry;
  bio_alarm_cb cb;
};
#define BIO_ALARM_TICK_SHIFT 14

/* A process's credentials, compared whole: real/effective/saved uid and
 * gid, and the supplementary groups (count and hash). */
typedef struct bio_creds {
  uint32_t ids[6];
  uint32_t ngroups;
  uint64_t groups_hash;
} bio_creds;

/* Reads the calling thread's credentials (three cheap syscalls). Returns
 * 0, or -errno (then *c is unusable: treat as changed). */
int bio__creds_get(bio_creds *c);
static inline int bio__creds_equal(const bio_creds *a, const bio_creds *b) {
  return a->ngroups == b->ngroups && a->groups_hash == b->groups_hash &&
         a->ids[0] == b->ids[0] && a->ids[1] == b->ids[1] &&
         a->ids[2] == b->ids[2] && a->ids[3] == b->ids[3] &&
         a->ids[4] == b->ids[4] && a->ids[5] == b->ids[5];
}

struct bio_loop {
  const bio_backend *backend;
  void *backend_data;
  bio_wheel wheel;  /* the owner's (compat: uv_timer_t), in milliseconds */
  bio_wheel alarms; /* the core's (bio_alarm), in alarm ticks */
  bio_op_list pending;   /* submitted, waiting for room in the backend */
  bio_op_list completed; /* finished, callbacks not yet run */
  size_t inflight;       /* ops owned by the backend or pending */
  /* Cross-thread wake: an eventfd the backend watches through wake_op. */
  int wake_fd;
  atomic_int wake_pending;
  bio_op wake_op;
  uint64_t wake_buf;
  /* What a wake sent by another loop's backend completes (wake_other):
   * never submitted; listed at most once per reap (BIO_OPF_LISTED). */
  bio_op wake_msg_op;
  /* Who shares the wake, in the order they were added (loop thread). */
  bio_wake_client *wake_clients;
  /* Every client has a busy: a wake that finds the loop awake or
   * spinning may write nothing (set by the loop thread, read by wakers). */
  atomic_int wake_watched;
  int embedded; /* uv_backend_fd was asked: every wake writes the eventfd */
  /* Cancels asked by other threads (bio__op_cancel_from), newest first. */
  _Atomic(bio_remote_cancel *) remote_cancels;
  /* Ops completed by other threads (bio__loop_post), newest first. */
  _Atomic(bio_op *) posted;
  /* Threads inside bio__loop_post: the loop may see a posted op before its
   * poster has finished the wake, so close waits for them to leave. */
  atomic_int posters;
  /* Posts owed to us: pool jobs submitted for this loop and not yet
   * posted back (signed: bio__loop_post from elsewhere may drive it
   * below zero, which only means "do not spin"). */
  atomic_int posts_expected;
  /* Before it sleeps the loop may spin (spin_before_sleep), for a post
   * or, when the backend can watch for completions, for its I/O. While
   * it spins, wakes write no eventfd (bio__loop_wake). */
  atomic_int spinning;
  unsigned spin_ns; /* how long to spin; 0: never (BIO_LOOP_SPIN_US) */
  /* Spin for I/O (spin_before_sleep) unless io_skip > 0: the number of
   * idle turns left to sleep through after spins that missed; io_backoff
   * doubles with each miss in a row, up to SPIN_BACKOFF_MAX. */
  unsigned io_skip;
  unsigned io_backoff;
  /* Spin (and pool) policy under contention: a spin is skipped while
   * bio__cpu_contended says so, and ends when it loses its CPU, unless
   * spin_always (tests: spin whatever else runs on the machine). */
  int spin_always;
  /* For tests and profiling (BIO_LOOP_STATS=1 prints them at close):
   * spins that caught their event, that ran out, that were skipped for
   * contention, and that ended early because we lost the CPU. */
  uint64_t spins_caught, spins_missed, spins_contended, spins_preempted;
  int cancels_unflushed; /* an armed MULTI op was cancelled since the wait */
  /* uv_loop_configure(UV_LOOP_BLOCK_SIGNAL, SIGPROF): profilers' timer
   * signals must not cut waits short, so waits block SIGPROF. */
  int block_sigprof;
  /* Asked for at init (bio_loop_options): io_uring queue sizes (0: the
   * backend's) and the ring whose kernel worker pool to share (-1: none). */
  unsigned ring_sq, ring_cq;
  int attach_wq_fd;
  /* io_uring_setup itself said ENOMEM (RLIMIT_MEMLOCK), not the
   * allocator: worth waiting for closed rings to be freed. */
  int ring_memlock_short;
  /* What the reap does before it blocks (NULL: nothing): the spin policy
   * (spin.c) unless the owner installed another. spun_io is its state. */
  const struct bio_idle_policy *idle;
  int spun_io;
  /* The owner's meter of idle time (uv_metrics_idle_time): called with
   * the time each reap spent in its idle policy and blocked in wait. */
  void (*idle_meter)(void *arg, uint64_t ns);
  void *idle_meter_arg;
  /* Something completed since the loop was last quiet: a wait that has
   * lasted BIO_QUIET_AFTER_NS with nothing come then trims the backend's
   * caches and calls quiet_cb (the owner's: compat gives the C library's
   * free memory back), once per quiet spell. */
  int quiet_due;
  void (*quiet_cb)(void *arg);
  void *quiet_arg;
  /* The last reap found completions ready before it waited (metrics:
   * events that were waiting when the loop looked). */
  int reap_found_ready;
  /* Who the backend's kernel object was created by (bio__creds_get): an
   * io_uring ring may act with those credentials, not the caller's. */
  bio_creds ring_creds;
  /* A guest on this loop (a task runtime on a uv loop, bio_rt_new_uv):
   * the loop's owner runs it once per turn after the I/O callbacks,
   * counts it as alive while alive says so, and does not block while
   * ready says it has work. NULL: none. */
  const struct bio_loop_guest *guest;
  void *guest_arg;
  /* Fault injection (tests): the backend the fault backend wraps. */
  const bio_backend *inner;
  void *inner_data;
};

/* An idle policy: what a loop does when its reap is about to block. */
typedef struct bio_idle_policy {
  /* The reap would now block for up to timeout_ns (-1: no limit); now_ns
   * is bio__clock_ns(). Returns nonzero when it need not block any more
   * (something came meanwhile): the wait then only collects. */
  int (*before_block)(bio_loop *loop, int64_t timeout_ns, uint64_t now_ns);
  /* Optional: the idle gap that followed, from before_block's now_ns to
   * the end of the wait. */
  void (*after_idle)(bio_loop *loop, uint64_t gap_ns);
} bio_idle_policy;

/* spin.c: spin for a while before blocking when an event is likely soon
 * (a pool job of ours runs; recent gaps were short and the backend can
 * watch its completions without a syscall), unless other threads want
 * our CPUs; every loop starts with it. */
extern const bio_idle_policy bio__spin_policy;
void bio__loop_set_idle_policy(bio_loop *loop, const bio_idle_policy *p);
/* How long a wait must have found nothing before the loop counts as
 * quiet (bio_loop.quiet_due). Not at every sleep of a busy loop, whose
 * caches would then be refilled at each wake (pipe_pound_100 fell from
 * 63 K to 46 K connections/s giving the recv buffers back at every
 * sleep); at most four times a second on a quiet one. */
#define BIO_QUIET_AFTER_NS 250000000
void bio__loop_set_quiet_cb(bio_loop *loop, void (*cb)(void *arg), void *arg);
void bio__loop_set_idle_meter(bio_loop *loop,
                              void (*meter)(void *arg, uint64_t ns),
                              void *arg);
/* Spins until found(arg) says yes (1), until_ns passes (0), or the CPU
 * was taken from it for a while (-1, noted for bio__cpu_contended; not
 * with through_preempt): relax pauses between looks, the clock read about
 * every 16 pauses. The loops' spin and the runtime's search share it. */
int bio__spin_until(int (*found)(void *arg), void *arg, unsigned relax,
                    uint64_t start_ns, uint64_t until_ns, int through_preempt);
/* Work handed over by other threads without a wake the loop has seen:
 * posts, remote cancels, and what a wake client's busy reports. */
int bio__loop_handed_over(bio_loop *loop);

struct bio_loop_guest {
  void (*run)(void *arg);
  int (*alive)(void *arg);
  int (*ready)(void *arg);
};
static inline int bio__guest_alive(const bio_loop *loop) {
  return loop->guest != NULL && loop->guest->alive(loop->guest_arg);
}
static inline int bio__guest_ready(const bio_loop *loop) {
  return loop->guest != NULL && loop->guest->ready(loop->guest_arg);
}

enum bio_loop_flags {
  BIO_LOOP_FORCE_EPOLL = 1 << 0,
  BIO_LOOP_FORCE_URING = 1 << 1,
};

/* Picks the backend: BIO_BACKEND=uring|epoll|fault:<inner> overrides; else
 * io_uring when it can be set up, epoll otherwise. Returns 0 or -errno. */
int bio__loop_init(bio_loop *loop, uint64_t now_ms);
/* The same with the native API's options (NULL: the defaults). */
struct bio_loop_options;
int bio__loop_init_ex(bio_loop *loop, uint64_t now_ms,
                      const struct bio_loop_options *opts);
/* io_uring backend: the ring's fd (for IORING_SETUP_ATTACH_WQ), or -1. */
int bio__uring_ring_fd(const bio_loop *loop);
void bio__loop_close(bio_loop *loop);
/* Hands op to the backend (batched: the kernel sees it at the next poll).
 * Never fails: an op the backend refuses for good completes with the
 * error, one it cannot take now waits in loop->pending. */
void bio__op_submit(bio_loop *loop, bio_op *op);
/* Cancel is advisory; returns 0 when op will complete with -ECANCELED for
 * certain (it had not started), -EBUSY otherwise. */
int bio__op_cancel(bio_loop *loop, bio_op *op);
/* A cancel asked from a thread that is not the loop's. */
struct bio_remote_cancel {
  bio_remote_cancel *next; /* the loop's while it waits */
  bio_op *op;
  /* Optional: runs on the loop's thread once the cancel was asked, with
   * bio__op_cancel's result; rc is the caller's again from then. */
  void (*done)(bio_loop *loop, bio_remote_cancel *rc, int res);
};
/* bio__op_cancel(loop, op) from any thread: the loop's thread asks it at
 * its next turn, before that turn's callbacks, then runs rc->done. Until
 * then op must stay the submission it was (its owner may not free it or
 * submit it again: if it completed meanwhile, the cancel finds it done
 * and done hears -EBUSY). */
void bio__op_cancel_from(bio_loop *loop, bio_remote_cancel *rc, bio_op *op);
/* Completes op with res 0 at the next poll without the backend: a
 * "call me back next turn" that costs no SQE, CQE or syscall (deferred
 * write and send callbacks). A deferred op can't be cancelled; it is DONE
 * at once and its callback runs at the next dispatch, never the current. */
void bio__op_defer(bio_loop *loop, bio_op *op);
/* One turn: flush, wait up to timeout_ms (-1 forever), reap, then run the
 * callbacks of every completed op (callbacks may submit, cancel, wake).
 * Returns the number of callbacks run, or -errno from the backend. */
int bio__loop_poll(bio_loop *loop, int timeout_ms);
/* Thread-safe, async-signal-safe: makes a blocked poll return and runs
 * every wake client's cb on the loop thread. Coalesces: many wakes, one
 * round of callbacks. */
void bio__loop_wake(bio_loop *loop);
/* The same, but always writes the eventfd, even while the loop is awake
 * (async-signal-safe): what is handed over is seen at the next wake read,
 * never earlier (signal handlers: libuv's signal callback timing). */
void bio__loop_wake_now(bio_loop *loop);
/* bio__loop_wake_now(to), called on the thread of loop from (NULL: any
 * thread): when both loops have a backend that can (io_uring: an
 * IORING_OP_MSG_RING message, 5.18), through from's ring, so that to's
 * wait returns with no eventfd written, read or armed again. to must stay
 * open, on one thread, until the call returns (a runtime's workers). */
void bio__loop_wake_from(bio_loop *from, bio_loop *to);
/* bio__loop_wake(to), sent as bio__loop_wake_from sends. */
void bio__loop_wake_via(bio_loop *from, bio_loop *to);
/* bio__loop_poll in two halves, for owners that act between them (libuv
 * updates its clock after the wait, before any I/O callback). */
int bio__loop_reap(bio_loop *loop, int timeout_ms);
int bio__loop_reap_ns(bio_loop *loop, int64_t timeout_ns);
/* Runs the callbacks of what the last reap collected, then fires the
 * alarms that are due. */
int bio__loop_dispatch(bio_loop *loop);
/* Arms alarm to call cb once, at or after deadline_ns (bio__clock_ns's
 * clock; a past deadline fires at the next dispatch). It must not be
 * armed already. Loop thread only. */
void bio__alarm_start(bio_loop *loop, bio_alarm *alarm, uint64_t deadline_ns,
                      bio_alarm_cb cb);
/* Disarms alarm if it is armed; its callback will not run. */
void bio__alarm_stop(bio_loop *loop, bio_alarm *alarm);
static inline int bio__alarm_active(const bio_alarm *alarm) {
  return bio__timer_active(&alarm->entry);
}
/* Thread-safe: completes op (whose res the caller set) from any thread;
 * its callback runs on the loop thread at the next poll, in post order.
 * The op must not be submitted to the backend at the same time. */
void bio__loop_post(bio_loop *loop, bio_op *op);
/* Adds c (its next is ours) to the loop's wake clients, or takes it
 * off. Loop thread only; a client must be on the loop before anything is
 * handed to it from another thread. */
void bio__loop_add_wake_client(bio_loop *loop, bio_wake_client *c);
void bio__loop_remove_wake_client(bio_loop *loop, bio_wake_client *c);
int bio__loop_backend_fd(bio_loop *loop);
/* 0 when a wait could return at once without blocking, else -1. */
int bio__loop_busy(bio_loop *loop);
int bio__loop_fork(bio_loop *loop);
/* The pool calls this (any thread) before a job for loop becomes visible
 * to workers: the loop may then spin briefly for its post. */
static inline void bio__loop_expect_post(bio_loop *loop) {
  atomic_fetch_add_explicit(&loop->posts_expected, 1, memory_order_relaxed);
}
/* When armed MULTI ops were cancelled since the last wait: hands the
 * cancels to the kernel now and collects what completed (their final
 * completions among them), to be dispatched in this turn. One syscall for
 * all the cancels of a turn (say, every stream closed in it), not one
 * each. bio__loop_dispatch calls it after its callbacks and alarms;
 * an owner calls it after callbacks it runs itself (compat's pending
 * queue) or cancels outside a dispatch that must land in this turn. */
void bio__loop_flush_cancels(bio_loop *loop);
/* Hands ops submitted but still queued here to the kernel now, and
 * collects what has completed for this turn's dispatch (a send queued
 * behind a close must reach the kernel before the fd goes: queued, it
 * names only the number). */
void bio__loop_submit_now(bio_loop *loop);
/* The one step before an owner closes fd that ops of this loop used, once
 * it has cancelled those still out. ops_out: one of them may still be
 * queued or in the kernel (bio__op_cancel said -EBUSY for an op that was
 * INFLIGHT, a send went out): the queue and the cancels go to the kernel
 * now and what completes joins this turn's dispatch, so that the kernel
 * holds the file no longer when close(2) comes (an armed op would keep a
 * socket open, and its peer would see the close late). Then the backend
 * forgets fd (epoll's registration, which would outlive close). */
void bio__loop_fd_closing(bio_loop *loop, int fd, int ops_out);
/* Nonzero when the loop's backend runs ops of this opcode natively (or
 * has the BIO_CAP_* capability). */
int bio__loop_supports(bio_loop *loop, unsigned opcode);
/* The data a multishot BIO_OP_RECV holds (see there), oldest first:
 * chunk returns 1 with its bytes, 0 when none is left; consume takes the
 * first n of them; drop gives every buffer the op holds back. */
int bio__recv_chunk(bio_loop *loop, bio_op *op, char **data, size_t *len);
void bio__recv_consume(bio_loop *loop, bio_op *op, size_t n);
void bio__recv_drop(bio_loop *loop, bio_op *op);
/* A datagram a multishot BIO_OP_RECVMSG holds (BIO_CAP_RECVMSG_BUFS). */
struct bio_dgram {
  char *data;        /* its bytes, len of them (data NULL: none) */
  size_t len;
  const void *addr;  /* the sender's address (struct sockaddr), or NULL */
  unsigned addrlen;
  int flags;         /* recvmsg's msg_flags: MSG_TRUNC, ... */
  size_t chunk;      /* what bio__recv_consume takes to let it go */
};
/* The oldest datagram op holds: 1 and *d, or 0 when none is left. */
int bio__recv_dgram(bio_loop *loop, bio_op *op, bio_dgram *d);
uint64_t bio__clock_ns(void); /* CLOCK_MONOTONIC */
/* One step of a spin: tells the CPU we are waiting. */
static inline void bio__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
/* contention.c: nonzero while other threads want the CPUs we may run on
 * (or a CPU quota throttles us), when spinning for an event would take
 * a CPU from someone else. now_ns: bio__clock_ns(). */
int bio__cpu_contended(uint64_t now_ns);
/* A spinner that lost its CPU for a while in the middle of a spin. */
void bio__cpu_note_preempted(uint64_t now_ns);
void bio__cpu_contention_reset(void); /* tests: forget what was seen */
/* Tests: read loadavg and cpu.stat from these files (NULL: the kernel's;
 * "" for cpu_stat: none), and hold a "yes" for hold_ns (0: 100 ms). */
void bio__cpu_contention_sources(const char *loadavg, const char *cpu_stat,
                                 uint64_t hold_ns);
/* Parsers, exposed for tests: loadavg's runnable count ("a b c R/T ..."),
 * cpu.stat's nr_throttled; -1 when the text has none. */
int bio__loadavg_running(const char *text);
long long bio__cpu_stat_throttled(const char *text);
/* The signal mask a backend waits with: NULL (leave the mask alone), or
 * the thread's mask plus SIGPROF when loop->block_sigprof is set. */
#include <signal.h>
const sigset_t *bio__wait_sigmask(const bio_loop *loop, sigset_t *buf);
/* True when any op is submitted and not yet completed (the wake op aside). */
static inline int bio__loop_has_ops(const bio_loop *loop) {
  return loop->inflight != 0 || loop->completed.head != NULL;
}

#endif
