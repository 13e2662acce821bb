/* The one main every unit test ends in: runs the suite (each test in a
 * child process, as Check does unless CK_FORK=no says otherwise) and
 * turns the failures into the exit status automake's test driver reads. */
#ifndef BIO_TEST_CHECK_RUN_H
#define BIO_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int bio_check_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
