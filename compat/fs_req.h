/* What the uv_fs_t files share (fs.c: requests and the uv_fs_* calls;
 * fs_ops.c: the operation bodies; fs_uring.c: requests as io_uring ops):
 * where an async request keeps its pool item and its op, and the calls
 * between the three. Private to them. */
#ifndef BIO_COMPAT_FS_REQ_H
#define BIO_COMPAT_FS_REQ_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "internal.h"
#include "pool/pool.h"

/* readv/writev take uv_buf_t arrays as they are. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) &&
                   offsetof(uv_buf_t, base) ==
                       offsetof(struct iovec, iov_base) &&
                   offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
               "uv_buf_t must have struct iovec's layout");

/* An async request keeps its pool item in work_req (libuv's struct
 * uv__work area) and the op that carries it back to the loop in the
 * request's reserved[6] words, which libuv leaves to the implementation. */
_Static_assert(sizeof(bio_work) <= sizeof(struct uv__work),
               "bio_work must fit uv_fs_t.work_req");
_Static_assert(sizeof(bio_op) <= sizeof(((uv_fs_t *)0)->reserved),
               "bio_op must fit uv_fs_t.reserved");

static inline bio_work *req_work(uv_fs_t *req) {
  return (bio_work *)(void *)&req->work_req;
}

static inline bio_op *req_op(uv_fs_t *req) {
  return (bio_op *)(void *)req->reserved;
}

static inline uint64_t type_bit(uv_fs_type type) {
  return (uint64_t)1 << (unsigned)type;
}

_Static_assert(UV_FS_LUTIME < 64, "bio_fs_loop.native has one bit per uv_fs_type");

static inline int is_stat_type(uv_fs_type t) {
  return t == UV_FS_STAT || t == UV_FS_LSTAT || t == UV_FS_FSTAT;
}

/* uv_fs_scandir's answer, in one allocation that req->ptr owns: the
 * entries, then their names. uv_fs_scandir_next walks it with req->nbufs
 * as the cursor (scandir has no buffers). */
typedef struct scan_list {
  size_t count;
  uv_dirent_t ents[];
} scan_list;


/* fs_ops.c: runs the request's operation body (sets req->result); gives
 * an async read's or write's buffer list back; a struct statx as libuv's
 * uv_stat_t. */
void bio__fs_run_body(uv_fs_t *req);
void bio__fs_release_bufs(uv_fs_t *req);
void bio__fs_statx_to_uv(uv_stat_t *st, const struct statx *sx);

/* fs.c: queues a registered request on the pool; native_errno is
 * io_uring's answer when this is a second try (0 otherwise). */
int bio__fs_pool_start(uv_fs_t *req, int native_errno);

/* fs_uring.c: whether an async request goes to io_uring, and starting it
 * there; an async stat's end (the loop counts those in flight). */
int bio__fs_use_native(uv_fs_t *req);
void bio__fs_native_start(uv_fs_t *req);
void bio__fs_stats_done(uv_fs_t *req);

#endif
