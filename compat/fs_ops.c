/* The uv_fs_t operation bodies: one per fs_type, each fills req->result
 * from the request's arguments, run on the caller's thread (no callback)
 * or on the pool (fs.c), and the table from fs_type to body. */
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

#include "fs_req.h"

static inline ssize_t neg_errno(void) {
  return -(ssize_t)errno;
}


/* ---- operation bodies: one per fs_type, each sets req->result ---- */

/* Read and write hand the buffer list back when done: a sync request used
 * the caller's array, an async one owns its copy. */
void bio__fs_release_bufs(uv_fs_t *req) {
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
  bio__fs_release_bufs(req);
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
  bio__fs_release_bufs(req);
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
void bio__fs_statx_to_uv(uv_stat_t *st, const struct statx *sx) {
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
    bio__fs_statx_to_uv(st, &sx);
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


void bio__fs_run_body(uv_fs_t *req) {
  bodies[req->fs_type](req);
}
