/* uv_fs_t requests. Each operation is one body function that fills
 * req->result from the request's arguments; a table maps fs_type to its
 * body. Without a callback the body runs on the caller's thread; with one
 * it runs on the blocking pool and the callback runs on the loop thread. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs.h"
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

static inline ssize_t neg_errno(void) {
  return -(ssize_t)errno;
}


/* ---- operation bodies: one per fs_type, each sets req->result ---- */

/* Read and write hand the buffer list back when done: a sync request used
 * the caller's array, an async one owns its copy. */
static void release_bufs(uv_fs_t *req) {
  if (req->cb != NULL && req->bufs != req->bufsml)
    bio__free(req->bufs);
  req->bufs = NULL;
  req->nbufs = 0;
}


static void do_open(uv_fs_t *req) {
  int fd;

  /* libuv opens every file close-on-exec: a child must not inherit it. */
  do
    fd = open(req->path, req->flags | O_CLOEXEC, req->mode);
  while (fd < 0 && errno == EINTR);
  req->result = fd < 0 ? neg_errno() : fd;
}


static void do_close(uv_fs_t *req) {
  /* Linux frees the descriptor even when close reports EINTR; retrying
   * could close a descriptor another thread just opened. */
  if (close(req->file) != 0 && errno != EINTR && errno != EINPROGRESS)
    req->result = neg_errno();
  else
    req->result = 0;
}


static void do_read(uv_fs_t *req) {
  unsigned int n = req->nbufs < IOV_MAX ? req->nbufs : IOV_MAX;
  const struct iovec *iov = (const struct iovec *)req->bufs;
  ssize_t r;

  /* One system call, as libuv makes: a short read is the caller's to see. */
  do {
    if (req->off < 0)
      r = n == 1 ? read(req->file, iov[0].iov_base, iov[0].iov_len)
                 : readv(req->file, iov, (int)n);
    else
      r = preadv(req->file, iov, (int)n, req->off);
  } while (r < 0 && errno == EINTR);
  req->result = r < 0 ? neg_errno() : r;
  release_bufs(req);
}


static void do_write(uv_fs_t *req) {
  const struct iovec *iov = (const struct iovec *)req->bufs;
  unsigned int left = req->nbufs;
  off_t off = req->off;
  ssize_t total = 0;
  ssize_t r = 0;

  /* More buffers than one call takes go in IOV_MAX slices; a slice
   * written short ends the request, as the kernel stopped for a reason. */
  while (left > 0) {
    unsigned int n = left < IOV_MAX ? left : IOV_MAX;
    size_t want = 0;
    unsigned int i;

    for (i = 0; i < n; i++)
      want += iov[i].iov_len;
    do {
      if (off < 0)
        r = writev(req->file, iov, (int)n);
      else
        r = pwritev(req->file, iov, (int)n, off);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      r = neg_errno();
      break;
    }
    total += r;
    if (off >= 0)
      off += r;
    if ((size_t)r < want)
      break;
    iov += n;
    left -= n;
  }
  req->result = (r < 0 && total == 0) ? r : total;
  release_bufs(req);
}


static void do_unlink(uv_fs_t *req) {
  req->result = unlink(req->path) != 0 ? neg_errno() : 0;
}


static void do_mkdir(uv_fs_t *req) {
  req->result = mkdir(req->path, req->mode) != 0 ? neg_errno() : 0;
}


static void do_rmdir(uv_fs_t *req) {
  req->result = rmdir(req->path) != 0 ? neg_errno() : 0;
}


static void do_rename(uv_fs_t *req) {
  req->result = rename(req->path, req->new_path) != 0 ? neg_errno() : 0;
}


static void timespec_to_uv(uv_timespec_t *dst, int64_t sec, uint32_t nsec) {
  dst->tv_sec = (long)sec;
  dst->tv_nsec = (long)nsec;
}


