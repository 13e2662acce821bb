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
#include <dirent.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs.h"
#include "internal.h"
#include "core/settings.h"
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
  unsigned int nbufs = req->nbufs;
  unsigned int idx = 0;
  size_t skip = 0; /* bytes of iov[idx] already written */
  off_t off = req->off;
  ssize_t total = 0;
  ssize_t r = 0;

  /* Everything is written unless the kernel fails: a short write (a
   * signal, a full pipe, a disk quota edge) goes on from where it stopped,
   * as libuv's does. The caller's array is never modified, so the rest of
   * a half-written buffer goes out in a call of its own. */
  while (idx < nbufs) {
    do {
      if (skip > 0) {
        const char *base = (const char *)iov[idx].iov_base + skip;
        size_t len = iov[idx].iov_len - skip;
        r = off < 0 ? write(req->file, base, len)
                    : pwrite(req->file, base, len, off);
      } else {
        unsigned int n = nbufs - idx < IOV_MAX ? nbufs - idx : IOV_MAX;
        r = off < 0 ? writev(req->file, iov + idx, (int)n)
                    : pwritev(req->file, iov + idx, (int)n, off);
      }
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      r = neg_errno();
      break;
    }
    if (r == 0)
      break; /* nothing moved: don't spin */
    total += r;
    if (off >= 0)
      off += r;
    /* Step past what went out, and past empty buffers. */
    while (idx < nbufs && (size_t)r >= iov[idx].iov_len - skip) {
      r -= (ssize_t)(iov[idx].iov_len - skip);
      skip = 0;
      idx++;
    }
    skip += (size_t)r;
    r = 0;
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


#ifdef STATX_BASIC_STATS
/* What a statx answer means in libuv's terms (the pool's stat and an
 * io_uring STATX completion share it). */
static void statx_to_uv(uv_stat_t *st, const struct statx *sx) {
  st->st_dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
  st->st_mode = sx->stx_mode;
  st->st_nlink = sx->stx_nlink;
  st->st_uid = sx->stx_uid;
  st->st_gid = sx->stx_gid;
  st->st_rdev = makedev(sx->stx_rdev_major, sx->stx_rdev_minor);
  st->st_ino = sx->stx_ino;
  st->st_size = sx->stx_size;
  st->st_blksize = sx->stx_blksize;
  st->st_blocks = sx->stx_blocks;
  st->st_flags = 0;
  st->st_gen = 0;
  timespec_to_uv(&st->st_atim, sx->stx_atime.tv_sec, sx->stx_atime.tv_nsec);
  timespec_to_uv(&st->st_mtim, sx->stx_mtime.tv_sec, sx->stx_mtime.tv_nsec);
  timespec_to_uv(&st->st_ctim, sx->stx_ctime.tv_sec, sx->stx_ctime.tv_nsec);
  timespec_to_uv(&st->st_birthtim, sx->stx_btime.tv_sec,
                 sx->stx_btime.tv_nsec);
}
#endif


/* statx (Linux 4.11) also gives the birth time; a kernel without it, or a
 * seccomp profile that denies it, gets plain fstatat. */
static int stat_into(uv_stat_t *st, int dirfd, const char *path, int flags) {
#ifdef STATX_BASIC_STATS
  struct statx sx;

  if (statx(dirfd, path, flags, STATX_BASIC_STATS | STATX_BTIME, &sx) == 0) {
    statx_to_uv(st, &sx);
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


/* UV_FS_UTIME_NOW (+infinity) and UV_FS_UTIME_OMIT (NaN) are the
 * kernel's UTIME_NOW and UTIME_OMIT; check_times let nothing else through
 * that has no timespec. */
static struct timespec utime_timespec(double t) {
  struct timespec ts = {0, 0};
  if (isnan(t))
    ts.tv_nsec = UTIME_OMIT;
  else if (isinf(t))
    ts.tv_nsec = UTIME_NOW;
  else
    ts = seconds_to_timespec(t);
  return ts;
}


static void do_utimes(uv_fs_t *req) {
  struct timespec ts[2];
  int rc;

  ts[0] = utime_timespec(req->atime);
  ts[1] = utime_timespec(req->mtime);
  if (req->fs_type == UV_FS_FUTIME)
    rc = futimens(req->file, ts);
  else
    rc = utimensat(AT_FDCWD, req->path, ts,
                   req->fs_type == UV_FS_LUTIME ? AT_SYMLINK_NOFOLLOW : 0);
  req->result = rc != 0 ? neg_errno() : 0;
}


static void do_fsync(uv_fs_t *req) {
  int rc;

  if (req->fs_type == UV_FS_FDATASYNC)
    rc = fdatasync(req->file);
  else
    rc = fsync(req->file);
  req->result = rc != 0 ? neg_errno() : 0;
}


static void do_ftruncate(uv_fs_t *req) {
  req->result = ftruncate(req->file, req->off) != 0 ? neg_errno() : 0;
}


static void do_access(uv_fs_t *req) {
  req->result = access(req->path, req->flags) != 0 ? neg_errno() : 0;
}


static void do_chmod(uv_fs_t *req) {
  int rc;

  if (req->fs_type == UV_FS_FCHMOD)
    rc = fchmod(req->file, req->mode);
  else
    rc = chmod(req->path, req->mode);
  req->result = rc != 0 ? neg_errno() : 0;
}


static void do_chown(uv_fs_t *req) {
  int rc;

  if (req->fs_type == UV_FS_FCHOWN)
    rc = fchown(req->file, req->uid, req->gid);
  else if (req->fs_type == UV_FS_LCHOWN)
    rc = lchown(req->path, req->uid, req->gid);
  else
    rc = chown(req->path, req->uid, req->gid);
  req->result = rc != 0 ? neg_errno() : 0;
}


static void do_link(uv_fs_t *req) {
  int rc;

  /* uv_fs_symlink's flags only mean something on Windows. */
  if (req->fs_type == UV_FS_SYMLINK)
    rc = symlink(req->path, req->new_path);
  else
    rc = link(req->path, req->new_path);
  req->result = rc != 0 ? neg_errno() : 0;
}


static void do_readlink(uv_fs_t *req) {
  size_t cap = 256;
  char *buf = NULL;
  ssize_t n;

  /* The link may grow between calls; grow the buffer until the text fits
   * with room to spare, which proves it was not cut short. */
  for (;;) {
    char *bigger = bio__realloc(buf, cap);
    if (bigger == NULL) {
      bio__free(buf);
      req->result = UV_ENOMEM;
      return;
    }
    buf = bigger;
    n = readlink(req->path, buf, cap);
    if (n < 0) {
      req->result = neg_errno();
      bio__free(buf);
      return;
    }
    if ((size_t)n < cap)
      break;
    cap *= 2;
  }
  buf[n] = '\0';
  req->ptr = buf;
  req->result = 0;
}


static void do_realpath(uv_fs_t *req) {
  char *resolved = realpath(req->path, NULL);
  size_t len;
  char *copy;

  if (resolved == NULL) {
    req->result = neg_errno();
    return;
  }
  /* libc allocated it; uv_fs_req_cleanup frees with our allocator. */
  len = strlen(resolved) + 1;
  copy = bio__malloc(len);
  if (copy != NULL)
    memcpy(copy, resolved, len);
  free(resolved);
  if (copy == NULL) {
    req->result = UV_ENOMEM;
    return;
  }
  req->ptr = copy;
  req->result = 0;
}


static void do_mkdtemp(uv_fs_t *req) {
  /* path is the request's own copy: mkdtemp writes the name into it. */
  req->result = mkdtemp((char *)req->path) == NULL ? neg_errno() : 0;
}


static void do_mkstemp(uv_fs_t *req) {
  int fd = mkostemp((char *)req->path, O_CLOEXEC);

  req->result = fd < 0 ? neg_errno() : fd;
  /* libuv leaves no half-made name behind a failure. */
  if (fd < 0)
    ((char *)req->path)[0] = '\0';
}


static void do_statfs(uv_fs_t *req) {
  struct statfs s;
  uv_statfs_t *out;

  if (statfs(req->path, &s) != 0) {
    req->result = neg_errno();
    return;
  }
  out = bio__malloc(sizeof(*out));
  if (out == NULL) {
    req->result = UV_ENOMEM;
    return;
  }
  memset(out, 0, sizeof(*out));
  out->f_type = (uint64_t)s.f_type;
  out->f_bsize = (uint64_t)s.f_bsize;
  out->f_blocks = (uint64_t)s.f_blocks;
  out->f_bfree = (uint64_t)s.f_bfree;
  out->f_bavail = (uint64_t)s.f_bavail;
  out->f_files = (uint64_t)s.f_files;
  out->f_ffree = (uint64_t)s.f_ffree;
  out->f_frsize = (uint64_t)s.f_frsize;
  req->ptr = out;
  req->result = 0;
}


/* Copies with read and write, for descriptors sendfile refuses. *off is
 * where reading starts and is advanced; returns bytes copied or -errno. */
static ssize_t copy_by_hand(int out_fd, int in_fd, off_t *off, size_t len) {
  char chunk[8192];
  ssize_t total = 0;

  while ((size_t)total < len) {
    size_t want = len - (size_t)total;
    ssize_t got;
    ssize_t put = 0;

    if (want > sizeof(chunk))
      want = sizeof(chunk);
    do
      got = pread(in_fd, chunk, want, *off);
    while (got < 0 && errno == EINTR);
    if (got < 0)
      return total > 0 ? total : neg_errno();
    if (got == 0)
      break;
    while (put < got) {
      ssize_t w = write(out_fd, chunk + put, (size_t)(got - put));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        /* What was read but not written is not counted as copied. */
        total += put;
        *off += put;
        return total > 0 ? total : neg_errno();
      }
      put += w;
    }
    total += got;
    *off += got;
  }
  return total;
}


/* out_fd in file, in_fd in flags, the offset in off, the length in
 * bufsml[0].len: sendfile has no fields of its own in uv_fs_t. */
static void do_sendfile(uv_fs_t *req) {
  int in_fd = req->flags;
  off_t off = req->off;
  size_t len = req->bufsml[0].len;
  ssize_t total = 0;
  ssize_t r;

  while ((size_t)total < len) {
    r = sendfile(req->file, in_fd, &off, len - (size_t)total);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      /* Pairs the kernel can't splice (some sockets, /proc files, old
       * kernels for file to file) still copy the slow way. */
      if (total == 0 && (errno == EINVAL || errno == ENOSYS ||
                         errno == EOPNOTSUPP || errno == EXDEV ||
                         errno == EIO || errno == ENOTSOCK)) {
        r = copy_by_hand(req->file, in_fd, &off, len);
        req->result = r;
        return;
      }
      if (total == 0) {
        req->result = neg_errno();
        return;
      }
      break;
    }
    if (r == 0)
      break;
    total += r;
  }
  req->result = total;
}


static int copy_body(int src, int dst, off_t size) {
  off_t off = 0;

  while (off < size) {
    size_t want = (size_t)(size - off);
    ssize_t r;

    if (want > (size_t)1 << 30)
      want = (size_t)1 << 30;
    r = sendfile(dst, src, &off, want);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      if (errno != EINVAL && errno != ENOSYS && errno != EXDEV &&
          errno != EOPNOTSUPP)
        return -errno;
      r = copy_by_hand(dst, src, &off, want); /* -errno on failure */
      if (r < 0)
        return (int)r;
    }
    if (r == 0)
      break; /* the source shrank meanwhile */
  }
  return 0;
}


