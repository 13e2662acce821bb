/* uv_fs_t requests and the uv_fs_* calls: a request's set-up (paths,
 * buffers), its run (without a callback, the operation body on the
 * caller's thread; with one, an io_uring op where fs_uring.c takes it,
 * else the pool, its callback on the loop thread), cleanup and cancel.
 * The bodies are fs_ops.c's. */
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

#include "fs.h"
#include "fs_req.h"
#include "loop.h"

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


/* mkdtemp and mkstemp write the name they chose into path, so theirs is
 * always the request's own copy, even without a callback. */
static int owns_path(const uv_fs_t *req) {
  return req->cb != NULL || req->fs_type == UV_FS_MKDTEMP ||
         req->fs_type == UV_FS_MKSTEMP;
}


/* A sync request borrows the caller's strings, as libuv's does; an async
 * one copies them (one allocation for both), freed by uv_fs_req_cleanup. */
static int req_paths(uv_fs_t *req, const char *path, const char *new_path) {
  size_t len;
  size_t new_len;
  char *copy;

  if (path == NULL)
    return UV_EINVAL;
  if (!owns_path(req)) {
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
  req->bufs =
      bio__bufs_keep(req->bufsml, BIO_NBUFS(req->bufsml), bufs, nbufs);
  if (req->bufs == NULL) {
    req->nbufs = 0;
    return UV_ENOMEM;
  }
  return 0;
}


static void pool_run(bio_work *w) {
  uv_fs_t *req = bio_container_of((void *)w, uv_fs_t, work_req);
  bio__fs_run_body(req);
}


static void pool_done(bio_loop *core, bio_op *op) {
  uv_fs_t *req = bio_container_of((void *)op, uv_fs_t, reserved);
  /* Nonzero: io_uring answered this request with that errno first. */
  int native_errno = (int)op->u.len;

  (void)core;
  bio__req_unregister(req->loop);
  /* Cancelled before a thread took it: the body never ran. */
  if (op->res == -ECANCELED) {
    if (req->fs_type == UV_FS_READ || req->fs_type == UV_FS_WRITE)
      bio__fs_release_bufs(req);
    req->result = UV_ECANCELED;
  } else if (native_errno != 0 && req->result != -native_errno) {
    /* The syscall disagrees with io_uring: the opcode is what fails here
     * (a filesystem or kernel without it), so stop asking it. The same
     * answer (EINVAL for bad flags, say) was the request's own fault. */
    bio__uv(req->loop)->fs.native &= ~type_bit(req->fs_type);
  }
  bio__fs_stats_done(req);
  req->cb(req);
}


/* Queues req on the pool; native_errno is io_uring's answer when this is
 * a second try (0 otherwise). The request is already registered. */
int bio__fs_pool_start(uv_fs_t *req, int native_errno) {
  bio_op *op = req_op(req);
  bio_work *w = req_work(req);

  memset(op, 0, sizeof(*op));
  op->cb = pool_done;
  op->u.len = (uint32_t)native_errno;
  memset(w, 0, sizeof(*w));
  w->run = pool_run;
  w->loop = bio__core(req->loop);
  w->done = op;
  w->kind = BIO_WORK_FAST_IO;
  return bio__pool_submit(w);
}


/* Runs the request's body now (no callback: returns its result), or
 * starts it as an io_uring op or on the pool (returns 0; the callback
 * reports the result). */
static int req_run(uv_fs_t *req) {
  int err;

  if (req->cb == NULL) {
    bio__fs_run_body(req);
    return (int)req->result;
  }
  if (bio__fs_use_native(req)) {
    if (is_stat_type(req->fs_type))
      bio__uv(req->loop)->fs.stats_out++;
    bio__fs_native_start(req);
    return 0;
  }
  if (is_stat_type(req->fs_type))
    bio__uv(req->loop)->fs.stats_out++;
  bio__req_register(req->loop);
  err = bio__fs_pool_start(req, 0);
  if (err != 0) {
    bio__req_unregister(req->loop);
    bio__fs_stats_done(req);
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


static int start_path_only(uv_loop_t *loop, uv_fs_t *req, uv_fs_type type,
                           const char *path, uv_fs_cb cb) {
  int err = req_init(loop, req, type, cb);
  if (err != 0)
    return err;
  return start_path(req, path, NULL);
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
  /* Only some requests copied their paths (see req_paths). */
  if (req->path != NULL && owns_path(req))
    bio__free((void *)req->path);
  req->path = NULL;
  req->new_path = NULL;
  if (req->bufs != NULL && req->bufs != req->bufsml && req->cb != NULL)
    bio__free(req->bufs);
  req->bufs = NULL;
  req->nbufs = 0;
  switch (req->fs_type) {
  case UV_FS_READDIR:
    /* The names readdir handed out; the uv_dir_t is closedir's to free. */
    if (req->ptr != NULL && req->result > 0) {
      uv_dir_t *dir = req->ptr;
      ssize_t i;
      for (i = 0; i < req->result && dir->dirents != NULL; i++) {
        bio__free((void *)dir->dirents[i].name);
        dir->dirents[i].name = NULL;
      }
    }
    break;
  case UV_FS_OPENDIR:
    break; /* the uv_dir_t lives until uv_fs_closedir */
  case UV_FS_SCANDIR:
  case UV_FS_READLINK:
  case UV_FS_REALPATH:
  case UV_FS_STATFS:
    bio__free(req->ptr);
    break;
  default:
    break; /* stat's ptr points into the request itself */
  }
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
    bio__fs_release_bufs(req);
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


/* A time is seconds, UV_FS_UTIME_NOW (+infinity) or UV_FS_UTIME_OMIT
 * (NaN). -infinity, or a time past 64-bit seconds, has no timespec: libuv
 * would pass garbage to the kernel. */
static int check_time(double t) {
  const double limit = 9.2e18;
  if (isnan(t) || (isinf(t) && t > 0))
    return 0;
  if (!isfinite(t) || t >= limit || t <= -limit)
    return UV_EINVAL;
  return 0;
}

static int check_times(double atime, double mtime) {
  int err = check_time(atime);
  return err != 0 ? err : check_time(mtime);
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


UV_EXTERN int uv_fs_fsync(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                          uv_fs_cb cb) {
  return start_file(loop, req, UV_FS_FSYNC, file, cb);
}


UV_EXTERN int uv_fs_fdatasync(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                              uv_fs_cb cb) {
  return start_file(loop, req, UV_FS_FDATASYNC, file, cb);
}


UV_EXTERN int uv_fs_ftruncate(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                              int64_t offset, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_FTRUNCATE, cb);
  if (err != 0)
    return err;
  req->file = file;
  req->off = (off_t)offset;
  return req_run(req);
}


UV_EXTERN int uv_fs_sendfile(uv_loop_t *loop, uv_fs_t *req, uv_file out_fd,
                             uv_file in_fd, int64_t in_offset, size_t length,
                             uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_SENDFILE, cb);
  if (err != 0)
    return err;
  if (in_offset < 0)
    return UV_EINVAL;
  req->file = out_fd;
  req->flags = in_fd;
  req->off = (off_t)in_offset;
  req->bufsml[0].len = length;
  return req_run(req);
}


UV_EXTERN int uv_fs_access(uv_loop_t *loop, uv_fs_t *req, const char *path,
                           int mode, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_ACCESS, cb);
  if (err != 0)
    return err;
  req->flags = mode;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_chmod(uv_loop_t *loop, uv_fs_t *req, const char *path,
                          int mode, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_CHMOD, cb);
  if (err != 0)
    return err;
  req->mode = (mode_t)mode;
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_fchmod(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                           int mode, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_FCHMOD, cb);
  if (err != 0)
    return err;
  req->file = file;
  req->mode = (mode_t)mode;
  return req_run(req);
}


static int start_chown(uv_loop_t *loop, uv_fs_t *req, uv_fs_type type,
                       const char *path, uv_file file, uv_uid_t uid,
                       uv_gid_t gid, uv_fs_cb cb) {
  int err = req_init(loop, req, type, cb);
  if (err != 0)
    return err;
  req->uid = uid;
  req->gid = gid;
  if (type == UV_FS_FCHOWN) {
    req->file = file;
    return req_run(req);
  }
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_chown(uv_loop_t *loop, uv_fs_t *req, const char *path,
                          uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  return start_chown(loop, req, UV_FS_CHOWN, path, -1, uid, gid, cb);
}


UV_EXTERN int uv_fs_fchown(uv_loop_t *loop, uv_fs_t *req, uv_file file,
                           uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  return start_chown(loop, req, UV_FS_FCHOWN, NULL, file, uid, gid, cb);
}


UV_EXTERN int uv_fs_lchown(uv_loop_t *loop, uv_fs_t *req, const char *path,
                           uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  return start_chown(loop, req, UV_FS_LCHOWN, path, -1, uid, gid, cb);
}


static int start_two_paths(uv_loop_t *loop, uv_fs_t *req, uv_fs_type type,
                           const char *path, const char *new_path, int flags,
                           uv_fs_cb cb) {
  int err = req_init(loop, req, type, cb);
  if (err != 0)
    return err;
  if (new_path == NULL)
    return UV_EINVAL;
  req->flags = flags;
  return start_path(req, path, new_path);
}


UV_EXTERN int uv_fs_link(uv_loop_t *loop, uv_fs_t *req, const char *path,
                         const char *new_path, uv_fs_cb cb) {
  return start_two_paths(loop, req, UV_FS_LINK, path, new_path, 0, cb);
}


UV_EXTERN int uv_fs_symlink(uv_loop_t *loop, uv_fs_t *req, const char *path,
                            const char *new_path, int flags, uv_fs_cb cb) {
  return start_two_paths(loop, req, UV_FS_SYMLINK, path, new_path, flags,
                         cb);
}


UV_EXTERN int uv_fs_copyfile(uv_loop_t *loop, uv_fs_t *req, const char *path,
                             const char *new_path, int flags, uv_fs_cb cb) {
  const int known = UV_FS_COPYFILE_EXCL | UV_FS_COPYFILE_FICLONE |
                    UV_FS_COPYFILE_FICLONE_FORCE;
  int err = req_init(loop, req, UV_FS_COPYFILE, cb);
  if (err != 0)
    return err;
  if (flags & ~known)
    return UV_EINVAL;
  return start_two_paths(loop, req, UV_FS_COPYFILE, path, new_path, flags,
                         cb);
}


UV_EXTERN int uv_fs_readlink(uv_loop_t *loop, uv_fs_t *req, const char *path,
                             uv_fs_cb cb) {
  return start_path_only(loop, req, UV_FS_READLINK, path, cb);
}


UV_EXTERN int uv_fs_realpath(uv_loop_t *loop, uv_fs_t *req, const char *path,
                             uv_fs_cb cb) {
  return start_path_only(loop, req, UV_FS_REALPATH, path, cb);
}


UV_EXTERN int uv_fs_statfs(uv_loop_t *loop, uv_fs_t *req, const char *path,
                           uv_fs_cb cb) {
  return start_path_only(loop, req, UV_FS_STATFS, path, cb);
}


UV_EXTERN int uv_fs_mkdtemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl,
                            uv_fs_cb cb) {
  return start_path_only(loop, req, UV_FS_MKDTEMP, tpl, cb);
}


UV_EXTERN int uv_fs_mkstemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl,
                            uv_fs_cb cb) {
  return start_path_only(loop, req, UV_FS_MKSTEMP, tpl, cb);
}


UV_EXTERN int uv_fs_scandir(uv_loop_t *loop, uv_fs_t *req, const char *path,
                            int flags, uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_SCANDIR, cb);
  if (err != 0)
    return err;
  req->flags = flags; /* unused, as in libuv */
  return start_path(req, path, NULL);
}


