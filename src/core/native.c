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
