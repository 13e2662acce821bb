/* uv_queue_work and uv_cancel on the blocking pool (src/pool), and the
 * shared glue every pool-backed request uses (compat/threadpool.h): where
 * a request keeps its bio_work and completion op, loop liveness while it
 * is queued or running, and the uv_library_shutdown hook that joins the
 * pool's threads. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "threadpool.h"

/* The work item overlays struct uv__work, the private area libuv gives
 * every pool-backed request for exactly this purpose. */
_Static_assert(sizeof(bio_work) <= sizeof(struct uv__work),
               "bio_work must fit uv__work (work_req of uv_work_t, "
               "uv_fs_t, uv_getaddrinfo_t, uv_getnameinfo_t, uv_random_t)");
_Static_assert(_Alignof(bio_work) <= _Alignof(struct uv__work),
               "bio_work must be aligned like uv__work");
/* The completion op goes in UV_REQ_FIELDS' reserved[6] (48 bytes), which
 * libuv leaves unused on Unix: work_req has no room left for it. */
_Static_assert(sizeof(bio_op) <= sizeof(((uv_req_t *)0)->reserved),
               "bio_op must fit uv_req_t.reserved[6]");
_Static_assert(offsetof(uv_req_t, reserved) % _Alignof(bio_op) == 0,
               "uv_req_t.reserved must be aligned for bio_op");


static inline bio_op *done_op(uv_req_t *req) {
  return (bio_op *)(void *)req->reserved;
}


static inline uv_req_t *req_of_op(bio_op *op) {
  return bio_container_of((void *)op, uv_req_t, reserved);
}


bio_work *bio__uv_work_of(uv_req_t *req) {
  switch (req->type) {
  case UV_WORK:
    return (bio_work *)(void *)&((uv_work_t *)req)->work_req;
  case UV_FS:
    return (bio_work *)(void *)&((uv_fs_t *)req)->work_req;
  case UV_GETADDRINFO:
    return (bio_work *)(void *)&((uv_getaddrinfo_t *)req)->work_req;
  case UV_GETNAMEINFO:
    return (bio_work *)(void *)&((uv_getnameinfo_t *)req)->work_req;
  case UV_RANDOM:
    return (bio_work *)(void *)&((uv_random_t *)req)->work_req;
  default:
    return NULL;
  }
}


/* Each pool-backed request type has a public loop field, at its own
 * offset. */
static uv_loop_t *loop_of(uv_req_t *req) {
  switch (req->type) {
  case UV_WORK:
    return ((uv_work_t *)req)->loop;
  case UV_FS:
    return ((uv_fs_t *)req)->loop;
  case UV_GETADDRINFO:
    return ((uv_getaddrinfo_t *)req)->loop;
  case UV_GETNAMEINFO:
    return ((uv_getnameinfo_t *)req)->loop;
  case UV_RANDOM:
    return ((uv_random_t *)req)->loop;
  default:
    return NULL;
  }
}


static void work_run(bio_work *w) {
  uv_req_t *req = req_of_op(w->done);
  const bio_uv_work_ops *ops = w->done->buf;
  ops->run(req);
}


static void work_done(bio_loop *core, bio_op *op) {
  uv_req_t *req = req_of_op(op);
  const bio_uv_work_ops *ops = op->buf;
  int status = op->res == -ECANCELED ? UV_ECANCELED : 0;

  (void)core;
  /* Inactive before the callback, as in libuv: it may queue req again,
   * or ask uv_loop_alive. */
  bio__req_unregister(loop_of(req));
  ops->done(req, status);
}


int bio__uv_work_submit(uv_req_t *req, int kind, const bio_uv_work_ops *ops) {
  uv_loop_t *loop;
  bio_work *w;
  bio_op *op;
  int err;

  if (req == NULL || ops == NULL || ops->run == NULL || ops->done == NULL)
    return UV_EINVAL;
  w = bio__uv_work_of(req);
  loop = loop_of(req);
  if (w == NULL || loop == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;

  op = done_op(req);
  memset(op, 0, sizeof(*op));
  op->cb = work_done;
  op->buf = (void *)ops;
  w->run = work_run;
  w->next = NULL;
  w->loop = bio__core(loop);
  w->done = op;
  w->kind = kind;
  err = bio__pool_submit(w);
  if (err != 0)
    return err; /* -errno is UV_E* on Linux */
  bio__req_register(loop);
  return 0;
}


/* ---- uv_work_t ---- */

static void queue_work_run(uv_req_t *req) {
  uv_work_t *wr = (uv_work_t *)req;
  wr->work_cb(wr);
}


static void queue_work_done(uv_req_t *req, int status) {
  uv_work_t *wr = (uv_work_t *)req;
  if (wr->after_work_cb != NULL)
    wr->after_work_cb(wr, status);
}


static const bio_uv_work_ops queue_work_ops = {
    .run = queue_work_run,
    .done = queue_work_done,
};


UV_EXTERN int uv_queue_work(uv_loop_t *loop, uv_work_t *req,
                            uv_work_cb work_cb,
                            uv_after_work_cb after_work_cb) {
  if (loop == NULL || req == NULL || work_cb == NULL)
    return UV_EINVAL;
  req->type = UV_WORK;
  req->loop = loop;
  req->work_cb = work_cb;
  req->after_work_cb = after_work_cb;
  return bio__uv_work_submit((uv_req_t *)req, BIO_WORK_CPU, &queue_work_ops);
}


/* Only a request still waiting in the queue can be cancelled; its
 * callback then runs with UV_ECANCELED at the loop's next poll. */
UV_EXTERN int uv_cancel(uv_req_t *req) {
  bio_work *w;

  if (req == NULL)
    return UV_EINVAL;
  w = bio__uv_work_of(req);
  if (w == NULL)
    return UV_EINVAL;
  /* An fs request running as an io_uring op: cancellable only while its
   * SQE has not reached the kernel (the core says so for certain); its
   * work item is not in use (it may even hold the kernel's statx answer).
   * Pool requests keep their op idle. */
  if (done_op(req)->state != BIO_OP_IDLE)
    return bio__op_cancel(bio__core(loop_of(req)), done_op(req)) == 0
               ? 0
               : UV_EBUSY;
  return bio__pool_cancel(w) == 0 ? 0 : UV_EBUSY;
}


/* Called by uv_library_shutdown (compat/misc.c holds a weak reference):
 * joins the pool threads, once the work already queued has run. */
__attribute__((visibility("hidden"))) void bio__library_shutdown_hooks(void);

void bio__library_shutdown_hooks(void) { bio__pool_shutdown(); }
