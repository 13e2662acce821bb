/* blitzio.h: the native API of blitz-io.
 *
 * Two parts: the completion loop underneath the libuv layer (create a loop,
 * wait for completions with a timeout, wake it from another thread), and
 * bio_task, stackless tasks on that loop, with futures for time, sockets
 * and files, scopes that own and cancel them, and a runtime for one thread.
 * Every function is documented in docs/native-api.md. */
#ifndef BLITZIO_H
#define BLITZIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BIO_EXTERN __attribute__((visibility("default")))

struct sockaddr;
struct stat;
struct iovec;
struct addrinfo;

typedef struct bio_loop bio_loop;

/* The library version, "MAJOR.MINOR.PATCH". */
BIO_EXTERN const char *bio_version(void);

/* Creates a loop on the best backend (io_uring, else epoll; BIO_BACKEND=
 * uring|epoll overrides). Stores the loop in *loop_out; returns 0 or a
 * negative errno (-EINVAL for a NULL loop_out or an unknown BIO_BACKEND). */
BIO_EXTERN int bio_loop_new(bio_loop **loop_out);

/* How to make a loop (bio_loop_new_ex). Fill with bio_loop_options_init,
 * then set what you want; fields added later keep their zero meaning. */
typedef struct bio_loop_options {
  /* "uring", "epoll", or NULL: BIO_BACKEND if set, else io_uring where
   * the kernel and any seccomp filter allow it, else epoll. A backend
   * named here that can't start makes bio_loop_new_ex fail. */
  const char *backend;
  /* io_uring only: submission and completion queue sizes (rounded up to
   * powers of two by the kernel); 0: 256 and 2048. At most 32768 and
   * 65536; a CQ smaller than the SQ is -EINVAL. */
  unsigned sq_entries;
  unsigned cq_entries;
  /* io_uring only: share this loop's kernel worker pool (io-wq) instead
   * of starting another (IORING_SETUP_ATTACH_WQ): many loops, one pool of
   * kernel threads for blocking work. It must be an io_uring loop, and
   * must outlive nothing of this one's (free it last). NULL: own pool. */
  const bio_loop *attach_wq;
  /* How long the loop may spin for a completion before it sleeps, in
   * microseconds (at most 10000): 0 never spins; -1 (the default):
   * BIO_LOOP_SPIN_US, else 50. */
  int spin_us;
  void *reserved[4]; /* zero */
} bio_loop_options;

/* The defaults: every choice left to the library. */
BIO_EXTERN void bio_loop_options_init(bio_loop_options *opts);

/* bio_loop_new with options (NULL: the defaults). -EINVAL for values out
 * of range, an unknown backend, or attach_wq not on io_uring. */
BIO_EXTERN int bio_loop_new_ex(bio_loop **loop_out,
                               const bio_loop_options *opts);

/* Destroys a loop made by bio_loop_new. NULL is ignored. */
BIO_EXTERN void bio_loop_free(bio_loop *loop);

/* The backend the loop runs on: "uring" or "epoll" (or "fault" in tests). */
BIO_EXTERN const char *bio_loop_backend(const bio_loop *loop);

/* Waits up to timeout_ms (-1: without limit, 0: not at all) for
 * completions or a wake, then runs the callbacks of what completed.
 * Returns the number of callbacks run, or a negative errno. Call it from
 * the loop's thread only. */
BIO_EXTERN int bio_loop_poll(bio_loop *loop, int timeout_ms);

/* Makes a bio_loop_poll in progress (or the next one) return. Safe from
 * any thread and from signal handlers. */
BIO_EXTERN void bio_loop_wake(bio_loop *loop);

