/* How compat files run a libuv request on the blocking pool. The request's
 * work_req (struct uv__work) holds the bio_work, its reserved[6] holds the
 * completion op; uv_cancel finds both there by request type, so every kind
 * of request (work, fs, getaddrinfo, getnameinfo, random) cancels alike. */
#ifndef BIO_COMPAT_THREADPOOL_H
#define BIO_COMPAT_THREADPOOL_H

#include "internal.h"
#include "pool/pool.h"

typedef struct bio_uv_work_ops {
  /* On a pool thread. */
  void (*run)(uv_req_t *req);
  /* On the loop thread, after the request left the loop's active count;
   * status is 0, or UV_ECANCELED when uv_cancel took it off the queue. */
  void (*done)(uv_req_t *req, int status);
} bio_uv_work_ops;

/* Queues req (its type and its public loop field set) on the pool with
 * kind BIO_WORK_CPU, _FAST_IO or _SLOW_IO; ops must outlive the request
 * (a static table). The request counts as active until done runs.
 * Returns 0 or a UV_E* error (then nothing was queued). */
int bio__uv_work_submit(uv_req_t *req, int kind, const bio_uv_work_ops *ops);

/* The bio_work inside req's work_req, or NULL for types without one. A
 * request that is not on the pool should leave its state BIO_WORK_IDLE
 * (zeroed), so that uv_cancel answers UV_EBUSY without a search. */
bio_work *bio__uv_work_of(uv_req_t *req);

#endif
