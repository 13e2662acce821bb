/* The futures on core ops and alarms: sleeps, sockets, files.
 *
 * Each future arms its op (or alarm) in the caller's bio_io and returns
 * BIO_PENDING; the op's callback finishes the await (or goes round once
 * more: a partial send_all, an accept that lost its connection to
 * another). A deadline is an alarm in the same slot that cancels the op;
 * the await then ends when the op's last callback has run, never before,
 * so nothing touches the frame after the task resumes.
 *
 * On io_uring the data path is the ring's: recv and send are ops. On
 * epoll a syscall is tried first and the op (readiness, then the syscall
 * in the backend) only when it would block. Files go to the blocking
 * pool where the backend has no file ops. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blitzio.h"
#include "core/alloc.h"
#include "core/core.h"
#include "pool/pool.h"
#include "task/task.h"

enum io_kind {
  K_SLEEP = 1,
  K_OP,       /* one op, its result is the await's */
  K_SEND_ALL, /* SEND again until all is sent */
  K_ACCEPT,   /* POLL, then accept4 */
  K_CONNECT,  /* POLL, then SO_ERROR */
  K_RECVFROM, /* POLL, then recvfrom */
  K_SENDTO,   /* POLL, then sendto */
  K_POOL,     /* a job on the blocking pool */
  K_NOTIFY,   /* a waiter (in op's memory) on the notify in extra */
  K_JOIN,     /* the joiner of the task in extra */
  K_STREAM,   /* bio_recv_stream's read, or its stop (F_STOPPING) */
};

#define F_OP_ARMED 0x1u
#define F_TIMED_OUT 0x2u
/* Inside the future's call: an end now is its return value, not a wake
 * (a wake of the running task would resume it a second time later). */
#define F_SYNC 0x4u
#define F_ENDED 0x8u
/* Kept from one await to the next: the slot's last await was a send that
 * succeeded (so a recv now most likely waits for the peer's answer). */
#define F_SENT 0x10u
/* bio_recv_stream's state, kept from one await to the next (kept()):
 * the slot is fd's receiver, its op the armed recv (F_OP_ARMED while the
 * kernel has it, between awaits too). CHAIN: the op has fired, and the
 * data it holds (op.off, the backend's) can be taken. END: the stream
 * ended, aux is the result every read returns from then on (0 at EOF, or
 * the error). NO_MULTI: the kernel refused the multishot recv (before
 * 6.0): one recv into the reader's buffer per read. */
#define F_STREAM 0x20u
#define F_STREAM_CHAIN 0x40u
#define F_STREAM_END 0x80u
#define F_NO_MULTI 0x100u
/* Not kept: a read waits for data (into op.buf, op.u.len: unused by an
 * armed recv); the op out is one recv into that buffer (ONESHOT); a stop
 * waits for the armed recv's end (STOPPING), then closes the fd
 * (CLOSE_AFTER: bio_close). */
#define F_READING 0x200u
#define F_ONESHOT 0x400u
#define F_STOPPING 0x800u
#define F_CLOSE_AFTER 0x1000u

typedef struct io_slot {
  bio_op op;
  bio_task *task;
  bio_alarm alarm; /* the deadline, or the sleep itself */
  uint64_t deadline_ns;
  void *extra; /* recvfrom: socklen_t *; sendto: the address length;
                  pool: the job */
  uint16_t kind;
  uint16_t flags;
  int32_t aux; /* recvfrom/sendto: the length; send_all: bytes sent */
} io_slot;

_Static_assert(sizeof(io_slot) <= sizeof(bio_io), "bio_io holds io_slot");

static inline io_slot *slot_of(bio_io *io) { return (io_slot *)(void *)io; }

static inline bio_loop *loop_of(bio_task *t) { return t->scope->rt->loop; }

/* What an await's end leaves of the slot's flags. */
static uint16_t kept(const io_slot *io) {
  uint16_t keep = F_SENT;
  if (io->flags & F_STREAM)
    keep |= F_STREAM | F_STREAM_CHAIN | F_STREAM_END | F_NO_MULTI |
            F_OP_ARMED;
  return (uint16_t)(io->flags & keep);
}

static int native(bio_loop *loop) {
  return bio__loop_supports(loop, BIO_OP_READV);
}

BIO_EXTERN void bio_io_init(bio_io *io) {
  if (io != NULL)
    memset(io, 0, sizeof(*io));
}

BIO_EXTERN void bio_io_deadline(bio_io *io, uint64_t deadline_ns) {
  if (io != NULL)
    slot_of(io)->deadline_ns = deadline_ns;
}

/* ---- ending an await ---- */

static void io_end(io_slot *io, int res) {
  bio_task *t = io->task;
  if (bio__alarm_active(&io->alarm))
    bio__alarm_stop(loop_of(t), &io->alarm);
  if ((io->flags & F_TIMED_OUT) && (res == -ECANCELED || res == -EAGAIN))
    res = -ETIMEDOUT;
  if ((io->kind == K_OP || io->kind == K_SEND_ALL) &&
      io->op.opcode == BIO_OP_SEND && res >= 0)
    io->flags |= F_SENT;
  else
    io->flags &= (uint16_t)~F_SENT;
  if (io->flags & F_SYNC) {
    io->flags = (uint16_t)(F_ENDED | kept(io));
    t->res = res;
    t->await = NULL;
    t->kind = BIO_AWAIT_NONE;
    return;
  }
  io->flags = kept(io);
  bio__task_complete(t, res);
}