/* ======================================================================
 * Tasks (bio_task): stackless coroutines on a bio_loop.
 *
 * A task is a struct of yours that embeds a bio_task header, and a resume
 * function written between BIO_BEGIN and BIO_END. Values that must live
 * across an await live in your struct, not in locals: locals are gone each
 * time the function returns to wait. Each await names an await slot
 * (bio_io, bio_waiter) that also lives in your struct. Nothing is
 * allocated to spawn or await (bio_spawn_new allocates, for convenience).
 *
 *   struct conn { bio_task task; bio_io io; int fd; ssize_t n; char b[512]; };
 *
 *   static int conn_run(bio_task *t) {
 *     struct conn *c = bio_container_of(t, struct conn, task);
 *     BIO_BEGIN(t);
 *     for (;;) {
 *       BIO_AWAIT(t, c->n, bio_recv(t, &c->io, c->fd, c->b, sizeof c->b));
 *       if (c->n <= 0) break;
 *       BIO_AWAIT(t, c->n, bio_send_all(t, &c->io, c->fd, c->b, c->n));
 *       if (c->n < 0) break;
 *     }
 *     BIO_END(t, 0);
 *   }
 *
 * Resume points are a switch on __LINE__ (Duff's device): plain C and C++,
 * no compiler extension. So: one BIO_AWAIT per line, and no switch
 * statement of your own around an await (an if chain is fine).
 * ====================================================================== */

typedef struct bio_task bio_task;
typedef struct bio_scope bio_scope;
typedef struct bio_rt bio_rt;

/* A resume function returns BIO_PENDING to wait, anything else to finish
 * (the task's result, by convention 0 or a negative errno). */
typedef int (*bio_task_fn)(bio_task *task);
#define BIO_PENDING (-2147483647 - 1)

/* The header: 64 bytes, fields private to the runtime. */
struct bio_task {
  bio_task_fn fn;
  bio_task *next;       /* run queue */
  bio_scope *scope;
  bio_task *scope_prev; /* the scope's list of live tasks */
  bio_task *scope_next;
  void *await;          /* what the task waits for (to cancel it) */
  bio_task *joiner;     /* the task waiting in bio_join for this one */
  uint8_t state;        /* atomic: idle, scheduled, running, ... */
  uint8_t kind;         /* what `await` points at */
  uint16_t resume;      /* where BIO_BEGIN jumps to */
  int32_t res;          /* the last await's result; once done, the task's */
};

#define bio_container_of(ptr, type, member)                                    \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define BIO_BEGIN(t)                                                           \
  switch ((t)->resume) {                                                       \
  case 0:

/* Starts the future `expr` (one of the bio_* calls below that take the
 * task) and, unless it finished at once, returns to wait; resumes here
 * with its result in `var` (>= 0, or a negative errno: -ECANCELED when the
 * task's scope was cancelled, -ETIMEDOUT when the slot's deadline passed). */
#define BIO_AWAIT(t, var, expr)                                                \
  do {                                                                         \
    (t)->resume = (uint16_t)__LINE__;                                          \
    {                                                                          \
      /* A future that waits leaves its result in the task for later. */      \
      int bio_await_r_ = (expr);                                               \
      if (bio_await_r_ == BIO_PENDING)                                         \
        return BIO_PENDING;                                                    \
      (t)->res = bio_await_r_;                                                 \
    }                                                                          \
    /* FALLTHROUGH */                                                          \
  case __LINE__:                                                               \
    (var) = (t)->res;                                                          \
  } while (0)

/* Lets every other runnable task run once, then resumes here. */
#define BIO_YIELD(t)                                                           \
  do {                                                                         \
    (t)->resume = (uint16_t)__LINE__;                                          \
    bio_task_yield(t);                                                         \
    return BIO_PENDING;                                                        \
  case __LINE__:;                                                              \
  } while (0)

/* Finishes the task with result `res` (an int, not BIO_PENDING). */
#define BIO_END(t, res)                                                        \
  }                                                                            \
  return (res)

/* ---- the runtime (one thread) ---- */

/* Creates a runtime on a new loop (opts as bio_loop_new_ex; NULL: the
 * defaults). 0 or a negative errno. */
BIO_EXTERN int bio_rt_new(bio_rt **rt_out, const bio_loop_options *opts);
/* A runtime on a libuv loop (a uv_loop_t * of blitz-io's libuv.so.1):
 * its tasks run inside uv_run, after each turn's I/O callbacks, beside
 * the loop's handles, and keep uv_run going while they live (uv_loop_close
 * is UV_EBUSY until bio_rt_free). uv_run drives it: bio_rt_run, block_on
 * and shutdown are -ENOTSUP (cancel its root scope instead). -ENOTSUP
 * when the loop is not blitz-io's, -EBUSY if it has a runtime already. */
