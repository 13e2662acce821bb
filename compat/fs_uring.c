/* uv_fs_t requests that are one io_uring op (open, read, stat, ...):
 * which ones a loop sends there (probed once, dropped when the kernel
 * disagrees with the syscall), and their start and completion; the rest
 * go to the pool (fs.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/settings.h"
#include "fs_req.h"
#include "loop.h"

/* The io_uring op of each fs_type that has one. Close and write are left
 * out on purpose: io_uring may drop its file reference after the CQE, so
 * a program that writes an executable, closes it and runs it at once
 * could get ETXTBSY (libuv #4059). close(2) on the pool has released the
 * file by the time the callback runs; so has a write(2) there, where an
 * io_uring write that the kernel finished on one of its workers may still
 * hold the file for a moment after we see its completion (on Linux 6.18
 * test_fs's exec test got ETXTBSY in 2 to 5 runs of 10 with native
 * writes). The native write path below stays for BIO_URING_FS_WRITE=1. */
static int native_writes(void) { return bio__settings()->uring_fs_write; }


static int native_opcode(uv_fs_type type) {
  switch (type) {
  case UV_FS_OPEN:
    return BIO_OP_OPENAT;
  case UV_FS_READ:
    return BIO_OP_READV;
  case UV_FS_WRITE:
    return native_writes() ? BIO_OP_WRITEV : -1;
#ifdef STATX_BASIC_STATS /* native_done reads a struct statx */
  case UV_FS_STAT:
  case UV_FS_LSTAT:
  case UV_FS_FSTAT:
    return BIO_OP_STATX;
#endif
  case UV_FS_FSYNC:
  case UV_FS_FDATASYNC:
    return BIO_OP_FSYNC;
  case UV_FS_UNLINK:
  case UV_FS_RMDIR:
    return BIO_OP_UNLINKAT;
  case UV_FS_RENAME:
    return BIO_OP_RENAMEAT;
  case UV_FS_MKDIR:
    return BIO_OP_MKDIRAT;
  case UV_FS_LINK:
    return BIO_OP_LINKAT;
  case UV_FS_SYMLINK:
    return BIO_OP_SYMLINKAT;
  case UV_FS_FTRUNCATE:
    return BIO_OP_FTRUNCATE;
  default:
    return -1;
  }
}


/* Once per loop: which types the backend runs (the io_uring probe), unless
 * BIO_NO_URING_FS is set to anything but 0. */
static void fs_probe(bio_uv_loop *ul) {
  int t;

  ul->fs.probed = 1;
  ul->fs.native = 0;
  if (bio__settings_no_uring_fs())
    return;
  for (t = 0; t <= UV_FS_LUTIME; t++) {
    int op = native_opcode((uv_fs_type)t);
    if (op >= 0 && bio__loop_supports(&ul->core, (unsigned)op))
      ul->fs.native |= type_bit((uv_fs_type)t);
  }
}


/* Async stats in flight on the loop (pool or io_uring), for
 * bio__fs_use_native. */
void bio__fs_stats_done(uv_fs_t *req) {
  if (is_stat_type(req->fs_type) && bio__uv(req->loop)->fs.stats_out > 0)
    bio__uv(req->loop)->fs.stats_out--;
}


int bio__fs_use_native(uv_fs_t *req) {
  bio_uv_loop *ul = bio__uv(req->loop);

  if (!ul->fs.probed)
    fs_probe(ul);
  if (!(ul->fs.native & type_bit(req->fs_type)))
    return 0;
  /* io_uring hands statx to a kernel worker that sleeps between requests:
   * a lone stat costs two cross-CPU wake-ups that way. Our pool's worker
   * and the loop spin for each other briefly, so one stat at a time goes
   * there (libuv's fs_stat at 1 in flight: 13 us -> ~3 us per stat here);
   * with others in flight, io_uring's many workers win. */
  if (is_stat_type(req->fs_type) && ul->fs.stats_out == 0 &&
      !bio__pool_saturated())
    return 0;
  /* io_uring ignores the offset of a pipe, socket or other stream (it
   * reads or writes at no position), where pread and pwrite fail with
   * ESPIPE. Only a file that can seek gets a positioned op; the rest go
   * to the pool, which gives libuv's answer (ESPIPE, or EBADF). */
  if ((req->fs_type == UV_FS_READ || req->fs_type == UV_FS_WRITE) &&
      req->off >= 0 && lseek(req->file, 0, SEEK_CUR) < 0)
    return 0;
  /* io_uring stands in for a pool thread that takes the request at once.
   * When every thread is busy, libuv 1.44 would queue it, and a queued
   * request is one uv_cancel can still cancel (and one that starts after
   * the work queued before it): keep that, queue it too. */
  return !bio__pool_saturated();
}