/* statx (Linux 4.11) also gives the birth time; a kernel without it, or a
 * seccomp profile that denies it, gets plain fstatat. */
static int stat_into(uv_stat_t *st, int dirfd, const char *path, int flags) {
#ifdef STATX_BASIC_STATS
  struct statx sx;

  if (statx(dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &sx) == 0) {
    st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    st->st_mode = sx.stx_mode;
    st->st_nlink = sx.stx_nlink;
    st->st_uid = sx.stx_uid;
    st->st_gid = sx.stx_gid;
    st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
    st->st_ino = sx.stx_ino;
    st->st_size = sx.stx_size;
    st->st_blksize = sx.stx_blksize;
    st->st_blocks = sx.stx_blocks;
    st->st_flags = 0;
    st->st_gen = 0;
    timespec_to_uv(&st->st_atim, sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec);
    timespec_to_uv(&st->st_mtim, sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec);
    timespec_to_uv(&st->st_ctim, sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec);
    timespec_to_uv(&st->st_birthtim, sx.stx_btime.tv_sec,
                   sx.stx_btime.tv_nsec);
    return 0;
  }
  if (errno != ENOSYS && errno != EPERM)
    return -errno;
#endif
  {
    struct stat s;

    if (fstatat(dirfd, path, &s, flags) != 0)
      return -errno;
    memset(st, 0, sizeof(*st));
    st->st_dev = s.st_dev;
    st->st_mode = s.st_mode;
    st->st_nlink = s.st_nlink;
    st->st_uid = s.st_uid;
    st->st_gid = s.st_gid;
    st->st_rdev = s.st_rdev;
    st->st_ino = s.st_ino;
    st->st_size = (uint64_t)s.st_size;
    st->st_blksize = (uint64_t)s.st_blksize;
    st->st_blocks = (uint64_t)s.st_blocks;
    timespec_to_uv(&st->st_atim, s.st_atim.tv_sec, s.st_atim.tv_nsec);
    timespec_to_uv(&st->st_mtim, s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
    timespec_to_uv(&st->st_ctim, s.st_ctim.tv_sec, s.st_ctim.tv_nsec);
    /* No birth time without statx: libuv reports the ctime instead. */
    st->st_birthtim = st->st_ctim;
    return 0;
  }
}


static void finish_stat(uv_fs_t *req, int err) {
  req->result = err;
  if (err == 0)
    req->ptr = &req->statbuf;
}


static void do_stat(uv_fs_t *req) {
  finish_stat(req, stat_into(&req->statbuf, AT_FDCWD, req->path, 0));
}


static void do_lstat(uv_fs_t *req) {
  finish_stat(req, stat_into(&req->statbuf, AT_FDCWD, req->path,
                             AT_SYMLINK_NOFOLLOW));
}


static void do_fstat(uv_fs_t *req) {
  finish_stat(req, stat_into(&req->statbuf, req->file, "", AT_EMPTY_PATH));
}


/* Seconds as a double, split so that the nanoseconds are never negative:
 * -0.25 s is -1 s + 750000000 ns, which is how the kernel stores it. */
static struct timespec seconds_to_timespec(double t) {
  struct timespec ts;
  /* Truncation rounds toward zero; step down for negative fractions (and
   * keep libuv.so free of a libm dependency that floor() could bring). */
  int64_t whole = (int64_t)t;

  if ((double)whole > t)
    whole--;
  ts.tv_sec = (time_t)whole;
  ts.tv_nsec = (long)((t - (double)whole) * 1e9);
  if (ts.tv_nsec < 0)
    ts.tv_nsec = 0;
  if (ts.tv_nsec > 999999999)
    ts.tv_nsec = 999999999;
  return ts;
}


static void do_utimes(uv_fs_t *req) {
  struct timespec ts[2];
  int rc;

  ts[0] = seconds_to_timespec(req->atime);
  ts[1] = seconds_to_timespec(req->mtime);
  if (req->fs_type == UV_FS_FUTIME)
    rc = futimens(req->file, ts);
  else
    rc = utimensat(AT_FDCWD, req->path, ts,
                   req->fs_type == UV_FS_LUTIME ? AT_SYMLINK_NOFOLLOW : 0);
  req->result = rc != 0 ? neg_errno() : 0;
}


typedef void (*fs_body)(uv_fs_t *req);

/* Index: uv_fs_type. A NULL entry is an operation not written yet. */
static const fs_body bodies[UV_FS_LUTIME + 1] = {
    [UV_FS_OPEN] = do_open,     [UV_FS_CLOSE] = do_close,
    [UV_FS_READ] = do_read,     [UV_FS_WRITE] = do_write,
    [UV_FS_STAT] = do_stat,     [UV_FS_LSTAT] = do_lstat,
    [UV_FS_FSTAT] = do_fstat,   [UV_FS_UTIME] = do_utimes,
    [UV_FS_FUTIME] = do_utimes, [UV_FS_LUTIME] = do_utimes,
    [UV_FS_UNLINK] = do_unlink, [UV_FS_RMDIR] = do_rmdir,
    [UV_FS_MKDIR] = do_mkdir,   [UV_FS_RENAME] = do_rename,
};


/* ---- request plumbing ---- */

/* libuv's request reset: everything a previous use left is forgotten. */
static int req_init(uv_loop_t *loop, uv_fs_t *req, uv_fs_type type,
                    uv_fs_cb cb) {
  if (req == NULL)
    return UV_EINVAL;
  if (cb != NULL && (loop == NULL || loop->internal_fields == NULL))
    return UV_EINVAL;
  req->type = UV_FS;
  req->fs_type = type;
  req->loop = loop;
  req->cb = cb;
  req->result = 0;
  req->ptr = NULL;
  req->path = NULL;
  req->new_path = NULL;
  req->bufs = NULL;
  req->nbufs = 0;
  return 0;
}


/* A sync request borrows the caller's strings, as libuv's does; an async
 * one copies them (one allocation for both), freed by uv_fs_req_cleanup. */
static int req_paths(uv_fs_t *req, const char *path, const char *new_path) {
  size_t len;
  size_t new_len;
  char *copy;

  if (path == NULL)
    return UV_EINVAL;
  if (req->cb == NULL) {
    req->path = path;
    req->new_path = new_path;
    return 0;
  }
  len = strlen(path) + 1;
  new_len = new_path != NULL ? strlen(new_path) + 1 : 0;
  copy = bio__malloc(len + new_len);
  if (copy == NULL)
    return UV_ENOMEM;
  memcpy(copy, path, len);
  req->path = copy;
  if (new_path != NULL) {
    memcpy(copy + len, new_path, new_len);
    req->new_path = copy + len;
  }
  return 0;
}


static int req_bufs(uv_fs_t *req, const uv_buf_t bufs[], unsigned int nbufs) {
  if (bufs == NULL || nbufs == 0)
    return UV_EINVAL;
  req->nbufs = nbufs;
  if (req->cb == NULL) {
    req->bufs = (uv_buf_t *)bufs; /* used before this call returns */
    return 0;
  }
  /* The caller may reuse its array once the call returns. */
  req->bufs = req->bufsml;
  if (nbufs > sizeof(req->bufsml) / sizeof(req->bufsml[0])) {
    req->bufs = bio__malloc(nbufs * sizeof(*bufs));
    if (req->bufs == NULL) {
      req->nbufs = 0;
      return UV_ENOMEM;
    }
  }
  memcpy(req->bufs, bufs, nbufs * sizeof(*bufs));
  return 0;
}


static void pool_run(bio_work *w) {
  uv_fs_t *req = bio_container_of((void *)w, uv_fs_t, work_req);
  bodies[req->fs_type](req);
}


static void pool_done(bio_loop *core, bio_op *op) {
  uv_fs_t *req = bio_container_of((void *)op, uv_fs_t, reserved);

  (void)core;
  bio__req_unregister(req->loop);
  /* Cancelled before a thread took it: the body never ran. */
  if (op->res == -ECANCELED) {
    if (req->fs_type == UV_FS_READ || req->fs_type == UV_FS_WRITE)
      release_bufs(req);
    req->result = UV_ECANCELED;
  }
  req->cb(req);
}


/* Runs the request's body now (no callback: returns its result) or queues
 * it on the pool (returns 0; the callback reports the result). */
static int req_run(uv_fs_t *req) {
  bio_work *w;
  bio_op *op;
  int err;

  if (req->cb == NULL) {
    bodies[req->fs_type](req);
    return (int)req->result;
  }
  op = req_op(req);
  memset(op, 0, sizeof(*op));
  op->cb = pool_done;
  w = req_work(req);
  memset(w, 0, sizeof(*w));
  w->run = pool_run;
  w->loop = bio__core(req->loop);
  w->done = op;
  w->kind = BIO_WORK_FAST_IO;
  bio__req_register(req->loop);
  err = bio__pool_submit(w);
  if (err != 0) {
    bio__req_unregister(req->loop);
    return err;
  }
  return 0;
}


/* The rest of every path-taking call, once req_init and the arguments
 * are done. On a failure to start, the request holds nothing to clean up. */
static int start_path(uv_fs_t *req, const char *path, const char *new_path) {
  int err = req_paths(req, path, new_path);
  if (err != 0)
    return err;
  err = req_run(req);
  if (err != 0 && req->cb != NULL)
    uv_fs_req_cleanup(req);
  return err;
}


static int start_file(uv_loop_t *loop, uv_fs_t *req, uv_fs_type type,
                      uv_file file, uv_fs_cb cb) {
  int err = req_init(loop, req, type, cb);
  if (err != 0)
    return err;
  req->file = file;
  return req_run(req);
}


/* ---- the ABI ---- */

UV_EXTERN void uv_fs_req_cleanup(uv_fs_t *req) {
  if (req == NULL)
    return;
  /* Only async requests copied their paths (see req_paths). */
  if (req->path != NULL && req->cb != NULL)
    bio__free((void *)req->path);
  req->path = NULL;
  req->new_path = NULL;
  if (req->bufs != NULL && req->bufs != req->bufsml && req->cb != NULL)
    bio__free(req->bufs);
  req->bufs = NULL;
  req->nbufs = 0;
  /* Nothing implemented yet hands out memory through ptr: stat's points
   * into the request itself. */
  req->ptr = NULL;
}


UV_EXTERN int uv_fs_open(uv_loop_t *loop, uv_fs_t *req, const char *path,
                         int flags, int mode, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_OPEN, cb);
  if (err != 0)
    return err;
  req->flags = flags;
  req->mode = (mode_t)mode;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_close(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                          uv_fs_cb cb) {
  return start_file(loop, req, UV_FS_CLOSE, file, cb);
}


static int start_rw(uv_loop_t *loop, uv_fs_t *req, uv_fs_type type,
                    uv_file file, const uv_buf_t bufs[], unsigned int nbufs,
                    int64_t offset, uv_fs_cb cb) {
  int err = req_init(loop, req, type, cb);
  if (err == 0)
    err = req_bufs(req, bufs, nbufs);
  if (err != 0)
    return err;
  req->file = file;
  req->off = (off_t)offset;
  err = req_run(req);
  if (err != 0 && cb != NULL)
    release_bufs(req);
  return err;
}


UV_EXTERN int uv_fs_read(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                         const uv_buf_t bufs[], unsigned int nbufs,
                         int64_t offset, uv_fs_cb cb) {
  return start_rw(loop, req, UV_FS_READ, file, bufs, nbufs, offset, cb);
}


UV_EXTERN int uv_fs_write(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                          const uv_buf_t bufs[], unsigned int nbufs,
                          int64_t offset, uv_fs_cb cb) {
  return start_rw(loop, req, UV_FS_WRITE, file, bufs, nbufs, offset, cb);
}


UV_EXTERN int uv_fs_unlink(uv_loop_t *loop, uv_fs_t *req, const char *path,
                           uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_UNLINK, cb);
  if (err != 0)
    return err;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_mkdir(uv_loop_t *loop, uv_fs_t *req, const char *path,
                          int mode, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_MKDIR, cb);
  if (err != 0)
    return err;
  req->mode = (mode_t)mode;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_rmdir(uv_loop_t *loop, uv_fs_t *req, const char *path,
                          uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_RMDIR, cb);
  if (err != 0)
    return err;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_rename(uv_loop_t *loop, uv_fs_t *req, const char *path,
                           const char *new_path, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_RENAME, cb);
  if (err != 0)
    return err;
  if (new_path == NULL)
    return UV_EINVAL;
  return start_path(req, path, new_path);
}


