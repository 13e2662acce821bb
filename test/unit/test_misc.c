/* Unit tests for compat/errors.c, compat/misc.c, compat/os.c and the
 * replaceable allocator: error names and strings, version, allocator
 * counting, buffers, clocks, process title, environment and OS queries. */

#include "uv.h"

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check_run.h"

/* ---- errors ------------------------------------------------------------- */

START_TEST(err_names_and_strings) {
  ck_assert_str_eq(uv_err_name(UV_EOF), "EOF");
  ck_assert_str_eq(uv_strerror(UV_EOF), "end of file");
  ck_assert_str_eq(uv_err_name(UV_EINVAL), "EINVAL");
  ck_assert_str_eq(uv_strerror(UV_EINVAL), "invalid argument");
  ck_assert_str_eq(uv_err_name(UV_EAI_NONAME), "EAI_NONAME");
  ck_assert_str_eq(uv_strerror(UV_EAI_NONAME), "unknown node or service");
  ck_assert_str_eq(uv_err_name(UV_ECHARSET), "ECHARSET");
  ck_assert_str_eq(uv_strerror(UV_ENOTSUP),
                   "operation not supported on socket");
  ck_assert_str_eq(uv_strerror(UV_EIO), "i/o error");
  ck_assert_str_eq(uv_err_name(UV_UNKNOWN), "UNKNOWN");
  ck_assert_str_eq(uv_strerror(UV_UNKNOWN), "unknown error");
  ck_assert_str_eq(uv_strerror(UV_ESHUTDOWN),
                   "cannot send after transport endpoint shutdown");
}
END_TEST


START_TEST(err_unknown_codes) {
  const char *a;
  const char *b;
  char buf[64];

  ck_assert_str_eq(uv_err_name(-9999), "Unknown system error -9999");
  ck_assert_str_eq(uv_strerror(-9999), "Unknown system error -9999");
  ck_assert_str_eq(uv_strerror(1234), "Unknown system error 1234");
  ck_assert_str_eq(uv_err_name(0), "Unknown system error 0");
  /* Interned: the same text comes back, and stays valid. */
  a = uv_err_name(-424242);
  b = uv_strerror(-424242);
  ck_assert_ptr_eq(a, b);
  ck_assert_str_eq(a, "Unknown system error -424242");

  ck_assert_ptr_eq(uv_err_name_r(-9999, buf, sizeof(buf)), buf);
  ck_assert_str_eq(buf, "Unknown system error -9999");
  ck_assert_ptr_eq(uv_strerror_r(-9999, buf, sizeof(buf)), buf);
  ck_assert_str_eq(buf, "Unknown system error -9999");
}
END_TEST


START_TEST(err_r_variants_truncate) {
  char buf[8];

  uv_err_name_r(UV_EADDRINUSE, buf, sizeof(buf));
  ck_assert_str_eq(buf, "EADDRIN");
  uv_strerror_r(UV_EOF, buf, sizeof(buf));
  ck_assert_str_eq(buf, "end of ");
  uv_strerror_r(UV_EOF, buf, 1);
  ck_assert_str_eq(buf, "");
  memcpy(buf, "xyz", 4);
  uv_strerror_r(UV_EOF, buf, 0);
  ck_assert_str_eq(buf, "xyz");
  uv_err_name_r(UV_EPIPE, buf, sizeof(buf));
  ck_assert_str_eq(buf, "EPIPE");
}
END_TEST


START_TEST(translate_sys_error) {
  ck_assert_int_eq(uv_translate_sys_error(EINVAL), UV_EINVAL);
  ck_assert_int_eq(uv_translate_sys_error(ENOENT), UV_ENOENT);
  ck_assert_int_eq(uv_translate_sys_error(UV_EPIPE), UV_EPIPE);
  ck_assert_int_eq(uv_translate_sys_error(0), 0);
}
END_TEST


/* ---- version, buffers, clock ------------------------------------------- */

START_TEST(version_is_1_44_2) {
  ck_assert_uint_eq(uv_version(), 0x013401u);
  ck_assert_str_eq(uv_version_string(), "1.52.1");
}
END_TEST


START_TEST(buf_init_fills_fields) {
  char data[4];
  uv_buf_t b = uv_buf_init(data, sizeof(data));

  ck_assert_ptr_eq(b.base, data);
  ck_assert_uint_eq(b.len, 4);
  b = uv_buf_init(NULL, 0);
  ck_assert_ptr_null(b.base);
  ck_assert_uint_eq(b.len, 0);
}
END_TEST


