/* uv_fs_poll_t: watches a path by stat-ing it on the pool every interval
 * and reporting changes. Each start gets a poll context (its own timer and
 * stat request); a stopped context lingers until its stat comes back and
 * its timer is closed, so a handle may restart or close at any moment. */
#include "config.h"

#include <string.h>

#include "fs.h"
#include "internal.h"

typedef struct poll_ctx poll_ctx;

struct poll_ctx {
  uv_fs_poll_t *handle;
  poll_ctx *older;    /* stopped contexts of the same handle, still alive */
  uv_fs_poll_cb cb;
  uv_timer_t timer;   /* internal and unreferenced: the handle holds the loop */
  uv_fs_t req;
  uv_stat_t last;     /* the previous successful stat */
  uint64_t start_ms;  /* when the current round's stat was queued */
  unsigned int interval_ms;
  int last_status;    /* 0 before the first answer, 1 after a success, or
                         the error already reported */
  int stopped;
  int stat_busy;
  char path[];
};


static int poll_next_stat(poll_ctx *ctx);


/* The fields that say a file changed; atime is left out on purpose, as
 * reading the file is not changing it. */
static int same_stat(const uv_stat_t *a, const uv_stat_t *b) {
  return a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
         a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_birthtim.tv_nsec == b->st_birthtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
         a->st_birthtim.tv_sec == b->st_birthtim.tv_sec &&
         a->st_size == b->st_size && a->st_mode == b->st_mode &&
         a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
         a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
         a->st_flags == b->st_flags && a->st_gen == b->st_gen;
}


static void ctx_closed(uv_handle_t *timer) {
  poll_ctx *ctx = bio_container_of((void *)timer, poll_ctx, timer);
  uv_fs_poll_t *handle = ctx->handle;
  poll_ctx **link = (poll_ctx **)&handle->poll_ctx;

  /* Unlink it from the handle's chain of contexts. */
  while (*link != NULL && *link != ctx)
    link = &(*link)->older;
  if (*link == ctx)
    *link = ctx->older;
  bio__free(ctx);

  /* The last context gone: a closing handle may now finish closing. */
  if (handle->poll_ctx == NULL && (handle->flags & BIO_H_CLOSING) &&
      !(handle->flags & BIO_H_CLOSED)) {
    uv_loop_t *loop = handle->loop;
    bio__req_unregister(loop); /* the hold bio__fs_poll_close took */
    handle->next_closing = loop->closing_handles;
    loop->closing_handles = (uv_handle_t *)handle;
  }
}


static void ctx_retire(poll_ctx *ctx) {
  if (!uv_is_closing((uv_handle_t *)&ctx->timer))
    uv_close((uv_handle_t *)&ctx->timer, ctx_closed);
}


static void poll_timer_cb(uv_timer_t *timer) {
  poll_ctx *ctx = bio_container_of((void *)timer, poll_ctx, timer);
  int err;

  if (ctx->stopped)
    return;
  err = poll_next_stat(ctx);
  if (err != 0) {
    /* The pool refused (out of memory or threads): report it once, and
     * try again next interval. */
    if (ctx->last_status != err) {
      static const uv_stat_t zero;
      ctx->last_status = err;
      ctx->cb(ctx->handle, err, &ctx->last, &zero);
    }
    if (!ctx->stopped)
      uv_timer_start(&ctx->timer, poll_timer_cb, ctx->interval_ms, 0);
    else
      ctx_retire(ctx);
  }
}


static void poll_stat_cb(uv_fs_t *req) {
  poll_ctx *ctx = bio_container_of((void *)req, poll_ctx, req);
  static const uv_stat_t zero;
  int status = (int)req->result;
  uint64_t spent_ms;
  uint64_t wait_ms;

  ctx->stat_busy = 0;
  if (ctx->stopped || status == UV_ECANCELED) {
    uv_fs_req_cleanup(req);
    ctx_retire(ctx);
    return;
  }
  if (status < 0) {
    /* An error is reported once, not every interval it persists. */
    if (ctx->last_status != status) {
      ctx->last_status = status;
      ctx->cb(ctx->handle, status, &ctx->last, &zero);
    }
  } else {
    /* The first answer only sets the baseline; after an error, coming
     * back is itself a change. */
    if (ctx->last_status < 0 ||
        (ctx->last_status == 1 && !same_stat(&ctx->last, &req->statbuf)))
      ctx->cb(ctx->handle, 0, &ctx->last, &req->statbuf);
    ctx->last = req->statbuf;
    ctx->last_status = 1;
  }
  uv_fs_req_cleanup(req);
  /* The callback may have stopped (or closed) the handle. */
  if (ctx->stopped) {
    ctx_retire(ctx);
    return;
  }
  /* Keep rounds on the interval's grid however long the stat took. */
  spent_ms = uv_now(ctx->handle->loop) - ctx->start_ms;
  wait_ms = ctx->interval_ms - spent_ms % ctx->interval_ms;
  uv_timer_start(&ctx->timer, poll_timer_cb, wait_ms, 0);
}


