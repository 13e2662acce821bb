/* uv_udp_t on the completion core. Readiness comes from BIO_OP_POLL ops
 * (the same on io_uring and epoll); the datagrams themselves move with
 * nonblocking recvmsg/recvmmsg/sendmsg, so alloc_cb runs only when data is
 * there, as in libuv. The receive op lives in the handle's io_watcher; each
 * send request carries its own op (readiness wait, or deferred callback). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <linux/errqueue.h>
#include <unistd.h>

#include "core/settings.h"
#include "internal.h"
#include "stream.h"
#include "udp.h"

/* The largest datagram; what alloc_cb is asked for, and one recvmmsg slot. */
#define DGRAM_MAX_BYTES (64 * 1024)
/* Datagrams read per readiness, so one busy socket can't starve the loop. */
#define READS_PER_WAKE 32
/* recvmmsg slots per call (bounded: the headers are on the stack). */
#define MMSG_MAX_SLOTS 20

/* Our bits in uv_handle_t.flags; the low ones are internal.h's. */
enum {
  UDP_F_RECVING = 1u << 16,   /* between recv_start and recv_stop */
  UDP_F_CONNECTED = 1u << 17, /* uv_udp_connect'ed */
  UDP_F_MMSG = 1u << 18,      /* created with UV_UDP_RECVMMSG */
  UDP_F_CLOSE_WAIT = 1u << 19, /* closed; waiting for our ops to return */
  UDP_F_READ_LATER = 1u << 20, /* readable, but send callbacks go first */
  UDP_F_ERRQUEUE = 1u << 21,   /* ...and the error queue has something */
  UDP_F_RECVERR = 1u << 22     /* bound with UV_UDP_LINUX_RECVERR */
};

/* The handle's receive op sits in io_watcher, before its fd, which stays
 * where uv_fileno (and programs peeking at libuv's layout) read it. */
_Static_assert(offsetof(uv__io_t, fd) >= sizeof(bio_op),
               "uv_udp_t.io_watcher: the recv op must fit before the fd");
#define RECV_OP(h) recv_op_of(h)
#define UNSENT(h) ((void **)(h)->write_queue)   /* waiting to be sent */
#define FINISHED(h) ((void **)(h)->write_completed_queue) /* cb pending */

/* A send request's private state, over uv_udp_send_t's private area (from
 * `queue` to the end): libuv keeps a sockaddr_storage and four inline
 * buffers there; we need an op, so keep two buffers and an address that
 * fits every family UDP sends to (sockaddr_un is the largest). */
typedef struct udp_req_priv {
  void *link[2]; /* on UNSENT or FINISHED */
  bio_op op;
  union {
    struct sockaddr sa;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
  } addr;
  ssize_t status;
  uv_buf_t *bufs; /* NULL when sent from the caller's array at once */
  unsigned int nbufs;
  socklen_t addrlen;
  size_t bytes;
  uv_buf_t bufsml[2];
} udp_req_priv;

_Static_assert(sizeof(udp_req_priv) <= sizeof(uv_udp_send_t) -
                                           offsetof(uv_udp_send_t, queue),
               "uv_udp_send_t private area (queue..bufsml) holds our state");
_Static_assert(offsetof(uv_udp_send_t, queue) % _Alignof(udp_req_priv) == 0,
               "uv_udp_send_t.queue is aligned for our state");
/* sendmsg takes the caller's uv_buf_t array as its iovec array. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) &&
                   offsetof(uv_buf_t, base) ==
                       offsetof(struct iovec, iov_base) &&
                   offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "uv_buf_t has struct iovec's layout on Linux");

static inline bio_op *recv_op_of(uv_udp_t *h) {
  return (bio_op *)(void *)((char *)h + offsetof(uv_udp_t, io_watcher));
}

static inline udp_req_priv *priv(uv_udp_send_t *req) {
  return (udp_req_priv *)(void *)req->queue;
}

static inline uv_udp_send_t *req_of_link(void **q) {
  return bio_container_of((void *)q, uv_udp_send_t, queue);
}

static inline uv_udp_send_t *req_of_op(bio_op *op) {
  udp_req_priv *p = bio_container_of(op, udp_req_priv, op);
  return req_of_link(p->link);
}

static void recv_op_done(bio_loop *core, bio_op *op);
static void req_op_done(bio_loop *core, bio_op *op);
static void read_later(uv_udp_t *h);


/* ---- small helpers ---- */

static int new_socket(int domain) {
  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}


/* The kernel writes only namelen bytes of the sender's address (none from
 * an unnamed socket); libuv hands out a zeroed sockaddr_storage around
 * them, so an unnamed sender reads as AF_UNSPEC, not as stale bytes. */
static inline void clear_name_tail(struct sockaddr_storage *peer,
                                   socklen_t namelen) {
  if (namelen < sizeof(*peer))
    memset((char *)peer + namelen, 0, sizeof(*peer) - namelen);
}


/* libuv on Linux means SO_REUSEADDR by UV_UDP_REUSEADDR (several sockets
 * on one address; for multicast, all of them receive, else the last bound
 * one does), and SO_REUSEPORT by UV_UDP_REUSEPORT (the kernel spreads the
 * datagrams among the sockets). */