/* A future's return: its result if it ended during the call. */
static int io_return(io_slot *io) {
  if (io->flags & F_ENDED) {
    bio_rt *rt = io->task->scope->rt;
    io->flags = kept(io);
    /* Out of budget: the result waits in the task while every other
     * runnable task (and the loop) has its turn; the await resumes with
     * it, as after any wait. */
    if (--rt->budget <= 0) {
      bio__task_wake(io->task); /* running: it runs again next round */
      return BIO_PENDING;
    }
    return io->task->res;
  }
  io->flags &= (uint16_t)~F_SYNC;
  return BIO_PENDING;
}

/* A retry is about to be armed: not if the await was cut short. */
static int cut_short(io_slot *io) {
  if (io->flags & F_TIMED_OUT)
    return -ETIMEDOUT;
  if (bio__task_cancelled(io->task))
    return -ECANCELED;
  return 0;
}

static void op_done(bio_loop *loop, bio_op *op);

static void arm_flags(io_slot *io, uint16_t op_flags) {
  io->op.cb = op_done;
  io->op.flags = op_flags;
  io->flags |= F_OP_ARMED;
  bio__op_submit(loop_of(io->task), &io->op);
}

static void arm(io_slot *io) { arm_flags(io, 0); }

static void arm_poll(io_slot *io, int fd, unsigned events) {
  io->op.opcode = BIO_OP_POLL;
  io->op.fd = fd;
  io->op.u.events = events;
  arm(io);
}

/* A notify wait or a join through a slot: unhook it (cancel, deadline). */
static int unhook(io_slot *io) {
  if (io->kind == K_NOTIFY) {
    bio__notify_remove(io->extra, &io->op);
    return 1;
  }
  if (io->kind == K_JOIN) {
    ((bio_task *)io->extra)->joiner = NULL;
    return 1;
  }
  return 0;
}

void bio__io_end_await(void *p, int res) { io_end(p, res); }

static void deadline_fired(bio_loop *loop, bio_alarm *a) {
  io_slot *io = bio_container_of(a, io_slot, alarm);
  io->flags |= F_TIMED_OUT;
  if (io->kind == K_SLEEP) {
    io_end(io, -ETIMEDOUT);
  } else if (unhook(io)) {
    io_end(io, -ETIMEDOUT);
  } else if (io->flags & F_OP_ARMED) {
    bio__op_cancel(loop, &io->op); /* dispatch flushes it after us */
  }
  /* A pool job can't be stopped once it runs: it ends with its result,
   * or -ETIMEDOUT if it is cancelled before it starts. */
  else if (io->kind == K_POOL && io->extra != NULL) {
    bio__pool_cancel(io->extra);
  }
}

/* t now awaits on io (the checks done): the deadline armed when timed. */
static void await_on(bio_task *t, io_slot *io, enum io_kind kind,
                     int timed) {
  io->task = t;
  io->kind = (uint16_t)kind;
  io->flags |= F_SYNC;
  if (timed && io->deadline_ns != 0)
    bio__alarm_start(loop_of(t), &io->alarm, io->deadline_ns,
                     deadline_fired);
  t->await = io;
  t->kind = BIO_AWAIT_IO;
}

/* -ECANCELED / -ETIMEDOUT when t can't start an await now, else 0. */
static int may_wait(bio_task *t, const io_slot *io) {
  if (bio__task_cancelled(t))
    return -ECANCELED;
  if (io->deadline_ns != 0 && io->deadline_ns <= bio__clock_ns())
    return -ETIMEDOUT;
  return 0;
}

/* Starts an await on io for t: -ECANCELED / -ETIMEDOUT at once when it
 * can't wait, -EBUSY when the slot is in use (an op out, or a stream's
 * receiver), else 0 with the deadline armed. */
static int io_begin(bio_task *t, io_slot *io, enum io_kind kind) {
  int err;
  if ((err = may_wait(t, io)) != 0)
    return err;
  if (io->flags & (F_OP_ARMED | F_STREAM))
    return -EBUSY;
  io->flags &= F_SENT;
  io->extra = NULL;
  io->aux = 0;
  await_on(t, io, kind, kind != K_SLEEP);
  return 0;
}

void bio__io_cancel(bio_task *t, void *p) {
  io_slot *io = p;
  (void)t;
  if (io->flags & F_OP_ARMED) {
    bio__op_cancel(loop_of(io->task), &io->op);
    bio__loop_flush_cancels(loop_of(io->task));
  } else if (io->kind == K_SLEEP || unhook(io)) {
    io_end(io, -ECANCELED);
  } else if (io->kind == K_POOL && io->extra != NULL) {
    bio__pool_cancel(io->extra);
  }
}

/* ---- time ---- */

