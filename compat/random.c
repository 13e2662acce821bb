/* uv_random: bytes from the kernel's CSPRNG (getrandom, Linux 3.17), on
 * the caller's thread without a callback, else on the pool. Blocks only
 * until the kernel's pool is first seeded, as libuv does. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "threadpool.h"


/* For kernels (or seccomp profiles) without getrandom. */
static int fill_from_urandom(char *buf, size_t len) {
  int fd;
  int err = 0;

  do
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  while (len > 0) {
    ssize_t n = read(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      err = n < 0 ? -errno : UV_EIO;
      break;
    }
    buf += n;
    len -= (size_t)n;
  }
  close(fd);
  return err;
}


static int fill_random(void *out, size_t len) {
  char *buf = out;

  while (len > 0) {
    /* getrandom hands out at most 32 MiB - 1 per call; loop for more. */
    ssize_t n = getrandom(buf, len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (errno == ENOSYS || errno == EPERM)
        return fill_from_urandom(buf, len);
      return -errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}


static void random_run(uv_req_t *r) {
  uv_random_t *req = (uv_random_t *)r;
  req->status = fill_random(req->buf, req->buflen);
}


static void random_done(uv_req_t *r, int status) {
  uv_random_t *req = (uv_random_t *)r;

  if (status == UV_ECANCELED)
    req->status = UV_ECANCELED;
  req->cb(req, req->status, req->buf, req->buflen);
}


static const bio_uv_work_ops random_ops = {.run = random_run,
                                           .done = random_done};


UV_EXTERN int uv_random(uv_loop_t *loop, uv_random_t *req, void *buf,
                        size_t buflen, unsigned flags, uv_random_cb cb) {
  /* libuv's limit: the count must fit an int on every platform. Checked
   * before the flags, as libuv's tests expect for a call wrong in both. */
  if (buflen > 0x7FFFFFFFu)
    return UV_E2BIG;
  /* No flags are defined yet; refusing unknown ones keeps them free. */
  if (flags != 0)
    return UV_EINVAL;
  if (buf == NULL && buflen > 0)
    return UV_EINVAL;
  if (cb == NULL)
    return fill_random(buf, buflen);
  if (req == NULL || loop == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;
  req->type = UV_RANDOM;
  req->loop = loop;
  req->status = 0;
  req->buf = buf;
  req->buflen = buflen;
  req->cb = cb;
  return bio__uv_work_submit((uv_req_t *)req, BIO_WORK_CPU, &random_ops);
}
