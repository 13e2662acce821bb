/* The stream API shared by TCP, pipes and ttys, on the completion core.
 * As in udp.c, readiness comes from BIO_OP_POLL ops and the bytes move with
 * nonblocking syscalls: the read/accept op lives in io_watcher, the write
 * (or connect) op in bio_stream_ext (allocated when first needed), and
 * deferred callbacks run from one per-loop list (bio_uv_loop). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/settings.h"
#include "stream.h"
#include "udp.h"

/* What alloc_cb is asked for per read: libuv always says 64 KiB. We
 * follow the stream instead, between these bounds: twice the last read,
 * rounded up to a power of two. An echo of small messages then mallocs
 * 4 KiB, not 64 KiB, which glibc would hand back to the kernel (heap trim)
 * at each free and fault in again at the next malloc; a bulk stream that
 * fills its buffers climbs back to 64 KiB within a few reads. The size is
 * a hint in libuv's contract, and a read never gets more than the buffer
 * holds: the rest waits for the next alloc_cb. */
#define READ_SUGGEST_MIN_BYTES 4096u
#define READ_SUGGEST_MAX_BYTES (64u * 1024u)
/* The most buffers one gathered write takes (8 KiB of stack; IOV_MAX is
 * 1024). */
#define WRITE_GATHER_MAX 512u
/* Reads per readiness, so one busy stream can't starve the loop. */
#define READS_PER_WAKE 32
#define READ_WAKES_BEFORE_MULTI 2
#define QUIET_WAKES_BEFORE_ONE_SHOT 2

_Static_assert(offsetof(uv__io_t, fd) >= sizeof(bio_op),
               "uv_stream_t.io_watcher: the read op must fit before the fd");
/* Writes hand their buffer arrays to writev/sendmsg as iovecs. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec),
               "uv_buf_t has struct iovec's layout on Linux");

#define WQ(s) ((void **)(s)->write_queue)           /* not fully written */
#define DONE_Q(s) ((void **)(s)->write_completed_queue) /* callback owed */

static void read_op_done(bio_loop *core, bio_op *op);


static int multi_ok(void) { return bio__settings()->stream_multi; }
static void wop_done(bio_loop *core, bio_op *op);
static void deferred_done(bio_loop *core, bio_op *op);
static void close_progress(uv_stream_t *s);


static inline bio_op *read_op(uv_stream_t *s) {
  return (bio_op *)(void *)((char *)s + offsetof(uv_stream_t, io_watcher));
}


static inline uv_write_t *wreq_of(void **q) {
  return bio_container_of((void *)q, uv_write_t, queue);
}


int bio__set_nonblock(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -errno;
  if (on == !!(fl & O_NONBLOCK))
    return 0;
  if (fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) != 0)
    return -errno;
  return 0;
}


/* libuv refuses a descriptor another handle of the loop is watching
 * (its epoll registration): one that is only open somewhere, say stdout
 * wrapped twice with nothing queued, is not in use. stdio_over_pipes
 * opens fds 0 and 1 in two handles each. */
static int watching(const uv_handle_t *h) {
  switch (h->type) {
  case UV_TCP:
  case UV_NAMED_PIPE:
  case UV_TTY:
    return (bio__sh((const uv_stream_t *)h)->out & (OUT_READ | OUT_WOP)) != 0;
  case UV_UDP:
    return bio__udp_watching((const uv_udp_t *)h);
  default:
    return (h->flags & BIO_H_ACTIVE) != 0;
  }
}


int bio__fd_in_use(uv_loop_t *loop, int fd) {
  void **q;

  for (q = bio__q_next(loop->handle_queue); q != (void **)loop->handle_queue;
       q = bio__q_next(q)) {
    uv_handle_t *h = bio__q_data(q, uv_handle_t, handle_queue);
    uv_os_fd_t other;
    if (uv_fileno(h, &other) == 0 && other == fd && watching(h))
      return 1;
  }
  return 0;
}


/* A stream kind; closed ones have lost their ext, so callers check
 * closing before they touch it. */
static int stream_ok(const uv_stream_t *s) {
  return s != NULL && (s->type == UV_TCP || s->type == UV_NAMED_PIPE ||
                       s->type == UV_TTY);
}


int bio__stream_init(uv_loop_t *loop, uv_stream_t *s, uv_handle_type type) {
  bio__handle_init(loop, (uv_handle_t *)s, type);
  memset(&s->u, 0, sizeof(s->u));
  s->write_queue_size = 0;
  s->alloc_cb = NULL;
  s->read_cb = NULL;
  s->connect_req = NULL;
  s->shutdown_req = NULL;
  memset(&s->io_watcher, 0, sizeof(s->io_watcher));
  s->io_watcher.fd = -1;
  bio__q_init(WQ(s));
  bio__q_init(DONE_Q(s));
  s->connection_cb = NULL;
  s->delayed_error = 0;
  s->accepted_fd = -1;
  s->queued_fds = NULL;
  return 0;
}


bio_stream_ext *bio__sx_need(uv_stream_t *s) {
  bio_stream_ext *x = bio__sx(s);

  if (x != NULL)
    return x;
  if (bio__handle_closing((uv_handle_t *)s))
    return NULL;
  x = bio__malloc(sizeof(*x));
  if (x == NULL)
    return NULL;
  memset(x, 0, sizeof(*x));
  x->owner = s;
  s->queued_fds = x;
  return x;
}


