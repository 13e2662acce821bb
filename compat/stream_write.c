/* Writing a stream: queued requests written in order, gathered, by
 * syscall or as a send op (io_uring), partial writes, descriptors passed
 * on IPC pipes (uv_write2), uv_try_write. */
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

/* ---- writing ---- */


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


size_t bio__stream_req_left(const uv_write_t *req) {
  return bio__bufs_bytes(req->bufs + req->write_index,
                    req->nbufs - req->write_index);
}


/* Moves req from the write queue to the callbacks owed, with err. */
void bio__stream_finish_write(uv_stream_t *s, uv_write_t *req, int err) {
  s->write_queue_size -= bio__stream_req_left(req);
  req->error = err;
  bio__q_remove(req->queue);
  bio__q_insert_tail(DONE_Q(s), req->queue);
  bio__stream_kick(s);
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
        bio__bufs_bytes(req->bufs, req->nbufs) == bio__stream_req_left(req)) {
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
    bio__stream_finish_write(s, req, 0);
    if (left == 0 && (size_t)r < total)
      break;
  }
  return (size_t)r == total;
}


/* Writes queued requests in order until the stream is full; then arms
 * for writability if may_arm (a closing stream gives the rest up). */
void bio__stream_flush_writes_arm(uv_stream_t *s, int may_arm) {
  while (!bio__q_empty(WQ(s))) {
    uv_write_t *req = wreq_of(bio__q_next(WQ(s)));
    int r;
    /* A request passing a descriptor goes alone (the descriptor rides on
     * its first bytes); the others go gathered, one or many. */
    if (req->send_handle != NULL) {
      r = write_req(s, req);
      if (r == 1) {
        bio__stream_finish_write(s, req, 0);
        continue;
      }
    } else {
      r = write_gathered(s);
      if (r == 1)
        continue;
    }
    if (r == 0) {
      if (!may_arm || bio__stream_arm_write(s) == 0)
        return;
      r = UV_ENOMEM; /* nothing would tell us when to go on */
    }
    /* The first request (still queued) takes the error. */
    bio__stream_finish_write(s, wreq_of(bio__q_next(WQ(s))), r);
  }
}


void bio__stream_flush_writes(uv_stream_t *s) {
  bio__stream_flush_writes_arm(s, 1);
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
  if (ul->stream.last_writer != s) {
    ul->stream.last_writer = s;
    ul->stream.writers++;
  }
  return ul->stream.writers > 1 || setting == 2;
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
void bio__stream_settle_send(uv_stream_t *s) {
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
  bio__stream_flush_writes_arm(s, 0);
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
    bio__stream_close_progress(s);
    return;
  }
  if (res == -EAGAIN || res == -EWOULDBLOCK) {
    bio__stream_flush_writes(s); /* full: the syscall path waits for writability */
    return;
  }
  if (res < 0) {
    bio__stream_finish_write(s, req, res);
  } else {
    size_t n = (size_t)res;
    if (advance_req(s, req, &n))
      bio__stream_finish_write(s, req, 0);
  }
  if (!bio__q_empty(WQ(s)))
    bio__stream_flush_writes(s);
  bio__stream_maybe_stop(s);
}


/* Writes queued that no one is writing yet: uv_write2 left them for the
 * stream's deferred turn (a burst), which gathers them. */
int bio__stream_writes_deferred(const uv_stream_t *s) {
  return !bio__q_empty(WQ(s)) && s->connect_req == NULL &&
         !(bio__sh(s)->out & (OUT_WOP | OUT_SEND)) && s->io_watcher.fd != -1;
}


void bio__stream_free_req_bufs(uv_write_t *req) {
  if (req->bufs != NULL && req->bufs != req->bufsml)
    bio__free(req->bufs);
  req->bufs = NULL;
}


/* A descriptor to pass with a write: only over an IPC pipe, and one the
 * handle has; a TCP socket's accept gives way to polls from then on
 * (another process may accept on it). 0 or the error. */
static int send_handle_ok(uv_stream_t *handle, uv_stream_t *send_handle) {
  if (handle->type != UV_NAMED_PIPE || !((uv_pipe_t *)handle)->ipc)
    return UV_EINVAL;
  if (handle_fd((uv_handle_t *)send_handle) < 0)
    return UV_EBADF;
  if (send_handle->type == UV_TCP)
    bio__stream_socket_shared(send_handle);
  return 0;
}


UV_EXTERN int uv_write2(uv_write_t *req, uv_stream_t *handle,
                        const uv_buf_t bufs[], unsigned int nbufs,
                        uv_stream_t *send_handle, uv_write_cb cb) {
  size_t bytes;

  /* No buffers, or a count so large it is a negative number converted
   * (libuv 1.46 on): a bad argument, before anything about the stream. */
  if (req == NULL || !bio__stream_ok(handle) || bufs == NULL || nbufs < 1 ||
      nbufs > 1024 * 1024)
    return UV_EINVAL;
  if (handle->io_watcher.fd == -1 ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EBADF;
  if (!(handle->flags & S_WRITABLE))
    return UV_EPIPE;
  if (send_handle != NULL) {
    int err = send_handle_ok(handle, send_handle);
    if (err != 0)
      return err;
  }
  bytes = bio__bufs_bytes(bufs, nbufs);
  bio__sh(handle)->wrote = 1;
  req->type = UV_WRITE;
  req->handle = handle;
  req->cb = cb;
  req->send_handle = send_handle;
  req->error = 0;
  req->write_index = 0;
  req->nbufs = nbufs;
  req->bufs =
      bio__bufs_keep(req->bufsml, BIO_NBUFS(req->bufsml), bufs, nbufs);
  if (req->bufs == NULL)
    return UV_ENOMEM;
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
      bio__stream_flush_writes(handle);
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

  if (!bio__stream_ok(handle) || (bufs == NULL && nbufs > 0))
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)handle) ||
      handle->io_watcher.fd == -1)
    return UV_EBADF;
  if (bio__stream_writes_deferred(handle))
    bio__stream_flush_writes(handle);
  /* Never overtake queued bytes or a connect in progress. */
  if (handle->connect_req != NULL || handle->write_queue_size != 0 ||
      !bio__q_empty(WQ(handle)))
    return UV_EAGAIN;
  if (send_handle != NULL) {
    int err = send_handle_ok(handle, send_handle);
    if (err != 0)
      return err;
  }
  r = write_bufs(handle, bufs, nbufs,
                 send_handle ? handle_fd((uv_handle_t *)send_handle) : -1);
  if (r > 0)
    bio__sh(handle)->wrote = 1;
  if (r == -EWOULDBLOCK)
    r = UV_EAGAIN;
  if (r == 0 && bio__bufs_bytes(bufs, nbufs) > 0)
    return UV_EAGAIN;
  return (int)r;
}


UV_EXTERN int uv_try_write(uv_stream_t *handle, const uv_buf_t bufs[],
                           unsigned int nbufs) {
  return uv_try_write2(handle, bufs, nbufs, NULL);
}