static void sleep_done(bio_loop *loop, bio_alarm *a) {
  io_slot *io = bio_container_of(a, io_slot, alarm);
  (void)loop;
  io_end(io, io->aux);
}

BIO_EXTERN int bio_sleep_until(bio_task *t, bio_io *bio, uint64_t when) {
  io_slot *io = slot_of(bio);
  int err;
  int res = 0;
  if (t == NULL || bio == NULL)
    return -EINVAL;
  if ((err = io_begin(t, io, K_SLEEP)) != 0)
    return err;
  if (io->deadline_ns != 0 && io->deadline_ns < when) {
    when = io->deadline_ns;
    res = -ETIMEDOUT;
  }
  io->aux = res;
  bio__alarm_start(loop_of(t), &io->alarm, when, sleep_done);
  return io_return(io);
}

BIO_EXTERN int bio_sleep(bio_task *t, bio_io *io, uint64_t ns) {
  return bio_sleep_until(t, io, bio__clock_ns() + ns);
}

/* ---- notify and join through a slot: with its deadline ---- */

BIO_EXTERN int bio_notify_wait_io(bio_task *t, bio_io *bio, bio_notify *n) {
  io_slot *io = slot_of(bio);
  int err;
  _Static_assert(sizeof(bio_waiter) <= sizeof(bio_op), "a waiter fits op");
  if (t == NULL || bio == NULL || n == NULL)
    return -EINVAL;
  if ((err = io_begin(t, io, K_NOTIFY)) != 0)
    return err;
  io->extra = n;
  if (bio__notify_enqueue(t, &io->op, n) == 0)
    io_end(io, 0); /* a permit was waiting */
  return io_return(io);
}

BIO_EXTERN int bio_join_io(bio_task *t, bio_io *bio, bio_task *target) {
  io_slot *io = slot_of(bio);
  int err;
  if (t == NULL || bio == NULL || target == NULL || target == t)
    return -EINVAL;
  if (bio_task_done(target))
    return target->res;
  if (target->joiner != NULL)
    return -EBUSY;
  if ((err = io_begin(t, io, K_JOIN)) != 0)
    return err;
  io->extra = target;
  target->joiner = t;
  return io_return(io);
}

/* ---- sockets ---- */

