/* uv_tcp_t: sockets, addresses and TCP options over the stream code in
 * stream.c. A socket is made lazily (bind, connect or listen pick the
 * family) unless uv_tcp_init_ex names one, as in libuv. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream.h"


static int tcp_ok(const uv_tcp_t *h) {
  return h != NULL && h->type == UV_TCP;
}


/* SO_KEEPALIVE, and when on: probes after idle seconds without traffic,
 * every intvl seconds, cnt of them, before the peer counts as gone. */
static int set_keepalive(int fd, int on, unsigned int idle,
                         unsigned int intvl, unsigned int cnt) {
  if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
    return -errno;
  if (!on)
    return 0;
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) !=
          0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) != 0)
    return -errno;
  return 0;
}


/* Puts the options asked for before the socket existed on fd, whichever
 * way it arrives (made here, uv_tcp_open, uv_accept), as libuv does when
 * it takes a descriptor. */
int bio__tcp_apply_opts(uv_tcp_t *h, int fd) {
  int on = 1;
  if ((h->flags & S_NODELAY) &&
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
    return -errno;
  if (h->flags & S_KEEPALIVE) {
    bio_stream_ext *x = bio__sx((uv_stream_t *)h);
    if (x == NULL)
      return UV_EINVAL; /* S_KEEPALIVE is set only with x */
    return set_keepalive(fd, 1, x->keepalive_delay_s, x->keepalive_intvl_s,
                         x->keepalive_cnt);
  }
  return 0;
}


/* Makes the socket if there is none yet; flags: what the caller's use
 * makes it (a connecting socket is readable and writable, a bound or
 * listening one neither). */
static int new_socket(uv_tcp_t *h, int domain, unsigned int flags) {
  int fd;
  int err;

  if (h->io_watcher.fd != -1) {
    h->flags |= flags;
    return 0;
  }
  fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  err = bio__tcp_apply_opts(h, fd);
  if (err == 0)
    err = bio__stream_open((uv_stream_t *)h, fd, flags);
  if (err != 0)
    close(fd);
  else
    h->flags |= S_OWN_FD; /* ours alone, until sent or forked */
  return err;
}


UV_EXTERN int uv_tcp_init_ex(uv_loop_t *loop, uv_tcp_t *handle,
                             unsigned int flags) {
  int domain = (int)(flags & 0xFF);
  int err;

  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNSPEC)
    return UV_EINVAL;
  if (flags & ~0xFFu)
    return UV_EINVAL;
  err = bio__stream_init(loop, (uv_stream_t *)handle, UV_TCP);
  if (err != 0)
    return err;
  if (domain != AF_UNSPEC) {
    err = new_socket(handle, domain, 0);
    if (err != 0) {
      /* Undo the init: the handle was never the caller's to close. */
      bio__q_remove(handle->handle_queue);
      bio__free(handle->queued_fds);
      handle->queued_fds = NULL;
      return err;
    }
  }
  return 0;
}


UV_EXTERN int uv_tcp_init(uv_loop_t *loop, uv_tcp_t *handle) {
  return uv_tcp_init_ex(loop, handle, AF_UNSPEC);
}