START_TEST(hrtime_monotonic) {
  uint64_t prev = uv_hrtime();
  uint64_t now;
  int i;

  ck_assert_uint_gt(prev, 0);
  for (i = 0; i < 100000; i++) {
    now = uv_hrtime();
    ck_assert_uint_ge(now, prev);
    prev = now;
  }
}
END_TEST


START_TEST(sleep_lasts_at_least) {
  uint64_t start = uv_hrtime();

  /* Only the lower bound is a correctness property. */
  uv_sleep(20);
  ck_assert_uint_ge(uv_hrtime() - start, 20u * 1000000u);
  uv_sleep(0);
}
END_TEST


/* ---- allocator ---------------------------------------------------------- */

static int n_malloc, n_realloc, n_calloc, n_free;

static void *count_malloc(size_t n) { n_malloc++; return malloc(n); }
static void *count_realloc(void *p, size_t n) {
  n_realloc++;
  return realloc(p, n);
}
static void *count_calloc(size_t c, size_t n) {
  n_calloc++;
  return calloc(c, n);
}
static void count_free(void *p) { n_free++; free(p); }


START_TEST(allocator_replacement_counts) {
  uv_env_item_t *items;
  int count;

  ck_assert_int_eq(uv_replace_allocator(NULL, count_realloc, count_calloc,
                                        count_free), UV_EINVAL);
  ck_assert_int_eq(uv_replace_allocator(count_malloc, count_realloc,
                                        count_calloc, NULL), UV_EINVAL);
  ck_assert_int_eq(uv_replace_allocator(count_malloc, count_realloc,
                                        count_calloc, count_free), 0);

  ck_assert_int_eq(uv_os_setenv("BIO_ALLOC_PROBE", "1"), 0);
  ck_assert_int_eq(uv_os_environ(&items, &count), 0);
  ck_assert_int_gt(count, 0);
  ck_assert_int_eq(n_calloc, 1);          /* the item array */
  ck_assert_int_eq(n_malloc, count);      /* one block per item */
  uv_os_free_environ(items, count);
  ck_assert_int_eq(n_free, count + 1);

  /* Unknown error texts are allocated through the allocator too. */
  (void) uv_err_name(-77777);
  ck_assert_int_eq(n_malloc, count + 1);
  (void) uv_strerror(-77777);
  ck_assert_int_eq(n_malloc, count + 1);

  ck_assert_int_eq(uv_replace_allocator(malloc, realloc, calloc, free), 0);
}
END_TEST


/* ---- process title ------------------------------------------------------ */