static void op_done(bio_loop *loop, bio_op *op) {
  io_slot *io = bio_container_of(op, io_slot, op);
  int res = op->res;
  int err;
  ssize_t r;

  (void)loop;
  io->flags &= (uint16_t)~F_OP_ARMED;
  switch (io->kind) {
  case K_SEND_ALL:
    if (res > 0) {
      io->aux += res;
      if ((uint32_t)res < op->u.len) {
        if ((err = cut_short(io)) != 0) {
          io_end(io, err);
          return;
        }
        op->buf = (char *)op->buf + res;
        op->u.len -= (uint32_t)res;
        arm(io);
        return;
      }
      res = io->aux;
    }
    break;
  case K_ACCEPT:
  case K_RECVFROM:
  case K_SENDTO:
    if (res < 0)
      break;
    if (io->kind == K_ACCEPT)
      r = accept4(op->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else if (io->kind == K_RECVFROM)
      r = recvfrom(op->fd, op->buf, (size_t)io->aux, MSG_DONTWAIT, op->buf2,
                   io->extra);
    else
      r = sendto(op->fd, op->buf, (size_t)io->aux,
                 MSG_DONTWAIT | MSG_NOSIGNAL, op->buf2,
                 (socklen_t)(uintptr_t)io->extra);
    if (r < 0 && (errno == EAGAIN || errno == EINTR ||
                  errno == ECONNABORTED)) {
      if ((err = cut_short(io)) != 0) {
        io_end(io, err);
        return;
      }
      arm_poll(io, op->fd, io->kind == K_SENDTO ? POLLOUT : POLLIN);
      return;
    }
    res = r < 0 ? -errno : (int)r;
    break;
  case K_CONNECT:
    if (res >= 0) {
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
      res = -soerr;
    }
    break;
  default:
    break;
  }
  io_end(io, res);
}

static int start_op(bio_task *t, io_slot *io, unsigned opcode, int fd,
                    void *buf, size_t len) {
  io->op.opcode = (uint8_t)opcode;
  io->op.fd = fd;
  io->op.buf = buf;
  io->op.u.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
  (void)t;
  arm(io);
  return io_return(io);
}

BIO_EXTERN int bio_recv(bio_task *t, bio_io *bio, int fd, void *buf,
                        size_t len) {
  io_slot *io = slot_of(bio);
  int err;
  if (t == NULL || bio == NULL || (buf == NULL && len != 0))
    return -EINVAL;
  if ((err = io_begin(t, io, K_OP)) != 0)
    return err;
  if (!native(loop_of(t))) {
    ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
    if (r >= 0 || (errno != EAGAIN && errno != EINTR)) {
      io_end(io, r < 0 ? -errno : (int)r);
      return io_return(io);
    }
  }
  io->op.opcode = BIO_OP_RECV;
  io->op.fd = fd;
  io->op.buf = buf;
  io->op.u.len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
  /* On io_uring a recv right after a send on this slot most likely comes
   * before the peer's answer: poll first rather than a recv that fails. */
  arm_flags(io, (io->flags & F_SENT) ? BIO_OPF_POLL_FIRST : 0);
  return io_return(io);
}

/* ---- a socket's receiver: bio_recv_stream ----
 *
 * On io_uring the slot's op is one multishot recv into the loop's buffers,
 * armed at the first read and left armed between reads: a request/response
 * connection arms nothing per message (no poll, no SQE). What comes while
 * a read waits is copied into its buffer in the op's callback; what comes
 * while the task is elsewhere stays on the op (the backend's chain of
 * buffers) for the next read, and the recv is cancelled so that a task
 * that doesn't read can't take the loop's buffers from every other
 * connection: the next read that finds nothing left arms it again. */

static void stream_done(bio_loop *loop, bio_op *op);

static void stream_arm(io_slot *io, int oneshot) {
  io->op.opcode = BIO_OP_RECV;
  io->op.cb = stream_done;
  /* One recv into the reader's buffer when the loop's ran out (the bytes
   * wait in the socket) or the kernel has no multishot recv. */
  if (oneshot || (io->flags & F_NO_MULTI)) {
    io->flags |= F_ONESHOT;
    io->op.flags = 0;
  } else {
    io->op.flags = BIO_OPF_MULTI;
  }
  io->flags |= F_OP_ARMED;
  bio__op_submit(loop_of(io->task), &io->op);
}

/* Copies what the op holds, oldest first, into buf: the byte count. */
static size_t stream_take(bio_loop *loop, io_slot *io, char *buf,
                          size_t len) {
  size_t got = 0;
  char *data;
  size_t n;
  if (!(io->flags & F_STREAM_CHAIN))
    return 0;
  while (got < len && bio__recv_chunk(loop, &io->op, &data, &n)) {
    if (n > len - got)
      n = len - got;
    memcpy(buf + got, data, n);
    bio__recv_consume(loop, &io->op, n);
    got += n;
  }
  return got;
}

/* The slot is no receiver any more: its buffers go back. */
static void stream_forget(bio_loop *loop, io_slot *io) {
  if (io->flags & F_STREAM_CHAIN)
    bio__recv_drop(loop, &io->op);
  io->flags &= (uint16_t)~(F_STREAM | F_STREAM_CHAIN | F_STREAM_END |
                           F_NO_MULTI);
  io->aux = 0;
}

/* The end of a stop: the recv is over; bio_close's goes on to close. */
static void stream_stopped(bio_loop *loop, io_slot *io) {
  int res = 0;
  stream_forget(loop, io);
  if (io->flags & F_CLOSE_AFTER) {
    bio__loop_fd_closing(loop, io->op.fd, 0);
    if (close(io->op.fd) != 0 && errno != EINTR)
      res = -errno;
    else if (bio__task_cancelled(io->task))
      res = -ECANCELED;
  }
  io_end(io, res);
}

static void stream_done(bio_loop *loop, bio_op *op) {
  io_slot *io = bio_container_of(op, io_slot, op);
  int ended = op->state == BIO_OP_IDLE;
  int res = op->res;
  size_t got;
  int err;

  if (ended)
    io->flags &= (uint16_t)~F_OP_ARMED;
  if (io->flags & F_ONESHOT) {
    /* A recv into the reader's buffer: its result is the read's. */
    io->flags &= (uint16_t)~F_ONESHOT;
    if (io->flags & F_STOPPING) {
      stream_stopped(loop, io);
      return;
    }
    if (res <= 0 && res != -ECANCELED && res != -ENOBUFS) {
      io->flags |= F_STREAM_END;
      io->aux = res;
    }
    io_end(io, res);
    return;
  }
  io->flags |= F_STREAM_CHAIN;
  if (io->flags & F_STOPPING) {
    bio__recv_drop(loop, op);
    if (ended)
      stream_stopped(loop, io);
    return;
  }
  if (ended) {
    /* 0 the EOF, else an error that ends the stream; not the end: a
     * cancel (ours), the loop's buffers out, the kernel's own stop (res
     * 1), or no multishot recv in this kernel (-EINVAL). */
    if (res == -EINVAL)
      io->flags |= F_NO_MULTI;
    else if (res <= 0 && res != -ECANCELED && res != -ENOBUFS) {
      io->flags |= F_STREAM_END;
      io->aux = res;
    }
  }
  if (!(io->flags & F_READING)) {
    char *data;
    size_t n;
    if (!ended && bio__recv_chunk(loop, op, &data, &n))
      bio__op_cancel(loop, op); /* dispatch flushes it after us */
    return;
  }
  got = stream_take(loop, io, op->buf, op->u.len);
  if (got > 0) {
    io_end(io, (int)got);
    return;
  }
  if (!ended)
    return;
  if (io->flags & F_STREAM_END) {
    io_end(io, io->aux);
    return;
  }
  if ((err = cut_short(io)) != 0) {
    io_end(io, err);
    return;
  }
  stream_arm(io, res == -ENOBUFS);
}

BIO_EXTERN int bio_recv_stream(bio_task *t, bio_io *bio, int fd, void *buf,
                               size_t len) {
  io_slot *io = slot_of(bio);
  bio_loop *loop;
  size_t got;
  int err;
  if (t == NULL || bio == NULL || fd < 0 || (buf == NULL && len != 0))
    return -EINVAL;
  loop = loop_of(t);
  if (!(io->flags & F_STREAM)) {
    /* Without the loop's buffers (epoll), a receiver is plain recvs. */
    if (!bio__loop_supports(loop, BIO_CAP_RECV_BUFS))
      return bio_recv(t, bio, fd, buf, len);
    if (io->flags & F_OP_ARMED)
      return -EBUSY;
    io->flags = 0;
    io->aux = 0;
    io->op.fd = fd;
  } else if (io->op.fd != fd) {
    return -EINVAL; /* the slot receives another fd's bytes */
  }
  if (io->flags & (F_READING | F_STOPPING))
    return -EBUSY;
  if ((err = may_wait(t, io)) != 0)
    return err;
  io->flags |= F_STREAM;
  await_on(t, io, K_STREAM, 1);
  if (len > INT32_MAX)
    len = INT32_MAX;
  got = stream_take(loop, io, buf, len);
  if (got > 0 || len == 0) {
    io_end(io, (int)got);
  } else if (io->flags & F_STREAM_END) {
    io_end(io, io->aux);
  } else {
    io->op.buf = buf;
    io->op.u.len = (uint32_t)len;
    io->flags |= F_READING;
    if (!(io->flags & F_OP_ARMED))
      stream_arm(io, 0);
  }
  return io_return(io);
}

/* Ends the slot's receiver: at once when its recv is not out, else an
 * await (even in a cancelled task, with no deadline) of the recv's end. */
static int stream_stop(bio_task *t, io_slot *io, int close_after) {
  bio_loop *loop = loop_of(t);
  if (io->flags & (F_READING | F_STOPPING))
    return -EBUSY;
  if (!(io->flags & F_OP_ARMED)) {
    stream_forget(loop, io);
    return 1;
  }
  await_on(t, io, K_STREAM, 0);
  io->flags |= F_STOPPING | (close_after ? F_CLOSE_AFTER : 0);
  bio__op_cancel(loop, &io->op);
  bio__loop_flush_cancels(loop);
  return io_return(io);
}

BIO_EXTERN int bio_recv_stop(bio_task *t, bio_io *bio) {
  io_slot *io = slot_of(bio);
  int r;
  if (t == NULL || bio == NULL)
    return -EINVAL;
  if (!(io->flags & F_STREAM))
    return 0;
  r = stream_stop(t, io, 0);
  return r == 1 ? 0 : r;
}

static int send_common(bio_task *t, io_slot *io, int fd, const void *buf,
                       size_t len, enum io_kind kind) {
  int err;
  if (t == NULL || io == NULL || (buf == NULL && len != 0) ||
      (kind == K_SEND_ALL && len > INT32_MAX))
    return -EINVAL;
  if ((err = io_begin(t, io, kind)) != 0)
    return err;
  io->op.opcode = BIO_OP_SEND;
  if (!native(loop_of(t))) {
    ssize_t r = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && errno != EAGAIN && errno != EINTR) {
      io_end(io, -errno);
      return io_return(io);
    }
    if (r >= 0 && (kind != K_SEND_ALL || (size_t)r == len)) {
      io_end(io, (int)r);
      return io_return(io);
    }
    if (r > 0) {
      io->aux = (int32_t)r;
      buf = (const char *)buf + r;
      len -= (size_t)r;
    }
  }
  return start_op(t, io, BIO_OP_SEND, fd, (void *)(uintptr_t)buf, len);
}

