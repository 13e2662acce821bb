/* uv_poll_t: readiness of a descriptor the user owns. The handle's
 * BIO_OP_POLL op sits in io_watcher, before the fd; it is one-shot, so
 * each callback re-arms it while the handle stays started. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#include "stream.h"

_Static_assert(offsetof(uv__io_t, fd) >= sizeof(bio_op),
               "uv_poll_t.io_watcher: the op must fit before the fd");

#define ALL_EVENTS (UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED)
/* Our bits in uv_handle_t.flags: closed, waiting for the op to return;
 * and the events asked for (io_watcher up to its fd is the op's). */
#define POLL_F_CLOSE_WAIT (1u << 16)
/* Submitted, callback not run yet (a cancelled op may read IDLE before). */
#define POLL_F_OUT (1u << 17)
#define POLL_EVENTS_SHIFT 20
#define WANTED(h) ((int)(((h)->flags >> POLL_EVENTS_SHIFT) & ALL_EVENTS))

static void poll_op_done(bio_loop *core, bio_op *op);


static inline bio_op *op_of(uv_poll_t *h) {
  return (bio_op *)(void *)((char *)h + offsetof(uv_poll_t, io_watcher));
}


static unsigned int to_poll_bits(int events) {
  unsigned int bits = 0;
  if (events & UV_READABLE)
    bits |= POLLIN;
  if (events & UV_WRITABLE)
    bits |= POLLOUT;
  if (events & UV_DISCONNECT)
    bits |= POLLRDHUP;
  if (events & UV_PRIORITIZED)
    bits |= POLLPRI;
  return bits;
}


static void arm(uv_poll_t *h) {
  bio_op *op = op_of(h);
  if (h->flags & POLL_F_OUT)
    return; /* its callback re-arms with the current events */
  op->cb = poll_op_done;
  op->opcode = BIO_OP_POLL;
  op->fd = h->io_watcher.fd;
  op->u.events = to_poll_bits(WANTED(h));
  op->flags = 0;
  h->flags |= POLL_F_OUT;
  bio__op_submit(bio__core(h->loop), op);
}


/* libuv lets several poll handles share a descriptor, but only one of
 * them be started. */
static int fd_watched(const uv_poll_t *self) {
  void **q;
  uv_loop_t *loop = self->loop;

  for (q = bio__q_next(loop->handle_queue); q != (void **)loop->handle_queue;
       q = bio__q_next(q)) {
    uv_handle_t *h = bio__q_data(q, uv_handle_t, handle_queue);
    if (h != (uv_handle_t *)self && h->type == UV_POLL &&
        (h->flags & BIO_H_ACTIVE) &&
        ((uv_poll_t *)h)->io_watcher.fd == self->io_watcher.fd)
      return 1;
  }
  return 0;
}


static int started(const uv_poll_t *h) {
  return (h->flags & BIO_H_ACTIVE) && !bio__handle_closing((uv_handle_t *)h);
}


static void poll_op_done(bio_loop *core, bio_op *op) {
  uv_poll_t *h = bio_container_of((void *)op, uv_poll_t, io_watcher);
  int want = WANTED(h);
  int events = 0;
  int r = op->res;

  (void)core;
  h->flags &= ~POLL_F_OUT;
  if (h->flags & POLL_F_CLOSE_WAIT) {
    h->flags &= ~POLL_F_CLOSE_WAIT;
    bio__req_unregister(h->loop);
    h->next_closing = h->loop->closing_handles;
    h->loop->closing_handles = (uv_handle_t *)h;
    return;
  }
  if (!started(h))
    return;
  if (r == -ECANCELED || r == 0) {
    arm(h);
    return;
  }
  /* sysfs reports POLLERR|POLLPRI for a change; an error alone makes
   * libuv stop the handle and report a bad descriptor. */
  if (r < 0 || (r & POLLNVAL) || ((r & POLLERR) && !(r & POLLPRI))) {
    bio__handle_stop((uv_handle_t *)h);
    h->poll_cb(h, UV_EBADF, 0);
    return;
  }
  if (r & POLLHUP)
    r |= (int)to_poll_bits(want) & (POLLIN | POLLOUT | POLLRDHUP);
  if (r & POLLIN)
    events |= UV_READABLE;
  if (r & POLLOUT)
    events |= UV_WRITABLE;
  if (r & POLLRDHUP)
    events |= UV_DISCONNECT;
  if (r & POLLPRI)
    events |= UV_PRIORITIZED;
  events &= want;
  if (events != 0)
    h->poll_cb(h, 0, events);
  if (started(h))
    arm(h);
}


