/* uv_pipe_t: Unix domain stream sockets (and plain pipes through
 * uv_pipe_open) over stream.c, plus uv_pipe() and uv_socketpair(). IPC
 * pipes carry descriptors: write2 sends them, reads queue them for
 * uv_accept. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "stream.h"


static int pipe_ok(const uv_pipe_t *h) {
  return h != NULL && h->type == UV_NAMED_PIPE;
}


UV_EXTERN int uv_pipe_init(uv_loop_t *loop, uv_pipe_t *handle, int ipc) {
  int err;

  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  err = bio__stream_init(loop, (uv_stream_t *)handle, UV_NAMED_PIPE);
  if (err != 0)
    return err;
  handle->ipc = ipc != 0;
  handle->pipe_fname = NULL;
  return 0;
}


UV_EXTERN int uv_pipe_open(uv_pipe_t *handle, uv_file file) {
  unsigned int flags = 0;
  int mode;
  int err;

  if (!pipe_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (file < 0)
    return UV_EBADF;
  if (bio__fd_in_use(handle->loop, file))
    return UV_EEXIST;
  mode = fcntl(file, F_GETFL);
  if (mode < 0)
    return -errno;
  err = bio__set_nonblock(file, 1);
  if (err != 0)
    return err;
  mode &= O_ACCMODE;
  if (mode != O_WRONLY)
    flags |= S_READABLE;
  if (mode != O_RDONLY)
    flags |= S_WRITABLE;
  return bio__stream_open((uv_stream_t *)handle, file, flags);
}


static int new_socket(uv_pipe_t *h) {
  int fd;
  int err;

  if (h->io_watcher.fd != -1)
    return 0;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  err = bio__stream_open((uv_stream_t *)h, fd, 0);
  if (err != 0)
    close(fd);
  return err;
}


/* Fills sun with name[0..namelen) and sets *len: a path, NUL-terminated
 * and cut to fit unless UV_PIPE_NO_TRUNCATE, or (a leading NUL) a Linux
 * abstract name, whose bytes are all significant. namelen 0 leaves the
 * path empty: the kernel then picks an abstract name (autobind). */
static int fill_addr(struct sockaddr_un *sun, socklen_t *len,
                     const char *name, size_t namelen, unsigned int flags) {
  size_t room = sizeof(sun->sun_path);

  if ((flags & ~(unsigned int)UV_PIPE_NO_TRUNCATE) != 0 ||
      (name == NULL && namelen != 0))
    return UV_EINVAL;
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  if (namelen > 0 && name[0] == '\0') {
    if (namelen > room) {
      if (flags & UV_PIPE_NO_TRUNCATE)
        return UV_EINVAL;
      namelen = room;
    }
    memcpy(sun->sun_path, name, namelen);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + namelen);
    return 0;
  }
  if (namelen > 0 && memchr(name, '\0', namelen) != NULL)
    return UV_EINVAL; /* a path can't hold a NUL */
  if (namelen >= room) {
    if (flags & UV_PIPE_NO_TRUNCATE)
      return UV_EINVAL;
    namelen = room - 1;
  }
  if (namelen > 0)
    memcpy(sun->sun_path, name, namelen);
  *len = namelen == 0 ? (socklen_t)offsetof(struct sockaddr_un, sun_path)
                      : (socklen_t)sizeof(*sun);
  return 0;
}


