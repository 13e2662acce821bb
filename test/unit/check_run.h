/* The one main every unit test ends in: runs the suite (each test in a
 * child process, as Check does unless CK_FORK=no says otherwise) and
 * turns the failures into the exit status automake's test driver reads. */
#ifndef BIO_TEST_CHECK_RUN_H
#define BIO_TEST_CHECK_RUN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Under AddressSanitizer the allocator keeps freed memory aside, and
 * ThreadSanitizer's shadow grows with every page touched: tests that
 * measure the process's resident memory measure nothing there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BIO_TEST_RSS_SKEWED 1
#endif

/* The process's resident anonymous memory, in KiB (RssAnon: not the
 * pages of code and files it maps, which a first call pages in). */
static inline long bio_test_rss_anon_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");

  ck_assert_ptr_nonnull(f);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
      break;
  fclose(f);
  ck_assert_int_gt(kib, 0);
  return kib;
}

static inline int bio_check_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