BIO_EXTERN int bio_send(bio_task *t, bio_io *io, int fd, const void *buf,
                        size_t len) {
  return send_common(t, io != NULL ? slot_of(io) : NULL, fd, buf, len, K_OP);
}

BIO_EXTERN int bio_send_all(bio_task *t, bio_io *io, int fd, const void *buf,
                            size_t len) {
  if (len == 0 && t != NULL && io != NULL)
    return bio__task_cancelled(t) ? -ECANCELED : 0;
  return send_common(t, io != NULL ? slot_of(io) : NULL, fd, buf, len,
                     K_SEND_ALL);
}

/* The readiness-then-syscall futures try the syscall at once, through
 * op_done's path as if a POLL had fired: it arms the POLL only when the
 * syscall would block. */
static int poll_future(io_slot *io, int fd, unsigned events) {
  io->op.fd = fd;
  io->op.opcode = BIO_OP_POLL;
  io->op.u.events = events;
  io->op.res = (int)events;
  io->op.cb = op_done;
  op_done(loop_of(io->task), &io->op);
  return io_return(io);
}

BIO_EXTERN int bio_accept(bio_task *t, bio_io *bio, int fd) {
  io_slot *io = slot_of(bio);
  int err;
  if (t == NULL || bio == NULL)
    return -EINVAL;
  if ((err = io_begin(t, io, K_ACCEPT)) != 0)
    return err;
  return poll_future(io, fd, POLLIN);
}

