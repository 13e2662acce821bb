/* Listening and accepting: the armed accept op (io_uring's multishot
 * accept) or a poll and accept4, the queue of accepted connections that
 * wait for uv_accept, EMFILE's way out, uv_listen and uv_accept. */
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

#include "stream_int.h"
#include "udp.h"

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
int bio__stream_accept_op_ok(uv_stream_t *s) {
  bio_stream_ext *x;
  if (!accept_op_wanted(s))
    return 0;
  x = bio__sx_need(s);
  if (x == NULL)
    return 0;
  x->sink.take = accepted_take;
  return 1;
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
 * while the user leaves it unaccepted, stop bio__stream_watching (uv_accept re-arms).
 * Returns 0 when it stopped on a full descriptor table with connections
 * maybe still waiting (an armed poll would not fire for them again). */
int bio__stream_accept_ready(uv_stream_t *s) {
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
void bio__stream_listener_turn(uv_stream_t *s) {
  bio_stream_ext *x;

  deliver_accepted(s);
  x = bio__sx(s);
  if ((s->flags & S_LISTENING) && !bio__handle_closing((uv_handle_t *)s) &&
      s->accepted_fd == -1 && (x == NULL || x->nfds == 0))
    bio__stream_arm_read(s); /* nothing if still armed */
}


/* The armed accept op fired (its fds are queued) or ended (res < 0). As
 * with libuv's watcher, accepting stops while a connection waits for
 * uv_accept: the op is cancelled (uv_accept arms it again). */
void bio__stream_accept_op_done(uv_stream_t *s, bio_op *op, int armed) {
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
    bio__stream_listener_turn(s);
}


/* s's socket goes to another process: a listener's armed accept gives way
 * to polls (its cancel's end re-arms one). */
void bio__stream_socket_shared(uv_stream_t *s) {
  bio_op *op = read_op(s);
  s->flags &= ~S_OWN_FD;
  if ((s->flags & S_LISTENING) && op->opcode == BIO_OP_ACCEPT &&
      op->state != BIO_OP_IDLE)
    bio__op_cancel(bio__core(s->loop), op);
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
    bio__stream_arm_read(s);
  return 0;
}


UV_EXTERN int uv_listen(uv_stream_t *stream, int backlog,
                        uv_connection_cb cb) {
  if (!bio__stream_ok(stream) || bio__handle_closing((uv_handle_t *)stream))
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

  if (!bio__stream_ok(server) || client == NULL || server == client ||
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
      bio__stream_kick(server);
    else
      bio__stream_arm_read(server);
    return err;
  }
  server->accepted_fd = x != NULL && x->nfds > 0 ? shift_fd(x) : -1;
  if ((server->flags & S_LISTENING) && server->accepted_fd == -1)
    bio__stream_arm_read(server);
  return err;
}