int bio__stream_open(uv_stream_t *s, int fd, unsigned int flags) {
  int type;
  socklen_t len = sizeof(type);

  if (s->io_watcher.fd != -1 && s->io_watcher.fd != fd)
    return UV_EBUSY;
  /* A TCP handle's fd is a socket but for a caller's mistake, which
   * write_bufs notices (ENOTSOCK) and survives; pipes and ttys may be
   * anything. Saves a syscall per accepted connection. */
  if (s->type != UV_TCP &&
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    s->flags |= S_NOSOCK;
  s->io_watcher.fd = fd;
  s->flags |= flags & (S_READABLE | S_WRITABLE);
  return 0;
}


static int ops_busy(uv_stream_t *s) {
  return bio__sh(s)->out != 0;
}


/* libuv's rule: active while reading, listening, connecting, shutting
 * down or writing. */
static void maybe_stop(uv_stream_t *s) {
  if (bio__handle_closing((uv_handle_t *)s))
    return;
  if ((s->flags & (S_READING | S_LISTENING)) || s->connect_req != NULL ||
      s->shutdown_req != NULL || !bio__q_empty(WQ(s)) ||
      !bio__q_empty(DONE_Q(s)))
    return;
  bio__handle_stop((uv_handle_t *)s);
}


/* Asks for a turn of the loop to run deferred callbacks (never run from
 * inside the call that caused them). */
static void kick(uv_stream_t *s) {
  bio_uv_loop *ul = bio__uv(s->loop);
  bio_stream_hot *h = bio__sh(s);

  if (h->out & OUT_SOP)
    return;
  h->out |= OUT_SOP;
  h->deferred_next = NULL;
  if (ul->deferred_tailp == NULL)
    ul->deferred_tailp = &ul->deferred_head;
  *ul->deferred_tailp = s;
  ul->deferred_tailp = &h->deferred_next;
  if (!ul->deferred_out) {
    bio_op *op = &ul->deferred_op;
    memset(op, 0, sizeof(*op));
    op->cb = deferred_done;
    op->opcode = BIO_OP_NOP;
    op->fd = -1;
    ul->deferred_out = 1;
    bio__op_defer(bio__core(s->loop), op);
  }
}


/* Set once a kernel refused the armed accept op (EINVAL: no multishot
 * accept): listeners poll and accept themselves from then on. */
static int accept_op_refused;
/* Set in both processes at a fork (uv_spawn clones without one):
 * listening sockets may be shared. */
static volatile int forked;

static void note_fork(void) { forked = 1; }

static void accepted_take(bio_fd_sink *sink, int fd);

/* A TCP listener accepts with an armed accept op (io_uring's multishot
 * accept, 5.19) where there is one: a connection then costs one CQE, not
 * a poll's CQE, an accept4 and the accept4 that finds the backlog empty.
 * Only on a socket that this process alone accepts on: one it made, not
 * sent to another process (uv_write2), in a process that has not forked
 * since. The armed op stays first in the socket's wait queue and takes
 * every connection; processes or threads sharing a socket would starve
 * (tcp_multi_accept2: 100% to one thread, against 52/48 with polls,
 * which leave the queue each time they fire). BIO_TCP_ACCEPT_OP=0 (or
 * BIO_STREAM_MULTI=0) turns it off. */
static pthread_once_t fork_watch_once = PTHREAD_ONCE_INIT;
static void watch_forks(void) { pthread_atfork(NULL, note_fork, note_fork); }

static int accept_op_wanted(const uv_stream_t *s) {
  int setting = bio__settings()->tcp_accept_op;
  if (setting)
    pthread_once(&fork_watch_once, watch_forks);
  return setting && !accept_op_refused && !forked && multi_ok() &&
         s->type == UV_TCP && (s->flags & S_OWN_FD) &&
         bio__loop_supports(bio__core(s->loop), BIO_OP_ACCEPT);
}


/* The same, and the ext that holds the queue of accepted fds. */
static int accept_op_ok(uv_stream_t *s) {
  bio_stream_ext *x;
  if (!accept_op_wanted(s))
    return 0;
  x = bio__sx_need(s);
  if (x == NULL)
    return 0;
  x->sink.take = accepted_take;
  return 1;
}


static int stash_waiting(const uv_stream_t *s) {
  const bio_stream_ext *x = bio__sx(s);
  return x != NULL && (x->stash_off < x->stash_len || x->stash_end != 0);
}


/* A stream that reads with recv ops into the loop's buffers (see
 * arm_read) where the backend has them (io_uring 6.0): TCP, and a pipe
 * that is a Unix stream socket carrying no descriptors (not IPC), other
 * than stdio (shared with other processes most often: a recv the stop's
 * cancel came too late for keeps its bytes here, where a poll leaves
 * them in the socket). BIO_STREAM_RECV_OP=0 turns it off. */
static int recv_op_wanted(uv_stream_t *s) {
  bio_stream_hot *h = bio__sh(s);

  if (!bio__settings()->stream_recv_op ||
      !bio__loop_supports(bio__core(s->loop), BIO_CAP_RECV_BUFS))
    return 0;
  if (s->type == UV_TCP)
    return 1;
  if (h->recv_kind == RECV_UNKNOWN) {
    int type = 0;
    socklen_t len = sizeof(type);
    h->recv_kind = RECV_NO;
    if (s->type == UV_NAMED_PIPE && !((uv_pipe_t *)s)->ipc &&
        s->io_watcher.fd > STDERR_FILENO &&
        getsockopt(s->io_watcher.fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
        type == SOCK_STREAM)
      h->recv_kind = RECV_YES;
  }
  return h->recv_kind == RECV_YES;
}


static void arm_read(uv_stream_t *s) {
  bio_op *op = read_op(s);
  if (stash_waiting(s)) {
    /* What an earlier recv took goes to read_cb first, in the deferred
     * turn; how it ended, if it did, is all there is to read. */
    bio__sh(s)->read_more = 1;
    kick(s);
    if (bio__sx(s)->stash_end != 0)
      return;
  }
  if (bio__sh(s)->out & OUT_READ)
    return; /* still out (or armed); its callback re-arms if need be */
  op->cb = read_op_done;
  op->opcode = BIO_OP_POLL;
  op->fd = s->io_watcher.fd;
  /* A TCP listener accepts with an armed accept op (accept_op_ok), or
   * else its poll stays armed (multishot on io_uring); either until a
   * connection waits for uv_accept (read_op_done cancels it then). A
   * reading TCP stream that converses - it answered its last two read
   * wake-ups with writes - stays armed: no re-arm per request then
   * (note_wake). Before that one-shot polls, since an armed poll needs a
   * cancel when the stream stops, and a short-lived connection (a
   * request, the EOF, close) saves more by one-shot polls than by one
   * armed (tcp4_pound_100 ran 0.88-0.95x libuv with armed polls from the
   * start, 1.05x with none). Nor a stream that only reads: bytes pour in
   * faster than it reads them, and an armed poll's wake-ups then cost
   * the sender (see note_wake). Pipes and ttys never: an armed poll may fire
   * for bytes already read (the kernel can post the wake-up's mask without
   * polling again), and the read then finds nothing, which libuv reports
   * as nread 0, legal but rare with libuv; programs reading stdio pipes
   * (libuv's stdio tests among them) are the likeliest to assume it never
   * happens. POLLRDHUP: see read_ready. BIO_STREAM_MULTI=0 turns it off. */
  if ((s->flags & S_LISTENING) && accept_op_ok(s)) {
    bio_stream_ext *x = bio__sx(s);
    op->opcode = BIO_OP_ACCEPT;
    op->buf = &x->sink;
    op->u.sys_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    op->flags = BIO_OPF_MULTI;
  } else if (s->flags & S_LISTENING) {
    op->u.events = POLLIN;
    op->flags = multi_ok() && s->type == UV_TCP ? BIO_OPF_MULTI : 0;
  } else if ((bio__sh(s)->read_wakes >= READ_WAKES_BEFORE_MULTI ||
              !bio__sh(s)->bulk) &&
             recv_op_wanted(s)) {
    /* A TCP (or Unix socket) stream on io_uring: the kernel receives
     * into the loop's buffers and we copy into alloc_cb's (recv_op_done):
     * no read(2).
     * One recv at a time, as the one-shot polls below, until the stream
     * converses; then one armed recv, until it stops reading or turns
     * into a sink (note_wake). A stream whose recv came back full goes to
     * one-shot polls and reads of alloc_cb's size: a bulk sender's bytes
     * in 4 KiB buffers of the loop's took more turns, and 100 such
     * streams ran the loop's 512 buffers dry (tcp_pump100 15.8 gbit/s
     * against 25.2 with polls, 2026-12-04). */
    op->opcode = BIO_OP_RECV;
    op->buf = NULL;
    op->u.len = 0;
    op->flags = multi_ok() && bio__sh(s)->read_wakes >= READ_WAKES_BEFORE_MULTI
                    ? BIO_OPF_MULTI
                    : 0;
  } else if (!multi_ok() || s->type != UV_TCP ||
             bio__sh(s)->read_wakes < READ_WAKES_BEFORE_MULTI) {
    op->u.events = POLLIN;
    op->flags = 0;
  } else {
    op->u.events = POLLIN | POLLRDHUP;
    op->flags = BIO_OPF_MULTI;
  }
  bio__sh(s)->out |= OUT_READ;
  bio__op_submit(bio__core(s->loop), op);
}


/* 0, or UV_ENOMEM when there is no ext to hold the op. */
static int arm_write(uv_stream_t *s) {
  bio_stream_ext *x;
  bio_op *op;

  if (bio__sh(s)->out & OUT_WOP)
    return 0;
  x = bio__sx_need(s);
  if (x == NULL)
    return UV_ENOMEM;
  op = &x->wop;
  op->cb = wop_done;
  op->opcode = BIO_OP_POLL;
  op->fd = s->io_watcher.fd;
  op->u.events = POLLOUT;
  op->flags = 0;
  bio__sh(s)->out |= OUT_WOP;
  bio__op_submit(bio__core(s->loop), op);
  return 0;
}


/* ---- reading ---- */

static int still_reading(const uv_stream_t *s) {
  return !bio__handle_closing((const uv_handle_t *)s) &&
         (s->flags & S_READING) && s->read_cb != NULL;
}


static void stop_reading(uv_stream_t *s) {
  s->flags &= ~S_READING;
  if (read_op(s)->state != BIO_OP_IDLE)
    bio__op_cancel(bio__core(s->loop), read_op(s));
  maybe_stop(s);
}


/* Keeps the descriptors an IPC message carried, for uv_accept. */
static void take_fds(uv_stream_t *s, struct msghdr *m) {
  bio_stream_ext *x = NULL;
  struct cmsghdr *c;

  for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    int *fds;
    size_t n, i;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    fds = (int *)(void *)CMSG_DATA(c);
    n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (i = 0; i < n; i++) {
      if (s->accepted_fd == -1) {
        s->accepted_fd = fds[i];
        continue;
      }
      if (x == NULL && (x = bio__sx_need(s)) != NULL && x->fds == NULL)
        x->fds = bio__malloc(BIO_STREAM_FDS_MAX * sizeof(int));
      if (x != NULL && x->fds != NULL && x->nfds < BIO_STREAM_FDS_MAX)
        x->fds[x->nfds++] = fds[i];
      else
        close(fds[i]); /* bounded (or out of memory): dropped */
    }
  }
}


static ssize_t read_some(uv_stream_t *s, uv_buf_t *buf) {
  ssize_t r;

  if (s->type == UV_NAMED_PIPE && ((uv_pipe_t *)s)->ipc) {
    union {
      char bytes[CMSG_SPACE(BIO_STREAM_FDS_MAX * sizeof(int))];
      struct cmsghdr align;
    } ctl;
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)(void *)buf;
    m.msg_iovlen = 1;
    m.msg_control = ctl.bytes;
    m.msg_controllen = sizeof(ctl.bytes);
    do
      r = recvmsg(s->io_watcher.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
      take_fds(s, &m);
    return r < 0 ? -errno : r;
  }
  do
    r = read(s->io_watcher.fd, buf->base, buf->len);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}


static size_t suggest_bytes(const uv_stream_t *s) {
  unsigned int b = bio__sh(s)->suggest_bytes;
  return b == 0 ? READ_SUGGEST_MAX_BYTES : b;
}


/* Grows at once to twice the read; shrinks by half a read at most, so a
 * bulk stream's odd short read does not cut its next reads short. */
static void note_read(uv_stream_t *s, size_t n) {
  unsigned int want = READ_SUGGEST_MIN_BYTES;
  unsigned int half = (unsigned int)suggest_bytes(s) / 2;
  while (want < READ_SUGGEST_MAX_BYTES && want < 2 * n)
    want *= 2;
  bio__sh(s)->suggest_bytes = want < half ? half : want;
}


#define READ_HUP_BITS (POLLRDHUP | POLLHUP | POLLERR)


/* alloc_cb's buffer for the next read, as libuv asks for it: 1 with a
 * buffer; 0 when the stream stopped reading meanwhile; UV_ENOBUFS when
 * alloc_cb gave none (read_cb has been told so). */
static int take_buffer(uv_stream_t *s, uv_buf_t *buf) {
  *buf = uv_buf_init(NULL, 0);
  s->alloc_cb((uv_handle_t *)s, suggest_bytes(s), buf);
  if (!still_reading(s))
    return 0;
  if (buf->base == NULL || buf->len == 0) {
    s->read_cb(s, UV_ENOBUFS, buf);
    return UV_ENOBUFS;
  }
  return 1;
}


/* Hands bytes received already to read_cb, through as many alloc_cb
 * buffers as it takes, while the stream reads. Returns how many it took;
 * fewer than len when reading stopped or alloc_cb gave no buffer (read_cb
 * got UV_ENOBUFS). */
static size_t hand_over_bytes(uv_stream_t *s, const char *data, size_t len) {
  size_t done = 0;

  while (done < len && still_reading(s)) {
    uv_buf_t buf;
    size_t n;
    if (take_buffer(s, &buf) != 1)
      break;
    n = len - done < buf.len ? len - done : buf.len;
    memcpy(buf.base, data + done, n);
    done += n;
    note_read(s, n);
    s->read_cb(s, (ssize_t)n, &buf);
  }
  return done;
}


/* Keeps bytes for later (the end of the stash). 0 or UV_ENOMEM. */
static int stash_add(uv_stream_t *s, const char *data, size_t len) {
  bio_stream_ext *x = bio__sx_need(s);
  size_t need;

  if (x == NULL)
    return UV_ENOMEM;
  if (x->stash_off == x->stash_len)
    x->stash_off = x->stash_len = 0;
  need = x->stash_len + len;
  if (need > x->stash_cap) {
    size_t cap = x->stash_cap != 0 ? x->stash_cap : 4096;
    char *p;
    while (cap < need)
      cap *= 2;
    p = bio__realloc(x->stash, cap);
    if (p == NULL)
      return UV_ENOMEM;
    x->stash = p;
    x->stash_cap = cap;
  }
  memcpy(x->stash + x->stash_len, data, len);
  x->stash_len = need;
  return 0;
}


/* The end of a stream's reading that a recv op reported (UV_EOF or an
 * error), as libuv reports a read(2) that returned it: to read_cb, with
 * the buffer alloc_cb gave. Returns 0 when it was reported; else (no
 * buffer: read_cb got UV_ENOBUFS; reading stopped) it is still owed. */
static int report_end(uv_stream_t *s, int end) {
  bio_stream_ext *x = bio__sx(s);
  uv_buf_t buf;
  int got = take_buffer(s, &buf);

  if (got != 1)
    return got == 0 ? UV_ECANCELED : got;
  if (x != NULL)
    x->stash_end = 0;
  if (end == UV_EOF)
    s->flags |= S_EOF;
  else
    s->flags &= ~(S_READABLE | S_WRITABLE); /* broken both ways */
  stop_reading(s);
  s->read_cb(s, end, &buf);
  return 0;
}


/* What a recv op left in the stash goes to read_cb (read_ready's first
 * step). Returns 1 when the stash is empty and reading goes on, 0 when
 * the caller must stop: reading stopped, alloc_cb had no buffer (then
 * the next turn tries again), or the end was reported. */
static int deliver_stash(uv_stream_t *s) {
  bio_stream_ext *x = bio__sx(s);

  if (x == NULL || !stash_waiting(s))
    return 1;
  if (x->stash_off < x->stash_len)
    x->stash_off += hand_over_bytes(s, x->stash + x->stash_off,
                                    x->stash_len - x->stash_off);
  if (x->stash_off == x->stash_len && x->stash_end != 0 &&
      still_reading(s) && report_end(s, x->stash_end) == 0)
    return 0;
  if (stash_waiting(s)) {
    if (still_reading(s)) {
      bio__sh(s)->read_more = 1;
      kick(s);
    }
    return 0;
  }
  return still_reading(s);
}

static void read_ready(uv_stream_t *s, int revents) {
  int budget = READS_PER_WAKE;

  revents &= READ_HUP_BITS;
  bio__sh(s)->read_more = 0;
  if (!deliver_stash(s))
    return;
  /* An armed recv op takes the socket's bytes: one read here could pass
   * bytes it holds already (in a CQE not yet seen). */
  if ((bio__sh(s)->out & OUT_READ) && read_op(s)->opcode == BIO_OP_RECV)
    return;
  if (budget == 0)
    return;
  while (still_reading(s)) {
    if (budget-- == 0) {
      /* Out of budget with bytes maybe left: an armed op fires again
       * only when more arrive, so come back next turn ourselves, and
       * remember a hang-up: its wake-up is spent. */
      bio__sh(s)->read_more = 1 | (unsigned int)revents;
      kick(s);
      return;
    }
    uv_buf_t buf;
    ssize_t r;
    int got = take_buffer(s, &buf);

    if (got == 0)
      return;
    if (got == UV_ENOBUFS) {
      /* libuv asks again at the next turn while the bytes wait (its
       * watcher is level-triggered); an armed op would not fire again. */
      if (still_reading(s)) {
        bio__sh(s)->read_more = 1 | (unsigned int)revents;
        kick(s);
      }
      return;
    }
    r = read_some(s, &buf);
    if (r == -EAGAIN || r == -EWOULDBLOCK) {
      s->read_cb(s, 0, &buf); /* libuv hands the buffer back with 0 */
      return;
    }
    if (r < 0) {
      /* A broken stream is done both ways, as libuv has it. */
      s->flags &= ~(S_READABLE | S_WRITABLE);
      stop_reading(s);
      s->read_cb(s, r, &buf);
      return;
    }
    if (r == 0) {
      s->flags |= S_EOF;
      stop_reading(s);
      s->read_cb(s, UV_EOF, &buf);
      return;
    }
    note_read(s, (size_t)r);
    s->read_cb(s, r, &buf);
    /* A short read drained the socket, most likely: the next bytes wake
     * us again, even an armed op (each arrival fires it). Not so a FIN or
     * hang-up that came with these bytes: it fired already, so read on
     * until the EOF. */
    if ((size_t)r < buf.len && revents == 0)
      return;
  }
}


/* Out of descriptors with connections waiting: a listener would wake
 * forever. Give up the spare descriptor, accept and drop what waits (the
 * peers see a close, as with libuv), then take the spare back. */
static int drop_pending(uv_stream_t *s) {
  uv_loop_t *loop = s->loop;
  int fd;
  int err;

  if (loop->emfile_fd == -1)
    return UV_EMFILE;
  close(loop->emfile_fd);
  loop->emfile_fd = -1;
  for (;;) {
    fd = accept4(s->io_watcher.fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      continue;
    }
    if (errno != EINTR)
      break;
  }
  err = errno;
  loop->emfile_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return err == EAGAIN || err == EWOULDBLOCK ? UV_EAGAIN : -err;
}


/* A listening socket is readable: accept one connection per callback;
 * while the user leaves it unaccepted, stop watching (uv_accept re-arms).
 * Returns 0 when it stopped on a full descriptor table with connections
 * maybe still waiting (an armed poll would not fire for them again). */
static int accept_ready(uv_stream_t *s) {
  while ((s->flags & S_LISTENING) &&
         !bio__handle_closing((uv_handle_t *)s) && s->accepted_fd == -1) {
    int fd = accept4(s->io_watcher.fd, NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = -errno;
      if (err == -EINTR)
        continue;
      if (err == -EAGAIN || err == -EWOULDBLOCK)
        break;
      if ((err == -EMFILE || err == -ENFILE) && drop_pending(s) == UV_EAGAIN)
        break;
      if (s->connection_cb != NULL)
        s->connection_cb(s, err);
      if (err == -EMFILE || err == -ENFILE)
        return 0;
      continue;
    }
    s->accepted_fd = fd;
    if (s->connection_cb != NULL)
      s->connection_cb(s, 0);
  }
  return 1;
}


/* The armed accept op's sink (called inside the backend's reap): the
 * connection waits in the ext's queue for its callback. Out of memory,
 * it is closed (its peer sees the close, as when libuv drops one). */
static void accepted_take(bio_fd_sink *sink, int fd) {
  bio_stream_ext *x = bio_container_of(sink, bio_stream_ext, sink);

  if (x->nfds == x->fds_cap) {
    int cap = x->fds_cap == 0 ? 16 : 2 * x->fds_cap;
    int *fds = bio__realloc(x->fds, (size_t)cap * sizeof(int));
    if (fds == NULL) {
      close(fd);
      return;
    }
    x->fds = fds;
    x->fds_cap = cap;
  }
  x->fds[x->nfds++] = fd;
}


/* Takes the first of the ext's queued descriptors (there is one). */
static int shift_fd(bio_stream_ext *x) {
  int fd = x->fds[0];
  x->nfds--;
  memmove(x->fds, x->fds + 1, (size_t)x->nfds * sizeof(int));
  return fd;
}


/* Queued connections, one connection callback each, in arrival order,
 * while the user takes them (uv_accept) and the listener stays open. */
static void deliver_accepted(uv_stream_t *s) {
  bio_stream_ext *x = bio__sx(s);

  while (x != NULL && x->nfds > 0 && s->accepted_fd == -1 &&
         (s->flags & S_LISTENING) && !bio__handle_closing((uv_handle_t *)s)) {
    s->accepted_fd = shift_fd(x);
    if (s->connection_cb != NULL)
      s->connection_cb(s, 0);
    x = bio__sx(s); /* the callback may have closed the listener */
  }
  /* A burst of connections grew the queue: give it back once drained
   * (10,000 at once took 64 KiB that stayed for the listener's life). */
  if (x != NULL && x->nfds == 0 && x->fds_cap > 64) {
    bio__free(x->fds);
    x->fds = NULL;
    x->fds_cap = 0;
  }
}


/* A listener's turn after uv_accept took a connection: the next queued
 * ones get their callbacks; with none left, accepting goes on. */
static void listener_turn(uv_stream_t *s) {
  bio_stream_ext *x;

  deliver_accepted(s);
  x = bio__sx(s);
  if ((s->flags & S_LISTENING) && !bio__handle_closing((uv_handle_t *)s) &&
      s->accepted_fd == -1 && (x == NULL || x->nfds == 0))
    arm_read(s); /* nothing if still armed */
}


/* The armed accept op fired (its fds are queued) or ended (res < 0). As
 * with libuv's watcher, accepting stops while a connection waits for
 * uv_accept: the op is cancelled (uv_accept arms it again). */
static void accept_op_done(uv_stream_t *s, bio_op *op, int armed) {
  int err = op->res;

  deliver_accepted(s);
  if (!(s->flags & S_LISTENING) || bio__handle_closing((uv_handle_t *)s))
    return;
  if (!armed && (err == -EINVAL || err == -EOPNOTSUPP)) {
    accept_op_refused = 1; /* a kernel without multishot accept */
    err = 0;
  } else if (!armed && err < 0 && err != -ECANCELED) {
    /* The op ended on an error that libuv's accept loop would meet too;
     * its order: a full descriptor table drops what waits (drop_pending)
     * and reports nothing if that emptied the backlog. */
    if ((err != -EMFILE && err != -ENFILE) || drop_pending(s) != UV_EAGAIN)
      if (s->connection_cb != NULL)
        s->connection_cb(s, err);
    if (!(s->flags & S_LISTENING) || bio__handle_closing((uv_handle_t *)s))
      return;
  }
  if (armed && (s->accepted_fd != -1 || !accept_op_wanted(s)))
    bio__op_cancel(bio__core(s->loop), op); /* (a fork came since) */
  else if (!armed)
    listener_turn(s);
}


/* s's socket goes to another process: a listener's armed accept gives way
 * to polls (its cancel's end re-arms one). */
static void socket_shared(uv_stream_t *s) {
  bio_op *op = read_op(s);
  s->flags &= ~S_OWN_FD;
  if ((s->flags & S_LISTENING) && op->opcode == BIO_OP_ACCEPT &&
      op->state != BIO_OP_IDLE)
    bio__op_cancel(bio__core(s->loop), op);
}


/* A read wake-up (op fired, armed or not): does the stream converse? One
 * that answered (wrote since its last wake-up) two in a row gets an armed
 * poll at its next re-arm. Armed, two unanswered in a row - a stream that
 * only reads, as a sink, whose sender's bytes come while it reads - go
 * back to one-shot polls: the armed poll's cancel ends in a one-shot
 * re-arm. An armed poll stays in the socket's wait queue and is woken by
 * every arrival, on the sending CPU (loopback: the sender's own); a
 * one-shot one leaves the queue when it fires. tcp_pump100's server read
 * 11.25 gbit/s armed, 12.15 one-shot (the system libuv 12.00; pinned to a
 * CPU each, median of 10). */
static void note_wake(uv_stream_t *s, bio_op *op, int armed) {
  bio_stream_hot *h = bio__sh(s);
  int answered = h->wrote;

  h->wrote = 0;
  if (!armed) {
    if (!answered)
      h->read_wakes = 0;
    else if (h->read_wakes < READ_WAKES_BEFORE_MULTI)
      h->read_wakes++;
    return;
  }
  if (answered || h->read_wakes < READ_WAKES_BEFORE_MULTI) {
    h->quiet_wakes = 0; /* or already cancelled (the count says 0) */
    return;
  }
  if (++h->quiet_wakes < QUIET_WAKES_BEFORE_ONE_SHOT)
    return;
  h->quiet_wakes = 0;
  h->read_wakes = 0;
  bio__op_cancel(bio__core(s->loop), op);
}


/* Hands the chunks a recv op holds to read_cb while the stream reads,
 * each alloc_cb buffer filled with as many as fit, as one read(2) takes
 * all that waits in the socket up to the buffer's length. What it could
 * not hand over stays on the op. */
static void hand_over_chunks(uv_stream_t *s, bio_loop *core, bio_op *op) {
  char *data;
  size_t len;

  while (still_reading(s) && bio__recv_chunk(core, op, &data, &len)) {
    uv_buf_t buf;
    size_t fill = 0;
    if (take_buffer(s, &buf) != 1)
      return;
    do {
      size_t n = len < buf.len - fill ? len : buf.len - fill;
      memcpy(buf.base + fill, data, n);
      fill += n;
      bio__recv_consume(core, op, n);
    } while (fill < buf.len && bio__recv_chunk(core, op, &data, &len));
    note_read(s, fill);
    s->read_cb(s, (ssize_t)fill, &buf);
  }
}


/* The armed recv op fired (the bytes that came are on the op) or ended
 * (after them, res says how). libuv's order: each message through
 * alloc_cb and read_cb as it would have read it; then the end (EOF, an
 * error) as its read(2) would have met it. Bytes the stream can't take
 * now wait in the stash, and whatever comes after them too. */
static void recv_op_done(uv_stream_t *s, bio_op *op, int armed) {
  bio_loop *core = bio__core(s->loop);
  int end = armed ? 1 : op->res; /* 1: not ended, or nothing to report */
  char *data;
  size_t len;

  if (s->flags & S_CLOSE_WAIT) {
    bio__recv_drop(core, op);
    if (!armed)
      close_progress(s); /* else the cancel's completion comes next */
    return;
  }
  /* Ended with nothing to report: cancelled (the stream stopped, or goes
   * back to polls), the loop's buffers ran out (the bytes still wait in
   * the socket), a kernel that has no multishot recv (which the backend
   * remembers), or the kernel's own stop. Arm again, below. */
  if (end == -ECANCELED || end == -ENOBUFS || end == -EINVAL || end > 0)
    end = 1;
  if (bio__recv_chunk(core, op, &data, &len) && still_reading(s)) {
    note_wake(s, op, armed);
    /* A one-shot recv that filled its buffer: a bulk sender, most
     * likely, whose bytes one read(2) of alloc_cb's size takes better
     * than many buffers of the loop's (arm_read). */
    if (!armed && op->res >= (int)BIO_RECV_BUF_BYTES)
      bio__sh(s)->bulk = 1;
  }
  /* Bytes kept from before go first. */
  if (still_reading(s))
    (void)deliver_stash(s);
  if (!stash_waiting(s))
    hand_over_chunks(s, core, op);
  while (bio__recv_chunk(core, op, &data, &len)) {
    if (stash_add(s, data, len) != 0 && end == 1)
      end = UV_ENOMEM; /* bytes lost: the stream can't go on */
    bio__recv_consume(core, op, len);
  }
  if (bio__handle_closing((uv_handle_t *)s))
    return; /* read_cb closed it: the close's cancel ends the op */
  if (end <= 0) {
    int code = end == 0 ? UV_EOF : end;
    bio_stream_ext *x;
    if ((stash_waiting(s) || !still_reading(s) || report_end(s, code) != 0) &&
        (x = bio__sx_need(s)) != NULL)
      x->stash_end = code;
  }
  if (still_reading(s) && stash_waiting(s)) {
    bio__sh(s)->read_more = 1;
    kick(s);
  }
  if (armed && (!still_reading(s) || end <= 0))
    bio__op_cancel(core, op);
  else if (!armed && still_reading(s) && end == 1)
    arm_read(s);
}


static void read_op_done(bio_loop *core, bio_op *op) {
  uv_stream_t *s = bio_container_of((void *)op, uv_stream_t, io_watcher);
  /* A MULTI op that fired and stays armed is still in flight. */
  int armed = op->state != BIO_OP_IDLE;

  (void)core;
  if (!armed)
    bio__sh(s)->out &= ~OUT_READ;
  if (op->opcode == BIO_OP_RECV) {
    recv_op_done(s, op, armed);
    return;
  }
  if (s->flags & S_CLOSE_WAIT) {
    if (!armed)
      close_progress(s); /* else the cancel's completion comes next */
    return;
  }
  if ((s->flags & S_LISTENING) && op->opcode == BIO_OP_ACCEPT) {
    accept_op_done(s, op, armed);
    return;
  }
  if (s->flags & S_LISTENING) {
    int drained = op->res == -ECANCELED || accept_ready(s);
    if (!(s->flags & S_LISTENING) || bio__handle_closing((uv_handle_t *)s))
      return;
    /* Armed: cancelled while a connection waits for uv_accept (which arms
     * it again), or after a full descriptor table (the cancel's callback
     * arms it again, and a new poll sees what still waits, as libuv's
     * level-triggered watcher would). */
    if (armed && (s->accepted_fd != -1 || !drained))
      bio__op_cancel(core, op);
    else if (s->accepted_fd == -1)
      arm_read(s); /* nothing if still armed */
    return;
  }
  if (!still_reading(s)) {
    if (armed)
      bio__op_cancel(core, op); /* stopped meanwhile */
    return;
  }
  /* Reads wait for the connect (libuv's order: the connect callback
   * first); finish_connect arms us again. */
  if (s->connect_req != NULL)
    return;
  if (op->res > 0)
    note_wake(s, op, armed);
  if (op->res != -ECANCELED)
    read_ready(s, op->res > 0 ? op->res : 0);
  if (still_reading(s) && !armed)
    arm_read(s);
}


UV_EXTERN int uv_read_start(uv_stream_t *stream, uv_alloc_cb alloc_cb,
                            uv_read_cb read_cb) {
  if (!stream_ok(stream) || alloc_cb == NULL || read_cb == NULL)
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)stream))
    return UV_EINVAL;
  if (stream->flags & S_READING)
    return UV_EALREADY;
  if (!(stream->flags & S_READABLE))
    return UV_ENOTCONN;
  stream->alloc_cb = alloc_cb;
  stream->read_cb = read_cb;
  stream->flags |= S_READING;
  bio__handle_start((uv_handle_t *)stream);
  if (stream->io_watcher.fd != -1 && stream->connect_req == NULL)
    arm_read(stream);
  return 0;
}