BIO_EXTERN int bio_recvfrom(bio_task *t, bio_io *bio, int fd, void *buf,
                            size_t len, struct sockaddr *addr,
                            socklen_t *addrlen) {
  io_slot *io = slot_of(bio);
  int err;
  if (t == NULL || bio == NULL || (buf == NULL && len != 0) ||
      (addr != NULL && addrlen == NULL))
    return -EINVAL;
  if ((err = io_begin(t, io, K_RECVFROM)) != 0)
    return err;
  /* op.u holds the POLL's events: the length goes in aux. */
  io->op.buf = buf;
  io->aux = len > INT32_MAX ? INT32_MAX : (int32_t)len;
  io->op.buf2 = addr;
  io->extra = addr != NULL ? addrlen : NULL;
  return poll_future(io, fd, POLLIN);
}

BIO_EXTERN int bio_sendto(bio_task *t, bio_io *bio, int fd, const void *buf,
                          size_t len, const struct sockaddr *addr,
                          socklen_t addrlen) {
  io_slot *io = slot_of(bio);
  int err;
  if (t == NULL || bio == NULL || (buf == NULL && len != 0))
    return -EINVAL;
  if ((err = io_begin(t, io, K_SENDTO)) != 0)
    return err;
  io->op.buf = (void *)(uintptr_t)buf;
  io->aux = len > INT32_MAX ? INT32_MAX : (int32_t)len;
  io->op.buf2 = (void *)(uintptr_t)addr;
  io->extra = (void *)(uintptr_t)addrlen;
  return poll_future(io, fd, POLLOUT);
}

BIO_EXTERN int bio_connect(bio_task *t, bio_io *bio, int fd,
                           const struct sockaddr *addr, socklen_t len) {
  io_slot *io = slot_of(bio);
  int err;
  int r;
  if (t == NULL || bio == NULL || addr == NULL)
    return -EINVAL;
  if ((err = io_begin(t, io, K_CONNECT)) != 0)
    return err;
  do
    r = connect(fd, addr, len);
  while (r < 0 && errno == EINTR);
  if (r == 0 || errno != EINPROGRESS) {
    io_end(io, r == 0 ? 0 : -errno);
    return io_return(io);
  }
  arm_poll(io, fd, POLLOUT);
  return io_return(io);
}

BIO_EXTERN int bio_poll(bio_task *t, bio_io *bio, int fd, unsigned events) {
  io_slot *io = slot_of(bio);
  int err;
  if (t == NULL || bio == NULL || fd < 0)
    return -EINVAL;
  if ((err = io_begin(t, io, K_OP)) != 0)
    return err;
  arm_poll(io, fd, events);
  return io_return(io);
}

BIO_EXTERN int bio_shutdown(bio_task *t, bio_io *bio, int fd, int how) {
  (void)bio;
  if (t == NULL)
    return -EINVAL;
  if (bio__task_cancelled(t))
    return -ECANCELED;
  /* shutdown(2) does not block: no op, no wait. */
  return shutdown(fd, how) == 0 ? 0 : -errno;
}

BIO_EXTERN int bio_close(bio_task *t, bio_io *bio, int fd) {
  io_slot *io = slot_of(bio);
  bio_loop *loop;
  int err;
  if (t == NULL || bio == NULL)
    return -EINVAL;
  loop = loop_of(t);
  /* A receiver's slot: its recv ends first (the kernel would hold the
   * socket open), then the fd is closed. */
  if ((io->flags & F_STREAM) && io->op.fd == fd &&
      (err = stream_stop(t, io, 1)) != 1)
    return err;
  if (!native(loop)) {
    /* Not an await: the fd is gone whatever else happens (a cancelled
     * task hears so, as from the op). */
    bio__loop_fd_closing(loop, fd, 0);
    if (close(fd) != 0 && errno != EINTR)
      return -errno;
    return bio__task_cancelled(t) ? -ECANCELED : 0;
  }
  if ((err = io_begin(t, io, K_OP)) != 0) {
    if (err == -EBUSY)
      return err;
    bio__loop_fd_closing(loop, fd, 0);
    return close(fd) == 0 ? err : -errno;
  }
  io->op.opcode = BIO_OP_CLOSE;
  io->op.fd = fd;
  arm(io);
  return io_return(io);
}