UV_EXTERN int uv_fs_stat(uv_loop_t *loop, uv_fs_t *req, const char *path,
                         uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_STAT, cb);
  if (err != 0)
    return err;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_lstat(uv_loop_t *loop, uv_fs_t *req, const char *path,
                          uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_LSTAT, cb);
  if (err != 0)
    return err;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_fstat(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                          uv_fs_cb cb) {
  return start_file(loop, req, UV_FS_FSTAT, file, cb);
}


static int check_times(double atime, double mtime) {
  /* A NaN, an infinity or a time past 64-bit seconds has no timespec;
   * libuv would pass garbage to the kernel. */
  const double limit = 9.2e18;
  if (!isfinite(atime) || !isfinite(mtime))
    return UV_EINVAL;
  if (atime >= limit || atime <= -limit || mtime >= limit || mtime <= -limit)
    return UV_EINVAL;
  return 0;
}


UV_EXTERN int uv_fs_utime(uv_loop_t *loop, uv_fs_t *req, const char *path,
                          double atime, double mtime, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_UTIME, cb);
  if (err == 0)
    err = check_times(atime, mtime);
  if (err != 0)
    return err;
  req->atime = atime;
  req->mtime = mtime;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_lutime(uv_loop_t *loop, uv_fs_t *req, const char *path,
                           double atime, double mtime, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_LUTIME, cb);
  if (err == 0)
    err = check_times(atime, mtime);
  if (err != 0)
    return err;
  req->atime = atime;
  req->mtime = mtime;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_futime(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                           double atime, double mtime, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_FUTIME, cb);
  if (err == 0)
    err = check_times(atime, mtime);
  if (err != 0)
    return err;
  req->file = file;
  req->atime = atime;
  req->mtime = mtime;
  return req_run(req);
}


UV_EXTERN uv_fs_type uv_fs_get_type(const uv_fs_t *req) {
  return req == NULL ? UV_FS_UNKNOWN : req->fs_type;
}


UV_EXTERN ssize_t uv_fs_get_result(const uv_fs_t *req) {
  return req == NULL ? UV_EINVAL : req->result;
}


UV_EXTERN int uv_fs_get_system_error(const uv_fs_t *req) {
  /* The positive errno behind a failed result, as libuv reports it. */
  return req == NULL ? 0 : (int)-req->result;
}


UV_EXTERN void *uv_fs_get_ptr(const uv_fs_t *req) {
  return req == NULL ? NULL : req->ptr;
}


UV_EXTERN const char *uv_fs_get_path(const uv_fs_t *req) {
  return req == NULL ? NULL : req->path;
}


UV_EXTERN uv_stat_t *uv_fs_get_statbuf(uv_fs_t *req) {
  return req == NULL ? NULL : &req->statbuf;
}