UV_EXTERN int uv_read_stop(uv_stream_t *stream) {
  if (!stream_ok(stream))
    return UV_EINVAL;
  if (!(stream->flags & S_READING))
    return 0;
  stream->read_cb = NULL;
  stream->alloc_cb = NULL;
  stop_reading(stream);
  return 0;
}


UV_EXTERN int uv_is_readable(const uv_stream_t *handle) {
  return handle != NULL && (handle->flags & S_READABLE) != 0;
}


UV_EXTERN int uv_is_writable(const uv_stream_t *handle) {
  return handle != NULL && (handle->flags & S_WRITABLE) != 0;
}


UV_EXTERN size_t uv_stream_get_write_queue_size(const uv_stream_t *stream) {
  return stream == NULL ? 0 : stream->write_queue_size;
}


UV_EXTERN int uv_stream_set_blocking(uv_stream_t *handle, int blocking) {
  if (!stream_ok(handle) || handle->io_watcher.fd == -1)
    return UV_EINVAL;
  return bio__set_nonblock(handle->io_watcher.fd, !blocking);
}


/* ---- listen, accept ---- */

int bio__stream_listen(uv_stream_t *s, int backlog, uv_connection_cb cb) {
  if (listen(s->io_watcher.fd, backlog) != 0)
    return -errno;
  /* The spare for drop_pending, taken while descriptors are there;
   * uv_loop_close gives it back. */
  if (s->loop->emfile_fd == -1)
    s->loop->emfile_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  s->connection_cb = cb;
  s->flags |= S_LISTENING;
  bio__handle_start((uv_handle_t *)s);
  if (s->accepted_fd == -1)
    arm_read(s);
  return 0;
}


