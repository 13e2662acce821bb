/* bio_loop_options (the native API's loop settings) and the settings the
 * library reads from the environment (src/core/settings.c): a backend
 * chosen by option over BIO_BACKEND, io_uring queue sizes as the kernel
 * reports them (/proc/self/fdinfo of the ring), a ring sharing another's
 * kernel worker pool, the spin, and bad values refused. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blitzio.h"
#include "core/core.h"
#include "core/settings.h"
#include "check_run.h"

/* A field of the ring's fdinfo ("SqMask:\t0x3f"), or -1. */
static long ring_info(const bio_loop *loop, const char *key) {
  char path[64], line[256];
  size_t klen = strlen(key);
  long v = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d",
           bio__uring_ring_fd(loop));
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, key, klen) == 0 && line[klen] == ':')
      v = strtol(line + klen + 1, NULL, 0);
  fclose(f);
  return v;
}

START_TEST(options_init_leaves_every_choice_to_the_library) {
  bio_loop_options o;

  memset(&o, 0x5a, sizeof(o));
  bio_loop_options_init(&o);
  ck_assert_ptr_null(o.backend);
  ck_assert_uint_eq(o.sq_entries, 0);
  ck_assert_uint_eq(o.cq_entries, 0);
  ck_assert_ptr_null(o.attach_wq);
  ck_assert_int_eq(o.spin_us, -1);
  ck_assert_ptr_null(o.reserved[0]);
  bio_loop_options_init(NULL); /* no crash */
}
END_TEST

/* The option wins over BIO_BACKEND; without it, the variable decides;
 * an unknown name is -EINVAL. */
START_TEST(backend_option_over_the_environment) {
  bio_loop_options o;
  bio_loop *loop;

  setenv("BIO_BACKEND", "epoll", 1);
  bio_loop_options_init(&o);
  o.backend = "uring";
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), 0);
  ck_assert_str_eq(bio_loop_backend(loop), "uring");
  bio_loop_free(loop);
  ck_assert_int_eq(bio_loop_new_ex(&loop, NULL), 0);
  ck_assert_str_eq(bio_loop_backend(loop), "epoll");
  bio_loop_free(loop);
  o.backend = "kqueue";
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), -EINVAL);
  ck_assert_int_eq(bio_loop_new_ex(NULL, &o), -EINVAL);
  unsetenv("BIO_BACKEND");
}
END_TEST

/* The queue sizes asked for are the ring's (the kernel's fdinfo masks);
 * sizes past io_uring's limits, or a CQ smaller than the SQ, are
 * refused before anything is made. */
START_TEST(ring_sizes_reach_the_kernel) {
  bio_loop_options o;
  bio_loop *loop;

  bio_loop_options_init(&o);
  o.backend = "uring";
  o.sq_entries = 64;
  o.cq_entries = 512;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), 0);
  ck_assert_int_eq(ring_info(loop, "SqMask"), 63);
  ck_assert_int_eq(ring_info(loop, "CqMask"), 511);
  bio_loop_free(loop);
  /* The defaults: 256 and 2048. */
  o.sq_entries = o.cq_entries = 0;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), 0);
  ck_assert_int_eq(ring_info(loop, "SqMask"), 255);
  ck_assert_int_eq(ring_info(loop, "CqMask"), 2047);
  bio_loop_free(loop);

  o.sq_entries = 40000;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), -EINVAL);
  o.sq_entries = 64;
  o.cq_entries = 32;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), -EINVAL);
  o.cq_entries = 100000;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), -EINVAL);
}
END_TEST

typedef struct {
  bio_op op;
  int done;
} counted;

static void count_cb(bio_loop *loop, bio_op *op) {
  (void)loop;
  ((counted *)(void *)op)->done++;
}

/* A ring made to share another's kernel worker pool (the kernel accepts
 * IORING_SETUP_ATTACH_WQ with the other ring's fd) completes its ops, and
 * only an io_uring loop can be shared. */
START_TEST(attach_wq_shares_an_io_uring_loops_workers) {
  bio_loop_options o;
  bio_loop *a, *b, *e;
  counted c;
  char buf[8];
  int fds[2], i;

  bio_loop_options_init(&o);
  o.backend = "uring";
  ck_assert_int_eq(bio_loop_new_ex(&a, &o), 0);
  o.attach_wq = a;
  ck_assert_int_eq(bio_loop_new_ex(&b, &o), 0);
  ck_assert_str_eq(bio_loop_backend(b), "uring");

  /* A pipe read on the attached ring: it completes once the writer
   * writes. */
  ck_assert_int_eq(pipe(fds), 0);
  memset(&c, 0, sizeof(c));
  c.op.opcode = BIO_OP_READ;
  c.op.fd = fds[0];
  c.op.buf = buf;
  c.op.u.len = sizeof(buf);
  c.op.off = -1;
  c.op.cb = count_cb;
  bio__op_submit(b, &c.op);
  bio_loop_poll(b, 0);
  ck_assert_int_eq(write(fds[1], "abc", 3), 3);
  for (i = 0; i < 1000 && c.done == 0; i++)
    bio_loop_poll(b, 10);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.op.res, 3);
  close(fds[0]);
  close(fds[1]);
  bio_loop_free(b);
  bio_loop_free(a);

  o.backend = "epoll";
  o.attach_wq = NULL;
  ck_assert_int_eq(bio_loop_new_ex(&e, &o), 0);
  o.backend = NULL;
  o.attach_wq = e;
  ck_assert_int_eq(bio_loop_new_ex(&b, &o), -EINVAL);
  bio_loop_free(e);
}
END_TEST

/* spin_us sets the spin; -1 takes BIO_LOOP_SPIN_US, which the library
 * reads once per process: a change after the first loop is not seen. */
START_TEST(spin_option_and_the_setting_read_once) {
  bio_loop_options o;
  bio_loop *loop;

  setenv("BIO_LOOP_SPIN_US", "7", 1);
  bio_loop_options_init(&o);
  o.spin_us = 0;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), 0);
  ck_assert_uint_eq(loop->spin_ns, 0);
  bio_loop_free(loop);
  o.spin_us = 120;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), 0);
  ck_assert_uint_eq(loop->spin_ns, 120000);
  bio_loop_free(loop);
  o.spin_us = -1;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), 0);
  ck_assert_uint_eq(loop->spin_ns, 7000);
  bio_loop_free(loop);
  setenv("BIO_LOOP_SPIN_US", "9", 1);
  ck_assert_int_eq(bio_loop_new_ex(&loop, NULL), 0);
  ck_assert_uint_eq(loop->spin_ns, 7000);
  bio_loop_free(loop);
  ck_assert_uint_eq(bio__settings()->loop_spin_ns, 7000);
  o.spin_us = 20000;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), -EINVAL);
  o.spin_us = -2;
  ck_assert_int_eq(bio_loop_new_ex(&loop, &o), -EINVAL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("options");
  TCase *tc = tcase_create("loop");

  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, options_init_leaves_every_choice_to_the_library);
  tcase_add_test(tc, backend_option_over_the_environment);
  tcase_add_test(tc, ring_sizes_reach_the_kernel);
  tcase_add_test(tc, attach_wq_shares_an_io_uring_loops_workers);
  tcase_add_test(tc, spin_option_and_the_setting_read_once);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