UV_EXTERN int uv_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd) {
  struct stat st;
  int err;

  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  if (fd < 0)
    return UV_EBADF;
  if (fstat(fd, &st) != 0)
    return -errno;
  /* epoll refuses regular files and directories; so does libuv. */
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
    return UV_EPERM;
  err = bio__set_nonblock(fd, 1);
  if (err != 0 && err != UV_ENOTTY)
    return err;
  bio__handle_init(loop, (uv_handle_t *)handle, UV_POLL);
  memset(&handle->io_watcher, 0, sizeof(handle->io_watcher));
  handle->io_watcher.fd = fd;
  handle->poll_cb = NULL;
  return 0;
}


UV_EXTERN int uv_poll_init_socket(uv_loop_t *loop, uv_poll_t *handle,
                                  uv_os_sock_t socket) {
  return uv_poll_init(loop, handle, socket);
}


UV_EXTERN int uv_poll_stop(uv_poll_t *handle) {
  bio_loop *core;
  bio_op *op;
  int out = 0;

  if (handle == NULL || handle->type != UV_POLL)
    return UV_EINVAL;
  core = bio__core(handle->loop);
  op = op_of(handle);
  handle->flags &= ~((unsigned int)ALL_EVENTS << POLL_EVENTS_SHIFT);
  bio__handle_stop((uv_handle_t *)handle);
  /* The fd is the user's, who may close it as soon as we return (uvloop
   * does), expecting the socket gone: a peer sees EOF, a listener
   * refuses. On io_uring a poll in the kernel holds the file until its
   * cancel lands, a turn later; so the cancel goes to the kernel and
   * completes now. One io_uring_enter, paid only when the op was there
   * (bio__op_cancel says -EBUSY; a poll not yet submitted, or epoll's,
   * cancels at once). */
  if (op->state != BIO_OP_IDLE) {
    int in_kernel = op->state == BIO_OP_INFLIGHT;
    out = bio__op_cancel(core, op) != 0 && in_kernel;
  }
  bio__loop_fd_closing(core, handle->io_watcher.fd, out);
  return 0;
}


UV_EXTERN int uv_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb) {
  bio_op *op;

  if (handle == NULL || handle->type != UV_POLL || (events & ~ALL_EVENTS) ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (events == 0)
    return uv_poll_stop(handle);
  if (cb == NULL)
    return UV_EINVAL;
  if (fd_watched(handle))
    return UV_EEXIST;
  op = op_of(handle);
  /* An op armed for other events comes back cancelled, then re-arms. */
  if ((handle->flags & POLL_F_OUT) &&
      op->u.events != to_poll_bits(events))
    bio__op_cancel(bio__core(handle->loop), op);
  handle->flags &= ~((unsigned int)ALL_EVENTS << POLL_EVENTS_SHIFT);
  handle->flags |= (unsigned int)events << POLL_EVENTS_SHIFT;
  handle->poll_cb = cb;
  bio__handle_start((uv_handle_t *)handle);
  arm(handle);
  return 0;
}


/* For uv_close: 1 when the op is still out (we queue the handle for
 * closing once it is back), 0 when it may close now. */
int bio__poll_close(uv_poll_t *h) {
  uv_poll_stop(h);
  if (!(h->flags & POLL_F_OUT))
    return 0;
  h->flags |= POLL_F_CLOSE_WAIT;
  bio__req_register(h->loop);
  return 1;
}