BIO_EXTERN int bio_rt_new_uv(bio_rt **rt_out, void *uv_loop);
/* Frees a runtime whose tasks have all finished (bio_rt_run returned);
 * -EBUSY while tasks are alive (nothing is freed then). */
BIO_EXTERN int bio_rt_free(bio_rt *rt);
BIO_EXTERN bio_loop *bio_rt_loop(bio_rt *rt);
/* The runtime's root scope: tasks spawned with no other owner. */
BIO_EXTERN bio_scope *bio_rt_scope(bio_rt *rt);
/* Runs tasks and I/O until no task is left. From the runtime's thread
 * only, not from inside a task. 0, or a negative errno from the loop. */
BIO_EXTERN int bio_rt_run(bio_rt *rt);
/* One round, for programs that drive the runtime from their own loop:
 * runs the tasks runnable now, then polls I/O and timers once, waiting up
 * to timeout_ms (-1: until something happens) only if no task is
 * runnable. Returns the number of tasks still alive, or a negative errno. */
BIO_EXTERN int bio_rt_run_once(bio_rt *rt, int timeout_ms);
/* Spawns task into the root scope, runs until it has finished (other
 * tasks keep running meanwhile; they may outlive this call), and returns
 * its result. */
BIO_EXTERN int bio_rt_block_on(bio_rt *rt, bio_task *task, bio_task_fn fn);
/* Cancels every task (the root scope, and with it every scope), then runs
 * until all have finished. */
BIO_EXTERN int bio_rt_shutdown(bio_rt *rt);
/* The time on the runtime's clock (CLOCK_MONOTONIC), in nanoseconds:
 * deadlines are absolute times on it. */
BIO_EXTERN uint64_t bio_now_ns(void);

/* What a runtime has done, for a look at a running program. Counts since
 * it was made; readable from any thread (a consistent snapshot of each
 * field, not of all at once). */
typedef struct bio_rt_stats {
  uint64_t polls;       /* turns of its loop */
  uint64_t idle_polls;  /* ... that could sleep: nothing was runnable */
  uint64_t resumes;     /* task resumes */
  uint64_t spawned;     /* tasks started */
  uint64_t handed_over; /* spawns and wakes that came from other threads */
  uint64_t live;        /* tasks alive now */
  /* bio_runtime workers only: resumes seen running longer than the
   * runtime's long_task_us without returning (one count per resume). */
  uint64_t long_tasks;
  /* Work-stealing workers only: unstarted tasks taken from other
   * workers' queues, and those waiting in this worker's queue now. */
  uint64_t steals;
  uint64_t queued;
  /* Ops its loop had in the backend (submitted, not yet completed) at
   * its last poll. */
  uint64_t ops_in_flight;
  /* Times its loop, waiting with nothing to run, was woken by another
   * thread: a spawn or a wake handed to it, or (work stealing) another
   * worker's call for help with the queues. */
  uint64_t wakeups;
} bio_rt_stats;
BIO_EXTERN int bio_rt_stats_get(bio_rt *rt, bio_rt_stats *out);

/* ---- the runtime on several threads ---- */

/* Shapes. Thread-per-core: a task runs on the worker it was spawned on;
 * nothing is shared on the hot path. Work stealing: bio_runtime_spawn
 * queues the task unstarted (in the spawning worker's queue, or from
 * outside in a global one); any worker may start it, and an idle worker
 * steals half of a busy one's queue. In both, a task that has started
 * stays on its worker (its ops, alarms and waits are that worker's
 * loop's), and bio_runtime_spawn_on starts a task on the worker named. */
#define BIO_RUNTIME_PER_CORE 1
#define BIO_RUNTIME_STEALING 2