UV_EXTERN int uv_listen(uv_stream_t *stream, int backlog,
                        uv_connection_cb cb) {
  if (!stream_ok(stream) || bio__handle_closing((uv_handle_t *)stream))
    return UV_EINVAL;
  switch (stream->type) {
  case UV_TCP:
    return bio__tcp_listen((uv_tcp_t *)stream, backlog, cb);
  case UV_NAMED_PIPE:
    return bio__pipe_listen((uv_pipe_t *)stream, backlog, cb);
  default:
    return UV_EINVAL;
  }
}


UV_EXTERN int uv_accept(uv_stream_t *server, uv_stream_t *client) {
  bio_stream_ext *x;
  int fd;
  int err;

  if (!stream_ok(server) || client == NULL || server == client ||
      bio__handle_closing((uv_handle_t *)server))
    return UV_EINVAL;
  if (server->accepted_fd == -1)
    return UV_EAGAIN;
  fd = server->accepted_fd;
  switch (client->type) {
  case UV_TCP:
  case UV_NAMED_PIPE:
    if (bio__handle_closing((uv_handle_t *)client))
      return UV_EINVAL;
    err = client->type == UV_TCP
              ? bio__tcp_apply_opts((uv_tcp_t *)client, fd)
              : 0;
    if (err == 0)
      err = bio__stream_open(client, fd, S_READABLE | S_WRITABLE);
    break;
  case UV_UDP:
    err = uv_udp_open((uv_udp_t *)client, fd);
    break;
  default:
    return UV_EINVAL;
  }
  if (err != 0) {
    close(fd);
  }
  /* A listener's queued connections each get their callback (the next
   * turn), then it accepts again; an IPC pipe's next descriptor moves
   * up. */
  x = bio__sx(server);
  if ((server->flags & S_LISTENING) && server->type == UV_TCP) {
    server->accepted_fd = -1;
    if (x != NULL && x->nfds > 0)
      kick(server);
    else
      arm_read(server);
    return err;
  }
  server->accepted_fd = x != NULL && x->nfds > 0 ? shift_fd(x) : -1;
  if ((server->flags & S_LISTENING) && server->accepted_fd == -1)
    arm_read(server);
  return err;
}


