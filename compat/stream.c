/* The stream API shared by TCP, pipes and ttys, on the completion core:
 * a stream's state (bio_stream_hot in the handle, bio_stream_ext when
 * needed), arming its read op (recv, poll or accept) and write op, the
 * per-loop deferred turn that runs owed callbacks, connect, shutdown and
 * close. Reading, accepting and writing are stream_read.c's,
 * stream_accept.c's and stream_write.c's. */
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

#include "loop.h"
#include "stream_int.h"
#include "udp.h"

static void wop_done(bio_loop *core, bio_op *op);
static void deferred_done(bio_loop *core, bio_op *op);

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
int bio__stream_watching(const uv_handle_t *h) {
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
    if (uv_fileno(h, &other) == 0 && other == fd && bio__stream_watching(h))
      return 1;
  }
  return 0;
}


/* A stream kind; closed ones have lost their ext, so callers check
 * closing before they touch it. */
int bio__stream_ok(const uv_stream_t *s) {
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
void bio__stream_maybe_stop(uv_stream_t *s) {
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
void bio__stream_kick(uv_stream_t *s) {
  bio_stream_loop *sl = &bio__uv(s->loop)->stream;
  bio_stream_hot *h = bio__sh(s);

  if (h->out & OUT_SOP)
    return;
  h->out |= OUT_SOP;
  h->deferred_next = NULL;
  if (sl->deferred_tailp == NULL)
    sl->deferred_tailp = &sl->deferred_head;
  *sl->deferred_tailp = s;
  sl->deferred_tailp = &h->deferred_next;
  if (!sl->deferred_out) {
    bio_op *op = &sl->deferred_op;
    memset(op, 0, sizeof(*op));
    op->cb = deferred_done;
    op->opcode = BIO_OP_NOP;
    op->fd = -1;
    sl->deferred_out = 1;
    bio__op_defer(bio__core(s->loop), op);
  }
}


int bio__stream_stash_waiting(const uv_stream_t *s) {
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


void bio__stream_arm_read(uv_stream_t *s) {
  bio_op *op = read_op(s);
  if (bio__stream_stash_waiting(s)) {
    /* What an earlier recv took goes to read_cb first, in the deferred
     * turn; how it ended, if it did, is all there is to read. */
    bio__sh(s)->read_more = 1;
    bio__stream_kick(s);
    if (bio__sx(s)->stash_end != 0)
      return;
  }
  if (bio__sh(s)->out & OUT_READ)
    return; /* still out (or armed); its callback re-arms if need be */
  op->cb = bio__stream_read_op_done;
  op->opcode = BIO_OP_POLL;
  op->fd = s->io_watcher.fd;
  /* A TCP listener accepts with an armed accept op (bio__stream_accept_op_ok), or
   * else its poll stays armed (multishot on io_uring); either until a
   * connection waits for uv_accept (bio__stream_read_op_done cancels it then). A
   * reading TCP stream that converses - it answered its last two read
   * wake-ups with writes - stays armed: no re-arm per request then
   * (bio__stream_note_wake). Before that one-shot polls, since an armed poll needs a
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
  if ((s->flags & S_LISTENING) && bio__stream_accept_op_ok(s)) {
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
     * into the loop's buffers and we copy into alloc_cb's (bio__stream_recv_op_done):
     * no read(2).
     * One recv at a time, as the one-shot polls below, until the stream
     * converses; then one armed recv, until it stops reading or turns
     * into a sink (bio__stream_note_wake). A stream whose recv came back full goes to
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
int bio__stream_arm_write(uv_stream_t *s) {
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
  if (s->delayed_error == 0 && bio__stream_arm_write(s) != 0)
    s->delayed_error = UV_ENOMEM;
  if (s->delayed_error != 0)
    bio__stream_kick(s);
}


/* The connect is over (err 0: connected): report it, then write what was
 * queued meanwhile, or cancel it on failure. */
static void finish_connect(uv_stream_t *s, int err) {
  uv_connect_t *req = s->connect_req;

  s->connect_req = NULL;
  s->delayed_error = 0;
  bio__req_unregister(s->loop);
  bio__stream_maybe_stop(s);
  if (req->cb != NULL)
    req->cb(req, err);
  if (bio__handle_closing((uv_handle_t *)s))
    return;
  if (err == 0) {
    if (bio__stream_still_reading(s))
      bio__stream_arm_read(s);
    /* The connect callback's own writes may be out as a send op. */
    if (!(bio__sh(s)->out & (OUT_SEND | OUT_WOP)))
      bio__stream_flush_writes(s);
    bio__stream_kick(s); /* a shutdown may have waited for the connect */
    return;
  }
  while (!bio__q_empty(WQ(s)))
    bio__stream_finish_write(s, wreq_of(bio__q_next(WQ(s))), UV_ECANCELED);
}


static void wop_done(bio_loop *core, bio_op *op) {
  uv_stream_t *s;
  int err = 0;
  socklen_t len = sizeof(err);

  (void)core;
  s = bio_container_of(op, bio_stream_ext, wop)->owner;
  bio__sh(s)->out &= ~OUT_WOP;
  if (s->flags & S_CLOSE_WAIT) {
    bio__stream_close_progress(s);
    return;
  }
  if (s->connect_req != NULL) {
    if (op->res == -ECANCELED)
      return;
    if (getsockopt(s->io_watcher.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err == EINPROGRESS && bio__stream_arm_write(s) == 0)
      return;
    if (err == EINPROGRESS)
      err = ENOMEM;
    finish_connect(s, -err);
    return;
  }
  bio__stream_flush_writes(s);
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
  bio__stream_maybe_stop(s);
  if (req->cb != NULL)
    req->cb(req, err);
}


/* The deferred turn: a connect error, write callbacks in order, then a
 * shutdown whose writes are all out. */
static void run_deferred(uv_stream_t *s) {
  size_t n = 0;
  void **q;

  if (s->flags & S_LISTENING) {
    bio__stream_listener_turn(s);
    return;
  }
  if (bio__sh(s)->read_more && s->connect_req == NULL) {
    bio__stream_read_ready(s, (int)(bio__sh(s)->read_more & READ_HUP_BITS));
    if (bio__handle_closing((uv_handle_t *)s))
      return;
  }

  if (s->connect_req != NULL && s->delayed_error != 0) {
    finish_connect(s, s->delayed_error);
    if (bio__handle_closing((uv_handle_t *)s))
      return;
  }
  if (bio__stream_writes_deferred(s))
    bio__stream_flush_writes(s);
  /* Only the writes done by now: a callback that writes again must wait
   * for the next turn, or a write-per-callback program never yields. */
  /* They stay on DONE_Q meanwhile, where a close finds them. */
  for (q = bio__q_next(DONE_Q(s)); q != DONE_Q(s); q = bio__q_next(q))
    n++;
  while (n-- > 0 && !bio__q_empty(DONE_Q(s))) {
    uv_write_t *req = wreq_of(bio__q_next(DONE_Q(s)));
    bio__q_remove(req->queue);
    bio__stream_free_req_bufs(req);
    bio__req_unregister(s->loop);
    if (req->cb != NULL)
      req->cb(req, req->error);
    if (bio__handle_closing((uv_handle_t *)s))
      return; /* close_progress runs the rest */
  }
  if (!bio__q_empty(DONE_Q(s)))
    bio__stream_kick(s);
  if (s->shutdown_req != NULL && s->connect_req == NULL &&
      bio__q_empty(WQ(s)))
    do_shutdown(s);
  bio__stream_maybe_stop(s);
}


/* The loop's deferred turn: every stream kicked since the last one, in
 * kick order. Streams kicked meanwhile wait for the next turn. A stream
 * on the list has OUT_SOP set, so a close waits for us (bio__stream_close_progress)
 * and its memory stays valid until we have dealt with it. */
static void deferred_done(bio_loop *core, bio_op *op) {
  bio_stream_loop *sl = bio_container_of(op, bio_stream_loop, deferred_op);
  uv_stream_t *s = sl->deferred_head;

  (void)core;
  sl->deferred_out = 0;
  sl->deferred_head = NULL;
  sl->deferred_tailp = &sl->deferred_head;
  while (s != NULL) {
    uv_stream_t *next = bio__sh(s)->deferred_next;
    bio__sh(s)->out &= ~OUT_SOP;
    if (s->flags & S_CLOSE_WAIT)
      bio__stream_close_progress(s);
    else
      run_deferred(s);
    s = next;
  }
}


UV_EXTERN int uv_shutdown(uv_shutdown_t *req, uv_stream_t *handle,
                          uv_shutdown_cb cb) {
  if (req == NULL || !bio__stream_ok(handle))
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
  bio__stream_kick(handle);
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
void bio__stream_close_progress(uv_stream_t *s) {
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
    bio__stream_free_req_bufs(req);
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
  if (bio__stream_writes_deferred(s))
    bio__stream_flush_writes_arm(s, 0);
  if (bio__sh(s)->out & OUT_SEND) {
    bio__stream_settle_send(s); /* which hands the read op's cancel over too */
    in_kernel = 0;
  }
  if (x != NULL && x->wop.state != BIO_OP_IDLE)
    in_kernel |= bio__op_cancel(core, &x->wop) != 0;
  while (!bio__q_empty(WQ(s))) {
    uv_write_t *req = wreq_of(bio__q_next(WQ(s)));
    s->write_queue_size -= bio__stream_req_left(req);
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
    bio__stream_kick(s); /* nothing will come back on its own: take a loop turn */
  return 1;
}