static int poll_next_stat(poll_ctx *ctx) {
  int err;

  ctx->start_ms = uv_now(ctx->handle->loop);
  err = uv_fs_stat(ctx->handle->loop, &ctx->req, ctx->path, poll_stat_cb);
  if (err == 0)
    ctx->stat_busy = 1;
  return err;
}


UV_EXTERN int uv_fs_poll_init(uv_loop_t *loop, uv_fs_poll_t *handle) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  bio__handle_init(loop, (uv_handle_t *)handle, UV_FS_POLL);
  handle->poll_ctx = NULL;
  return 0;
}


UV_EXTERN int uv_fs_poll_start(uv_fs_poll_t *handle, uv_fs_poll_cb poll_cb,
                               const char *path, unsigned int interval) {
  uv_loop_t *loop;
  poll_ctx *ctx;
  size_t len;
  int err;

  if (handle == NULL || poll_cb == NULL || path == NULL)
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (uv_is_active((uv_handle_t *)handle))
    return 0;
  loop = handle->loop;
  len = strlen(path) + 1;
  ctx = bio__malloc(sizeof(*ctx) + len);
  if (ctx == NULL)
    return UV_ENOMEM;
  memset(ctx, 0, sizeof(*ctx));
  memcpy(ctx->path, path, len);
  ctx->handle = handle;
  ctx->cb = poll_cb;
  ctx->interval_ms = interval != 0 ? interval : 1;
  err = uv_timer_init(loop, &ctx->timer);
  if (err != 0) {
    bio__free(ctx);
    return err;
  }
  /* Internal: uv_walk skips it and it keeps no loop alive by itself. */
  ctx->timer.flags |= BIO_H_INTERNAL;
  uv_unref((uv_handle_t *)&ctx->timer);
  ctx->older = handle->poll_ctx;
  handle->poll_ctx = ctx;
  err = poll_next_stat(ctx);
  if (err != 0) {
    ctx->stopped = 1;
    ctx_retire(ctx); /* frees it at the next closing phase */
    return err;
  }
  bio__handle_start((uv_handle_t *)handle);
  return 0;
}


UV_EXTERN int uv_fs_poll_stop(uv_fs_poll_t *handle) {
  poll_ctx *ctx;

  if (handle == NULL)
    return UV_EINVAL;
  if (!uv_is_active((uv_handle_t *)handle))
    return 0;
  ctx = handle->poll_ctx;
  assert(ctx != NULL && !ctx->stopped);
  ctx->stopped = 1;
  /* A stat in flight retires the context when it returns. */
  if (!ctx->stat_busy)
    ctx_retire(ctx);
  bio__handle_stop((uv_handle_t *)handle);
  return 0;
}


UV_EXTERN int uv_fs_poll_getpath(uv_fs_poll_t *handle, char *buffer,
                                 size_t *size) {
  poll_ctx *ctx;
  size_t len;

  if (handle == NULL || size == NULL)
    return UV_EINVAL;
  if (!uv_is_active((uv_handle_t *)handle)) {
    *size = 0;
    return UV_EINVAL;
  }
  ctx = handle->poll_ctx;
  /* libuv's sizing rule: too small a buffer fails with the size needed,
   * terminator included; success reports the length without it. */
  len = strlen(ctx->path);
  if (buffer == NULL || len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, ctx->path, len + 1);
  *size = len;
  return 0;
}


int bio__fs_poll_close(uv_fs_poll_t *handle) {
  uv_fs_poll_stop(handle);
  if (handle->poll_ctx == NULL)
    return 0;
  /* Contexts still wind down: ctx_closed queues the handle after the last
   * one, and this hold keeps the loop running until then. */
  bio__req_register(handle->loop);
  return 1;
}
