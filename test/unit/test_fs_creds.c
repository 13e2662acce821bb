/* CVE-2024-22017: an io_uring ring may act with the credentials of the
 * process that created it. A root process creates a loop (on io_uring,
 * native fs on), drops to nobody, then opens a root-only file
 * asynchronously on that loop: it must get UV_EACCES, and the loop must
 * have noticed the change (fs requests back on the pool). Needs root and
 * io_uring: exits 77 (automake's SKIP) without them. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uv.h"
/* For fs.native: which requests the loop runs as io_uring ops. */
#include "../../compat/loop.h"
#include "check_run.h"

#define NOBODY 65534

static char dir[64];
static char secret[128];
static ssize_t open_result = 1;

static void open_cb(uv_fs_t *req) { open_result = req->result; }

/* Runs in a child of the test (Check forks each test), which exits with
 * what it found: 0 right, 1..5 which check failed. */
static int drop_and_open(void) {
  uv_loop_t loop;
  uv_fs_t req;
  gid_t none[1];

  if (uv_loop_init(&loop) != 0)
    return 1;
  /* One request as root first: the ring is up and fs runs natively. */
  if (uv_fs_stat(&loop, &req, secret, open_cb) != 0 ||
      uv_run(&loop, UV_RUN_DEFAULT) != 0 || open_result != 0)
    return 2;
  uv_fs_req_cleanup(&req);
  if (!(bio__uv(&loop)->fs.native & (1u << UV_FS_OPEN)))
    return 3;

  /* Groups first, then gid, then uid: afterwards none can be taken. */
  none[0] = NOBODY;
  if (setgroups(1, none) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
    return 4;
  open_result = 1;
  if (uv_fs_open(&loop, &req, secret, O_RDONLY, 0, open_cb) != 0 ||
      uv_run(&loop, UV_RUN_DEFAULT) != 0)
    return 5;
  uv_fs_req_cleanup(&req);
  if (open_result != UV_EACCES)
    return 6;
  if (bio__uv(&loop)->fs.native != 0)
    return 7; /* the change went unnoticed */
  return uv_loop_close(&loop) == 0 ? 0 : 8;
}

START_TEST(cve_2024_22017_open_after_dropping_root_is_denied) {
  pid_t pid;
  int status;
  int fd;

  strcpy(dir, "/tmp/bio-test-creds-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  /* The directory may be searched by anyone: EACCES must come from the
   * file's own mode. */
  ck_assert_int_eq(chmod(dir, 0755), 0);
  snprintf(secret, sizeof(secret), "%s/secret", dir);
  fd = open(secret, O_CREAT | O_WRONLY | O_EXCL, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(close(fd), 0);

  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0)
    _exit(drop_and_open());
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  unlink(secret);
  rmdir(dir);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

int main(void) {
  Suite *s;
  TCase *tc;
  uv_loop_t probe;

  if (geteuid() != 0) {
    fprintf(stderr, "SKIP: needs root to drop privileges\n");
    return 77;
  }
  setenv("BIO_BACKEND", "uring", 1);
  unsetenv("BIO_NO_URING_FS");
  if (uv_loop_init(&probe) != 0) {
    fprintf(stderr, "SKIP: no io_uring here\n");
    return 77;
  }
  uv_loop_close(&probe);

  s = suite_create("fs_creds");
  tc = tcase_create("uv");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, cve_2024_22017_open_after_dropping_root_is_denied);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