/* ---- writing ---- */

static size_t bufs_bytes(const uv_buf_t *bufs, unsigned int nbufs) {
  size_t n = 0;
  unsigned int i;
  for (i = 0; i < nbufs; i++)
    n += bufs[i].len;
  return n;
}


static int handle_fd(const uv_handle_t *h) {
  uv_os_fd_t fd;
  return uv_fileno(h, &fd) == 0 ? fd : -1;
}


/* One nonblocking write of bufs (with a descriptor to pass, if any).
 * Returns bytes written, or -errno (-EAGAIN: the stream is full). */
static ssize_t write_bufs(uv_stream_t *s, const uv_buf_t *bufs,
                          unsigned int nbufs, int send_fd) {
  struct msghdr m;
  union {
    char bytes[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  ssize_t r;

  if (nbufs > IOV_MAX)
    nbufs = IOV_MAX;
  if (send_fd < 0 && (s->flags & S_NOSOCK)) {
    do
      r = writev(s->io_watcher.fd, (const struct iovec *)(const void *)bufs,
                 (int)nbufs);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
  }
  if (send_fd < 0 && nbufs == 1) {
    /* send(2) spares the kernel importing a msghdr: measurably cheaper
     * per call for programs that write many small buffers. */
    do
      r = send(s->io_watcher.fd, bufs[0].base, bufs[0].len, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ENOTSOCK) {
      s->flags |= S_NOSOCK;
      return write_bufs(s, bufs, nbufs, -1);
    }
    return r < 0 ? -errno : r;
  }
  memset(&m, 0, sizeof(m));
  m.msg_iov = (struct iovec *)(void *)bufs;
  m.msg_iovlen = nbufs;
  if (send_fd >= 0) {
    struct cmsghdr *c;
    memset(&ctl, 0, sizeof(ctl));
    m.msg_control = ctl.bytes;
    m.msg_controllen = sizeof(ctl.bytes);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
  }
  do
    r = sendmsg(s->io_watcher.fd, &m, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == ENOTSOCK && send_fd < 0) {
    s->flags |= S_NOSOCK;
    return write_bufs(s, bufs, nbufs, -1);
  }
  return r < 0 ? -errno : r;
}


static size_t req_left(const uv_write_t *req) {
  return bufs_bytes(req->bufs + req->write_index,
                    req->nbufs - req->write_index);
}


/* Moves req from the write queue to the callbacks owed, with err. */
static void finish_write(uv_stream_t *s, uv_write_t *req, int err) {
  s->write_queue_size -= req_left(req);
  req->error = err;
  bio__q_remove(req->queue);
  bio__q_insert_tail(DONE_Q(s), req->queue);
  kick(s);
}


/* Consumes n written bytes from req's remaining buffers; 1 when req is
 * all written, 0 when bytes of it are left (n then is all used). */
static int advance_req(uv_stream_t *s, uv_write_t *req, size_t *n) {
  while (req->write_index < req->nbufs) {
    uv_buf_t *cur = req->bufs + req->write_index;
    if (*n >= cur->len) {
      *n -= cur->len;
      s->write_queue_size -= cur->len;
      cur->len = 0;
      req->write_index++;
    } else {
      cur->base += *n;
      cur->len -= *n;
      s->write_queue_size -= *n;
      *n = 0;
      return 0;
    }
  }
  return 1;
}


/* Writes as much of req (one passing a descriptor) as the stream takes.
 * 1: all of it went, 0: the stream is full, <0: the error that ends req. */
static int write_req(uv_stream_t *s, uv_write_t *req) {
  while (req->write_index < req->nbufs) {
    uv_buf_t *b = req->bufs + req->write_index;
    int send_fd = -1;
    ssize_t r;

    /* The descriptor goes along with the request's first bytes. */
    if (req->send_handle != NULL && b == req->bufs &&
        bufs_bytes(req->bufs, req->nbufs) == req_left(req)) {
      send_fd = handle_fd((uv_handle_t *)req->send_handle);
      if (send_fd < 0)
        return UV_EBADF;
    }
    r = write_bufs(s, b, req->nbufs - req->write_index, send_fd);
    if (r == -EAGAIN || r == -EWOULDBLOCK)
      return 0;
    if (r < 0)
      return (int)r;
    {
      size_t n = (size_t)r;
      advance_req(s, req, &n);
    }
    if (req->send_handle != NULL)
      req->send_handle = NULL; /* sent with the first bytes */
  }
  return 1;
}


/* The queued requests up to the first passing a descriptor go out in one
 * gathered write, however many (libuv writes one request per call: a
 * program that queues many small writes pays a syscall each).
 * Returns 1 if all gathered bytes went, 0 if the stream is full, <0 the
 * error that ends the first request. Finished requests move on to their
 * callbacks here. */
static int write_gathered(uv_stream_t *s) {
  struct iovec iov[WRITE_GATHER_MAX];
  unsigned int n = 0;
  size_t total = 0;
  void **q;
  ssize_t r;
  size_t left;

  for (q = bio__q_next(WQ(s)); q != WQ(s) && n < WRITE_GATHER_MAX;
       q = bio__q_next(q)) {
    uv_write_t *req = wreq_of(q);
    unsigned int i;
    if (req->send_handle != NULL)
      break;
    for (i = req->write_index; i < req->nbufs && n < WRITE_GATHER_MAX; i++) {
      iov[n].iov_base = req->bufs[i].base;
      iov[n].iov_len = req->bufs[i].len;
      total += req->bufs[i].len;
      n++;
    }
  }
  r = write_bufs(s, (const uv_buf_t *)(const void *)iov, n, -1);
  if (r == -EAGAIN || r == -EWOULDBLOCK)
    return 0;
  if (r < 0)
    return (int)r;
  left = (size_t)r;
  while (!bio__q_empty(WQ(s))) {
    uv_write_t *req = wreq_of(bio__q_next(WQ(s)));
    if (req->send_handle != NULL || !advance_req(s, req, &left))
      break;
    finish_write(s, req, 0);
    if (left == 0 && (size_t)r < total)
      break;
  }
  return (size_t)r == total;
}


/* Writes queued requests in order until the stream is full; then arms
 * for writability if may_arm (a closing stream gives the rest up). */
static void flush_writes_arm(uv_stream_t *s, int may_arm) {
  while (!bio__q_empty(WQ(s))) {
    uv_write_t *req = wreq_of(bio__q_next(WQ(s)));
    int r;
    /* A request passing a descriptor goes alone (the descriptor rides on
     * its first bytes); the others go gathered, one or many. */
    if (req->send_handle != NULL) {
      r = write_req(s, req);
      if (r == 1) {
        finish_write(s, req, 0);
        continue;
      }
    } else {
      r = write_gathered(s);
      if (r == 1)
        continue;
    }
    if (r == 0) {
      if (!may_arm || arm_write(s) == 0)
        return;
      r = UV_ENOMEM; /* nothing would tell us when to go on */
    }
    /* The first request (still queued) takes the error. */
    finish_write(s, wreq_of(bio__q_next(WQ(s))), r);
  }
}


static void flush_writes(uv_stream_t *s) {
  flush_writes_arm(s, 1);
}


_Static_assert(sizeof(((uv_write_t *)0)->reserved) >= sizeof(bio_op),
               "a write request's reserved words hold its send op");

static bio_op *send_op(uv_write_t *req) {
  return (bio_op *)(void *)req->reserved;
}


/* io_uring sends a lone TCP write itself, in the enter that next waits
 * (many connections' sends in one syscall, none of their own), where
 * libuv calls send(2) inside uv_write - when another stream wrote in the
 * same batch of callbacks (a server answering many clients). The first
 * writer of a batch, and so every write of a one-connection program
 * (libuv's ping_pongs and pump benchmarks), still goes by syscall at once:
 * measured, it then gains nothing and its callback comes a wait later.
 * One buffer (the rest of a request and anything behind it goes by
 * syscall). Not on epoll, which would first wait for writability.
 * BIO_STREAM_SEND_OP: 0 never, 2 for every such write (tests). */
static int send_op_ok(const uv_stream_t *s, const uv_write_t *req) {
  int setting = bio__settings()->stream_send_op;
  bio_uv_loop *ul;
  if (setting == 0 || s->type != UV_TCP || req->send_handle != NULL ||
      req->nbufs != 1 || req->bufs[0].len == 0 ||
      req->bufs[0].len > INT32_MAX ||
      !bio__loop_supports(bio__core(s->loop), BIO_OP_SEND))
    return 0;
  ul = bio__uv(s->loop);
  if (ul->last_writer != s) {
    ul->last_writer = s;
    ul->stream_writers++;
  }
  return ul->stream_writers > 1 || setting == 2;
}


static void send_done(bio_loop *core, bio_op *op);

static void start_send(uv_stream_t *s, uv_write_t *req) {
  bio_op *op = send_op(req);
  memset(op, 0, sizeof(*op));
  op->cb = send_done;
  op->opcode = BIO_OP_SEND;
  op->fd = s->io_watcher.fd;
  op->buf = req->bufs[0].base;
  op->u.len = (uint32_t)req->bufs[0].len;
  bio__sh(s)->out |= OUT_SEND;
  bio__op_submit(bio__core(s->loop), op);
}


/* Closing with a send op out. Queued, it names the fd only by number:
 * into the kernel with it before the fd closes (there it holds the
 * socket itself). If that sent it whole (res stays 0 until the op
 * completes, and a send of some bytes never completes with 0), what
 * waits behind it goes too, as far as the socket takes it: libuv would
 * have written it inside uv_write. */
static void settle_send(uv_stream_t *s) {
  uv_write_t *head = wreq_of(bio__q_next(WQ(s)));
  bio_op *op = send_op(head);

  bio__loop_submit_now(bio__core(s->loop));
  if (op->res <= 0 || (size_t)op->res != head->bufs[0].len)
    return;
  /* send_done (to come) finds it finished with status 0. */
  s->write_queue_size -= head->bufs[0].len;
  head->error = 0;
  bio__q_remove(head->queue);
  bio__q_insert_tail(DONE_Q(s), head->queue);
  flush_writes_arm(s, 0);
}


static void send_done(bio_loop *core, bio_op *op) {
  uv_write_t *req = bio_container_of((void *)op, uv_write_t, reserved);
  uv_stream_t *s = req->handle;
  int32_t res = op->res;

  (void)core;
  bio__sh(s)->out &= ~OUT_SEND;
  if (s->flags & S_CLOSE_WAIT) {
    /* Closed meanwhile: the close queued req's callback as cancelled;
     * it went out whole all the same. */
    if (res >= 0 && (size_t)res == req->bufs[0].len)
      req->error = 0; /* settle_send may have said so already */
    close_progress(s);
    return;
  }
  if (res == -EAGAIN || res == -EWOULDBLOCK) {
    flush_writes(s); /* full: the syscall path waits for writability */
    return;
  }
  if (res < 0) {
    finish_write(s, req, res);
  } else {
    size_t n = (size_t)res;
    if (advance_req(s, req, &n))
      finish_write(s, req, 0);
  }
  if (!bio__q_empty(WQ(s)))
    flush_writes(s);
  maybe_stop(s);
}


/* Writes queued that no one is writing yet: uv_write2 left them for the
 * stream's deferred turn (a burst), which gathers them. */
static int writes_deferred(const uv_stream_t *s) {
  return !bio__q_empty(WQ(s)) && s->connect_req == NULL &&
         !(bio__sh(s)->out & (OUT_WOP | OUT_SEND)) && s->io_watcher.fd != -1;
}


static void free_req_bufs(uv_write_t *req) {
  if (req->bufs != NULL && req->bufs != req->bufsml)
    bio__free(req->bufs);
  req->bufs = NULL;
}


UV_EXTERN int uv_write2(uv_write_t *req, uv_stream_t *handle,
                        const uv_buf_t bufs[], unsigned int nbufs,
                        uv_stream_t *send_handle, uv_write_cb cb) {
  size_t bytes;

  /* No buffers, or a count so large it is a negative number converted
   * (libuv 1.46 on): a bad argument, before anything about the stream. */
  if (req == NULL || !stream_ok(handle) || bufs == NULL || nbufs < 1 ||
      nbufs > 1024 * 1024)
    return UV_EINVAL;
  if (handle->io_watcher.fd == -1 ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EBADF;
  if (!(handle->flags & S_WRITABLE))
    return UV_EPIPE;
  if (send_handle != NULL) {
    if (handle->type != UV_NAMED_PIPE || !((uv_pipe_t *)handle)->ipc)
      return UV_EINVAL;
    if (handle_fd((uv_handle_t *)send_handle) < 0)
      return UV_EBADF;
    if (send_handle->type == UV_TCP)
      socket_shared(send_handle);
  }
  bytes = bufs_bytes(bufs, nbufs);
  bio__sh(handle)->wrote = 1;
  req->type = UV_WRITE;
  req->handle = handle;
  req->cb = cb;
  req->send_handle = send_handle;
  req->error = 0;
  req->write_index = 0;
  req->nbufs = nbufs;
  if (nbufs <= sizeof(req->bufsml) / sizeof(req->bufsml[0])) {
    req->bufs = req->bufsml;
  } else {
    req->bufs = bio__malloc(nbufs * sizeof(*bufs));
    if (req->bufs == NULL)
      return UV_ENOMEM;
  }
  if (nbufs > 0)
    memcpy(req->bufs, bufs, nbufs * sizeof(*bufs));
  bio__req_register(handle->loop);
  handle->write_queue_size += bytes;
  bio__q_insert_tail(WQ(handle), req->queue);
  bio__handle_start((uv_handle_t *)handle);
  /* Alone in the queue and connected: try now (libuv does too); the
   * callback always waits for the loop. A burst - a TCP stream that wrote
   * since its deferred turn last ran, and owes that write's callback -
   * leaves the request for that turn, which writes all queued by then in
   * one gathered call (a program that writes many small buffers in one
   * callback pays a syscall per several hundred, not per write). A close
   * or uv_try_write writes them first. */
  if (handle->connect_req == NULL &&
      bio__q_next(WQ(handle)) == (void *)req->queue &&
      !(bio__sh(handle)->out & (OUT_WOP | OUT_SEND))) {
    if (handle->type == UV_TCP && send_handle == NULL &&
        (bio__sh(handle)->out & OUT_SOP) && !bio__q_empty(DONE_Q(handle)))
      return 0;
    if (send_op_ok(handle, req))
      start_send(handle, req);
    else
      flush_writes(handle);
  }
  return 0;
}


UV_EXTERN int uv_write(uv_write_t *req, uv_stream_t *handle,
                       const uv_buf_t bufs[], unsigned int nbufs,
                       uv_write_cb cb) {
  return uv_write2(req, handle, bufs, nbufs, NULL, cb);
}


UV_EXTERN int uv_try_write2(uv_stream_t *handle, const uv_buf_t bufs[],
                            unsigned int nbufs, uv_stream_t *send_handle) {
  ssize_t r;

  if (!stream_ok(handle) || (bufs == NULL && nbufs > 0))
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)handle) ||
      handle->io_watcher.fd == -1)
    return UV_EBADF;
  if (writes_deferred(handle))
    flush_writes(handle);
  /* Never overtake queued bytes or a connect in progress. */
  if (handle->connect_req != NULL || handle->write_queue_size != 0 ||
      !bio__q_empty(WQ(handle)))
    return UV_EAGAIN;
  if (send_handle != NULL) {
    if (handle->type != UV_NAMED_PIPE || !((uv_pipe_t *)handle)->ipc)
      return UV_EINVAL;
    if (handle_fd((uv_handle_t *)send_handle) < 0)
      return UV_EBADF;
    if (send_handle->type == UV_TCP)
      socket_shared(send_handle);
  }
  r = write_bufs(handle, bufs, nbufs,
                 send_handle ? handle_fd((uv_handle_t *)send_handle) : -1);
  if (r > 0)
    bio__sh(handle)->wrote = 1;
  if (r == -EWOULDBLOCK)
    r = UV_EAGAIN;
  if (r == 0 && bufs_bytes(bufs, nbufs) > 0)
    return UV_EAGAIN;
  return (int)r;
}