/* A stat's struct statx (256 bytes) is written by the kernel over
 * statbuf and the argument fields after it, which a stat does not use;
 * native_done copies it out and puts those fields back. */
#ifdef STATX_BASIC_STATS
_Static_assert(offsetof(uv_fs_t, statbuf) + sizeof(struct statx) <=
                   offsetof(uv_fs_t, bufsml),
               "struct statx must fit uv_fs_t from statbuf to bufsml");
_Static_assert(offsetof(uv_fs_t, statbuf) % _Alignof(struct statx) == 0,
               "uv_fs_t.statbuf must be aligned for struct statx");
_Static_assert(offsetof(uv_fs_t, path) < offsetof(uv_fs_t, statbuf) &&
                   offsetof(uv_fs_t, reserved) < offsetof(uv_fs_t, statbuf),
               "the statx overlay must leave path and the op alone");
_Static_assert(BIO_STATX_MASK == (STATX_BASIC_STATS | STATX_BTIME),
               "BIO_STATX_MASK must ask for what uv_stat_t holds");
#endif

static inline void *statx_area(uv_fs_t *req) {
  return (void *)&req->statbuf;
}


static void stat_fields_reset(uv_fs_t *req, int fd) {
  req->new_path = NULL;
  req->file = fd;
  req->flags = 0;
  req->mode = 0;
  req->nbufs = 0;
  req->bufs = NULL;
  req->off = 0;
  req->uid = 0;
  req->gid = 0;
  req->atime = 0;
  req->mtime = 0;
  /* uv_cancel reads the work item's state: make it "not on the pool". */
  memset(req_work(req), 0, sizeof(bio_work));
}


static void native_done(bio_loop *core, bio_op *op);


/* Points op at the next buffers of a read or write: those not yet done
 * (native_done zeroes what a short write consumed), at most IOV_MAX. */
/* Reads and writes this big go to io_uring's workers (BIO_OPF_ASYNC):
 * measured with bench/fs-read, 1 MiB page-cache reads with 16 and 256 in
 * flight ran 0.9x and 0.74x libuv's pool inline on the loop thread. */
#define FS_ASYNC_MIN_BYTES (128u * 1024u)


static void rw_prepare(uv_fs_t *req, bio_op *op) {
  unsigned int i = 0;
  unsigned int n;

  if (req->fs_type == UV_FS_WRITE)
    while (i + 1 < req->nbufs && req->bufs[i].len == 0)
      i++;
  n = req->nbufs - i < IOV_MAX ? req->nbufs - i : IOV_MAX;
  op->fd = req->file;
  /* libuv: any negative offset means the file position; io_uring wants
   * -1 for that (IORING_FEAT_RW_CUR_POS, 5.6). */
  op->off = req->off < 0 ? -1 : (int64_t)req->off;
  if (n == 1 && req->bufs[i].len <= INT32_MAX) {
    op->opcode = req->fs_type == UV_FS_READ ? BIO_OP_READ : BIO_OP_WRITE;
    op->buf = req->bufs[i].base;
    op->u.len = (uint32_t)req->bufs[i].len;
    if (op->u.len >= FS_ASYNC_MIN_BYTES)
      op->flags |= BIO_OPF_ASYNC;
  } else {
    op->opcode = req->fs_type == UV_FS_READ ? BIO_OP_READV : BIO_OP_WRITEV;
    op->buf = &req->bufs[i];
    op->u.len = n;
  }
}


