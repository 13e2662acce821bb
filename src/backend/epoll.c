/* The epoll backend: emulates completions on readiness. An op waits on its
 * fd's list until epoll says the fd is ready, then the backend performs the
 * syscall itself and reports the result as the op's completion. Files that
 * epoll cannot watch (regular files) are done at once. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/core.h"

#define MAX_EVENTS 1024

typedef struct fd_entry {
  bio_op *waiters;     /* ops waiting for this fd, singly linked */
  uint32_t registered; /* the interest set epoll has for the fd */
  int dirty;           /* on the dirty list: interest may be stale */
  int dirty_next;      /* the next dirty fd, -1 at the end */
} fd_entry;

typedef struct epoll_state {
  int epfd;
  fd_entry *fds;
  int nfds;
  /* Fds whose waiters fired: their interest is brought in line just
   * before the next epoll_wait, not at once. The owner almost always
   * re-arms the same op in its callback, and then the registration is
   * still right: no epoll_ctl at all, as with libuv's persistent
   * registrations (a DEL then an ADD per readiness otherwise). */
  int dirty_head;
  bio_op_list ready; /* completed without waiting; reported by wait */
  struct epoll_event events[MAX_EVENTS];
} epoll_state;


static int epoll_init(bio_loop *loop) {
  epoll_state *st = bio__calloc(1, sizeof(*st));
  if (st == NULL)
    return -ENOMEM;
  st->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (st->epfd < 0) {
    int err = -errno;
    bio__free(st);
    return err;
  }
  bio__op_list_init(&st->ready);
  st->dirty_head = -1;
  loop->backend_data = st;
  return 0;
}


static void epoll_close(bio_loop *loop) {
  epoll_state *st = loop->backend_data;
  if (st == NULL)
    return;
  close(st->epfd);
  bio__free(st->fds);
  bio__free(st);
  loop->backend_data = NULL;
}


static fd_entry *entry_for(epoll_state *st, int fd) {
  if (fd >= st->nfds) {
    int n = st->nfds == 0 ? 64 : st->nfds;
    fd_entry *fds;
    while (n <= fd)
      n *= 2;
    fds = bio__realloc(st->fds, (size_t)n * sizeof(*fds));
    if (fds == NULL)
      return NULL;
    memset(fds + st->nfds, 0, (size_t)(n - st->nfds) * sizeof(*fds));
    st->fds = fds;
    st->nfds = n;
  }
  return &st->fds[fd];
}


static uint32_t wanted_events(const bio_op *op) {
  switch (op->opcode) {
  case BIO_OP_READ:
  case BIO_OP_RECVMSG:
  case BIO_OP_RECV:
    return EPOLLIN;
  case BIO_OP_WRITE:
  case BIO_OP_SENDMSG:
  case BIO_OP_SEND:
    return EPOLLOUT;
  case BIO_OP_POLL:
    return op->u.events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP);
  default:
    return 0;
  }
}


/* Brings epoll's interest set for fd in line with its waiters. */
static int sync_interest(epoll_state *st, int fd, fd_entry *e) {
  struct epoll_event ev;
  uint32_t want = 0;
  bio_op *op;
  int rc;

  for (op = e->waiters; op != NULL; op = op->next)
    want |= wanted_events(op);
  if (want == e->registered)
    return 0;
  memset(&ev, 0, sizeof(ev));
  ev.events = want;
  ev.data.fd = fd;
  if (want == 0) {
    /* ENOENT/EBADF: the fd was closed, and epoll forgot it by itself. */
    epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, &ev);
    e->registered = 0;
    return 0;
  }
  rc = epoll_ctl(st->epfd, e->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd,
                 &ev);
  if (rc != 0 && errno == ENOENT)
    rc = epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &ev);
  else if (rc != 0 && errno == EEXIST)
    rc = epoll_ctl(st->epfd, EPOLL_CTL_MOD, fd, &ev);
  if (rc != 0)
    return -errno;
  e->registered = want;
  return 0;
}


