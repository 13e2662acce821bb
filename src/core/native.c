/* The native API (include/blitzio.h) over the core: thin, argument-checking
 * wrappers, so that the core's internal names can change freely. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "blitzio.h"
#include "core/alloc.h"
#include "core/core.h"


BIO_EXTERN const char *bio_version(void) { return PACKAGE_VERSION; }


BIO_EXTERN void bio_loop_options_init(bio_loop_options *opts) {
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof(*opts));
  opts->spin_us = -1;
}


BIO_EXTERN int bio_loop_new(bio_loop **loop_out) {
  return bio_loop_new_ex(loop_out, NULL);
}


BIO_EXTERN int bio_loop_new_ex(bio_loop **loop_out,
                               const bio_loop_options *opts) {
  bio_loop *loop;
  int err;

  if (loop_out == NULL)
    return -EINVAL;
  loop = bio__malloc(sizeof(*loop));
  if (loop == NULL)
    return -ENOMEM;
  err = bio__loop_init_ex(loop, bio__clock_ns() / 1000000u, opts);
  if (err != 0) {
    bio__free(loop);
    return err;
  }
  *loop_out = loop;
  return 0;
}


BIO_EXTERN void bio_loop_free(bio_loop *loop) {
  if (loop == NULL)
    return;
  bio__loop_close(loop);
  bio__free(loop);
}


BIO_EXTERN const char *bio_loop_backend(const bio_loop *loop) {
  return loop != NULL && loop->backend != NULL ? loop->backend->name : NULL;
}


BIO_EXTERN int bio_loop_poll(bio_loop *loop, int timeout_ms) {
  if (loop == NULL)
    return -EINVAL;
  return bio__loop_poll(loop, timeout_ms);
}


BIO_EXTERN void bio_loop_wake(bio_loop *loop) {
  if (loop != NULL)
    bio__loop_wake(loop);
}


typedef struct post_slot {
  bio_op op;
  bio_post_fn fn;
  void *arg;
} post_slot;

_Static_assert(sizeof(post_slot) <= sizeof(bio_post), "bio_post size");

static void post_done(bio_loop *loop, bio_op *op) {
  post_slot *p = bio_container_of(op, post_slot, op);
  (void)loop;
  p->fn(p->arg);
}

BIO_EXTERN void bio_loop_post(bio_loop *loop, bio_post *post, bio_post_fn fn,
                              void *arg) {
  post_slot *p = (post_slot *)(void *)post;
  if (loop == NULL || post == NULL || fn == NULL)
    return;
  memset(&p->op, 0, sizeof(p->op));
  p->op.cb = post_done;
  p->op.flags = BIO_OPF_INTERNAL; /* keeps no op count alive */
  p->fn = fn;
  p->arg = arg;
  bio__loop_post(loop, &p->op);
}