static void native_submit(uv_fs_t *req) {
  bio_op *op = req_op(req);

  memset(op, 0, sizeof(*op));
  op->cb = native_done;
  /* CVE-2024-22017: the backend holds the op back if the process is no
   * longer who created the ring (native_done then uses the pool). */
  op->flags = BIO_OPF_USER_CREDS;
  op->opcode = (uint8_t)native_opcode(req->fs_type);
  op->fd = AT_FDCWD;
  op->buf = (void *)req->path;
  switch (req->fs_type) {
  case UV_FS_OPEN:
    /* libuv opens every file close-on-exec. */
    op->u.sys_flags = (uint32_t)(req->flags | O_CLOEXEC);
    op->mode = req->mode;
    break;
  case UV_FS_READ:
  case UV_FS_WRITE:
    rw_prepare(req, op);
    break;
  case UV_FS_STAT:
  case UV_FS_LSTAT:
  case UV_FS_FSTAT:
    if (req->fs_type == UV_FS_LSTAT)
      op->u.sys_flags = AT_SYMLINK_NOFOLLOW;
    if (req->fs_type == UV_FS_FSTAT) {
      op->fd = req->file;
      op->buf = (void *)"";
      op->u.sys_flags = AT_EMPTY_PATH;
    }
    op->buf2 = statx_area(req);
    break;
  case UV_FS_FSYNC:
  case UV_FS_FDATASYNC:
    op->fd = req->file;
    if (req->fs_type == UV_FS_FDATASYNC)
      op->u.sys_flags = BIO_FSYNC_DATASYNC;
    break;
  case UV_FS_RMDIR:
    op->u.sys_flags = AT_REMOVEDIR;
    break;
  case UV_FS_RENAME:
  case UV_FS_LINK:
  case UV_FS_SYMLINK:
    op->buf2 = (void *)req->new_path;
    break;
  case UV_FS_MKDIR:
    op->mode = req->mode;
    break;
  case UV_FS_FTRUNCATE:
    op->fd = req->file;
    op->off = (int64_t)req->off;
    break;
  default:
    break; /* UNLINK: path and AT_FDCWD are all */
  }
  bio__op_submit(bio__core(req->loop), op);
}


void bio__fs_native_start(uv_fs_t *req) {
  req->result = 0; /* a write counts what it wrote here */
  memset(req_work(req), 0, sizeof(bio_work));
  bio__req_register(req->loop);
  native_submit(req);
}


/* A write that came back short: marks res bytes done in req's own copy
 * of the buffers. Returns 1 when some remain. */
static int write_consume(uv_fs_t *req, size_t done) {
  unsigned int i;
  int left = 0;

  for (i = 0; i < req->nbufs; i++) {
    uv_buf_t *b = &req->bufs[i];
    size_t take = b->len < done ? b->len : done;
    b->base += take;
    b->len -= take;
    done -= take;
    if (b->len != 0)
      left = 1;
  }
  return left;
}


static void native_done(bio_loop *core, bio_op *op) {
  uv_fs_t *req = bio_container_of((void *)op, uv_fs_t, reserved);
  ssize_t res = op->res;
  int is_stat = op->opcode == BIO_OP_STATX;
#ifdef STATX_BASIC_STATS
  struct statx sx;

  if (is_stat) {
    memcpy(&sx, statx_area(req), sizeof(sx));
    stat_fields_reset(req, req->fs_type == UV_FS_FSTAT ? op->fd : -1);
  }
#endif
  (void)core;

  if (op->flags & BIO_OPF_CREDS_STALE) {
    /* Not performed: the process changed its uid, gid or groups since the
     * ring was made (CVE-2024-22017). The pool's threads carry the new
     * ones; this loop's fs requests go there from now on. A write that
     * got partway reports what it wrote. */
    bio__uv(req->loop)->fs.native = 0;
    if (!(req->fs_type == UV_FS_WRITE && req->result > 0)) {
      int err = bio__fs_pool_start(req, 0);
      if (err == 0)
        return;
      res = err;
    } else {
      res = req->result;
    }
  } else if ((res == -EINVAL || res == -EOPNOTSUPP) &&
             !(req->fs_type == UV_FS_WRITE && req->result > 0)) {
    /* The probe said yes, but this file or filesystem may still refuse
     * the opcode: try the syscall on the pool (nothing happened yet,
     * unless a write got partway). */
    int err = bio__fs_pool_start(req, (int)-res);
    if (err == 0)
      return;
    res = err;
  } else if (req->fs_type == UV_FS_WRITE) {
    /* libuv writes everything unless the kernel fails: a short write goes
     * on from where it stopped. An error after progress reports the
     * progress, as the syscall path does. */
    if (res > 0) {
      req->result += res;
      if (req->off >= 0)
        req->off += res;
      if (write_consume(req, (size_t)res)) {
        native_submit(req);
        return;
      }
    }
    res = (res < 0 && req->result == 0) ? res : req->result;
  }
  req->result = res;
  if (req->fs_type == UV_FS_READ || req->fs_type == UV_FS_WRITE)
    bio__fs_release_bufs(req);
#ifdef STATX_BASIC_STATS
  if (is_stat && res == 0) {
    bio__fs_statx_to_uv(&req->statbuf, &sx);
    req->ptr = &req->statbuf;
  }
#endif
  bio__req_unregister(req->loop);
  bio__fs_stats_done(req);
  req->cb(req);
}