UV_EXTERN int uv_try_write(uv_stream_t *handle, const uv_buf_t bufs[],
                           unsigned int nbufs) {
  return uv_try_write2(handle, bufs, nbufs, NULL);
}


/* ---- connect, shutdown ---- */

void bio__stream_connect(uv_stream_t *s, uv_connect_t *req, int err,
                         uv_connect_cb cb) {
  req->type = UV_CONNECT;
  req->handle = s;
  req->cb = cb;
  bio__q_init(req->queue);
  bio__req_register(s->loop);
  s->connect_req = req;
  s->delayed_error = (err == -EINPROGRESS) ? 0 : err;
  bio__handle_start((uv_handle_t *)s);
  if (s->delayed_error == 0 && arm_write(s) != 0)
    s->delayed_error = UV_ENOMEM;
  if (s->delayed_error != 0)
    kick(s);
}


/* The connect is over (err 0: connected): report it, then write what was
 * queued meanwhile, or cancel it on failure. */
static void finish_connect(uv_stream_t *s, int err) {
  uv_connect_t *req = s->connect_req;

  s->connect_req = NULL;
  s->delayed_error = 0;
  bio__req_unregister(s->loop);
  maybe_stop(s);
  if (req->cb != NULL)
    req->cb(req, err);
  if (bio__handle_closing((uv_handle_t *)s))
    return;
  if (err == 0) {
    if (still_reading(s))
      arm_read(s);
    /* The connect callback's own writes may be out as a send op. */
    if (!(bio__sh(s)->out & (OUT_SEND | OUT_WOP)))
      flush_writes(s);
    kick(s); /* a shutdown may have waited for the connect */
    return;
  }
  while (!bio__q_empty(WQ(s)))
    finish_write(s, wreq_of(bio__q_next(WQ(s))), UV_ECANCELED);
}


