/* What the stream kinds (tcp.c, pipe.c, tty.c) share with stream.c: the
 * stream flags, the per-stream state we keep beside the handle, the
 * per-loop state (a member of the loop's bio_uv_loop, loop.h), and the
 * open/close hooks. uv_close reaches streams through bio__stream_close. */
#ifndef BIO_COMPAT_STREAM_H
#define BIO_COMPAT_STREAM_H

#include "internal.h"

/* Our bits in uv_handle_t.flags, above internal.h's. The ones libuv has
 * take libuv's values: a few programs (and libuv's tests) peek at them. */
enum {
  S_LISTENING = 0x40u,
  S_SHUTTING = 0x100u, /* uv_shutdown called */
  S_SHUT = 0x200u,     /* shutdown(2) done */
  S_EOF = 0x800u,
  S_READING = 0x1000u,
  S_BOUND = 0x2000u,
  S_READABLE = 0x4000u,
  S_WRITABLE = 0x8000u,
  S_BLOCKING_WRITES = 0x100000u, /* a tty we could not make nonblocking */
  S_NODELAY = 0x1000000u, /* TCP options to apply once a socket exists */
  S_KEEPALIVE = 0x2000000u,
  S_CLOSE_WAIT = 0x20000000u, /* closed; waiting for our ops to return */
  S_NOSOCK = 0x40000000u,     /* not a socket: writev, not sendmsg */
  S_OWN_FD = 0x80000000u,     /* a descriptor we opened ourselves (tty);
                                 tcp: a socket we made, not yet sent to
                                 another process (uv_write2) */
};

/* The most descriptors one IPC read may queue for uv_accept. */
#define BIO_STREAM_FDS_MAX 64

/* State that does not fit the handle, allocated only when a stream needs
 * it (so an idle accepted connection costs no more than its uv_tcp_t): a
 * second op for write readiness and connect, the descriptors received
 * over an IPC pipe, TCP keepalive's schedule. uv_stream_t.queued_fds points
 * here (NULL until needed); freed before the close callback. */
typedef struct bio_stream_ext {
  bio_op wop; /* POLLOUT: connect completion, then write readiness */
  uv_stream_t *owner;
  /* TCP keepalive as asked for: idle time, probe interval (seconds),
   * probes. */
  unsigned int keepalive_delay_s, keepalive_intvl_s, keepalive_cnt;
  int nfds;
  /* An IPC pipe: BIO_STREAM_FDS_MAX slots, allocated at the first one. A
   * TCP listener with an armed accept op (io_uring): the connections it
   * accepted that wait for their connection callback, fds_cap slots. */
  int *fds;
  int fds_cap;
  bio_fd_sink sink; /* the armed accept op's (stream.c: accepted_take) */
  /* Bytes an armed recv op took from the socket that the stream could
   * not hand to read_cb when they came (it stopped reading, alloc_cb
   * gave no buffer): read_cb gets them, in order, before anything else.
   * stash_end: how the recv ended after them (UV_EOF, an error), not yet
   * reported; 0: it did not. */
  char *stash;
  size_t stash_off, stash_len, stash_cap;
  int stash_end;
} bio_stream_ext;

/* What every stream keeps in its handle, in uv_handle_t.u (32 bytes
 * libuv reserves and leaves unused on Unix). */