/* Performs op's syscall; returns the result, or -EAGAIN to keep waiting. */
static int perform(bio_op *op, uint32_t revents) {
  ssize_t r;

  switch (op->opcode) {
  case BIO_OP_NOP:
    return 0;
  case BIO_OP_READ:
    do {
      if (op->off < 0)
        r = read(op->fd, op->buf, op->u.len);
      else
        r = pread(op->fd, op->buf, op->u.len, op->off);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  case BIO_OP_WRITE:
    do {
      if (op->off < 0)
        r = write(op->fd, op->buf, op->u.len);
      else
        r = pwrite(op->fd, op->buf, op->u.len, op->off);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  case BIO_OP_RECVMSG:
    /* MSG_DONTWAIT: readiness may be stale, a blocking socket must not
     * stall the loop. */
    do
      r = recvmsg(op->fd, op->buf, (int)op->u.msg_flags | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  case BIO_OP_SENDMSG:
    do
      r = sendmsg(op->fd, op->buf, (int)op->u.msg_flags | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  case BIO_OP_SEND:
    do
      r = send(op->fd, op->buf, op->u.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  case BIO_OP_RECV:
    do
      r = recv(op->fd, op->buf, op->u.len, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : (int)r;
  case BIO_OP_POLL:
    /* io_uring's poll reports errors and hang-ups whatever was asked. */
    return (int)(revents & (op->u.events | EPOLLERR | EPOLLHUP));
  default:
    return -EINVAL;
  }
}


/* BIO_OPF_MULTI is a hint here: every op completes once (MORE is never
 * set), and an owner re-arming it in its callback costs no syscall, as
 * the interest stays registered until the next wait (flush_dirty). */
static int epoll_submit(bio_loop *loop, bio_op *op) {
  epoll_state *st = loop->backend_data;
  fd_entry *e;
  int err;

  /* fs ops are io_uring's alone: the fs layer asks bio__loop_supports
   * and sends them to the blocking pool here. */
  assert(op->opcode < BIO_OP_FS_FIRST);
  if (op->opcode >= BIO_OP_FS_FIRST || op->opcode == BIO_OP_ACCEPT)
    return -EINVAL;
  if (op->opcode == BIO_OP_NOP) {
    op->res = 0;
    bio__op_list_push(&st->ready, op);
    return 0;
  }
  if (op->fd < 0)
    return -EBADF;
  e = entry_for(st, op->fd);
  if (e == NULL)
    return -ENOMEM;
  op->next = e->waiters;
  e->waiters = op;
  err = sync_interest(st, op->fd, e);
  if (err == 0)
    return 0;
  e->waiters = op->next;
  if (err == -EPERM && op->opcode != BIO_OP_POLL) {
    /* Not pollable (a regular file): it is always ready. */
    op->res = perform(op, 0);
    bio__op_list_push(&st->ready, op);
    return 0;
  }
  if (err == -EPERM) {
    /* poll(2) reports regular files as readable and writable. */
    op->res = (int)(op->u.events & (POLLIN | POLLOUT));
    bio__op_list_push(&st->ready, op);
    return 0;
  }
  return err;
}


static int epoll_cancel(bio_loop *loop, bio_op *op) {
  epoll_state *st = loop->backend_data;
  fd_entry *e;
  bio_op **pp;

  if (op->fd < 0 || op->fd >= st->nfds)
    return -EBUSY; /* on the ready list: completes on its own */
  e = &st->fds[op->fd];
  for (pp = &e->waiters; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == op) {
      *pp = op->next;
      op->res = -ECANCELED;
      bio__op_list_push(&st->ready, op);
      sync_interest(st, op->fd, e);
      return 0;
    }
  }
  return -EBUSY;
}


static void mark_dirty(epoll_state *st, int fd) {
  fd_entry *e = &st->fds[fd];
  if (e->dirty)
    return;
  e->dirty = 1;
  e->dirty_next = st->dirty_head;
  st->dirty_head = fd;
}


static void flush_dirty(epoll_state *st) {
  while (st->dirty_head != -1) {
    int fd = st->dirty_head;
    fd_entry *e = &st->fds[fd];
    st->dirty_head = e->dirty_next;
    if (!e->dirty)
      continue; /* synced meanwhile (forget) */
    e->dirty = 0;
    sync_interest(st, fd, e);
  }
}


/* The owner is about to close fd: drop epoll's interest while the fd
 * still names the file. After close(2) a DEL can't reach a registration
 * whose file lives on elsewhere (a dup, a fork's child, a descriptor sent
 * over a socket), and that registration would go on reporting events. */
static void epoll_forget(bio_loop *loop, int fd) {
  epoll_state *st = loop->backend_data;
  fd_entry *e;

  if (fd < 0 || fd >= st->nfds)
    return;
  e = &st->fds[fd];
  if (!e->dirty)
    return;
  e->dirty = 0;
  sync_interest(st, fd, e);
}


static void dispatch_fd(epoll_state *st, int fd, uint32_t revents) {
  fd_entry *e = &st->fds[fd];
  bio_op **pp = &e->waiters;

  while (*pp != NULL) {
    bio_op *op = *pp;
    uint32_t mask = wanted_events(op) | EPOLLERR | EPOLLHUP;
    int res;
    if (!(revents & mask)) {
      pp = &op->next;
      continue;
    }
    res = perform(op, revents);
    if (res == -EAGAIN) {
      pp = &op->next;
      continue;
    }
    *pp = op->next;
    op->res = res;
    bio__op_list_push(&st->ready, op);
  }
  mark_dirty(st, fd);
}


/* epoll_pwait2 (5.11) takes a timespec: a deadline between two
 * milliseconds (a task's sleep) is waited for exactly; without it the
 * wait rounds up to the next millisecond, never down. */
static int pwait2_missing;

static int epoll_wait_ns(epoll_state *st, int64_t timeout_ns,
                         const sigset_t *sm) {
  int ms;

  if (timeout_ns > 0 && timeout_ns % 1000000 != 0 && !pwait2_missing) {
    struct timespec ts;
    int n;
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    n = epoll_pwait2(st->epfd, st->events, MAX_EVENTS, &ts, sm);
    if (n >= 0 || errno != ENOSYS)
      return n;
    pwait2_missing = 1;
  }
  if (timeout_ns < 0)
    ms = -1;
  else if (timeout_ns / 1000000 >= INT_MAX)
    ms = INT_MAX;
  else
    ms = (int)((timeout_ns + 999999) / 1000000);
  return epoll_pwait(st->epfd, st->events, MAX_EVENTS, ms, sm);
}


static int epoll_wait_ops(bio_loop *loop, int64_t timeout_ns,
                          bio_op_list *done) {
  epoll_state *st = loop->backend_data;
  int interrupted = 0;
  int n;
  int i;

  if (st->ready.head != NULL)
    timeout_ns = 0;
  flush_dirty(st);
  sigset_t mask;
  n = epoll_wait_ns(st, timeout_ns, bio__wait_sigmask(loop, &mask));
  if (n < 0) {
    if (errno != EINTR)
      return -errno;
    n = 0;
    interrupted = 1; /* reported: the core waits again if nothing is done */
  }
  for (i = 0; i < n; i++) {
    int fd = st->events[i].data.fd;
    if (fd >= 0 && fd < st->nfds)
      dispatch_fd(st, fd, st->events[i].events);
  }
  if (st->ready.head != NULL) {
    *done->tailp = st->ready.head;
    done->tailp = st->ready.tailp;
    bio__op_list_init(&st->ready);
  }
  return interrupted ? -EINTR : 0;
}


static int epoll_fd(bio_loop *loop) {
  epoll_state *st = loop->backend_data;
  return st->epfd;
}


static int epoll_busy(bio_loop *loop) {
  epoll_state *st = loop->backend_data;
  return st->ready.head != NULL;
}


static int epoll_supports(bio_loop *loop, unsigned opcode) {
  (void)loop;
  return opcode < BIO_OP_FS_FIRST && opcode != BIO_OP_SEND &&
         opcode != BIO_OP_ACCEPT;
}


static int epoll_fork(bio_loop *loop) {
  epoll_state *st = loop->backend_data;
  int fd;

  /* The epoll instance is shared with the parent: build our own and
   * register every fd again; the waiting ops stay where they are. */
  close(st->epfd);
  st->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (st->epfd < 0)
    return -errno;
  for (fd = 0; fd < st->nfds; fd++) {
    st->fds[fd].registered = 0;
    if (st->fds[fd].waiters != NULL)
      sync_interest(st, fd, &st->fds[fd]);
  }
  return 0;
}


const bio_backend bio__backend_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .close = epoll_close,
    .forget = epoll_forget,
    .submit = epoll_submit,
    .cancel = epoll_cancel,
    .wait = epoll_wait_ops,
    .fd = epoll_fd,
    .busy = epoll_busy,
    .fork = epoll_fork,
    .supports = epoll_supports,
};