static int socket_nb(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

BIO_EXTERN int bio_tcp_socket(int family) { return socket_nb(family); }

BIO_EXTERN int bio_tcp_listen(const struct sockaddr *addr, socklen_t len,
                              int backlog) {
  int one = 1;
  int fd;
  int err;
  if (addr == NULL)
    return -EINVAL;
  fd = socket_nb(addr->sa_family);
  if (fd < 0)
    return fd;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, addr, len) != 0 || listen(fd, backlog) != 0) {
    err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

/* ---- files ---- */

/* A file op on the blocking pool (epoll, or an io_uring without the
 * opcode): the job is allocated, the one allocation of these futures. */
/* Not a core opcode: getaddrinfo, on the pool only. */
#define JOB_GETADDRINFO (BIO_OP_COUNT + 1)

typedef struct pool_job {
  bio_work work;
  bio_op done;
  io_slot *io;
  unsigned opcode;
  int fd;
  void *buf;
  const char *path2;
  size_t len;
  int64_t off;
  int flags;
  unsigned mode;
  int res;
  const struct addrinfo *hints;
  struct addrinfo **out;
} pool_job;

/* getaddrinfo's EAI_* codes as negative errnos. */
static int gai_errno(int rc, int saved_errno) {
  switch (rc) {
  case 0:
    return 0;
  case EAI_AGAIN:
    return -EAGAIN;
  case EAI_MEMORY:
    return -ENOMEM;
  case EAI_FAMILY:
  case EAI_ADDRFAMILY:
    return -EAFNOSUPPORT;
  case EAI_BADFLAGS:
  case EAI_SERVICE:
  case EAI_SOCKTYPE:
    return -EINVAL;
  case EAI_SYSTEM:
    return saved_errno != 0 ? -saved_errno : -EIO;
  case EAI_NONAME:
  case EAI_NODATA:
    return -ENOENT;
  default:
    return -EIO;
  }
}

static void job_run(bio_work *w) {
  pool_job *j = bio_container_of(w, pool_job, work);
  ssize_t r;
  switch (j->opcode) {
  case BIO_OP_READ:
    r = j->off < 0 ? read(j->fd, j->buf, j->len)
                   : pread(j->fd, j->buf, j->len, j->off);
    break;
  case BIO_OP_WRITE:
    r = j->off < 0 ? write(j->fd, j->buf, j->len)
                   : pwrite(j->fd, j->buf, j->len, j->off);
    break;
  case BIO_OP_OPENAT:
    r = openat(AT_FDCWD, j->buf, j->flags, j->mode);
    break;
  case BIO_OP_FSYNC:
    r = fsync(j->fd);
    break;
  case BIO_OP_UNLINKAT:
    r = unlinkat(AT_FDCWD, j->buf, 0);
    break;
  case BIO_OP_MKDIRAT:
    r = mkdirat(AT_FDCWD, j->buf, j->mode);
    break;
  case BIO_OP_RENAMEAT:
    r = renameat(AT_FDCWD, j->buf, AT_FDCWD, j->path2);
    break;
  case BIO_OP_STATX:
    r = stat(j->buf, (struct stat *)(void *)j->path2);
    break;
  case BIO_OP_READV:
    r = j->off < 0 ? readv(j->fd, j->buf, (int)j->len)
                   : preadv(j->fd, j->buf, (int)j->len, j->off);
    break;
  case BIO_OP_WRITEV:
    r = j->off < 0 ? writev(j->fd, j->buf, (int)j->len)
                   : pwritev(j->fd, j->buf, (int)j->len, j->off);
    break;
  case JOB_GETADDRINFO: {
    int rc;
    errno = 0;
    rc = getaddrinfo(j->buf, j->path2, j->hints, j->out);
    j->res = gai_errno(rc, errno);
    return;
  }
  default:
    r = -1;
    errno = EINVAL;
  }
  j->res = r < 0 ? -errno : (r > INT32_MAX ? INT32_MAX : (int)r);
}

static void job_done(bio_loop *loop, bio_op *op) {
  pool_job *j = bio_container_of(op, pool_job, done);
  io_slot *io = j->io;
  int res = op->res < 0 ? op->res : j->res;
  (void)loop;
  io->extra = NULL;
  bio__free(j);
  io_end(io, res);
}

static int pool_future(io_slot *io, pool_job *tmpl) {
  pool_job *j = bio__malloc(sizeof(*j));
  int err;
  if (j == NULL) {
    io_end(io, -ENOMEM);
    return io_return(io);
  }
  *j = *tmpl;
  memset(&j->work, 0, sizeof(j->work));
  memset(&j->done, 0, sizeof(j->done));
  j->io = io;
  j->done.cb = job_done;
  j->work.run = job_run;
  j->work.loop = loop_of(io->task);
  j->work.done = &j->done;
  /* A resolver may hang for seconds: libuv's rule keeps such jobs from
   * taking every pool thread. */
  j->work.kind =
      j->opcode == JOB_GETADDRINFO ? BIO_WORK_SLOW_IO : BIO_WORK_FAST_IO;
  io->extra = &j->work;
  bio__loop_expect_post(j->work.loop);
  err = bio__pool_submit(&j->work);
  if (err != 0) {
    atomic_fetch_sub(&j->work.loop->posts_expected, 1);
    io->extra = NULL;
    bio__free(j);
    io_end(io, err);
  }
  return io_return(io);
}

/* A file future: the native op where the backend has it, the pool
 * otherwise. */
static int file_future(bio_task *t, bio_io *bio, pool_job *job) {
  io_slot *io = slot_of(bio);
  bio_loop *loop;
  int err;
  if (t == NULL || bio == NULL)
    return -EINVAL;
  loop = loop_of(t);
  if ((err = io_begin(t, io, K_OP)) != 0)
    return err;
  if (job->opcode >= BIO_OP_COUNT || !native(loop) ||
      !bio__loop_supports(loop, job->opcode) ||
      job->opcode == BIO_OP_STATX) {
    io->kind = K_POOL;
    return pool_future(io, job);
  }
  io->op.opcode = (uint8_t)job->opcode;
  io->op.fd = job->fd;
  io->op.buf = job->buf;
  switch (job->opcode) {
  case BIO_OP_READ:
  case BIO_OP_WRITE:
  case BIO_OP_READV:
  case BIO_OP_WRITEV:
    io->op.u.len = job->len > UINT32_MAX ? UINT32_MAX : (uint32_t)job->len;
    io->op.off = job->off;
    break;
  case BIO_OP_OPENAT:
    io->op.fd = AT_FDCWD;
    io->op.u.sys_flags = (uint32_t)job->flags | O_CLOEXEC;
    io->op.mode = job->mode;
    break;
  case BIO_OP_MKDIRAT:
    io->op.fd = AT_FDCWD;
    io->op.mode = job->mode;
    break;
  case BIO_OP_UNLINKAT:
    io->op.fd = AT_FDCWD;
    io->op.u.sys_flags = 0;
    break;
  case BIO_OP_RENAMEAT:
    io->op.fd = AT_FDCWD;
    io->op.buf2 = (void *)(uintptr_t)job->path2;
    break;
  case BIO_OP_FSYNC:
    io->op.u.sys_flags = 0;
    break;
  default:
    break;
  }
  arm(io);
  return io_return(io);
}

BIO_EXTERN int bio_read(bio_task *t, bio_io *io, int fd, void *buf,
                        size_t len, int64_t off) {
  pool_job j = {.opcode = BIO_OP_READ, .fd = fd, .buf = buf, .len = len,
                .off = off < 0 ? -1 : off};
  if (buf == NULL && len != 0)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_write(bio_task *t, bio_io *io, int fd, const void *buf,
                         size_t len, int64_t off) {
  pool_job j = {.opcode = BIO_OP_WRITE, .fd = fd,
                .buf = (void *)(uintptr_t)buf, .len = len,
                .off = off < 0 ? -1 : off};
  if (buf == NULL && len != 0)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_open(bio_task *t, bio_io *io, const char *path, int flags,
                        unsigned mode) {
  pool_job j = {.opcode = BIO_OP_OPENAT, .buf = (void *)(uintptr_t)path,
                .flags = flags | O_CLOEXEC, .mode = mode};
  if (path == NULL)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_fsync(bio_task *t, bio_io *io, int fd) {
  pool_job j = {.opcode = BIO_OP_FSYNC, .fd = fd};
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_unlink(bio_task *t, bio_io *io, const char *path) {
  pool_job j = {.opcode = BIO_OP_UNLINKAT, .buf = (void *)(uintptr_t)path};
  if (path == NULL)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_mkdir(bio_task *t, bio_io *io, const char *path,
                         unsigned mode) {
  pool_job j = {.opcode = BIO_OP_MKDIRAT, .buf = (void *)(uintptr_t)path,
                .mode = mode};
  if (path == NULL)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_rename(bio_task *t, bio_io *io, const char *from,
                          const char *to) {
  pool_job j = {.opcode = BIO_OP_RENAMEAT, .buf = (void *)(uintptr_t)from,
                .path2 = to};
  if (from == NULL || to == NULL)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_stat(bio_task *t, bio_io *io, const char *path,
                        struct stat *st) {
  /* struct stat, not statx: the pool's stat(2) fills it directly. */
  pool_job j = {.opcode = BIO_OP_STATX, .buf = (void *)(uintptr_t)path,
                .path2 = (const char *)(void *)st};
  if (path == NULL || st == NULL)
    return -EINVAL;
  return file_future(t, io, &j);
}

/* readv and writev: the same future but for the opcode. */
static int vectored(bio_task *t, bio_io *io, unsigned opcode, int fd,
                    const struct iovec *iov, int iovcnt, int64_t off) {
  pool_job j = {.opcode = opcode, .fd = fd, .buf = (void *)(uintptr_t)iov,
                .len = (size_t)iovcnt, .off = off < 0 ? -1 : off};
  if (iov == NULL || iovcnt <= 0 || iovcnt > IOV_MAX)
    return -EINVAL;
  return file_future(t, io, &j);
}

BIO_EXTERN int bio_readv(bio_task *t, bio_io *io, int fd,
                         const struct iovec *iov, int iovcnt, int64_t off) {
  return vectored(t, io, BIO_OP_READV, fd, iov, iovcnt, off);
}

BIO_EXTERN int bio_writev(bio_task *t, bio_io *io, int fd,
                          const struct iovec *iov, int iovcnt, int64_t off) {
  return vectored(t, io, BIO_OP_WRITEV, fd, iov, iovcnt, off);
}

BIO_EXTERN int bio_getaddrinfo(bio_task *t, bio_io *io, const char *node,
                               const char *service,
                               const struct addrinfo *hints,
                               struct addrinfo **res) {
  pool_job j = {.opcode = JOB_GETADDRINFO, .buf = (void *)(uintptr_t)node,
                .path2 = service, .hints = hints, .out = res};
  if ((node == NULL && service == NULL) || res == NULL)
    return -EINVAL;
  *res = NULL;
  return file_future(t, io, &j);
}