START_TEST(process_title_roundtrip) {
  /* Laid out back to back like the kernel's argv block. */
  static char area[] = "prog\0-a\0bcd";
  char *argv[] = { area, area + 5, area + 8, NULL };
  char **copy;
  char buf[256];

  copy = uv_setup_args(3, argv);
  ck_assert_ptr_nonnull(copy);
  ck_assert_ptr_ne(copy, argv);
  ck_assert_str_eq(copy[0], "prog");
  ck_assert_str_eq(copy[1], "-a");
  ck_assert_str_eq(copy[2], "bcd");
  ck_assert_ptr_null(copy[3]);

  ck_assert_int_eq(uv_get_process_title(buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "prog");

  ck_assert_int_eq(uv_set_process_title("%s%s%s%n title"), 0);
  ck_assert_int_eq(uv_get_process_title(buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "%s%s%s%n title");
  /* The original area holds a truncated copy; our copy of argv is intact. */
  ck_assert_int_eq(memcmp(area, "%s%s%s%n ti", 11), 0);
  ck_assert_int_eq(area[11], '\0');
  ck_assert_str_eq(copy[1], "-a");

  ck_assert_int_eq(uv_set_process_title("new title"), 0);
  ck_assert_int_eq(uv_get_process_title(buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "new title");
  ck_assert_str_eq(area, "new title");

  ck_assert_int_eq(uv_get_process_title(buf, 9), UV_ENOBUFS);
  ck_assert_int_eq(uv_get_process_title(buf, 10), 0);
  ck_assert_int_eq(uv_get_process_title(buf, 1), UV_ENOBUFS);
  ck_assert_int_eq(uv_get_process_title(NULL, 100), UV_EINVAL);
  ck_assert_int_eq(uv_get_process_title(buf, 0), UV_EINVAL);
  ck_assert_int_eq(uv_set_process_title(NULL), UV_EINVAL);

  ck_assert_ptr_eq(uv_setup_args(0, argv), argv);
}
END_TEST


START_TEST(process_title_without_setup_args) {
  char buf[256];

  /* A permissive extension: libuv says UV_ENOBUFS here. */
  ck_assert_int_eq(uv_get_process_title(buf, sizeof(buf)), 0);
  ck_assert_int_gt(strlen(buf), 0);
  ck_assert_int_eq(uv_set_process_title("bio-unit"), 0);
  ck_assert_int_eq(uv_get_process_title(buf, sizeof(buf)), 0);
  ck_assert_str_eq(buf, "bio-unit");
}
END_TEST


START_TEST(library_shutdown_idempotent) {
  char *argv[] = { strdup("x"), NULL };

  uv_setup_args(1, argv);
  uv_library_shutdown();
  uv_library_shutdown();
  free(argv[0]);
}
END_TEST


START_TEST(disable_stdio_inheritance_sets_cloexec) {
  int fd = open("/dev/null", O_RDONLY);

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  uv_disable_stdio_inheritance();
  ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  ck_assert_int_ne(fcntl(0, F_GETFD) & FD_CLOEXEC, 0);
  close(fd);
}
END_TEST


/* ---- environment -------------------------------------------------------- */

START_TEST(getenv_sizing) {
  char buf[10];
  size_t size;

  ck_assert_int_eq(uv_os_setenv(NULL, "x"), UV_EINVAL);
  ck_assert_int_eq(uv_os_setenv("BIO_T", NULL), UV_EINVAL);
  ck_assert_int_eq(uv_os_unsetenv(NULL), UV_EINVAL);
  size = sizeof(buf);
  ck_assert_int_eq(uv_os_getenv(NULL, buf, &size), UV_EINVAL);
  ck_assert_int_eq(uv_os_getenv("BIO_T", NULL, &size), UV_EINVAL);
  ck_assert_int_eq(uv_os_getenv("BIO_T", buf, NULL), UV_EINVAL);
  size = 0;
  ck_assert_int_eq(uv_os_getenv("BIO_T", buf, &size), UV_EINVAL);

  ck_assert_int_eq(uv_os_setenv("BIO_T", "123456789"), 0);
  size = sizeof(buf);
  ck_assert_int_eq(uv_os_getenv("BIO_T", buf, &size), 0);
  ck_assert_str_eq(buf, "123456789");
  ck_assert_uint_eq(size, 9);

  /* Too small: the answer is the size needed, NUL included. */
  size = 9;
  ck_assert_int_eq(uv_os_getenv("BIO_T", buf, &size), UV_ENOBUFS);
  ck_assert_uint_eq(size, 10);

  ck_assert_int_eq(uv_os_unsetenv("BIO_T"), 0);
  size = sizeof(buf);
  ck_assert_int_eq(uv_os_getenv("BIO_T", buf, &size), UV_ENOENT);
  ck_assert_int_eq(uv_os_unsetenv("BIO_T"), 0);

  ck_assert_int_eq(uv_os_setenv("BIO_T", ""), 0);
  ck_assert_int_eq(uv_os_getenv("BIO_T", buf, &size), 0);
  ck_assert_uint_eq(size, 0);
  ck_assert_str_eq(buf, "");
}
END_TEST


START_TEST(environ_lists_variables) {
  uv_env_item_t *items;
  int count;
  int found = 0;
  int i;

  ck_assert_int_eq(uv_os_setenv("BIO_ENV_A", "x=y"), 0);
  ck_assert_int_eq(uv_os_setenv("BIO_ENV_B", ""), 0);
  ck_assert_int_eq(uv_os_environ(&items, &count), 0);
  for (i = 0; i < count; i++) {
    if (strcmp(items[i].name, "BIO_ENV_A") == 0) {
      ck_assert_str_eq(items[i].value, "x=y");
      found++;
    } else if (strcmp(items[i].name, "BIO_ENV_B") == 0) {
      ck_assert_str_eq(items[i].value, "");
      found++;
    }
  }
  ck_assert_int_eq(found, 2);
  uv_os_free_environ(items, count);
}
END_TEST


START_TEST(homedir_and_tmpdir) {
  char buf[4096];
  size_t len;

  len = sizeof(buf);
  ck_assert_int_eq(uv_os_homedir(buf, &len), 0);
  ck_assert_uint_eq(strlen(buf), len);
  len = 1;
  ck_assert_int_eq(uv_os_homedir(buf, &len), UV_ENOBUFS);
  ck_assert_uint_gt(len, 1);
  len = 0;
  ck_assert_int_eq(uv_os_homedir(buf, &len), UV_EINVAL);

  /* Without HOME the password database answers. */
  ck_assert_int_eq(uv_os_unsetenv("HOME"), 0);
  len = sizeof(buf);
  ck_assert_int_eq(uv_os_homedir(buf, &len), 0);
  ck_assert_uint_gt(len, 0);

  ck_assert_int_eq(uv_os_setenv("TMPDIR", "/some/dir/"), 0);
  len = sizeof(buf);
  ck_assert_int_eq(uv_os_tmpdir(buf, &len), 0);
  ck_assert_str_eq(buf, "/some/dir");
  ck_assert_uint_eq(len, 9);
  len = 10;
  ck_assert_int_eq(uv_os_tmpdir(buf, &len), UV_ENOBUFS);
  ck_assert_uint_eq(len, 11);
  ck_assert_int_eq(uv_os_setenv("TMPDIR", "/"), 0);
  len = sizeof(buf);
  ck_assert_int_eq(uv_os_tmpdir(buf, &len), 0);
  ck_assert_str_eq(buf, "/");
  ck_assert_int_eq(uv_os_tmpdir(NULL, &len), UV_EINVAL);
  ck_assert_int_eq(uv_os_tmpdir(buf, NULL), UV_EINVAL);
}
END_TEST


/* ---- OS queries --------------------------------------------------------- */

START_TEST(passwd_and_identity) {
  uv_passwd_t pwd;

  ck_assert_int_eq(uv_os_get_passwd(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_os_get_passwd(&pwd), 0);
  ck_assert_int_gt(strlen(pwd.username), 0);
  ck_assert_int_gt(strlen(pwd.homedir), 0);
  ck_assert_uint_eq(pwd.uid, geteuid());
  uv_os_free_passwd(&pwd);
  ck_assert_ptr_null(pwd.username);
  ck_assert_ptr_null(pwd.homedir);
  ck_assert_ptr_null(pwd.shell);
  uv_os_free_passwd(&pwd);

  ck_assert_int_eq(uv_os_getpid(), getpid());
  ck_assert_int_eq(uv_os_getppid(), getppid());
}
END_TEST


START_TEST(uname_and_hostname) {
  uv_utsname_t u;
  char host[UV_MAXHOSTNAMESIZE];
  size_t len;

  ck_assert_int_eq(uv_os_uname(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_os_uname(&u), 0);
  ck_assert_str_eq(u.sysname, "Linux");
  ck_assert_int_gt(strlen(u.release), 0);
  ck_assert_int_gt(strlen(u.machine), 0);

  len = sizeof(host);
  ck_assert_int_eq(uv_os_gethostname(host, &len), 0);
  ck_assert_uint_eq(strlen(host), len);
  len = 1;
  ck_assert_int_eq(uv_os_gethostname(host, &len), UV_ENOBUFS);
  ck_assert_uint_gt(len, 1);
  ck_assert_int_eq(uv_os_gethostname(NULL, &len), UV_EINVAL);
}
END_TEST


START_TEST(memory_load_and_time) {
  uv_timeval64_t tv;
  uv_rusage_t ru;
  double uptime;
  double avg[3] = { -1, -1, -1 };
  size_t rss;

  ck_assert_uint_gt(uv_get_total_memory(), 0);
  ck_assert_uint_gt(uv_get_free_memory(), 0);
  ck_assert_uint_gt(uv_get_total_memory(), uv_get_free_memory());
  (void) uv_get_constrained_memory(); /* 0 or a limit; both are valid */
  ck_assert_int_eq(uv_resident_set_memory(&rss), 0);
  ck_assert_uint_gt(rss, 0);
  ck_assert_int_eq(uv_uptime(&uptime), 0);
  ck_assert(uptime > 0);
  uv_loadavg(avg);
  ck_assert(avg[0] >= 0 && avg[1] >= 0 && avg[2] >= 0);
  ck_assert_int_eq(uv_getrusage(&ru), 0);
  ck_assert_int_ge(ru.ru_utime.tv_usec, 0);
  ck_assert_int_eq(uv_gettimeofday(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_gettimeofday(&tv), 0);
  ck_assert_int_gt(tv.tv_sec, 1600000000);
  ck_assert_int_lt(tv.tv_usec, 1000000);
}
END_TEST


START_TEST(cpu_info_and_parallelism) {
  uv_cpu_info_t *ci;
  int count;
  int i;

  ck_assert_uint_ge(uv_available_parallelism(), 1);
  ck_assert_int_eq(uv_cpu_info(&ci, &count), 0);
  ck_assert_int_gt(count, 0);
  for (i = 0; i < count; i++) {
    ck_assert_ptr_nonnull(ci[i].model);
    ck_assert_int_ge(ci[i].speed, 0);
  }
  uv_free_cpu_info(ci, count);
}
END_TEST


START_TEST(priority_bounds) {
  int prio;

  ck_assert_int_eq(uv_os_getpriority(0, NULL), UV_EINVAL);
  ck_assert_int_eq(uv_os_getpriority(0, &prio), 0);
  ck_assert_int_eq(uv_os_setpriority(0, UV_PRIORITY_LOW + 1), UV_EINVAL);
  ck_assert_int_eq(uv_os_setpriority(0, UV_PRIORITY_HIGHEST - 1), UV_EINVAL);
  ck_assert_int_eq(uv_os_setpriority(0, UV_PRIORITY_LOW), 0);
  ck_assert_int_eq(uv_os_getpriority(0, &prio), 0);
  ck_assert_int_eq(prio, UV_PRIORITY_LOW);
}
END_TEST


START_TEST(dl_errors) {
  uv_lib_t lib = { NULL, NULL };
  void *sym;

  ck_assert_str_eq(uv_dlerror(&lib), "no error");
  ck_assert_int_eq(uv_dlopen("/nonexistent/bio.so", &lib), -1);
  ck_assert_ptr_nonnull(strstr(uv_dlerror(&lib), "/nonexistent/bio.so"));
  ck_assert_ptr_nonnull(strstr(uv_dlerror(&lib), "/nonexistent/bio.so"));
  uv_dlclose(&lib);
  ck_assert_str_eq(uv_dlerror(&lib), "no error");

  ck_assert_int_eq(uv_dlopen("libc.so.6", &lib), 0);
  ck_assert_int_eq(uv_dlsym(&lib, "getpid", &sym), 0);
  ck_assert_ptr_nonnull(sym);
  ck_assert_int_eq(uv_dlsym(&lib, "bio_no_such_symbol", &sym), -1);
  ck_assert_ptr_nonnull(strstr(uv_dlerror(&lib), "bio_no_such_symbol"));
  uv_dlclose(&lib);
  ck_assert_ptr_null(lib.handle);
}
END_TEST


static Suite *misc_suite(void) {
  Suite *s = suite_create("misc");
  TCase *tc = tcase_create("core");

  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, err_names_and_strings);
  tcase_add_test(tc, err_unknown_codes);
  tcase_add_test(tc, err_r_variants_truncate);
  tcase_add_test(tc, translate_sys_error);
  tcase_add_test(tc, version_is_1_44_2);
  tcase_add_test(tc, buf_init_fills_fields);
  tcase_add_test(tc, hrtime_monotonic);
  tcase_add_test(tc, sleep_lasts_at_least);
  tcase_add_test(tc, allocator_replacement_counts);
  tcase_add_test(tc, process_title_roundtrip);
  tcase_add_test(tc, process_title_without_setup_args);
  tcase_add_test(tc, library_shutdown_idempotent);
  tcase_add_test(tc, disable_stdio_inheritance_sets_cloexec);
  tcase_add_test(tc, getenv_sizing);
  tcase_add_test(tc, environ_lists_variables);
  tcase_add_test(tc, homedir_and_tmpdir);
  tcase_add_test(tc, passwd_and_identity);
  tcase_add_test(tc, uname_and_hostname);
  tcase_add_test(tc, memory_load_and_time);
  tcase_add_test(tc, cpu_info_and_parallelism);
  tcase_add_test(tc, priority_bounds);
  tcase_add_test(tc, dl_errors);
  suite_add_tcase(s, tc);
  return s;
}


int main(void) {
  return bio_check_run(misc_suite());
}