static int set_reuse(int fd, unsigned int flags) {
  int on = 1;
  if ((flags & UV_UDP_REUSEADDR) &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
    return -errno;
  if ((flags & UV_UDP_REUSEPORT) &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    return -errno;
  return 0;
}


static int sockaddr_len(const struct sockaddr *sa) {
  switch (sa->sa_family) {
  case AF_INET:
    return sizeof(struct sockaddr_in);
  case AF_INET6:
    return sizeof(struct sockaddr_in6);
  case AF_UNIX:
    return sizeof(struct sockaddr_un);
  default:
    return UV_EINVAL;
  }
}


static int udp_ok(const uv_udp_t *h) {
  return h != NULL && h->type == UV_UDP;
}


static int do_bind(uv_udp_t *h, const struct sockaddr *addr,
                   socklen_t addrlen, unsigned int flags) {
  int fd = h->io_watcher.fd;
  int on = 1;
  int err;

  if (flags & ~(UV_UDP_IPV6ONLY | UV_UDP_REUSEADDR | UV_UDP_REUSEPORT |
                UV_UDP_LINUX_RECVERR))
    return UV_EINVAL;
  if ((flags & UV_UDP_IPV6ONLY) && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  if (fd == -1) {
    fd = new_socket(addr->sa_family);
    if (fd < 0)
      return fd;
    h->io_watcher.fd = fd;
  }
  if (flags & UV_UDP_LINUX_RECVERR) {
    /* Full ICMP error reporting (Linux hides some by default). */
    if (addr->sa_family == AF_INET)
      err = setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
    else
      err = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
    if (err != 0)
      return -errno;
    h->flags |= UDP_F_RECVERR;
  }
  err = set_reuse(fd, flags);
  if (err != 0)
    return err;
  if ((flags & UV_UDP_IPV6ONLY) &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
    return -errno;
  if (bind(fd, addr, addrlen) != 0)
    /* A family mismatch is a bad argument to libuv's callers. */
    return errno == EAFNOSUPPORT ? UV_EINVAL : -errno;
  return 0;
}


/* libuv binds a handle that was never bound to the wildcard address the
 * first time it sends or receives. */
static int bind_if_needed(uv_udp_t *h, int domain, unsigned int flags) {
  struct sockaddr_in6 any6;
  struct sockaddr_in any4;

  if (h->io_watcher.fd != -1)
    return 0;
  if (domain == AF_INET) {
    memset(&any4, 0, sizeof(any4));
    any4.sin_family = AF_INET;
    any4.sin_addr.s_addr = htonl(INADDR_ANY);
    return do_bind(h, (struct sockaddr *)&any4, sizeof(any4), flags);
  }
  if (domain == AF_INET6) {
    memset(&any6, 0, sizeof(any6));
    any6.sin6_family = AF_INET6;
    any6.sin6_addr = in6addr_any;
    return do_bind(h, (struct sockaddr *)&any6, sizeof(any6), flags);
  }
  return UV_EINVAL; /* no implicit socket for other families */
}



/* One datagram, now. Returns bytes sent, UV_EAGAIN when the socket can't
 * take it yet (ENOBUFS too: Linux reports a full device queue so), or the
 * error. */
static ssize_t send_now(int fd, const uv_buf_t *bufs, unsigned int nbufs,
                        const struct sockaddr *addr, socklen_t addrlen) {
  struct msghdr m;
  ssize_t r;

  memset(&m, 0, sizeof(m));
  m.msg_name = (void *)addr;
  m.msg_namelen = addr != NULL ? addrlen : 0;
  m.msg_iov = (struct iovec *)(void *)bufs;
  m.msg_iovlen = nbufs;
  do
    r = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r >= 0)
    return r;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
    return UV_EAGAIN;
  return -errno;
}


/* True while a send callback waits for its deferred turn. */
static int callbacks_owed(uv_udp_t *h) {
  return !bio__q_empty(FINISHED(h)) &&
         priv(req_of_link(bio__q_next(FINISHED(h))))->op.state != BIO_OP_IDLE;
}


static int ops_busy(uv_udp_t *h) {
  void **q;

  if (RECV_OP(h)->state != BIO_OP_IDLE)
    return 1;
  for (q = bio__q_next(FINISHED(h)); q != FINISHED(h); q = bio__q_next(q))
    if (priv(req_of_link(q))->op.state != BIO_OP_IDLE)
      return 1;
  for (q = bio__q_next(UNSENT(h)); q != UNSENT(h); q = bio__q_next(q))
    if (priv(req_of_link(q))->op.state != BIO_OP_IDLE)
      return 1;
  return 0;
}


/* libuv's rule: active while receiving or while sends are unfinished. */
static void maybe_stop(uv_udp_t *h) {
  if (bio__handle_closing((uv_handle_t *)h))
    return;
  if ((h->flags & UDP_F_RECVING) || !bio__q_empty(UNSENT(h)) ||
      !bio__q_empty(FINISHED(h)))
    return;
  bio__handle_stop((uv_handle_t *)h);
}


/* ops_out: see bio__loop_fd_closing. */
static void close_fd(uv_udp_t *h, int ops_out) {
  if (h->io_watcher.fd != -1) {
    bio__loop_fd_closing(bio__core(h->loop), h->io_watcher.fd, ops_out);
    close(h->io_watcher.fd);
    h->io_watcher.fd = -1;
  }
}


/* ---- init, open, bind, connect, names ---- */


UV_EXTERN int uv_udp_init_ex(uv_loop_t *loop, uv_udp_t *handle,
                             unsigned int flags) {
  int domain = (int)(flags & 0xFF);
  int fd = -1;

  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNSPEC)
    return UV_EINVAL;
  if ((flags & ~0xFFu) & ~(unsigned int)UV_UDP_RECVMMSG)
    return UV_EINVAL;
  if (domain != AF_UNSPEC) {
    fd = new_socket(domain);
    if (fd < 0)
      return fd;
  }
  bio__handle_init(loop, (uv_handle_t *)handle, UV_UDP);
  handle->send_queue_size = 0;
  handle->send_queue_count = 0;
  handle->alloc_cb = NULL;
  handle->recv_cb = NULL;
  memset(&handle->io_watcher, 0, sizeof(handle->io_watcher));
  handle->io_watcher.fd = fd;
  bio__q_init(UNSENT(handle));
  bio__q_init(FINISHED(handle));
  if (flags & UV_UDP_RECVMMSG)
    handle->flags |= UDP_F_MMSG;
  return 0;
}


UV_EXTERN int uv_udp_init(uv_loop_t *loop, uv_udp_t *handle) {
  return uv_udp_init_ex(loop, handle, AF_UNSPEC);
}


/* What libuv would have in its watcher table: a handle that receives, or
 * that waits for the socket to take a send. One that is merely bound, or
 * whose sends are done, leaves its descriptor free for uv_*_open. */
int bio__udp_watching(const uv_udp_t *h) {
  return (h->flags & UDP_F_RECVING) != 0 ||
         !bio__q_empty(UNSENT((uv_udp_t *)h));
}


UV_EXTERN int uv_udp_open_ex(uv_udp_t *handle, uv_os_sock_t sock,
                             unsigned int flags) {
  struct sockaddr_storage peer;
  socklen_t len = sizeof(peer);
  int fl;
  int err;

  if (!udp_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (flags & ~(unsigned int)(UV_UDP_REUSEADDR | UV_UDP_REUSEPORT))
    return UV_EINVAL;
  if (sock < 0)
    return UV_EBADF;
  if (handle->io_watcher.fd != -1)
    return UV_EBUSY;
  if (bio__fd_in_use(handle->loop, sock))
    return UV_EEXIST;
  fl = fcntl(sock, F_GETFL);
  if (fl < 0 || fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0)
    return -errno;
  err = set_reuse(sock, flags);
  if (err != 0)
    return err;
  handle->io_watcher.fd = sock;
  if (getpeername(sock, (struct sockaddr *)&peer, &len) == 0 && len > 0)
    handle->flags |= UDP_F_CONNECTED;
  return 0;
}


/* libuv has always set SO_REUSEADDR on a descriptor it is given. */
UV_EXTERN int uv_udp_open(uv_udp_t *handle, uv_os_sock_t sock) {
  return uv_udp_open_ex(handle, sock, UV_UDP_REUSEADDR);
}


UV_EXTERN int uv_udp_bind(uv_udp_t *handle, const struct sockaddr *addr,
                          unsigned int flags) {
  if (!udp_ok(handle) || addr == NULL ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  return do_bind(handle, addr, (socklen_t)sockaddr_len(addr), flags);
}


UV_EXTERN int uv_udp_connect(uv_udp_t *handle, const struct sockaddr *addr) {
  struct sockaddr unspec;
  int err;

  if (!udp_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (addr == NULL) {
    if (!(handle->flags & UDP_F_CONNECTED))
      return UV_ENOTCONN;
    /* Connecting to AF_UNSPEC dissolves the association. */
    memset(&unspec, 0, sizeof(unspec));
    unspec.sa_family = AF_UNSPEC;
    do
      err = connect(handle->io_watcher.fd, &unspec, sizeof(unspec));
    while (err != 0 && errno == EINTR);
    if (err != 0)
      return -errno;
    handle->flags &= ~UDP_F_CONNECTED;
    return 0;
  }
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  if (handle->flags & UDP_F_CONNECTED)
    return UV_EISCONN;
  err = bind_if_needed(handle, addr->sa_family, 0);
  if (err != 0)
    return err;
  do
    err = connect(handle->io_watcher.fd, addr,
                  (socklen_t)sockaddr_len(addr));
  while (err != 0 && errno == EINTR);
  if (err != 0)
    return -errno;
  handle->flags |= UDP_F_CONNECTED;
  return 0;
}


static int get_name(const uv_udp_t *h, int peer, struct sockaddr *name,
                    int *namelen) {
  if (!udp_ok(h) || name == NULL || namelen == NULL || *namelen < 0)
    return UV_EINVAL;
  return bio__sock_name((const uv_handle_t *)h, peer, name, namelen);
}


UV_EXTERN int uv_udp_getpeername(const uv_udp_t *handle,
                                 struct sockaddr *name, int *namelen) {
  return get_name(handle, 1, name, namelen);
}


UV_EXTERN int uv_udp_getsockname(const uv_udp_t *handle,
                                 struct sockaddr *name, int *namelen) {
  return get_name(handle, 0, name, namelen);
}


/* ---- sending ---- */

/* Checks a send's arguments the way libuv does; returns the address
 * length (0 for a connected handle) or an error. */
static int check_send(uv_udp_t *h, const uv_buf_t bufs[], unsigned int nbufs,
                      const struct sockaddr *addr) {
  if (!udp_ok(h) || (bufs == NULL && nbufs > 0) || nbufs == 0)
    return UV_EINVAL;
  if (addr != NULL && (h->flags & UDP_F_CONNECTED))
    return UV_EISCONN;
  if (addr == NULL && !(h->flags & UDP_F_CONNECTED))
    return UV_EDESTADDRREQ;
  if (nbufs > IOV_MAX)
    return UV_EINVAL;
  return addr != NULL ? sockaddr_len(addr) : 0;
}


/* Waits for the socket to take the first unsent request (its op is the
 * readiness wait). */
static void arm_send(uv_udp_t *h) {
  bio_op *op;

  if (bio__q_empty(UNSENT(h)))
    return;
  op = &priv(req_of_link(bio__q_next(UNSENT(h))))->op;
  if (op->state != BIO_OP_IDLE)
    return;
  op->cb = req_op_done;
  op->opcode = BIO_OP_POLL;
  op->fd = h->io_watcher.fd;
  op->u.events = POLLOUT;
  op->flags = 0;
  bio__op_submit(bio__core(h->loop), op);
}


static void free_bufs(udp_req_priv *p) {
  if (p->bufs != NULL && p->bufs != p->bufsml)
    bio__free(p->bufs);
  p->bufs = NULL;
}


/* Sends what the socket takes, in order; each sent request moves to
 * FINISHED with its result. */
static void flush_unsent(uv_udp_t *h) {
  while (!bio__q_empty(UNSENT(h))) {
    void **q = bio__q_next(UNSENT(h));
    udp_req_priv *p = priv(req_of_link(q));
    ssize_t r;

    assert(p->op.state == BIO_OP_IDLE);
    r = send_now(h->io_watcher.fd, p->bufs, p->nbufs,
                 p->addrlen != 0 ? &p->addr.sa : NULL, p->addrlen);
    if (r == UV_EAGAIN)
      break;
    p->status = r;
    free_bufs(p);
    bio__q_remove(q);
    bio__q_insert_tail(FINISHED(h), q);
  }
  arm_send(h);
}


/* Runs the send callbacks of finished requests, oldest first, up to the
 * first whose op is still out (a deferred callback keeps its place). */
static void run_finished(uv_udp_t *h) {
  while (!bio__q_empty(FINISHED(h))) {
    void **q = bio__q_next(FINISHED(h));
    uv_udp_send_t *req = req_of_link(q);
    udp_req_priv *p = priv(req);

    if (p->op.state != BIO_OP_IDLE)
      break;
    bio__q_remove(q);
    free_bufs(p);
    assert(h->send_queue_count > 0);
    h->send_queue_size -= p->bytes;
    h->send_queue_count--;
    bio__req_unregister(h->loop);
    /* The callback sees 0 for a datagram sent, not its size. */
    if (req->cb != NULL)
      req->cb(req, p->status < 0 ? (int)p->status : 0);
  }
  maybe_stop(h);
}


/* After uv_close: once nothing of ours is out, the handle joins the
 * closing list, and its close callback runs in this turn's closing
 * phase, after every send callback. */
static void close_progress(uv_udp_t *h) {
  uv_loop_t *loop = h->loop;

  run_finished(h);
  if (ops_busy(h) || !bio__q_empty(FINISHED(h)))
    return;
  close_fd(h, 0);
  h->flags &= ~UDP_F_CLOSE_WAIT;
  bio__req_unregister(loop); /* the hold bio__udp_close took */
  h->next_closing = loop->closing_handles;
  loop->closing_handles = (uv_handle_t *)h;
}


static void req_op_done(bio_loop *core, bio_op *op) {
  uv_udp_send_t *req = req_of_op(op);
  uv_udp_t *h = req->handle;

  (void)core;
  if (h->flags & UDP_F_CLOSE_WAIT) {
    close_progress(h);
    return;
  }
  /* A readiness wait came back (the request is still unsent), or a
   * deferred callback is due. */
  if (!bio__q_empty(UNSENT(h)) &&
      req == req_of_link(bio__q_next(UNSENT(h))))
    flush_unsent(h);
  run_finished(h);
  if ((h->flags & UDP_F_READ_LATER) && !callbacks_owed(h))
    read_later(h);
}


UV_EXTERN int uv_udp_send(uv_udp_send_t *req, uv_udp_t *handle,
                          const uv_buf_t bufs[], unsigned int nbufs,
                          const struct sockaddr *addr,
                          uv_udp_send_cb send_cb) {
  udp_req_priv *p;
  size_t bytes;
  int addrlen;
  int err;

  if (req == NULL)
    return UV_EINVAL;
  addrlen = check_send(handle, bufs, nbufs, addr);
  if (addrlen < 0)
    return addrlen;
  if (bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (addr != NULL) {
    err = bind_if_needed(handle, addr->sa_family, 0);
    if (err != 0)
      return err;
  }

  p = priv(req);
  bytes = bio__bufs_bytes(bufs, nbufs);
  req->type = UV_UDP_SEND;
  req->handle = handle;
  req->cb = send_cb;
  memset(&p->op, 0, sizeof(p->op));
  p->bufs = NULL;
  p->nbufs = 0;
  p->bytes = bytes;
  p->status = 0;

  /* Nothing queued ahead: try at once. The callback still waits for the
   * loop (a NOP op brings it back at the next poll). */
  if (bio__q_empty(UNSENT(handle))) {
    ssize_t r = send_now(handle->io_watcher.fd, bufs, nbufs, addr,
                         (socklen_t)addrlen);
    if (r != UV_EAGAIN) {
      p->status = r;
      p->op.cb = req_op_done;
      p->op.opcode = BIO_OP_NOP;
      p->op.fd = -1;
      bio__req_register(handle->loop);
      handle->send_queue_size += bytes;
      handle->send_queue_count++;
      bio__q_insert_tail(FINISHED(handle), p->link);
      bio__handle_start((uv_handle_t *)handle);
      bio__op_defer(bio__core(handle->loop), &p->op);
      return 0;
    }
  }

  /* It waits: keep what the caller may reuse once we return. */
  p->bufs = bio__bufs_keep(p->bufsml, BIO_NBUFS(p->bufsml), bufs, nbufs);
  if (p->bufs == NULL)
    return UV_ENOMEM;
  p->nbufs = nbufs;
  p->addrlen = (socklen_t)addrlen;
  if (addr != NULL)
    memcpy(&p->addr, addr, (size_t)addrlen);
  bio__req_register(handle->loop);
  handle->send_queue_size += bytes;
  handle->send_queue_count++;
  bio__q_insert_tail(UNSENT(handle), p->link);
  bio__handle_start((uv_handle_t *)handle);
  arm_send(handle);
  return 0;
}


UV_EXTERN int uv_udp_try_send(uv_udp_t *handle, const uv_buf_t bufs[],
                              unsigned int nbufs,
                              const struct sockaddr *addr) {
  int addrlen;
  int err;

  addrlen = check_send(handle, bufs, nbufs, addr);
  if (addrlen < 0)
    return addrlen;
  if (bio__handle_closing((uv_handle_t *)handle))
    return UV_EBADF;
  /* Never overtake a queued send (libuv counts unreported ones too). */
  if (handle->send_queue_count != 0)
    return UV_EAGAIN;
  if (addr != NULL) {
    err = bind_if_needed(handle, addr->sa_family, 0);
    if (err != 0)
      return err;
  }
  return (int)send_now(handle->io_watcher.fd, bufs, nbufs, addr,
                       (socklen_t)addrlen);
}


/* Datagram i is bufs[i][0..nbufs[i]) to addrs[i] (NULL on a connected
 * handle): sendmmsg(2), a batch at a time. Returns how many went out, or,
 * when the first could not, why. */
UV_EXTERN int uv_udp_try_send2(uv_udp_t *handle, unsigned int count,
                               uv_buf_t *bufs[], unsigned int nbufs[],
                               struct sockaddr *addrs[], unsigned int flags) {
  enum { BATCH = 64 };
  struct mmsghdr msgs[BATCH];
  unsigned int done = 0;
  int err;

  if (!udp_ok(handle) || count < 1 || flags != 0 || bufs == NULL ||
      nbufs == NULL || addrs == NULL)
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)handle))
    return UV_EBADF;
  if (handle->send_queue_count != 0)
    return UV_EAGAIN; /* never overtake a queued send */
  if (addrs[0] != NULL) {
    err = bind_if_needed(handle, addrs[0]->sa_family, 0);
    if (err != 0)
      return err;
  }
  if (handle->io_watcher.fd == -1)
    return UV_EBADF;
  while (done < count) {
    unsigned int n = count - done < BATCH ? count - done : BATCH;
    unsigned int i;
    int r;

    memset(msgs, 0, n * sizeof(msgs[0]));
    for (i = 0; i < n; i++) {
      struct sockaddr *sa = addrs[done + i];
      if ((bufs[done + i] == NULL && nbufs[done + i] > 0) ||
          nbufs[done + i] > IOV_MAX)
        break;
      if (sa != NULL) {
        int len = sockaddr_len(sa);
        if (len < 0)
          break;
        msgs[i].msg_hdr.msg_name = sa;
        msgs[i].msg_hdr.msg_namelen = (socklen_t)len;
      }
      msgs[i].msg_hdr.msg_iov = (struct iovec *)(void *)bufs[done + i];
      msgs[i].msg_hdr.msg_iovlen = nbufs[done + i];
    }
    if (i == 0) /* a bad datagram first */
      return done > 0 ? (int)done : UV_EINVAL;
    do
      r = sendmmsg(handle->io_watcher.fd, msgs, i,
                   MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (done > 0)
        return (int)done;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return UV_EAGAIN;
      return -errno;
    }
    done += (unsigned int)r;
    if ((unsigned int)r < n)
      break; /* the socket took what it could, or a datagram was bad */
  }
  return (int)done;
}


UV_EXTERN size_t uv_udp_get_send_queue_size(const uv_udp_t *handle) {
  return handle == NULL ? 0 : handle->send_queue_size;
}


UV_EXTERN size_t uv_udp_get_send_queue_count(const uv_udp_t *handle) {
  return handle == NULL ? 0 : handle->send_queue_count;
}


/* ---- receiving ---- */

/* Receives through an armed multishot recvmsg into the loop's datagram
 * buffers (io_uring, 6.0): the kernel receives, and the loop copies each
 * datagram into alloc_cb's buffer when it hands it over. Not where the
 * program asked for the error queue (UV_UDP_LINUX_RECVERR: the poll path
 * reads it on POLLERR), nor for UV_UDP_RECVMMSG (its callbacks follow
 * recvmmsg's batches, one alloc_cb per 20 datagrams: one syscall reads
 * them all there). Off unless BIO_UDP_RECV_OP=1: against the poll and
 * recvmsg, libuv's runner measured (2026-12-04, host v1252, 3 runs)
 * ping_udp1 0.92x against 1.04x the system libuv, udp_pummel_100v100
 * 0.81x against 1.34x (0.12x with 64 buffers in the group), and only
 * udp_pummel_1v1 better, 1.39x against 1.03x: a program that sends
 * itself the next datagram from recv_cb finds it at once with recvmsg,
 * a turn later through the ring. */
static int dgram_op_ok(uv_udp_t *h) {
  return bio__settings()->udp_recv_op &&
         !(h->flags & (UDP_F_RECVERR | UDP_F_MMSG)) &&
         bio__loop_supports(bio__core(h->loop), BIO_CAP_RECVMSG_BUFS);
}


static int dgrams_held_on(bio_loop *core, bio_op *op) {
  bio_dgram d;
  return bio__recv_dgram(core, op, &d);
}


/* Datagrams an idle recvmsg op still holds (reading stopped meanwhile):
 * they go to recv_cb before anything newer. */
static int dgrams_held(uv_udp_t *h) {
  bio_op *op = RECV_OP(h);
  return op->opcode == BIO_OP_RECVMSG &&
         dgrams_held_on(bio__core(h->loop), op);
}


static void arm_recv(uv_udp_t *h) {
  bio_op *op = RECV_OP(h);

  if (op->state != BIO_OP_IDLE)
    return; /* still out (a cancel on its way): its callback re-arms */
  if (dgrams_held(h)) {
    /* Their turn first (dgram_op_done), then it is armed again. */
    op->res = 0;
    bio__op_defer(bio__core(h->loop), op);
    return;
  }
  op->cb = recv_op_done;
  op->fd = h->io_watcher.fd;
  op->buf = NULL;
  if (dgram_op_ok(h)) {
    op->opcode = BIO_OP_RECVMSG;
    op->flags = BIO_OPF_MULTI;
    op->u.msg_flags = 0;
  } else {
    op->opcode = BIO_OP_POLL;
    op->u.events = POLLIN;
    op->flags = 0;
  }
  bio__op_submit(bio__core(h->loop), op);
}


static int still_receiving(const uv_udp_t *h) {
  return (h->flags & UDP_F_RECVING) && h->recv_cb != NULL &&
         !bio__handle_closing((const uv_handle_t *)h);
}


/* One recvmmsg into slices of buf. Returns datagrams read, or 0 when the
 * read loop should stop. */
static int read_batch(uv_udp_t *h, uv_buf_t *buf) {
  struct sockaddr_storage peers[MMSG_MAX_SLOTS];
  struct mmsghdr msgs[MMSG_MAX_SLOTS];
  struct iovec iov[MMSG_MAX_SLOTS];
  uv_udp_recv_cb cb;
  size_t slots = buf->len / DGRAM_MAX_BYTES;
  size_t k;
  int n;

  if (slots > MMSG_MAX_SLOTS)
    slots = MMSG_MAX_SLOTS;
  memset(msgs, 0, slots * sizeof(msgs[0]));
  for (k = 0; k < slots; k++) {
    iov[k].iov_base = buf->base + k * DGRAM_MAX_BYTES;
    iov[k].iov_len = DGRAM_MAX_BYTES;
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_hdr.msg_name = &peers[k];
    msgs[k].msg_hdr.msg_namelen = sizeof(peers[k]);
  }
  do
    n = recvmmsg(h->io_watcher.fd, msgs, (unsigned int)slots, MSG_DONTWAIT,
                 NULL);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    int err = (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    h->recv_cb(h, err, buf, NULL, 0);
    return 0;
  }
  /* Each datagram is a slice the user must not free; a last callback
   * hands the whole buffer back - also when a chunk's callback closed the
   * handle (libuv keeps recv_cb until the close finishes), else the buffer
   * leaks. Only uv_udp_recv_stop forfeits it, as in libuv. */
  cb = h->recv_cb;
  for (k = 0; k < (size_t)n && still_receiving(h); k++) {
    uv_buf_t chunk = uv_buf_init(iov[k].iov_base, (unsigned int)iov[k].iov_len);
    unsigned int flags = UV_UDP_MMSG_CHUNK;
    clear_name_tail(&peers[k], msgs[k].msg_hdr.msg_namelen);
    if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC)
      flags |= UV_UDP_PARTIAL;
    h->recv_cb(h, (ssize_t)msgs[k].msg_len, &chunk,
               (const struct sockaddr *)&peers[k], flags);
  }
  if (still_receiving(h))
    h->recv_cb(h, 0, buf, NULL, UV_UDP_MMSG_FREE);
  else if (bio__handle_closing((const uv_handle_t *)h))
    cb(h, 0, buf, NULL, UV_UDP_MMSG_FREE);
  return n;
}


/* A buffer from alloc_cb for the next read; 0 when there is none (the
 * callback stopped or closed the handle, or gave no memory: recv_cb then
 * hears UV_ENOBUFS). */
static int take_buffer(uv_udp_t *h, uv_buf_t *buf) {
  h->alloc_cb((uv_handle_t *)h, DGRAM_MAX_BYTES, buf);
  if (!still_receiving(h))
    return 0;
  if (buf->base == NULL || buf->len == 0) {
    h->recv_cb(h, UV_ENOBUFS, buf, NULL, 0);
    return 0;
  }
  return 1;
}


/* The socket is readable: read until it is drained or the budget is
 * spent, one alloc_cb per datagram (or per recvmmsg batch). */
static void read_datagrams(uv_udp_t *h) {
  int budget = READS_PER_WAKE;

  while (budget > 0 && still_receiving(h)) {
    struct sockaddr_storage peer;
    struct msghdr m;
    uv_buf_t buf = uv_buf_init(NULL, 0);
    ssize_t r;

    if (!take_buffer(h, &buf))
      return;
    /* recvmmsg only pays when the buffer holds more than one datagram's
     * worth; a smaller one takes the plain path (libuv would hand it to
     * recvmmsg with no slot at all). */
    if ((h->flags & UDP_F_MMSG) && buf.len >= DGRAM_MAX_BYTES) {
      int n = read_batch(h, &buf);
      if (n == 0)
        return;
      budget -= n;
      continue;
    }

    memset(&m, 0, sizeof(m));
    m.msg_name = &peer;
    m.msg_namelen = sizeof(peer);
    m.msg_iov = (struct iovec *)(void *)&buf;
    m.msg_iovlen = 1;
    do
      r = recvmsg(h->io_watcher.fd, &m, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      /* Nothing (more) to read: give the buffer back with nread 0. */
      int err = (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
      h->recv_cb(h, err, &buf, NULL, 0);
      return;
    }
    clear_name_tail(&peer, m.msg_namelen);
    h->recv_cb(h, r, &buf, (const struct sockaddr *)&peer,
               (m.msg_flags & MSG_TRUNC) ? UV_UDP_PARTIAL : 0);
    budget--;
  }
}


/* POLLERR after the reads: the socket's error queue holds something (with
 * IP_RECVERR, the ICMP errors our sends met). As libuv 1.52 does, each
 * error comes to recv_cb as nread = the error, addr = the host that
 * reported it, flags UV_UDP_LINUX_RECVERR, until a read finds the queue
 * empty (recv_cb with nread 0). Left unread, POLLERR would wake the loop
 * for ever. */
static void read_errqueue(uv_udp_t *h) {
  int budget = READS_PER_WAKE;

  while (budget-- > 0 && still_receiving(h)) {
    struct sockaddr_storage peer;
    char control[256];
    struct cmsghdr *c;
    struct msghdr m;
    uv_buf_t buf = uv_buf_init(NULL, 0);
    ssize_t r;

    if (!take_buffer(h, &buf))
      return;
    memset(&m, 0, sizeof(m));
    memset(&peer, 0, sizeof(peer));
    m.msg_name = &peer;
    m.msg_namelen = sizeof(peer);
    m.msg_iov = (struct iovec *)(void *)&buf;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    do
      r = recvmsg(h->io_watcher.fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      int err = (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
      h->recv_cb(h, err, &buf, NULL, 0);
      return;
    }
    for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
        break;
    if (c != NULL) {
      struct sock_extended_err ee;
      memcpy(&ee, CMSG_DATA(c), sizeof(ee));
      h->recv_cb(h, -(ssize_t)ee.ee_errno, &buf,
                 (const struct sockaddr *)SO_EE_OFFENDER(
                     (struct sock_extended_err *)(void *)CMSG_DATA(c)),
                 UV_UDP_LINUX_RECVERR |
                     ((m.msg_flags & MSG_TRUNC) ? UV_UDP_PARTIAL : 0));
    } else {
      clear_name_tail(&peer, m.msg_namelen);
      h->recv_cb(h, r, &buf, (const struct sockaddr *)&peer,
                 (m.msg_flags & MSG_TRUNC) ? UV_UDP_PARTIAL : 0);
    }
  }
}


/* Hands the datagrams the recvmsg op holds to recv_cb, oldest first, one
 * alloc_cb buffer each, then the op's error if it ended with one. end:
 * the op's result, 1 while armed.
 * Arms it again if it ended and the handle still receives. */
static void hand_over_dgrams(uv_udp_t *h, bio_op *op, int end) {
  bio_loop *core = bio__core(h->loop);
  bio_dgram d;

  while (still_receiving(h) && bio__recv_dgram(core, op, &d)) {
    struct sockaddr_storage peer;
    uv_buf_t buf = uv_buf_init(NULL, 0);
    size_t len;
    unsigned int flags;

    if (!take_buffer(h, &buf))
      break;
    len = d.len < buf.len ? d.len : buf.len;
    memcpy(buf.base, d.data, len);
    memset(&peer, 0, sizeof(peer));
    if (d.addr != NULL)
      memcpy(&peer, d.addr, d.addrlen);
    flags = (d.flags & MSG_TRUNC) || len < d.len ? UV_UDP_PARTIAL : 0;
    bio__recv_consume(core, op, d.chunk);
    h->recv_cb(h, (ssize_t)len, &buf, (const struct sockaddr *)&peer, flags);
  }
  /* Ended with an error a recvmsg would have reported (a refused
   * connected peer's ICMP): recv_cb hears it. Not a cancel, the buffers
   * running out or a kernel without the op: armed again below. No call
   * with nread 0 when none is left, as libuv makes when its recvmsg finds
   * the socket empty: the socket may not be (the program may have sent
   * itself the next datagram), and no buffer was taken to give back. */
  if (still_receiving(h) && end < 0 && end != -ECANCELED &&
      end != -ENOBUFS && end != -EINVAL && !dgrams_held_on(core, op)) {
    uv_buf_t buf = uv_buf_init(NULL, 0);
    if (take_buffer(h, &buf))
      h->recv_cb(h, end, &buf, NULL, 0);
  }
  if (op->state == BIO_OP_IDLE) {
    if (still_receiving(h))
      arm_recv(h);
  } else if (!still_receiving(h)) {
    bio__op_cancel(core, op);
  }
}


/* The recvmsg op fired (its datagrams wait on it) or ended. */
static void dgram_op_done(uv_udp_t *h, bio_op *op) {
  bio_loop *core = bio__core(h->loop);
  int armed = op->state != BIO_OP_IDLE;

  if (h->flags & UDP_F_CLOSE_WAIT) {
    bio__recv_drop(core, op);
    if (!armed)
      close_progress(h);
    return;
  }
  if (!still_receiving(h)) {
    /* Stopped: what came waits on the op for the next recv_start. */
    if (armed)
      bio__op_cancel(core, op);
    return;
  }
  if (callbacks_owed(h)) {
    /* Send callbacks first (libuv's pending phase comes before its
     * poll phase): read_later hands them over. */
    h->flags |= UDP_F_READ_LATER;
    return;
  }
  hand_over_dgrams(h, op, armed ? 1 : op->res);
}


static void recv_op_done(bio_loop *core, bio_op *op) {
  uv_udp_t *h = bio_container_of((void *)op, uv_udp_t, io_watcher);

  (void)core;
  if (op->opcode == BIO_OP_RECVMSG) {
    dgram_op_done(h, op);
    return;
  }
  if (h->flags & UDP_F_CLOSE_WAIT) {
    close_progress(h);
    return;
  }
  if (!still_receiving(h))
    return; /* stopped; a later recv_start armed nothing while we were out */
  if (op->res > 0 && (op->res & POLLERR))
    h->flags |= UDP_F_ERRQUEUE;
  if (op->res != -ECANCELED && callbacks_owed(h)) {
    /* libuv runs send callbacks (its pending phase) before reads (its
     * poll phase); a send callback may close or stop the handle. Read
     * once their deferred turn has come. */
    h->flags |= UDP_F_READ_LATER;
    return;
  }
  if (op->res != -ECANCELED) {
    read_datagrams(h);
    if ((h->flags & UDP_F_ERRQUEUE) && still_receiving(h)) {
      h->flags &= ~UDP_F_ERRQUEUE;
      read_errqueue(h);
    }
  }
  if (still_receiving(h))
    arm_recv(h);
}


static void read_later(uv_udp_t *h) {
  bio_op *op = RECV_OP(h);

  h->flags &= ~UDP_F_READ_LATER;
  if (!still_receiving(h))
    return;
  if (op->opcode == BIO_OP_RECVMSG) {
    hand_over_dgrams(h, op, op->state != BIO_OP_IDLE ? 1 : op->res);
    return;
  }
  read_datagrams(h);
  if ((h->flags & UDP_F_ERRQUEUE) && still_receiving(h)) {
    h->flags &= ~UDP_F_ERRQUEUE;
    read_errqueue(h);
  }
  if (still_receiving(h))
    arm_recv(h);
}


UV_EXTERN int uv_udp_recv_start(uv_udp_t *handle, uv_alloc_cb alloc_cb,
                                uv_udp_recv_cb recv_cb) {
  int err;

  if (!udp_ok(handle) || alloc_cb == NULL || recv_cb == NULL ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (handle->flags & UDP_F_RECVING)
    return UV_EALREADY;
  err = bind_if_needed(handle, AF_INET, 0);
  if (err != 0)
    return err;
  handle->alloc_cb = alloc_cb;
  handle->recv_cb = recv_cb;
  handle->flags |= UDP_F_RECVING;
  bio__handle_start((uv_handle_t *)handle);
  arm_recv(handle);
  return 0;
}


UV_EXTERN int uv_udp_recv_stop(uv_udp_t *handle) {
  if (!udp_ok(handle))
    return UV_EINVAL;
  if (!(handle->flags & UDP_F_RECVING))
    return 0;
  handle->flags &= ~(UDP_F_RECVING | UDP_F_READ_LATER);
  handle->alloc_cb = NULL;
  handle->recv_cb = NULL;
  if (RECV_OP(handle)->state != BIO_OP_IDLE)
    bio__op_cancel(bio__core(handle->loop), RECV_OP(handle));
  maybe_stop(handle);
  return 0;
}


UV_EXTERN int uv_udp_using_recvmmsg(const uv_udp_t *handle) {
  /* recvmmsg is in every kernel we run on (2.6.33+). */
  return udp_ok(handle) && (handle->flags & UDP_F_MMSG) != 0;
}


/* ---- close ---- */

/* Cancels op; 1 when the kernel holds it still (a poll its cancel has yet
 * to reach), so its file too. */
static int cancel_held(bio_loop *core, bio_op *op) {
  int in_kernel = op->state == BIO_OP_INFLIGHT;
  return bio__op_cancel(core, op) != 0 && in_kernel;
}


int bio__udp_close(uv_udp_t *h) {
  bio_loop *core = bio__core(h->loop);
  int in_kernel = 0;
  void **q;

  h->flags &= ~(UDP_F_RECVING | UDP_F_READ_LATER);
  h->alloc_cb = NULL;
  h->recv_cb = NULL;
  if (RECV_OP(h)->state != BIO_OP_IDLE)
    in_kernel |= cancel_held(core, RECV_OP(h));
  else if (RECV_OP(h)->opcode == BIO_OP_RECVMSG)
    bio__recv_drop(core, RECV_OP(h)); /* datagrams left when it stopped */
  /* Unsent requests end with UV_ECANCELED, after those already done. */
  while (!bio__q_empty(UNSENT(h))) {
    udp_req_priv *p;
    q = bio__q_next(UNSENT(h));
    p = priv(req_of_link(q));
    if (p->op.state != BIO_OP_IDLE)
      in_kernel |= cancel_held(core, &p->op);
    p->status = UV_ECANCELED;
    bio__q_remove(q);
    bio__q_insert_tail(FINISHED(h), q);
  }
  bio__handle_stop((uv_handle_t *)h);
  /* libuv closes the socket here, and a program may bind its port again
   * at once. On io_uring a poll in the kernel holds the socket's file
   * until its cancel lands: the cancels go to the kernel and complete
   * now (one io_uring_enter, only when an op was there). Then no op of
   * ours names the fd in the kernel or in a queue, and it may close
   * while their callbacks wait for their turn. */
  close_fd(h, in_kernel);
  if (!ops_busy(h) && bio__q_empty(FINISHED(h)))
    return 0;
  /* Wait for our ops; hold the loop alive as a closing handle would. */
  h->flags |= UDP_F_CLOSE_WAIT;
  bio__req_register(h->loop);
  if (!ops_busy(h)) {
    /* Callbacks are owed but nothing will come back to run them: take a
     * turn of the loop with the idle recv op. */
    bio_op *op = RECV_OP(h);
    op->cb = recv_op_done;
    op->opcode = BIO_OP_NOP;
    op->fd = -1;
    op->flags = 0;
    bio__op_defer(core, op);
  }
  return 1;
}


/* ---- socket options ---- */

/* The IP level to use: the socket's own family (libuv goes by the family
 * it was bound to, which is the same for a socket it bound). */
static int sock_family(const uv_udp_t *h) {
  int domain = AF_INET;
  socklen_t len = sizeof(domain);
  if (getsockopt(h->io_watcher.fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
    return -errno;
  return domain;
}


/* An option with an IPv4 and an IPv6 name and a 0..255 value. */
static int set_ip_opt(uv_udp_t *h, int opt4, int opt6, int value) {
  int family;
  int r;

  if (!udp_ok(h))
    return UV_EINVAL;
  if (value < 0 || value > 255)
    return UV_EINVAL;
  family = sock_family(h);
  if (family < 0)
    return family;
  if (family == AF_INET6)
    r = setsockopt(h->io_watcher.fd, IPPROTO_IPV6, opt6, &value,
                   sizeof(value));
  else
    r = setsockopt(h->io_watcher.fd, IPPROTO_IP, opt4, &value, sizeof(value));
  return r != 0 ? -errno : 0;
}


UV_EXTERN int uv_udp_set_ttl(uv_udp_t *handle, int ttl) {
  if (ttl < 1 || ttl > 255)
    return UV_EINVAL;
  return set_ip_opt(handle, IP_TTL, IPV6_UNICAST_HOPS, ttl);
}


UV_EXTERN int uv_udp_set_multicast_ttl(uv_udp_t *handle, int ttl) {
  return set_ip_opt(handle, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, ttl);
}


UV_EXTERN int uv_udp_set_multicast_loop(uv_udp_t *handle, int on) {
  return set_ip_opt(handle, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, on);
}


UV_EXTERN int uv_udp_set_broadcast(uv_udp_t *handle, int on) {
  if (!udp_ok(handle))
    return UV_EINVAL;
  if (setsockopt(handle->io_watcher.fd, SOL_SOCKET, SO_BROADCAST, &on,
                 sizeof(on)) != 0)
    return -errno;
  return 0;
}


UV_EXTERN int uv_udp_set_multicast_interface(uv_udp_t *handle,
                                             const char *interface_addr) {
  struct sockaddr_in6 a6;
  struct sockaddr_in a4;
  int family;

  if (!udp_ok(handle))
    return UV_EINVAL;
  if (interface_addr == NULL) {
    /* Back to the default: the family decides which option resets. */
    family = sock_family(handle);
    if (family < 0)
      return family;
    if (family == AF_INET6) {
      unsigned int index = 0;
      if (setsockopt(handle->io_watcher.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
                     &index, sizeof(index)) != 0)
        return -errno;
      return 0;
    }
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (uv_ip4_addr(interface_addr, 0, &a4) != 0) {
    if (uv_ip6_addr(interface_addr, 0, &a6) != 0)
      return UV_EINVAL;
    if (setsockopt(handle->io_watcher.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
                   &a6.sin6_scope_id, sizeof(a6.sin6_scope_id)) != 0)
      return -errno;
    return 0;
  }
  if (setsockopt(handle->io_watcher.fd, IPPROTO_IP, IP_MULTICAST_IF,
                 &a4.sin_addr, sizeof(a4.sin_addr)) != 0)
    return -errno;
  return 0;
}


static int membership_opt(uv_membership m, int join, int leave) {
  if (m == UV_JOIN_GROUP)
    return join;
  if (m == UV_LEAVE_GROUP)
    return leave;
  return -1;
}


UV_EXTERN int uv_udp_set_membership(uv_udp_t *handle,
                                    const char *multicast_addr,
                                    const char *interface_addr,
                                    uv_membership membership) {
  struct sockaddr_in6 group6;
  struct sockaddr_in group4;
  int opt;
  int err;

  if (!udp_ok(handle) || multicast_addr == NULL)
    return UV_EINVAL;
  if (uv_ip4_addr(multicast_addr, 0, &group4) == 0) {
    struct ip_mreq mreq;
    opt = membership_opt(membership, IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP);
    if (opt < 0)
      return UV_EINVAL;
    /* Group members share the port, hence the reuse. */
    err = bind_if_needed(handle, AF_INET, UV_UDP_REUSEADDR);
    if (err != 0)
      return err;
    memset(&mreq, 0, sizeof(mreq));
    mreq.imr_multiaddr = group4.sin_addr;
    mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (interface_addr != NULL) {
      err = uv_inet_pton(AF_INET, interface_addr, &mreq.imr_interface);
      if (err != 0)
        return err;
    }
    if (setsockopt(handle->io_watcher.fd, IPPROTO_IP, opt, &mreq,
                   sizeof(mreq)) != 0)
      return -errno;
    return 0;
  }
  if (uv_ip6_addr(multicast_addr, 0, &group6) == 0) {
    struct ipv6_mreq mreq;
    struct sockaddr_in6 iface;
    opt = membership_opt(membership, IPV6_ADD_MEMBERSHIP,
                         IPV6_DROP_MEMBERSHIP);
    if (opt < 0)
      return UV_EINVAL;
    err = bind_if_needed(handle, AF_INET6, UV_UDP_REUSEADDR);
    if (err != 0)
      return err;
    memset(&mreq, 0, sizeof(mreq));
    mreq.ipv6mr_multiaddr = group6.sin6_addr;
    if (interface_addr != NULL) {
      if (uv_ip6_addr(interface_addr, 0, &iface) != 0)
        return UV_EINVAL;
      mreq.ipv6mr_interface = iface.sin6_scope_id;
    }
    if (setsockopt(handle->io_watcher.fd, IPPROTO_IPV6, opt, &mreq,
                   sizeof(mreq)) != 0)
      return -errno;
    return 0;
  }
  return UV_EINVAL;
}


UV_EXTERN int uv_udp_set_source_membership(uv_udp_t *handle,
                                           const char *multicast_addr,
                                           const char *interface_addr,
                                           const char *source_addr,
                                           uv_membership membership) {
  struct sockaddr_in6 group6, source6, iface6;
  struct sockaddr_in group4, source4;
  int opt;
  int err;

  if (!udp_ok(handle) || multicast_addr == NULL || source_addr == NULL)
    return UV_EINVAL;
  if (uv_ip4_addr(multicast_addr, 0, &group4) == 0) {
    struct ip_mreq_source mreq;
    err = uv_ip4_addr(source_addr, 0, &source4);
    if (err != 0)
      return err;
    opt = membership_opt(membership, IP_ADD_SOURCE_MEMBERSHIP,
                         IP_DROP_SOURCE_MEMBERSHIP);
    if (opt < 0)
      return UV_EINVAL;
    err = bind_if_needed(handle, AF_INET, UV_UDP_REUSEADDR);
    if (err != 0)
      return err;
    memset(&mreq, 0, sizeof(mreq));
    mreq.imr_multiaddr = group4.sin_addr;
    mreq.imr_sourceaddr = source4.sin_addr;
    mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (interface_addr != NULL) {
      err = uv_inet_pton(AF_INET, interface_addr, &mreq.imr_interface);
      if (err != 0)
        return err;
    }
    if (setsockopt(handle->io_watcher.fd, IPPROTO_IP, opt, &mreq,
                   sizeof(mreq)) != 0)
      return -errno;
    return 0;
  }
  err = uv_ip6_addr(multicast_addr, 0, &group6);
  if (err != 0)
    return err;
  err = uv_ip6_addr(source_addr, 0, &source6);
  if (err != 0)
    return err;
  opt = membership_opt(membership, MCAST_JOIN_SOURCE_GROUP,
                       MCAST_LEAVE_SOURCE_GROUP);
  if (opt < 0)
    return UV_EINVAL;
  err = bind_if_needed(handle, AF_INET6, UV_UDP_REUSEADDR);
  if (err != 0)
    return err;
  {
    struct group_source_req gsr;
    memset(&gsr, 0, sizeof(gsr));
    if (interface_addr != NULL) {
      err = uv_ip6_addr(interface_addr, 0, &iface6);
      if (err != 0)
        return err;
      gsr.gsr_interface = iface6.sin6_scope_id;
    }
    memcpy(&gsr.gsr_group, &group6, sizeof(group6));
    memcpy(&gsr.gsr_source, &source6, sizeof(source6));
    if (setsockopt(handle->io_watcher.fd, IPPROTO_IPV6, opt, &gsr,
                   sizeof(gsr)) != 0)
      return -errno;
  }
  return 0;
}