static void wop_done(bio_loop *core, bio_op *op) {
  uv_stream_t *s;
  int err = 0;
  socklen_t len = sizeof(err);

  (void)core;
  s = bio_container_of(op, bio_stream_ext, wop)->owner;
  bio__sh(s)->out &= ~OUT_WOP;
  if (s->flags & S_CLOSE_WAIT) {
    close_progress(s);
    return;
  }
  if (s->connect_req != NULL) {
    if (op->res == -ECANCELED)
      return;
    if (getsockopt(s->io_watcher.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err == EINPROGRESS && arm_write(s) == 0)
      return;
    if (err == EINPROGRESS)
      err = ENOMEM;
    finish_connect(s, -err);
    return;
  }
  flush_writes(s);
}


static void do_shutdown(uv_stream_t *s) {
  uv_shutdown_t *req = s->shutdown_req;
  int err = 0;

  s->shutdown_req = NULL;
  if (shutdown(s->io_watcher.fd, SHUT_WR) != 0)
    err = -errno;
  else
    s->flags |= S_SHUT;
  bio__req_unregister(s->loop);
  maybe_stop(s);
  if (req->cb != NULL)
    req->cb(req, err);
}


/* The deferred turn: a connect error, write callbacks in order, then a
 * shutdown whose writes are all out. */
static void run_deferred(uv_stream_t *s) {
  size_t n = 0;
  void **q;

  if (s->flags & S_LISTENING) {
    listener_turn(s);
    return;
  }
  if (bio__sh(s)->read_more && s->connect_req == NULL) {
    read_ready(s, (int)(bio__sh(s)->read_more & READ_HUP_BITS));
    if (bio__handle_closing((uv_handle_t *)s))
      return;
  }

  if (s->connect_req != NULL && s->delayed_error != 0) {
    finish_connect(s, s->delayed_error);
    if (bio__handle_closing((uv_handle_t *)s))
      return;
  }
  if (writes_deferred(s))
    flush_writes(s);
  /* Only the writes done by now: a callback that writes again must wait
   * for the next turn, or a write-per-callback program never yields. */
  /* They stay on DONE_Q meanwhile, where a close finds them. */
  for (q = bio__q_next(DONE_Q(s)); q != DONE_Q(s); q = bio__q_next(q))
    n++;
  while (n-- > 0 && !bio__q_empty(DONE_Q(s))) {
    uv_write_t *req = wreq_of(bio__q_next(DONE_Q(s)));
    bio__q_remove(req->queue);
    free_req_bufs(req);
    bio__req_unregister(s->loop);
    if (req->cb != NULL)
      req->cb(req, req->error);
    if (bio__handle_closing((uv_handle_t *)s))
      return; /* close_progress runs the rest */
  }
  if (!bio__q_empty(DONE_Q(s)))
    kick(s);
  if (s->shutdown_req != NULL && s->connect_req == NULL &&
      bio__q_empty(WQ(s)))
    do_shutdown(s);
  maybe_stop(s);
}


/* The loop's deferred turn: every stream kicked since the last one, in
 * kick order. Streams kicked meanwhile wait for the next turn. A stream
 * on the list has OUT_SOP set, so a close waits for us (close_progress)
 * and its memory stays valid until we have dealt with it. */
static void deferred_done(bio_loop *core, bio_op *op) {
  bio_uv_loop *ul = bio_container_of(op, bio_uv_loop, deferred_op);
  uv_stream_t *s = ul->deferred_head;

  (void)core;
  ul->deferred_out = 0;
  ul->deferred_head = NULL;
  ul->deferred_tailp = &ul->deferred_head;
  while (s != NULL) {
    uv_stream_t *next = bio__sh(s)->deferred_next;
    bio__sh(s)->out &= ~OUT_SOP;
    if (s->flags & S_CLOSE_WAIT)
      close_progress(s);
    else
      run_deferred(s);
    s = next;
  }
}


UV_EXTERN int uv_shutdown(uv_shutdown_t *req, uv_stream_t *handle,
                          uv_shutdown_cb cb) {
  if (req == NULL || !stream_ok(handle))
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)handle) ||
      !(handle->flags & S_WRITABLE) ||
      (handle->flags & (S_SHUTTING | S_SHUT)) ||
      bio__handle_closing((uv_handle_t *)handle) ||
      handle->io_watcher.fd == -1)
    return UV_ENOTCONN;
  req->type = UV_SHUTDOWN;
  req->handle = handle;
  req->cb = cb;
  handle->shutdown_req = req;
  handle->flags |= S_SHUTTING;
  handle->flags &= ~S_WRITABLE;
  bio__req_register(handle->loop);
  bio__handle_start((uv_handle_t *)handle);
  kick(handle);
  return 0;
}