typedef struct bio_runtime bio_runtime;
typedef struct bio_runtime_options {
  unsigned workers; /* 0: the CPUs this process may run on */
  int shape;        /* BIO_RUNTIME_PER_CORE or BIO_RUNTIME_STEALING */
  /* Each worker's loop (NULL: the defaults). On io_uring every ring after
   * the first shares the first's kernel worker pool (ATTACH_WQ) unless
   * attach_wq names another. */
  const bio_loop_options *loop;
  /* A watchdog thread looks at the workers every long_task_us / 2 and
   * counts a task that has run longer than long_task_us in one resume
   * (bio_rt_stats.long_tasks): such a task stalls its worker's other
   * tasks and I/O. 0: 10000 (10 ms); UINT32_MAX: no watchdog. With
   * BIO_RUNTIME_REPORT_LONG in flags, each one is also named on stderr
   * (the task's address and its function, as dladdr finds it). */
  uint32_t long_task_us;
  uint32_t flags;
  void *reserved[3]; /* zero */
} bio_runtime_options;
#define BIO_RUNTIME_REPORT_LONG 0x1u

BIO_EXTERN void bio_runtime_options_init(bio_runtime_options *opts);
/* Starts the workers (threads, each with its own loop). 0 or a negative
 * errno: -EINVAL, a worker's loop error. */
BIO_EXTERN int bio_runtime_new(bio_runtime **rt_out,
                               const bio_runtime_options *opts);
BIO_EXTERN unsigned bio_runtime_workers(const bio_runtime *rt);
/* Worker w's root scope: spawn there (from any thread) to run on w. */
BIO_EXTERN bio_scope *bio_runtime_scope(bio_runtime *rt, unsigned worker);
/* Spawns task into the runtime's root scopes. Thread-per-core: from a
 * worker, on that worker; from elsewhere, on the workers in turn. Work
 * stealing: queued, started by whichever worker takes it first. Any
 * thread. -ESHUTDOWN once shutdown began. */
BIO_EXTERN int bio_runtime_spawn(bio_runtime *rt, bio_task *task,
                                 bio_task_fn fn);
BIO_EXTERN int bio_runtime_spawn_on(bio_runtime *rt, unsigned worker,
                                    bio_task *task, bio_task_fn fn);
/* The same for a frame of size bytes (>= sizeof(bio_task), the header
 * first) from bio_frame_alloc, filled in by the caller: the runtime frees
 * it (bio_frame_free, on whichever thread the task ends) once the task
 * has finished, so it can't be joined. Any thread. -EINVAL for a NULL
 * task or fn or a size out of range (nothing is freed then), -ESHUTDOWN
 * as above (the frame is still the caller's). */
BIO_EXTERN int bio_runtime_spawn_frame(bio_runtime *rt, bio_task *task,
                                       size_t size, bio_task_fn fn);
BIO_EXTERN int bio_runtime_spawn_frame_on(bio_runtime *rt, unsigned worker,
                                          bio_task *task, size_t size,
                                          bio_task_fn fn);
/* From a thread that is not a worker: spawns task and waits for its
 * result (-EDEADLK from a worker). */
BIO_EXTERN int bio_runtime_block_on(bio_runtime *rt, bio_task *task,
                                    bio_task_fn fn);
/* From a thread that is not a worker: with cancel, cancels every task;
 * then waits until every task has finished, stops and joins the workers
 * and frees the runtime. Nothing runs after it returns. */
BIO_EXTERN int bio_runtime_shutdown(bio_runtime *rt, int cancel);
/* Worker w's counters; any thread. */
BIO_EXTERN int bio_runtime_stats(bio_runtime *rt, unsigned worker,
                                 bio_rt_stats *out);
/* One line per worker to fd ("worker 0: live 12 polls ... "), for a
 * bio-top style look at a running program (say, from a signal's
 * thread). Returns 0 or a negative errno. */
BIO_EXTERN int bio_runtime_dump(bio_runtime *rt, int fd);
/* The calling thread's worker index, or -1 outside the workers. */
BIO_EXTERN int bio_worker_index(void);

/* ---- spawning, joining, waking ---- */

/* Starts task (memory of yours, alive until the task has finished and
 * been joined or its scope closed) in scope, to run fn. From the
 * runtime's thread; from any other thread the task is handed over through
 * the loop and starts there. -EINVAL for NULL arguments. */
