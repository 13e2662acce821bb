/* Which backend a unit test's loops use. Tests name one (BIO_BACKEND:
 * "uring", "epoll", "fault:..."); under BIO_TEST_DENIED=1 - the unit tests
 * run again inside a seccomp filter that denies or kills io_uring
 * (test/programs/denied-units.sh) - "uring" becomes the library's own
 * choice, which must then be epoll, so each test's io_uring half checks
 * that a loop gets by without it. */
#ifndef BIO_TEST_BACKEND_H
#define BIO_TEST_BACKEND_H

#include <stdlib.h>
#include <string.h>

static inline void bio_test_backend(const char *name) {
  const char *denied = getenv("BIO_TEST_DENIED");
  if (denied != NULL && strcmp(denied, "1") == 0 &&
      strcmp(name, "uring") == 0)
    name = "";
  setenv("BIO_BACKEND", name, 1);
}

/* The backend a loop made after bio_test_backend(name) must report. */
static inline const char *bio_test_expect_backend(const char *name) {
  const char *denied = getenv("BIO_TEST_DENIED");
  if (denied != NULL && strcmp(denied, "1") == 0 &&
      strcmp(name, "uring") == 0)
    return "epoll";
  return name;
}

/* Under the filter: io_uring-only behaviour can't be shown. */
static inline int bio_test_uring_denied(void) {
  const char *denied = getenv("BIO_TEST_DENIED");
  return denied != NULL && strcmp(denied, "1") == 0;
}

#endif
