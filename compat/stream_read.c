/* Reading a stream: a recv op's chunks or a poll's read(2)s into
 * alloc_cb's buffers, in order, the stash of bytes a stream could not
 * take yet, the end (EOF, errors) as libuv reports it, IPC descriptors,
 * and uv_read_start/stop. */
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

/* ---- reading ---- */

int bio__stream_still_reading(const uv_stream_t *s) {
  return !bio__handle_closing((const uv_handle_t *)s) &&
         (s->flags & S_READING) && s->read_cb != NULL;
}


static void stop_reading(uv_stream_t *s) {
  s->flags &= ~S_READING;
  if (read_op(s)->state != BIO_OP_IDLE)
    bio__op_cancel(bio__core(s->loop), read_op(s));
  bio__stream_maybe_stop(s);
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


/* alloc_cb's buffer for the next read, as libuv asks for it: 1 with a
 * buffer; 0 when the stream stopped reading meanwhile; UV_ENOBUFS when
 * alloc_cb gave none (read_cb has been told so). */
static int take_buffer(uv_stream_t *s, uv_buf_t *buf) {
  *buf = uv_buf_init(NULL, 0);
  s->alloc_cb((uv_handle_t *)s, suggest_bytes(s), buf);
  if (!bio__stream_still_reading(s))
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

  while (done < len && bio__stream_still_reading(s)) {
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


/* What a recv op left in the stash goes to read_cb (bio__stream_read_ready's first
 * step). Returns 1 when the stash is empty and reading goes on, 0 when
 * the caller must stop: reading stopped, alloc_cb had no buffer (then
 * the next turn tries again), or the end was reported. */
static int deliver_stash(uv_stream_t *s) {
  bio_stream_ext *x = bio__sx(s);

  if (x == NULL || !bio__stream_stash_waiting(s))
    return 1;
  if (x->stash_off < x->stash_len)
    x->stash_off += hand_over_bytes(s, x->stash + x->stash_off,
                                    x->stash_len - x->stash_off);
  if (x->stash_off == x->stash_len && x->stash_end != 0 &&
      bio__stream_still_reading(s) && report_end(s, x->stash_end) == 0)
    return 0;
  if (bio__stream_stash_waiting(s)) {
    if (bio__stream_still_reading(s)) {
      bio__sh(s)->read_more = 1;
      bio__stream_kick(s);
    }
    return 0;
  }
  return bio__stream_still_reading(s);
}

void bio__stream_read_ready(uv_stream_t *s, int revents) {
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
  while (bio__stream_still_reading(s)) {
    if (budget-- == 0) {
      /* Out of budget with bytes maybe left: an armed op fires again
       * only when more arrive, so come back next turn ourselves, and
       * remember a hang-up: its wake-up is spent. */
      bio__sh(s)->read_more = 1 | (unsigned int)revents;
      bio__stream_kick(s);
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
      if (bio__stream_still_reading(s)) {
        bio__sh(s)->read_more = 1 | (unsigned int)revents;
        bio__stream_kick(s);
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
void bio__stream_note_wake(uv_stream_t *s, bio_op *op, int armed) {
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

  while (bio__stream_still_reading(s) && bio__recv_chunk(core, op, &data, &len)) {
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
void bio__stream_recv_op_done(uv_stream_t *s, bio_op *op, int armed) {
  bio_loop *core = bio__core(s->loop);
  int end = armed ? 1 : op->res; /* 1: not ended, or nothing to report */
  char *data;
  size_t len;

  if (s->flags & S_CLOSE_WAIT) {
    bio__recv_drop(core, op);
    if (!armed)
      bio__stream_close_progress(s); /* else the cancel's completion comes next */
    return;
  }
  /* Ended with nothing to report: cancelled (the stream stopped, or goes
   * back to polls), the loop's buffers ran out (the bytes still wait in
   * the socket), a kernel that has no multishot recv (which the backend
   * remembers), or the kernel's own stop. Arm again, below. */
  if (end == -ECANCELED || end == -ENOBUFS || end == -EINVAL || end > 0)
    end = 1;
  if (bio__recv_chunk(core, op, &data, &len) && bio__stream_still_reading(s)) {
    bio__stream_note_wake(s, op, armed);
    /* A one-shot recv that filled its buffer: a bulk sender, most
     * likely, whose bytes one read(2) of alloc_cb's size takes better
     * than many buffers of the loop's (bio__stream_arm_read). */
    if (!armed && op->res >= (int)BIO_RECV_BUF_BYTES)
      bio__sh(s)->bulk = 1;
  }
  /* Bytes kept from before go first. */
  if (bio__stream_still_reading(s))
    (void)deliver_stash(s);
  if (!bio__stream_stash_waiting(s))
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
    if ((bio__stream_stash_waiting(s) || !bio__stream_still_reading(s) || report_end(s, code) != 0) &&
        (x = bio__sx_need(s)) != NULL)
      x->stash_end = code;
  }
  if (bio__stream_still_reading(s) && bio__stream_stash_waiting(s)) {
    bio__sh(s)->read_more = 1;
    bio__stream_kick(s);
  }
  if (armed && (!bio__stream_still_reading(s) || end <= 0))
    bio__op_cancel(core, op);
  else if (!armed && bio__stream_still_reading(s) && end == 1)
    bio__stream_arm_read(s);
}


void bio__stream_read_op_done(bio_loop *core, bio_op *op) {
  uv_stream_t *s = bio_container_of((void *)op, uv_stream_t, io_watcher);
  /* A MULTI op that fired and stays armed is still in flight. */
  int armed = op->state != BIO_OP_IDLE;

  (void)core;
  if (!armed)
    bio__sh(s)->out &= ~OUT_READ;
  if (op->opcode == BIO_OP_RECV) {
    bio__stream_recv_op_done(s, op, armed);
    return;
  }
  if (s->flags & S_CLOSE_WAIT) {
    if (!armed)
      bio__stream_close_progress(s); /* else the cancel's completion comes next */
    return;
  }
  if ((s->flags & S_LISTENING) && op->opcode == BIO_OP_ACCEPT) {
    bio__stream_accept_op_done(s, op, armed);
    return;
  }
  if (s->flags & S_LISTENING) {
    int drained = op->res == -ECANCELED || bio__stream_accept_ready(s);
    if (!(s->flags & S_LISTENING) || bio__handle_closing((uv_handle_t *)s))
      return;
    /* Armed: cancelled while a connection waits for uv_accept (which arms
     * it again), or after a full descriptor table (the cancel's callback
     * arms it again, and a new poll sees what still waits, as libuv's
     * level-triggered watcher would). */
    if (armed && (s->accepted_fd != -1 || !drained))
      bio__op_cancel(core, op);
    else if (s->accepted_fd == -1)
      bio__stream_arm_read(s); /* nothing if still armed */
    return;
  }
  if (!bio__stream_still_reading(s)) {
    if (armed)
      bio__op_cancel(core, op); /* stopped meanwhile */
    return;
  }
  /* Reads wait for the connect (libuv's order: the connect callback
   * first); finish_connect arms us again. */
  if (s->connect_req != NULL)
    return;
  if (op->res > 0)
    bio__stream_note_wake(s, op, armed);
  if (op->res != -ECANCELED)
    bio__stream_read_ready(s, op->res > 0 ? op->res : 0);
  if (bio__stream_still_reading(s) && !armed)
    bio__stream_arm_read(s);
}


UV_EXTERN int uv_read_start(uv_stream_t *stream, uv_alloc_cb alloc_cb,
                            uv_read_cb read_cb) {
  if (!bio__stream_ok(stream) || alloc_cb == NULL || read_cb == NULL)
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
    bio__stream_arm_read(stream);
  return 0;
}


UV_EXTERN int uv_read_stop(uv_stream_t *stream) {
  if (!bio__stream_ok(stream))
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
  if (!bio__stream_ok(handle) || handle->io_watcher.fd == -1)
    return UV_EINVAL;
  return bio__set_nonblock(handle->io_watcher.fd, !blocking);
}