static int copy_file(uv_fs_t *req) {
  struct stat src_st;
  struct stat dst_st;
  int dst_flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  int src;
  int dst = -1;
  int err = 0;

  src = open(req->path, O_RDONLY | O_CLOEXEC);
  if (src < 0)
    return -errno;
  if (fstat(src, &src_st) != 0) {
    err = -errno;
    goto done;
  }
  if (req->flags & UV_FS_COPYFILE_EXCL)
    dst_flags |= O_EXCL;
  dst = open(req->new_path, dst_flags, src_st.st_mode);
  if (dst < 0) {
    err = -errno;
    goto done;
  }
  if (!(req->flags & UV_FS_COPYFILE_EXCL)) {
    if (fstat(dst, &dst_st) != 0) {
      err = -errno;
      goto done;
    }
    /* Copying a file onto itself must not truncate it first. */
    if (dst_st.st_dev == src_st.st_dev && dst_st.st_ino == src_st.st_ino)
      goto done;
    if (ftruncate(dst, 0) != 0) {
      err = -errno;
      goto done;
    }
  }
  /* An existing destination keeps its old mode otherwise. CIFS shares
   * refuse every fchmod with EPERM; the copy is still worth having. */
  if (fchmod(dst, src_st.st_mode) != 0 && errno != EPERM) {
    err = -errno;
    goto done;
  }
  if (req->flags & (UV_FS_COPYFILE_FICLONE | UV_FS_COPYFILE_FICLONE_FORCE)) {
    /* Reflink (btrfs, xfs): shares the blocks instead of copying them. */
    if (ioctl(dst, FICLONE, src) == 0)
      goto done;
    if (req->flags & UV_FS_COPYFILE_FICLONE_FORCE) {
      err = -errno;
      goto done;
    }
  }
  err = copy_body(src, dst, src_st.st_size);

done:
  close(src);
  if (dst >= 0) {
    if (close(dst) != 0 && err == 0 && errno != EINTR)
      err = -errno;
    /* Half a copy is worse than none. */
    if (err != 0)
      unlink(req->new_path);
  }
  return err;
}