/* ---- close ---- */

static int owes_callbacks(uv_stream_t *s) {
  return s->connect_req != NULL || s->shutdown_req != NULL ||
         !bio__q_empty(DONE_Q(s));
}


/* uv_close gives the descriptors up at once, as libuv does (a program
 * may count on the peer seeing the close, or on reusing the number): an
 * op still out was cancelled first, which detaches it from the fd. */
static void close_fds(uv_stream_t *s, int ops_out) {
  bio_stream_ext *x = bio__sx(s);
  int i;

  if (s->accepted_fd != -1) {
    close(s->accepted_fd);
    s->accepted_fd = -1;
  }
  for (i = 0; x != NULL && i < x->nfds; i++)
    close(x->fds[i]);
  if (x != NULL)
    x->nfds = 0;
  if (s->io_watcher.fd != -1) {
    bio__loop_fd_closing(bio__core(s->loop), s->io_watcher.fd, ops_out);
    /* libuv leaves stdio open: a tty or pipe over fd 0-2 is borrowed. */
    if (s->io_watcher.fd > STDERR_FILENO || (s->flags & S_OWN_FD))
      close(s->io_watcher.fd);
    s->io_watcher.fd = -1;
  }
}


static void release(uv_stream_t *s) {
  bio_stream_ext *x = bio__sx(s);

  close_fds(s, 0);
  if (x != NULL) {
    bio__free(x->fds);
    bio__free(x->stash);
    bio__free(x);
  }
  s->queued_fds = NULL;
}


/* Once our ops are back: the cancelled requests' callbacks (connect,
 * writes, shutdown, libuv's order), then the handle joins the closing
 * list so its close callback runs after them. */
static void close_progress(uv_stream_t *s) {
  uv_loop_t *loop = s->loop;

  if (ops_busy(s))
    return;
  if (s->connect_req != NULL) {
    uv_connect_t *req = s->connect_req;
    s->connect_req = NULL;
    bio__req_unregister(loop);
    if (req->cb != NULL)
      req->cb(req, UV_ECANCELED);
  }
  while (!bio__q_empty(DONE_Q(s))) {
    uv_write_t *req = wreq_of(bio__q_next(DONE_Q(s)));
    bio__q_remove(req->queue);
    free_req_bufs(req);
    bio__req_unregister(loop);
    if (req->cb != NULL)
      req->cb(req, req->error);
  }
  if (s->shutdown_req != NULL) {
    uv_shutdown_t *req = s->shutdown_req;
    s->shutdown_req = NULL;
    bio__req_unregister(loop);
    if (req->cb != NULL)
      req->cb(req, UV_ECANCELED);
  }
  release(s);
  s->flags &= ~S_CLOSE_WAIT;
  bio__req_unregister(loop); /* the hold bio__stream_close took */
  s->next_closing = loop->closing_handles;
  loop->closing_handles = (uv_handle_t *)s;
}


int bio__stream_close(uv_stream_t *s) {
  bio_loop *core = bio__core(s->loop);
  bio_stream_ext *x = bio__sx(s);
  int in_kernel = 0; /* an op the kernel holds the socket for */

  /* No shutdown() of a listener here: the socket may be shared (passed
   * over IPC to other threads or processes, as Node's cluster and libuv's
   * multi-accept benchmark do), and shutdown would stop it for all of them.
   * On io_uring an op in the kernel (a poll, an armed accept) holds the
   * socket; close(2) alone would leave it open until the op's cancel
   * lands, a turn later. A peer would see this close after what we write
   * elsewhere meanwhile, and a listener would still take connections (to
   * reset them). So the cancels go to the kernel and complete before the
   * close: one io_uring_enter, paid only when an op was in the kernel
   * (bio__op_cancel says -EBUSY; a poll not yet submitted, or epoll's,
   * cancels at once). */
  s->flags &= ~(S_READING | S_LISTENING | S_READABLE | S_WRITABLE);
  s->alloc_cb = NULL;
  s->read_cb = NULL;
  if (read_op(s)->state != BIO_OP_IDLE)
    in_kernel |= bio__op_cancel(core, read_op(s)) != 0;
  /* Writes left for the deferred turn go now, as far as the socket
   * takes them: libuv would have written them already. */
  if (writes_deferred(s))
    flush_writes_arm(s, 0);
  if (bio__sh(s)->out & OUT_SEND) {
    settle_send(s); /* which hands the read op's cancel over too */
    in_kernel = 0;
  }
  if (x != NULL && x->wop.state != BIO_OP_IDLE)
    in_kernel |= bio__op_cancel(core, &x->wop) != 0;
  while (!bio__q_empty(WQ(s))) {
    uv_write_t *req = wreq_of(bio__q_next(WQ(s)));
    s->write_queue_size -= req_left(req);
    req->error = UV_ECANCELED;
    bio__q_remove(req->queue);
    bio__q_insert_tail(DONE_Q(s), req->queue);
  }
  bio__handle_stop((uv_handle_t *)s);
  close_fds(s, in_kernel);
  if (!ops_busy(s) && !owes_callbacks(s)) {
    release(s);
    return 0;
  }
  s->flags |= S_CLOSE_WAIT;
  bio__req_register(s->loop);
  if (!ops_busy(s))
    kick(s); /* nothing will come back on its own: take a loop turn */
  return 1;
}