UV_EXTERN int uv_tcp_open(uv_tcp_t *handle, uv_os_sock_t sock) {
  int err;

  if (!tcp_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (sock < 0)
    return UV_EBADF;
  if (bio__fd_in_use(handle->loop, sock))
    return UV_EEXIST;
  err = bio__set_nonblock(sock, 1);
  if (err == 0)
    err = bio__tcp_apply_opts(handle, sock);
  if (err != 0)
    return err;
  return bio__stream_open((uv_stream_t *)handle, sock,
                          S_READABLE | S_WRITABLE);
}


static socklen_t addr_len(const struct sockaddr *addr) {
  if (addr->sa_family == AF_INET6)
    return sizeof(struct sockaddr_in6);
  return sizeof(struct sockaddr_in);
}


UV_EXTERN int uv_tcp_bind(uv_tcp_t *handle, const struct sockaddr *addr,
                          unsigned int flags) {
  int on = 1;
  int err;

  if (!tcp_ok(handle) || addr == NULL ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  if (flags & ~(unsigned int)(UV_TCP_IPV6ONLY | UV_TCP_REUSEPORT))
    return UV_EINVAL;
  if ((flags & UV_TCP_IPV6ONLY) && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  err = new_socket(handle, addr->sa_family, 0);
  if (err != 0)
    return err;
  if (setsockopt(handle->io_watcher.fd, SOL_SOCKET, SO_REUSEADDR, &on,
                 sizeof(on)) != 0)
    return -errno;
  /* Listeners in several threads or processes on one port, the kernel
   * spreading the connections among them. */
  if ((flags & UV_TCP_REUSEPORT) &&
      setsockopt(handle->io_watcher.fd, SOL_SOCKET, SO_REUSEPORT, &on,
                 sizeof(on)) != 0)
    return -errno;
  if (addr->sa_family == AF_INET6) {
    int only = (flags & UV_TCP_IPV6ONLY) != 0;
    if (setsockopt(handle->io_watcher.fd, IPPROTO_IPV6, IPV6_V6ONLY, &only,
                   sizeof(only)) != 0)
      return -errno;
  }
  errno = 0;
  if (bind(handle->io_watcher.fd, addr, addr_len(addr)) != 0) {
    /* libuv reports a taken address at listen or connect time. */
    if (errno == EADDRINUSE)
      handle->delayed_error = UV_EADDRINUSE;
    else
      return errno == EAFNOSUPPORT ? UV_EINVAL : -errno;
  }
  handle->flags |= S_BOUND;
  return 0;
}


int bio__tcp_listen(uv_tcp_t *h, int backlog, uv_connection_cb cb) {
  int err;

  if (h->delayed_error != 0)
    return h->delayed_error;
  err = new_socket(h, AF_INET, 0);
  if (err != 0)
    return err;
  return bio__stream_listen((uv_stream_t *)h, backlog, cb);
}


UV_EXTERN int uv_tcp_connect(uv_connect_t *req, uv_tcp_t *handle,
                             const struct sockaddr *addr,
                             uv_connect_cb cb) {
  int err;
  int r;

  if (req == NULL || !tcp_ok(handle) || addr == NULL ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
    return UV_EINVAL;
  if (handle->connect_req != NULL)
    return UV_EALREADY;
  if (handle->delayed_error != 0) {
    /* A bind that found the address taken: the callback says so. */
    bio__stream_connect((uv_stream_t *)handle, req, handle->delayed_error,
                        cb);
    return 0;
  }
  err = new_socket(handle, addr->sa_family, S_READABLE | S_WRITABLE);
  if (err != 0)
    return err;
  do
    r = connect(handle->io_watcher.fd, addr, addr_len(addr));
  while (r != 0 && errno == EINTR);
  err = r == 0 ? 0 : -errno;
  /* A refused connect is still reported through the callback. */
  if (err != 0 && err != -EINPROGRESS && err != -ECONNREFUSED)
    return err;
  bio__stream_connect((uv_stream_t *)handle, req, err, cb);
  return 0;
}


static int get_name(const uv_tcp_t *h, int peer, struct sockaddr *name,
                    int *namelen) {
  if (!tcp_ok(h) || name == NULL || namelen == NULL || *namelen < 0)
    return UV_EINVAL;
  if (h->delayed_error != 0)
    return h->delayed_error;
  return bio__sock_name((const uv_handle_t *)h, peer, name, namelen);
}


UV_EXTERN int uv_tcp_getsockname(const uv_tcp_t *handle,
                                 struct sockaddr *name, int *namelen) {
  return get_name(handle, 0, name, namelen);
}


UV_EXTERN int uv_tcp_getpeername(const uv_tcp_t *handle,
                                 struct sockaddr *name, int *namelen) {
  return get_name(handle, 1, name, namelen);
}


UV_EXTERN int uv_tcp_nodelay(uv_tcp_t *handle, int enable) {
  if (!tcp_ok(handle))
    return UV_EINVAL;
  if (handle->io_watcher.fd != -1 &&
      setsockopt(handle->io_watcher.fd, IPPROTO_TCP, TCP_NODELAY, &enable,
                 sizeof(enable)) != 0)
    return -errno;
  if (enable)
    handle->flags |= S_NODELAY;
  else
    handle->flags &= ~S_NODELAY;
  return 0;
}


UV_EXTERN int uv_tcp_keepalive_ex(uv_tcp_t *handle, int on,
                                  unsigned int idle, unsigned int intvl,
                                  unsigned int cnt) {
  int fd;

  if (!tcp_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  on = on != 0;
  /* The kernel refuses zeros; libuv (1.49 on) says so before trying. */
  if (on && (idle < 1 || intvl < 1 || cnt < 1))
    return UV_EINVAL;
  fd = handle->io_watcher.fd;
  if (fd != -1) {
    int err = set_keepalive(fd, on, idle, intvl, cnt);
    if (err != 0)
      return err;
  }
  if (on) {
    bio_stream_ext *x = bio__sx_need((uv_stream_t *)handle);
    if (x == NULL)
      return UV_ENOMEM;
    handle->flags |= S_KEEPALIVE;
    x->keepalive_delay_s = idle;
    x->keepalive_intvl_s = intvl;
    x->keepalive_cnt = cnt;
  } else {
    handle->flags &= ~S_KEEPALIVE;
  }
  return 0;
}


/* libuv's schedule after the delay: a probe a second, ten of them (the
 * kernel's default waits 75 s between 9). */
UV_EXTERN int uv_tcp_keepalive(uv_tcp_t *handle, int enable,
                               unsigned int delay) {
  return uv_tcp_keepalive_ex(handle, enable, delay, 1, 10);
}


UV_EXTERN int uv_tcp_simultaneous_accepts(uv_tcp_t *handle, int enable) {
  (void)enable;
  /* Meaningful on Windows only; libuv accepts and ignores it here. */
  return tcp_ok(handle) ? 0 : UV_EINVAL;
}


UV_EXTERN int uv_tcp_close_reset(uv_tcp_t *handle, uv_close_cb close_cb) {
  struct linger l = {1, 0};

  if (!tcp_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  /* A reset after a shutdown makes no sense (libuv refuses it too). */
  if (handle->flags & S_SHUTTING)
    return UV_EINVAL;
  if (handle->io_watcher.fd != -1 &&
      setsockopt(handle->io_watcher.fd, SOL_SOCKET, SO_LINGER, &l,
                 sizeof(l)) != 0)
    return -errno;
  uv_close((uv_handle_t *)handle, close_cb);
  return 0;
}