BIO_EXTERN int bio_spawn(bio_scope *scope, bio_task *task, bio_task_fn fn);
/* The same with a frame of `size` bytes (>= sizeof(bio_task), the header
 * first) from bio_frame_alloc; zeroed; freed when the task finishes, so
 * it can't be joined. Returns the task, or NULL (errno: ENOMEM, EINVAL).
 * Runtime thread only. */
BIO_EXTERN bio_task *bio_spawn_new(bio_scope *scope, size_t size,
                                   bio_task_fn fn);
/* The same, but detached: once the task has finished (and nothing in the
 * runtime touches it any more), release(task) runs, to free its frame.
 * Not joinable. Runtime thread (or before the runtime runs). */
typedef void (*bio_release_fn)(bio_task *task);
BIO_EXTERN int bio_spawn_detached(bio_scope *scope, bio_task *task,
                                  bio_task_fn fn, bio_release_fn release);
/* Frame memory: a per-thread cache by 16-byte size class (bio_spawn_new's,
 * bio_runtime_spawn_frame's and C++ coroutines' frames). Free with the
 * size allocated, on any thread: a frame freed on another thread goes
 * back to the cache of the thread that allocated it. NULL when out of
 * memory. */
BIO_EXTERN void *bio_frame_alloc(size_t size);
BIO_EXTERN void bio_frame_free(void *frame, size_t size);
/* Future: waits for target (a task spawned with bio_spawn) to finish and
 * gives its result. One joiner per task (-EBUSY for a second). */
BIO_EXTERN int bio_join(bio_task *task, bio_task *target);
/* Nonzero once task has finished. */
BIO_EXTERN int bio_task_done(const bio_task *task);
/* The result of a finished task. */
BIO_EXTERN int bio_task_result(const bio_task *task);
/* For BIO_YIELD. */
BIO_EXTERN void bio_task_yield(bio_task *task);

/* ---- scopes: every task has an owner ---- */

/* A scope owns the tasks spawned into it. Cancelling it cancels what each
 * of them awaits (the await returns -ECANCELED) and every later await of
 * theirs; closing it waits until all of them have finished. */
struct bio_scope {
  bio_rt *rt;
  bio_scope *parent;
  bio_scope *child_head; /* nested scopes, cancelled with this one */
  bio_scope *sibling_prev, *sibling_next;
  bio_task *head;   /* live tasks */
  bio_task *closer; /* the task in bio_scope_close, if any */
  size_t count;
  int cancelled;
  int cancel_pending;      /* atomic: a cancel from another thread */
  bio_scope *cancel_next;  /* the runtime's stack of such cancels */
};
/* Makes scope a child of parent (NULL: the runtime's root scope). */
BIO_EXTERN void bio_scope_init(bio_scope *scope, bio_rt *rt, bio_scope *parent);
/* From any thread: from outside the runtime's thread the cancel is
 * handed over and takes effect there, at once if it is running. */
BIO_EXTERN void bio_scope_cancel(bio_scope *scope);
/* Future: waits until every task in scope has finished, then detaches it
 * from its parent. With cancel nonzero, cancels the scope first. */
BIO_EXTERN int bio_scope_close(bio_task *task, bio_scope *scope, int cancel);
/* The number of live tasks in scope. */
BIO_EXTERN size_t bio_scope_count(const bio_scope *scope);

/* ---- await slots ---- */

/* An await slot for one op at a time (I/O, sleeps), with an optional
 * deadline. Zero it (or bio_io_init) before first use; it must stay put
 * while an await on it is pending. */
typedef struct bio_io {
  void *priv[15];
} bio_io;
BIO_EXTERN void bio_io_init(bio_io *io);
/* Every await on io from now on fails with -ETIMEDOUT (and its op is
 * cancelled) if it has not finished by deadline_ns (bio_now_ns's clock).
 * 0 removes the deadline. */
BIO_EXTERN void bio_io_deadline(bio_io *io, uint64_t deadline_ns);

/* ---- futures: time ---- */

BIO_EXTERN int bio_sleep_until(bio_task *task, bio_io *io,
                               uint64_t deadline_ns);
