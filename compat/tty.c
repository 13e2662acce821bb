/* uv_tty_t (a stream over a terminal, with its modes and size), plus the
 * descriptor helpers that go with streams: uv_guess_handle and the socket
 * buffer sizes. The mode a process started with is kept once, for
 * uv_tty_reset_mode (which must be safe from a signal handler). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "stream.h"

/* The terminal whose mode we changed first, and that mode. */
static struct termios orig_termios;
static int orig_termios_fd = -1;
static atomic_flag termios_lock = ATOMIC_FLAG_INIT;


UV_EXTERN uv_handle_type uv_guess_handle(uv_file file) {
  struct stat st;
  int type;
  struct sockaddr_storage ss;
  socklen_t len;

  if (file < 0 || fstat(file, &st) != 0)
    return UV_UNKNOWN_HANDLE;
  if (isatty(file))
    return UV_TTY;
  if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))
    return UV_FILE;
  if (S_ISFIFO(st.st_mode))
    return UV_NAMED_PIPE;
  if (!S_ISSOCK(st.st_mode))
    return UV_UNKNOWN_HANDLE;
  len = sizeof(type);
  if (getsockopt(file, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return UV_UNKNOWN_HANDLE;
  len = sizeof(ss);
  if (getsockname(file, (struct sockaddr *)&ss, &len) != 0)
    return UV_UNKNOWN_HANDLE;
  if (type == SOCK_DGRAM &&
      (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
    return UV_UDP;
  if (type == SOCK_STREAM) {
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
      return UV_TCP;
    if (ss.ss_family == AF_UNIX)
      return UV_NAMED_PIPE;
  }
  return UV_UNKNOWN_HANDLE;
}


static int buffer_size(uv_handle_t *h, int *value, int opt) {
  uv_os_fd_t fd;
  socklen_t len = sizeof(*value);
  int err;

  if (h == NULL || value == NULL)
    return UV_EINVAL;
  if (h->type != UV_TCP && h->type != UV_NAMED_PIPE && h->type != UV_UDP)
    return UV_ENOTSUP;
  err = uv_fileno(h, &fd);
  if (err != 0)
    return err;
  /* 0 asks for the current size; anything else sets it. */
  if (*value == 0)
    err = getsockopt(fd, SOL_SOCKET, opt, value, &len);
  else
    err = setsockopt(fd, SOL_SOCKET, opt, value, len);
  return err != 0 ? -errno : 0;
}


UV_EXTERN int uv_send_buffer_size(uv_handle_t *handle, int *value) {
  return buffer_size(handle, value, SO_SNDBUF);
}


UV_EXTERN int uv_recv_buffer_size(uv_handle_t *handle, int *value) {
  return buffer_size(handle, value, SO_RCVBUF);
}


UV_EXTERN int uv_tty_init(uv_loop_t *loop, uv_tty_t *tty, uv_file fd,
                          int unused) {
  uv_handle_type type;
  unsigned int flags = 0;
  int own = 0;
  int mode;
  int err;

  (void)unused; /* libuv works the direction out from the descriptor */
  if (loop == NULL || tty == NULL || fd < 0)
    return UV_EINVAL;
  type = uv_guess_handle(fd);
  if (type == UV_FILE || type == UV_UNKNOWN_HANDLE)
    return UV_EINVAL;
  mode = fcntl(fd, F_GETFL);
  if (mode < 0)
    return -errno;
  mode &= O_ACCMODE;
  /* A terminal shared with other processes gets its own open file
   * description, so that making it nonblocking affects us alone. */
  if (type == UV_TTY) {
    char path[PATH_MAX];
    int ptn;
    /* Only a pty's slave side (or a real terminal) can be reopened; a
     * master's name would open a fresh master. */
    if (ioctl(fd, TIOCGPTN, &ptn) != 0 &&
        ttyname_r(fd, path, sizeof(path)) == 0) {
      int nfd = open(path, mode | O_NOCTTY | O_CLOEXEC);
      if (nfd >= 0) {
        fd = nfd;
        own = 1;
      }
    }
  }
  /* A terminal we could not reopen stays as it is: nonblocking would
   * change it for every process sharing it, so writes block instead. */
  if (own || type != UV_TTY) {
    err = bio__set_nonblock(fd, 1);
    if (err != 0) {
      if (own)
        close(fd);
      return err;
    }
  }
  err = bio__stream_init(loop, (uv_stream_t *)tty, UV_TTY);
  if (err != 0) {
    if (own)
      close(fd);
    return err;
  }
  if (mode != O_WRONLY)
    flags |= S_READABLE;
  if (mode != O_RDONLY)
    flags |= S_WRITABLE;
  bio__stream_open((uv_stream_t *)tty, fd, flags);
  if (own)
    tty->flags |= S_OWN_FD;
  else if (type == UV_TTY && mode != O_RDONLY)
    tty->flags |= S_BLOCKING_WRITES;
  tty->mode = UV_TTY_MODE_NORMAL;
  return 0;
}


UV_EXTERN int uv_tty_set_mode(uv_tty_t *tty, uv_tty_mode_t mode) {
  struct termios t;
  int fd;

  if (tty == NULL || tty->type != UV_TTY)
    return UV_EINVAL;
  /* One raw mode on Unix: RAW_VT differs from RAW on Windows only. */
  if (mode == UV_TTY_MODE_RAW_VT)
    mode = UV_TTY_MODE_RAW;
  if ((int)mode == tty->mode)
    return 0;
  fd = tty->io_watcher.fd;
  if (fd == -1)
    return UV_EBADF;
  if (tty->mode == UV_TTY_MODE_NORMAL && mode != UV_TTY_MODE_NORMAL) {
    if (tcgetattr(fd, &tty->orig_termios) != 0)
      return -errno;
    while (atomic_flag_test_and_set(&termios_lock))
      ;
    if (orig_termios_fd == -1) {
      orig_termios = tty->orig_termios;
      orig_termios_fd = fd;
    }
    atomic_flag_clear(&termios_lock);
  }
  t = tty->orig_termios;
  switch (mode) {
  case UV_TTY_MODE_NORMAL:
    break;
  case UV_TTY_MODE_RAW:
    t.c_iflag &= ~(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    t.c_oflag |= ONLCR;
    t.c_cflag |= CS8;
    t.c_lflag &= ~(ECHO | ICANON | IEXTEN | ISIG);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    break;
  case UV_TTY_MODE_IO:
    cfmakeraw(&t);
    break;
  default:
    return UV_EINVAL;
  }
  if (tcsetattr(fd, TCSADRAIN, &t) != 0)
    return -errno;
  tty->mode = (int)mode;
  return 0;
}


UV_EXTERN int uv_tty_reset_mode(void) {
  int saved = errno;
  int err = 0;

  /* A signal handler may call this: never wait on the lock. */
  if (atomic_flag_test_and_set(&termios_lock))
    return UV_EBUSY;
  if (orig_termios_fd != -1 &&
      tcsetattr(orig_termios_fd, TCSANOW, &orig_termios) != 0)
    err = -errno;
  atomic_flag_clear(&termios_lock);
  errno = saved;
  return err;
}


UV_EXTERN int uv_tty_get_winsize(uv_tty_t *tty, int *width, int *height) {
  struct winsize ws;
  int r;

  if (tty == NULL || tty->type != UV_TTY || width == NULL || height == NULL)
    return UV_EINVAL;
  do
    r = ioctl(tty->io_watcher.fd, TIOCGWINSZ, &ws);
  while (r != 0 && errno == EINTR);
  if (r != 0)
    return -errno;
  *width = ws.ws_col;
  *height = ws.ws_row;
  return 0;
}