UV_EXTERN int uv_fs_scandir_next(uv_fs_t *req, uv_dirent_t *ent) {
  scan_list *list;

  if (req == NULL || ent == NULL)
    return UV_EINVAL;
  if (req->result < 0)
    return (int)req->result;
  list = req->ptr;
  if (list == NULL)
    return UV_EOF; /* empty, cancelled, or already walked */
  if (req->nbufs >= list->count) {
    bio__free(list);
    req->ptr = NULL;
    return UV_EOF;
  }
  *ent = list->ents[req->nbufs++];
  return 0;
}


UV_EXTERN int uv_fs_opendir(uv_loop_t *loop, uv_fs_t *req, const char *path,
                            uv_fs_cb cb) {
  return start_path_only(loop, req, UV_FS_OPENDIR, path, cb);
}


UV_EXTERN int uv_fs_readdir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir,
                            uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_READDIR, cb);
  if (err != 0)
    return err;
  if (dir == NULL || dir->dir == NULL ||
      (dir->dirents == NULL && dir->nentries > 0))
    return UV_EINVAL;
  req->ptr = dir;
  return req_run(req);
}


UV_EXTERN int uv_fs_closedir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir,
                             uv_fs_cb cb) {
  int err = req_init(loop, req, UV_FS_CLOSEDIR, cb);
  if (err != 0)
    return err;
  if (dir == NULL)
    return UV_EINVAL;
  req->ptr = dir;
  return req_run(req);
}