BIO_EXTERN int bio_sleep(bio_task *task, bio_io *io, uint64_t ns);

/* ---- notify: wake waiting tasks (tokio's Notify) ---- */

typedef struct bio_notify {
  void *priv[3];
} bio_notify;
typedef struct bio_waiter {
  void *priv[3];
} bio_waiter;
BIO_EXTERN void bio_notify_init(bio_notify *n);
/* Future: waits until the notify is signalled; consumes a stored permit
 * at once if there is one. Result 0. */
BIO_EXTERN int bio_notify_wait(bio_task *task, bio_waiter *w, bio_notify *n);
/* The same wait through a bio_io slot, so that the slot's deadline
 * applies (-ETIMEDOUT; the waiter leaves the queue). */
BIO_EXTERN int bio_notify_wait_io(bio_task *task, bio_io *io, bio_notify *n);
/* bio_join through a bio_io slot, with its deadline: -ETIMEDOUT leaves
 * target running (and joinable again). */
BIO_EXTERN int bio_join_io(bio_task *task, bio_io *io, bio_task *target);
/* Wakes the longest waiter, or stores one permit if none waits. */
BIO_EXTERN void bio_notify_one(bio_notify *n);
/* Wakes every task waiting now (stores no permit). */
BIO_EXTERN void bio_notify_all(bio_notify *n);

/* ---- futures: sockets (fds opened non-blocking) ---- */

/* recv(fd, buf, len) / send(fd, buf, len, MSG_NOSIGNAL): bytes, 0 at end
 * of stream (recv), or a negative errno. */
BIO_EXTERN int bio_recv(bio_task *task, bio_io *io, int fd, void *buf,
                        size_t len);
/* A socket's receiver: bio_recv's result, from a recv that stays armed
 * on fd between reads. On io_uring the first read arms one multishot recv
 * into the loop's buffers; what comes while a read waits is copied into
 * its buffer, what comes while the task does something else waits in the
 * slot for the next read (and the recv pauses until then). A
 * request/response connection then arms nothing per message. Elsewhere
 * (epoll) each read is a bio_recv.
 * The slot is fd's receiver from the first read on: other awaits on it
 * get -EBUSY, another fd -EINVAL. Its deadline bounds each read
 * (-ETIMEDOUT; the stream goes on). After EOF (0) or an error, every read
 * returns the same. Before fd is closed or the slot's memory goes (the
 * task ends), end the receiver: bio_close(task, io, fd) on this slot, or
 * bio_recv_stop; a kernel still holding the armed recv keeps the socket
 * open and would write into the slot. */
BIO_EXTERN int bio_recv_stream(bio_task *task, bio_io *io, int fd, void *buf,
                               size_t len);
/* Ends io's receiver (nothing when it is none): once it returns 0, the
 * kernel holds nothing of fd's for the slot, and what the slot kept is
 * dropped. Waits for the kernel when a recv is out: even in a cancelled
 * task, and with no deadline. -EBUSY while a read waits on io. */
BIO_EXTERN int bio_recv_stop(bio_task *task, bio_io *io);
BIO_EXTERN int bio_send(bio_task *task, bio_io *io, int fd, const void *buf,
                        size_t len);
/* Sends all len bytes (several sends if need be): len, or a negative
 * errno (the count sent before an error is lost: treat the stream as
 * broken). len must fit in an int. */
BIO_EXTERN int bio_send_all(bio_task *task, bio_io *io, int fd,
                            const void *buf, size_t len);
/* accept4(fd, ..., SOCK_NONBLOCK | SOCK_CLOEXEC): the new fd. */
BIO_EXTERN int bio_accept(bio_task *task, bio_io *io, int fd);
/* connect(fd, addr, len) on a non-blocking socket, to completion: 0. */
BIO_EXTERN int bio_connect(bio_task *task, bio_io *io, int fd,
                           const struct sockaddr *addr, socklen_t len);
/* Datagrams: recvfrom / sendto. addr and *addrlen as recvfrom's. */
BIO_EXTERN int bio_recvfrom(bio_task *task, bio_io *io, int fd, void *buf,
                            size_t len, struct sockaddr *addr,
                            socklen_t *addrlen);
