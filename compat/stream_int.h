/* What the stream files share (stream.c: a stream's state, arming its
 * ops, connect, shutdown, the deferred turn and close; stream_read.c:
 * reading; stream_accept.c: listening and accepting; stream_write.c:
 * writing): the read policy's constants, where the ops live, and the
 * calls between them. Private to them; stream.h is what tcp.c, pipe.c
 * and tty.c see. */
#ifndef BIO_COMPAT_STREAM_INT_H
#define BIO_COMPAT_STREAM_INT_H

#include <stddef.h>
#include <sys/uio.h>

#include "core/settings.h"
#include "stream.h"

/* What alloc_cb is asked for per read: libuv always says 64 KiB. We
 * follow the stream instead, between these bounds: twice the last read,
 * rounded up to a power of two. An echo of small messages then mallocs
 * 4 KiB, not 64 KiB, which glibc would hand back to the kernel (heap trim)
 * at each free and fault in again at the next malloc; a bulk stream that
 * fills its buffers climbs back to 64 KiB within a few reads. The size is
 * a hint in libuv's contract, and a read never gets more than the buffer
 * holds: the rest waits for the next alloc_cb. */
#define READ_SUGGEST_MIN_BYTES 4096u
#define READ_SUGGEST_MAX_BYTES (64u * 1024u)
/* The most buffers one gathered write takes (8 KiB of stack; IOV_MAX is
 * 1024). */
#define WRITE_GATHER_MAX 512u
/* Reads per readiness, so one busy stream can't starve the loop. */
#define READS_PER_WAKE 32
#define READ_WAKES_BEFORE_MULTI 2
#define QUIET_WAKES_BEFORE_ONE_SHOT 2

_Static_assert(offsetof(uv__io_t, fd) >= sizeof(bio_op),
               "uv_stream_t.io_watcher: the read op must fit before the fd");
/* Writes hand their buffer arrays to writev/sendmsg as iovecs. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec),
               "uv_buf_t has struct iovec's layout on Linux");

#define WQ(s) ((void **)(s)->write_queue)           /* not fully written */
#define DONE_Q(s) ((void **)(s)->write_completed_queue) /* callback owed */


static inline bio_op *read_op(uv_stream_t *s) {
  return (bio_op *)(void *)((char *)s + offsetof(uv_stream_t, io_watcher));
}

static inline uv_write_t *wreq_of(void **q) {
  return bio_container_of((void *)q, uv_write_t, queue);
}

static inline int multi_ok(void) { return bio__settings()->stream_multi; }

#define READ_HUP_BITS (POLLRDHUP | POLLHUP | POLLERR)

/* stream.c */
void bio__stream_arm_read(uv_stream_t *s);
int bio__stream_arm_write(uv_stream_t *s);
void bio__stream_close_progress(uv_stream_t *s);
void bio__stream_kick(uv_stream_t *s);
void bio__stream_maybe_stop(uv_stream_t *s);
int bio__stream_stash_waiting(const uv_stream_t *s);
int bio__stream_ok(const uv_stream_t *s);
int bio__stream_watching(const uv_handle_t *h);

/* stream_read.c */
void bio__stream_note_wake(uv_stream_t *s, bio_op *op, int armed);
void bio__stream_read_op_done(bio_loop *core, bio_op *op);
void bio__stream_read_ready(uv_stream_t *s, int revents);
void bio__stream_recv_op_done(uv_stream_t *s, bio_op *op, int armed);
int bio__stream_still_reading(const uv_stream_t *s);

/* stream_accept.c */
void bio__stream_accept_op_done(uv_stream_t *s, bio_op *op, int armed);
int bio__stream_accept_op_ok(uv_stream_t *s);
int bio__stream_accept_ready(uv_stream_t *s);
void bio__stream_listener_turn(uv_stream_t *s);
void bio__stream_socket_shared(uv_stream_t *s);

/* stream_write.c */
void bio__stream_finish_write(uv_stream_t *s, uv_write_t *req, int err);
void bio__stream_flush_writes(uv_stream_t *s);
void bio__stream_flush_writes_arm(uv_stream_t *s, int may_arm);
void bio__stream_free_req_bufs(uv_write_t *req);
size_t bio__stream_req_left(const uv_write_t *req);
void bio__stream_settle_send(uv_stream_t *s);
int bio__stream_writes_deferred(const uv_stream_t *s);

#endif