typedef struct bio_stream_hot {
  /* OUT_* bits: ops submitted whose callbacks have not run. An op
   * cancelled before the backend took it reads IDLE while its callback
   * is still to come, so its state can't tell. OUT_SOP: the stream is on
   * its loop's deferred list (callbacks owed at the next turn). */
  unsigned int out;
  /* read_ready ran out of budget: the deferred turn reads on. Nonzero:
   * 1, or'ed with the hang-up bits (POLLRDHUP, POLLHUP, POLLERR) the
   * wake-up carried, which no later wake-up repeats. */
  unsigned int read_more;
  /* The next read's suggested_size (0: not read yet, the maximum). */
  unsigned int suggest_bytes;
  /* Read wake-ups in a row that the stream answered (wrote between
   * them), up to the count after which its poll stays armed (arm_read). */
  unsigned int read_wakes;
  uv_stream_t *deferred_next;
  /* The stream wrote since its last read wake-up (uv_write, try_write). */
  unsigned char wrote;
  /* Armed: wake-ups in a row it did not answer (see note_wake). */
  unsigned char quiet_wakes;
  /* A one-shot recv op came back full: reads go through polls (arm_read). */
  unsigned char bulk;
  /* RECV_*: may a pipe read with recv ops (stream.c: recv_op_wanted)? */
  unsigned char recv_kind;
} bio_stream_hot;

_Static_assert(sizeof(bio_stream_hot) <= sizeof(((uv_handle_t *)0)->u),
               "uv_handle_t.u holds a stream's hot state");

/* OUT_SEND: the write queue's first request is out as a BIO_OP_SEND op
 * (io_uring), which lives in the request's reserved words. */
enum { OUT_READ = 1, OUT_WOP = 2, OUT_SOP = 4, OUT_SEND = 8 };
enum { RECV_UNKNOWN = 0, RECV_YES = 1, RECV_NO = 2 };

static inline bio_stream_hot *bio__sh(const uv_stream_t *s) {
  return (bio_stream_hot *)(void *)&((uv_stream_t *)s)->u;
}

static inline bio_stream_ext *bio__sx(const uv_stream_t *s) {
  return (bio_stream_ext *)s->queued_fds;
}

/* The streams' per-loop state. */
typedef struct bio_stream_loop {
  /* stream.c: streams owed deferred callbacks at the next turn, in kick
   * order, run by one op for all of them (a stream has no op of its own
   * for it: see bio_stream_hot). */
  uv_stream_t *deferred_head;
  uv_stream_t **deferred_tailp;
  bio_op deferred_op;
  int deferred_out;
  /* stream_write.c: TCP streams that started writes since the last reap,
   * and the last of them (send_op_ok). */
  unsigned writers;
  const void *last_writer;
} bio_stream_loop;

/* The ext, allocated on first use; NULL on ENOMEM or once closing. */
bio_stream_ext *bio__sx_need(uv_stream_t *s);

/* Initialises the stream part of a TCP, pipe or tty handle. */
int bio__stream_init(uv_loop_t *loop, uv_stream_t *s, uv_handle_type type);
/* Adopts fd (nonblocking already) with S_READABLE / S_WRITABLE flags. */
int bio__stream_open(uv_stream_t *s, int fd, unsigned int flags);
/* Same contract as bio__udp_close: 1 when stream.c queues the handle for
 * closing itself later. */
int bio__stream_close(uv_stream_t *s);
/* Starts a connect on a socket whose connect(2) returned err (0 or
 * -EINPROGRESS: wait; another error: reported from the loop). */
void bio__stream_connect(uv_stream_t *s, uv_connect_t *req, int err,
                         uv_connect_cb cb);
int bio__stream_listen(uv_stream_t *s, int backlog, uv_connection_cb cb);
int bio__fd_in_use(uv_loop_t *loop, int fd);
/* Per-kind pieces: listen checks (tcp.c, pipe.c), teardown hooks. */
int bio__tcp_listen(uv_tcp_t *h, int backlog, uv_connection_cb cb);
/* Sets uv_tcp_nodelay/uv_tcp_keepalive asked for before h had a socket on
 * fd, its new one (tcp.c). */
int bio__tcp_apply_opts(uv_tcp_t *h, int fd);
int bio__pipe_listen(uv_pipe_t *h, int backlog, uv_connection_cb cb);
void bio__pipe_close(uv_pipe_t *h); /* unlinks a bound name */
/* uv_poll_t (poll.c): 1 when its op is out and poll.c queues the handle
 * for closing itself once it is back. */
int bio__poll_close(uv_poll_t *h);
int bio__set_nonblock(int fd, int on);

#endif