BIO_EXTERN int bio_sendto(bio_task *task, bio_io *io, int fd,
                          const void *buf, size_t len,
                          const struct sockaddr *addr, socklen_t addrlen);
BIO_EXTERN int bio_shutdown(bio_task *task, bio_io *io, int fd, int how);
/* Closes fd (an op of its own on io_uring), even in a cancelled task
 * (which gets -ECANCELED once it is closed). On fd's receiving slot
 * (bio_recv_stream) it ends the receiver first. */
BIO_EXTERN int bio_close(bio_task *task, bio_io *io, int fd);

/* Waits until fd has one of events (POLLIN, POLLOUT, ...): the events it
 * has (POLLERR and POLLHUP always count). For fds the other futures don't
 * cover: a signalfd, a pipe, a device. */
BIO_EXTERN int bio_poll(bio_task *task, bio_io *io, int fd, unsigned events);

/* Helpers (not futures): a non-blocking, close-on-exec TCP socket bound
 * to addr and listening (SO_REUSEADDR), or just created for connect. fd or
 * negative errno. */
BIO_EXTERN int bio_tcp_listen(const struct sockaddr *addr, socklen_t len,
                              int backlog);
BIO_EXTERN int bio_tcp_socket(int family);

/* getaddrinfo(node, service, hints) on the blocking pool: 0 and *res
 * (free it with freeaddrinfo), or a negative errno: -ENOENT for an
 * unknown name, -EAGAIN, -ENOMEM, -EAFNOSUPPORT, -EINVAL, -EIO, or the
 * system's error. node, service and hints must stay valid until it ends. */
BIO_EXTERN int bio_getaddrinfo(bio_task *task, bio_io *io, const char *node,
                               const char *service,
                               const struct addrinfo *hints,
                               struct addrinfo **res);

/* ---- futures: files ---- */

/* read/write at offset (-1: at the file position). io_uring does them
 * natively; elsewhere the blocking pool does. */
BIO_EXTERN int bio_read(bio_task *task, bio_io *io, int fd, void *buf,
                        size_t len, int64_t off);
BIO_EXTERN int bio_write(bio_task *task, bio_io *io, int fd, const void *buf,
                         size_t len, int64_t off);
/* readv/writev at offset (-1: the file position): bytes. */
BIO_EXTERN int bio_readv(bio_task *task, bio_io *io, int fd,
                         const struct iovec *iov, int iovcnt, int64_t off);
BIO_EXTERN int bio_writev(bio_task *task, bio_io *io, int fd,
                          const struct iovec *iov, int iovcnt, int64_t off);
BIO_EXTERN int bio_open(bio_task *task, bio_io *io, const char *path,
                        int flags, unsigned mode);
BIO_EXTERN int bio_fsync(bio_task *task, bio_io *io, int fd);
BIO_EXTERN int bio_unlink(bio_task *task, bio_io *io, const char *path);
BIO_EXTERN int bio_mkdir(bio_task *task, bio_io *io, const char *path,
                         unsigned mode);
BIO_EXTERN int bio_rename(bio_task *task, bio_io *io, const char *from,
                          const char *to);
BIO_EXTERN int bio_stat(bio_task *task, bio_io *io, const char *path,
                        struct stat *st);

/* Runs fn(arg) on the loop's thread, at its next poll (a poll in progress
 * returns for it), after the posts made before it. From any thread. post
 * is your memory, untouched by you until fn runs; it may be reused from
 * fn on. Nothing is allocated. */
typedef struct bio_post {
  void *priv[8];
} bio_post;
typedef void (*bio_post_fn)(void *arg);
BIO_EXTERN void bio_loop_post(bio_loop *loop, bio_post *post, bio_post_fn fn,
                              void *arg);

/* For programs on the libuv layer: the backend under a uv_loop_t (pass a
 * uv_loop_t *), or NULL if it is not an initialised loop. */
BIO_EXTERN const char *bio_uv_loop_backend(const void *uv_loop);

#ifdef __cplusplus
}
#endif
#endif