UV_EXTERN int uv_pipe_bind2(uv_pipe_t *handle, const char *name,
                            size_t namelen, unsigned int flags) {
  struct sockaddr_un sun;
  socklen_t len;
  char *copy = NULL;
  int err;

  if (!pipe_ok(handle) || name == NULL ||
      bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (handle->pipe_fname != NULL || (handle->flags & S_BOUND))
    return UV_EINVAL;
  err = fill_addr(&sun, &len, name, namelen, flags);
  if (err != 0)
    return err;
  /* A path is remembered (uv_close unlinks it); an abstract name is not. */
  if (sun.sun_path[0] != '\0') {
    copy = bio__strdup(sun.sun_path);
    if (copy == NULL)
      return UV_ENOMEM;
  }
  err = new_socket(handle);
  if (err != 0) {
    bio__free(copy);
    return err;
  }
  if (bind(handle->io_watcher.fd, (struct sockaddr *)&sun, len) != 0) {
    err = -errno;
    bio__free(copy);
    /* libuv maps a missing directory to "access denied". */
    return err == -ENOENT ? UV_EACCES : err;
  }
  handle->pipe_fname = copy;
  handle->flags |= S_BOUND;
  return 0;
}


UV_EXTERN int uv_pipe_bind(uv_pipe_t *handle, const char *name) {
  if (name == NULL)
    return UV_EINVAL;
  return uv_pipe_bind2(handle, name, strlen(name), 0);
}


/* Any descriptor will do, as in libuv: one from uv_pipe_open that the
 * program bound (or set listening) itself is as good as uv_pipe_bind's;
 * listen(2) says if it is not. */
int bio__pipe_listen(uv_pipe_t *h, int backlog, uv_connection_cb cb) {
  if (h->io_watcher.fd == -1)
    return UV_EINVAL;
  if (h->ipc)
    return UV_EINVAL; /* libuv: an IPC pipe can't listen */
  return bio__stream_listen((uv_stream_t *)h, backlog, cb);
}


UV_EXTERN int uv_pipe_connect2(uv_connect_t *req, uv_pipe_t *handle,
                               const char *name, size_t namelen,
                               unsigned int flags, uv_connect_cb cb) {
  struct sockaddr_un sun;
  socklen_t len;
  int err;
  int r;

  if (req == NULL || !pipe_ok(handle) || name == NULL ||
      bio__handle_closing((uv_handle_t *)handle) ||
      handle->connect_req != NULL)
    return UV_EINVAL;
  err = fill_addr(&sun, &len, name, namelen, flags);
  if (err != 0)
    return err;
  /* Nothing to connect to: reported through the callback, as a refused
   * name would be. */
  if (namelen == 0)
    err = UV_EINVAL;
  if (err == 0 && handle->io_watcher.fd == -1)
    err = new_socket(handle);
  if (err == 0) {
    do
      r = connect(handle->io_watcher.fd, (struct sockaddr *)&sun, len);
    while (r != 0 && errno == EINTR);
    err = r == 0 ? 0 : -errno;
  }
  if (err == 0 || err == -EINPROGRESS)
    handle->flags |= S_READABLE | S_WRITABLE;
  /* Errors, too, reach the callback from the loop. */
  if (err == -EINPROGRESS)
    err = 0;
  bio__stream_connect((uv_stream_t *)handle, req,
                      err == 0 ? -EINPROGRESS : err, cb);
  return 0;
}


UV_EXTERN void uv_pipe_connect(uv_connect_t *req, uv_pipe_t *handle,
                               const char *name, uv_connect_cb cb) {
  /* No way to report bad arguments here: libuv would crash or misbehave. */
  if (name != NULL)
    (void)uv_pipe_connect2(req, handle, name, strlen(name), 0, cb);
}


typedef int (*name_fn)(int, struct sockaddr *, socklen_t *);

static int get_name(const uv_pipe_t *h, name_fn fn, char *buffer,
                    size_t *size) {
  struct sockaddr_un sun;
  socklen_t len = sizeof(sun);
  size_t n;
  int abstract;

  if (!pipe_ok(h) || buffer == NULL || size == NULL)
    return UV_EINVAL;
  if (h->io_watcher.fd == -1)
    return UV_EBADF;
  memset(&sun, 0, sizeof(sun));
  if (fn(h->io_watcher.fd, (struct sockaddr *)&sun, &len) != 0)
    return -errno;
  abstract = len > offsetof(struct sockaddr_un, sun_path) &&
             sun.sun_path[0] == '\0';
  if (len <= offsetof(struct sockaddr_un, sun_path))
    n = 0;
  else if (abstract) /* bytes, not a string */
    n = len - offsetof(struct sockaddr_un, sun_path);
  else
    n = strnlen(sun.sun_path, sizeof(sun.sun_path));
  /* A path needs room for its NUL too; an abstract name's bytes are all
   * there is (libuv 1.46 on), so it may fill the buffer exactly. */
  if (n + (abstract ? 0 : 1) > *size) {
    *size = n + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, sun.sun_path, n);
  if (n < *size)
    buffer[n] = '\0';
  *size = n;
  return 0;
}


UV_EXTERN int uv_pipe_getsockname(const uv_pipe_t *handle, char *buffer,
                                  size_t *size) {
  return get_name(handle, getsockname, buffer, size);
}


UV_EXTERN int uv_pipe_getpeername(const uv_pipe_t *handle, char *buffer,
                                  size_t *size) {
  return get_name(handle, getpeername, buffer, size);
}


UV_EXTERN void uv_pipe_pending_instances(uv_pipe_t *handle, int count) {
  (void)handle;
  (void)count; /* a Windows notion; nothing to do here */
}


UV_EXTERN int uv_pipe_pending_count(uv_pipe_t *handle) {
  if (!pipe_ok(handle) || !handle->ipc ||
      bio__handle_closing((uv_handle_t *)handle))
    return 0;
  if (handle->accepted_fd == -1)
    return 0;
  return 1 + (bio__sx((uv_stream_t *)handle) != NULL
                  ? bio__sx((uv_stream_t *)handle)->nfds
                  : 0);
}


UV_EXTERN uv_handle_type uv_pipe_pending_type(uv_pipe_t *handle) {
  if (!pipe_ok(handle) || !handle->ipc || handle->accepted_fd == -1)
    return UV_UNKNOWN_HANDLE;
  return uv_guess_handle(handle->accepted_fd);
}


UV_EXTERN int uv_pipe_chmod(uv_pipe_t *handle, int flags) {
  struct stat st;
  mode_t want = 0;

  if (!pipe_ok(handle) || handle->io_watcher.fd == -1)
    return UV_EBADF;
  if (flags != UV_READABLE && flags != UV_WRITABLE &&
      flags != (UV_READABLE | UV_WRITABLE))
    return UV_EINVAL;
  if (handle->pipe_fname == NULL)
    return UV_EBADF;
  if (flags & UV_READABLE)
    want |= S_IRUSR | S_IRGRP | S_IROTH;
  if (flags & UV_WRITABLE)
    want |= S_IWUSR | S_IWGRP | S_IWOTH;
  if (stat(handle->pipe_fname, &st) != 0)
    return -errno;
  if ((st.st_mode & want) == want)
    return 0;
  if (chmod(handle->pipe_fname, (st.st_mode | want) & 07777) != 0)
    return -errno;
  return 0;
}


/* Called by uv_close before the stream teardown: a bound name goes. */
void bio__pipe_close(uv_pipe_t *h) {
  if (h->pipe_fname != NULL) {
    unlink(h->pipe_fname);
    bio__free((void *)h->pipe_fname);
    h->pipe_fname = NULL;
  }
}


UV_EXTERN int uv_pipe(uv_file fds[2], int read_flags, int write_flags) {
  int p[2];
  int err;

  if (fds == NULL)
    return UV_EINVAL;
  if (pipe2(p, O_CLOEXEC) != 0)
    return -errno;
  err = bio__set_nonblock(p[0], (read_flags & UV_NONBLOCK_PIPE) != 0);
  if (err == 0)
    err = bio__set_nonblock(p[1], (write_flags & UV_NONBLOCK_PIPE) != 0);
  if (err != 0) {
    close(p[0]);
    close(p[1]);
    return err;
  }
  fds[0] = p[0];
  fds[1] = p[1];
  return 0;
}


UV_EXTERN int uv_socketpair(int type, int protocol,
                            uv_os_sock_t socket_vector[2], int flags0,
                            int flags1) {
  int sv[2];
  int err;

  if (socket_vector == NULL)
    return UV_EINVAL;
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, protocol, sv) != 0)
    return -errno;
  err = bio__set_nonblock(sv[0], (flags0 & UV_NONBLOCK_PIPE) != 0);
  if (err == 0)
    err = bio__set_nonblock(sv[1], (flags1 & UV_NONBLOCK_PIPE) != 0);
  if (err != 0) {
    close(sv[0]);
    close(sv[1]);
    return err;
  }
  socket_vector[0] = sv[0];
  socket_vector[1] = sv[1];
  return 0;
}