static void do_copyfile(uv_fs_t *req) { req->result = copy_file(req); }


static uv_dirent_type_t dirent_type(unsigned char d_type) {
  switch (d_type) {
  case DT_REG:
    return UV_DIRENT_FILE;
  case DT_DIR:
    return UV_DIRENT_DIR;
  case DT_LNK:
    return UV_DIRENT_LINK;
  case DT_FIFO:
    return UV_DIRENT_FIFO;
  case DT_SOCK:
    return UV_DIRENT_SOCKET;
  case DT_CHR:
    return UV_DIRENT_CHAR;
  case DT_BLK:
    return UV_DIRENT_BLOCK;
  default:
    return UV_DIRENT_UNKNOWN;
  }
}


static int is_dot_or_dotdot(const char *name) {
  return name[0] == '.' &&
         (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}


/* uv_fs_scandir's answer, in one allocation that req->ptr owns: the
 * entries, then their names. uv_fs_scandir_next walks it with req->nbufs
 * as the cursor (scandir has no buffers). */
typedef struct scan_list {
  size_t count;
  uv_dirent_t ents[];
} scan_list;


static int by_name(const void *a, const void *b) {
  return strcmp(((const uv_dirent_t *)a)->name,
                ((const uv_dirent_t *)b)->name);
}


static void do_scandir(uv_fs_t *req) {
  DIR *d = opendir(req->path);
  struct dirent *e;
  uv_dirent_t *tmp = NULL; /* names here point into names */
  char *names = NULL;
  size_t count = 0, cap = 0, names_len = 0, names_cap = 0;
  scan_list *list;
  size_t i;
  char *dst;

  if (d == NULL) {
    req->result = neg_errno();
    return;
  }
  /* Names go in one growing buffer as offsets (realloc moves it). */
  for (;;) {
    size_t len;

    errno = 0;
    e = readdir(d);
    if (e == NULL)
      break;
    if (is_dot_or_dotdot(e->d_name))
      continue;
    len = strlen(e->d_name) + 1;
    if (count == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      uv_dirent_t *n = bio__realloc(tmp, ncap * sizeof(*tmp));
      if (n == NULL)
        goto nomem;
      tmp = n;
      cap = ncap;
    }
    if (names_len + len > names_cap) {
      size_t ncap = names_cap ? names_cap * 2 : 512;
      char *n;
      while (ncap < names_len + len)
        ncap *= 2;
      n = bio__realloc(names, ncap);
      if (n == NULL)
        goto nomem;
      names = n;
      names_cap = ncap;
    }
    memcpy(names + names_len, e->d_name, len);
    tmp[count].name = (const char *)(uintptr_t)names_len;
    tmp[count].type = dirent_type(e->d_type);
    names_len += len;
    count++;
  }
  if (errno != 0) {
    req->result = neg_errno();
    goto out;
  }
  req->result = (ssize_t)count;
  req->nbufs = 0;
  if (count == 0)
    goto out; /* ptr stays NULL: scandir_next answers UV_EOF */
  list = bio__malloc(sizeof(*list) + count * sizeof(uv_dirent_t) +
                     names_len);
  if (list == NULL)
    goto nomem;
  dst = (char *)&list->ents[count];
  memcpy(dst, names, names_len);
  list->count = count;
  for (i = 0; i < count; i++) {
    list->ents[i].name = dst + (uintptr_t)tmp[i].name;
    list->ents[i].type = tmp[i].type;
  }
  qsort(list->ents, count, sizeof(uv_dirent_t), by_name);
  req->ptr = list;
  goto out;

nomem:
  req->result = UV_ENOMEM;
out:
  bio__free(tmp);
  bio__free(names);
  closedir(d);
}


static void do_opendir(uv_fs_t *req) {
  uv_dir_t *dir = bio__malloc(sizeof(*dir));

  if (dir == NULL) {
    req->result = UV_ENOMEM;
    return;
  }
  memset(dir, 0, sizeof(*dir));
  dir->dir = opendir(req->path);
  if (dir->dir == NULL) {
    req->result = neg_errno();
    bio__free(dir);
    return;
  }
  req->ptr = dir;
  req->result = 0;
}


/* Fills the caller's dirents; the names are ours until the next readdir
 * on the request, uv_fs_req_cleanup, or closedir. */
static void do_readdir(uv_fs_t *req) {
  uv_dir_t *dir = req->ptr;
  size_t n = 0;

  while (n < dir->nentries) {
    struct dirent *e;
    size_t len;
    char *name;

    errno = 0;
    e = readdir(dir->dir);
    if (e == NULL) {
      if (errno != 0)
        goto fail;
      break;
    }
    if (is_dot_or_dotdot(e->d_name))
      continue;
    len = strlen(e->d_name) + 1;
    name = bio__malloc(len);
    if (name == NULL) {
      errno = ENOMEM;
      goto fail;
    }
    memcpy(name, e->d_name, len);
    dir->dirents[n].name = name;
    dir->dirents[n].type = dirent_type(e->d_type);
    n++;
  }
  req->result = (ssize_t)n;
  return;

fail:
  req->result = neg_errno();
  while (n > 0) {
    n--;
    bio__free((void *)dir->dirents[n].name);
    dir->dirents[n].name = NULL;
  }
}


static void do_closedir(uv_fs_t *req) {
  uv_dir_t *dir = req->ptr;

  if (dir->dir != NULL)
    closedir(dir->dir);
  bio__free(dir);
  req->ptr = NULL;
  req->result = 0;
}


typedef void (*fs_body)(uv_fs_t *req);

/* Index: uv_fs_type. */
static const fs_body bodies[UV_FS_LUTIME + 1] = {
    [UV_FS_OPEN] = do_open,         [UV_FS_CLOSE] = do_close,
    [UV_FS_READ] = do_read,         [UV_FS_WRITE] = do_write,
    [UV_FS_SENDFILE] = do_sendfile, [UV_FS_STAT] = do_stat,
    [UV_FS_LSTAT] = do_lstat,       [UV_FS_FSTAT] = do_fstat,
    [UV_FS_FTRUNCATE] = do_ftruncate, [UV_FS_UTIME] = do_utimes,
    [UV_FS_FUTIME] = do_utimes,     [UV_FS_ACCESS] = do_access,
    [UV_FS_CHMOD] = do_chmod,       [UV_FS_FCHMOD] = do_chmod,
    [UV_FS_FSYNC] = do_fsync,       [UV_FS_FDATASYNC] = do_fsync,
    [UV_FS_UNLINK] = do_unlink,     [UV_FS_RMDIR] = do_rmdir,
    [UV_FS_MKDIR] = do_mkdir,       [UV_FS_MKDTEMP] = do_mkdtemp,
    [UV_FS_RENAME] = do_rename,     [UV_FS_SCANDIR] = do_scandir,
    [UV_FS_LINK] = do_link,         [UV_FS_SYMLINK] = do_link,
    [UV_FS_READLINK] = do_readlink, [UV_FS_CHOWN] = do_chown,
    [UV_FS_FCHOWN] = do_chown,      [UV_FS_REALPATH] = do_realpath,
    [UV_FS_COPYFILE] = do_copyfile, [UV_FS_LCHOWN] = do_chown,
    [UV_FS_OPENDIR] = do_opendir,   [UV_FS_READDIR] = do_readdir,
    [UV_FS_CLOSEDIR] = do_closedir, [UV_FS_STATFS] = do_statfs,
    [UV_FS_MKSTEMP] = do_mkstemp,   [UV_FS_LUTIME] = do_utimes,
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


static inline uint64_t type_bit(uv_fs_type type) {
  return (uint64_t)1 << (unsigned)type;
}

_Static_assert(UV_FS_LUTIME < 64, "fs_native has one bit per uv_fs_type");


static void stats_done(uv_fs_t *req);


static void pool_done(bio_loop *core, bio_op *op) {
  uv_fs_t *req = bio_container_of((void *)op, uv_fs_t, reserved);
  /* Nonzero: io_uring answered this request with that errno first. */
  int native_errno = (int)op->u.len;

  (void)core;
  bio__req_unregister(req->loop);
  /* Cancelled before a thread took it: the body never ran. */
  if (op->res == -ECANCELED) {
    if (req->fs_type == UV_FS_READ || req->fs_type == UV_FS_WRITE)
      release_bufs(req);
    req->result = UV_ECANCELED;
  } else if (native_errno != 0 && req->result != -native_errno) {
    /* The syscall disagrees with io_uring: the opcode is what fails here
     * (a filesystem or kernel without it), so stop asking it. The same
     * answer (EINVAL for bad flags, say) was the request's own fault. */
    bio__uv(req->loop)->fs_native &= ~type_bit(req->fs_type);
  }
  stats_done(req);
  req->cb(req);
}


/* Queues req on the pool; native_errno is io_uring's answer when this is
 * a second try (0 otherwise). The request is already registered. */
static int pool_start(uv_fs_t *req, int native_errno) {
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


/* ---- io_uring: requests that are one kernel op ---- */

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

  ul->fs_probed = 1;
  ul->fs_native = 0;
  if (bio__settings_no_uring_fs())
    return;
  for (t = 0; t <= UV_FS_LUTIME; t++) {
    int op = native_opcode((uv_fs_type)t);
    if (op >= 0 && bio__loop_supports(&ul->core, (unsigned)op))
      ul->fs_native |= type_bit((uv_fs_type)t);
  }
}


static int is_stat_type(uv_fs_type t) {
  return t == UV_FS_STAT || t == UV_FS_LSTAT || t == UV_FS_FSTAT;
}


/* Async stats in flight on the loop (pool or io_uring), for use_native. */
static void stats_done(uv_fs_t *req) {
  if (is_stat_type(req->fs_type) && bio__uv(req->loop)->fs_stats_out > 0)
    bio__uv(req->loop)->fs_stats_out--;
}


static int use_native(uv_fs_t *req) {
  bio_uv_loop *ul = bio__uv(req->loop);

  if (!ul->fs_probed)
    fs_probe(ul);
  if (!(ul->fs_native & type_bit(req->fs_type)))
    return 0;
  /* io_uring hands statx to a kernel worker that sleeps between requests:
   * a lone stat costs two cross-CPU wake-ups that way. Our pool's worker
   * and the loop spin for each other briefly, so one stat at a time goes
   * there (libuv's fs_stat at 1 in flight: 13 us -> ~3 us per stat here);
   * with others in flight, io_uring's many workers win. */
  if (is_stat_type(req->fs_type) && ul->fs_stats_out == 0 &&
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


static void native_start(uv_fs_t *req) {
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
    bio__uv(req->loop)->fs_native = 0;
    if (!(req->fs_type == UV_FS_WRITE && req->result > 0)) {
      int err = pool_start(req, 0);
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
    int err = pool_start(req, (int)-res);
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
    release_bufs(req);
#ifdef STATX_BASIC_STATS
  if (is_stat && res == 0) {
    statx_to_uv(&req->statbuf, &sx);
    req->ptr = &req->statbuf;
  }
#endif
  bio__req_unregister(req->loop);
  stats_done(req);
  req->cb(req);
}


/* Runs the request's body now (no callback: returns its result), or
 * starts it as an io_uring op or on the pool (returns 0; the callback
 * reports the result). */
static int req_run(uv_fs_t *req) {
  int err;

  if (req->cb == NULL) {
    bodies[req->fs_type](req);
    return (int)req->result;
  }
  if (use_native(req)) {
    if (is_stat_type(req->fs_type))
      bio__uv(req->loop)->fs_stats_out++;
    native_start(req);
    return 0;
  }
  if (is_stat_type(req->fs_type))
    bio__uv(req->loop)->fs_stats_out++;
  bio__req_register(req->loop);
  err = pool_start(req, 0);
  if (err != 0) {
    bio__req_unregister(req->loop);
    stats_done(req);
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
