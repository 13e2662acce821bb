/* Unit tests of async uv_fs_t requests on both backends, which on io_uring
 * run as kernel ops: libuv's results (req->result, statbuf and ptr,
 * path kept until cleanup), writes and reads at the file position
 * (offset -1), short-write continuation, ESPIPE for positioned pipe I/O,
 * the path ops, uv_cancel before
 * the kernel sees a request, BIO_NO_URING_FS,
 * and the ETXTBSY regression of libuv #4059 (exec right after an async
 * close). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
/* For fs.native: which requests the loop runs as io_uring ops. */
#include "../../compat/loop.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

/* In the build directory, not /tmp: the exec test needs a filesystem
 * that is not mounted noexec. */
static char dir[64];

static void use_backend(int i) {
  bio_test_backend(backends[i]);
  strcpy(dir, "bio-test-fs-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void path_in(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", dir, name);
}

/* Runs one async request to its end and returns its result. */
static uv_fs_t *last;
static int ncb;

static void record_cb(uv_fs_t *req) {
  last = req;
  ncb++;
}

static ssize_t finish(uv_loop_t *loop, uv_fs_t *req, int started) {
  ck_assert_int_eq(started, 0);
  ncb = 0;
  ck_assert_int_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(ncb, 1);
  ck_assert_ptr_eq(last, req);
  return req->result;
}

/* ---- open, write and read at the file position, stat ---- */

START_TEST(rw_at_file_position_and_stat) {
  uv_loop_t loop;
  uv_fs_t req;
  char path[128];
  char got[32];
  uv_buf_t b[3];
  uv_file fd;
  struct stat st;

  use_backend(_i);

  path_in(path, sizeof(path), "a");
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(finish(&loop, &req,
                          uv_fs_open(&loop, &req, path,
                                     O_RDWR | O_CREAT | O_TRUNC, 0640,
                                     record_cb)) >= 0,
                   1);
  fd = (uv_file)req.result;
  ck_assert_str_eq(req.path, path); /* kept until cleanup */
  uv_fs_req_cleanup(&req);
  ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  if (strcmp(bio_test_expect_backend(backends[_i]), "uring") == 0)
    ck_assert(bio__uv(&loop)->fs.native & (1u << UV_FS_OPEN));

  /* Two writes at -1 append at the position; the second is three
   * buffers (writev). */
  b[0] = uv_buf_init("hello", 5);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_write(&loop, &req, fd, b, 1, -1, record_cb)),
      5);
  uv_fs_req_cleanup(&req);
  b[0] = uv_buf_init(" ", 1);
  b[1] = uv_buf_init("", 0);
  b[2] = uv_buf_init("world", 5);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_write(&loop, &req, fd, b, 3, -1, record_cb)),
      6);
  uv_fs_req_cleanup(&req);
  /* Positioned read, then reads at the position after an lseek. */
  memset(got, 0, sizeof(got));
  b[0] = uv_buf_init(got, sizeof(got));
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_read(&loop, &req, fd, b, 1, 0, record_cb)),
      11);
  ck_assert_str_eq(got, "hello world");
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(lseek(fd, 6, SEEK_SET), 6);
  memset(got, 0, sizeof(got));
  b[0] = uv_buf_init(got, 2);
  b[1] = uv_buf_init(got + 2, 10);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_read(&loop, &req, fd, b, 2, -1, record_cb)),
      5);
  ck_assert_str_eq(got, "world");
  ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 11);
  uv_fs_req_cleanup(&req);

  /* fstat and stat fill statbuf and point ptr at it; the request's own
   * fields survive (file) and cleanup has nothing to free. */
  ck_assert_int_eq(fstat(fd, &st), 0);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_fstat(&loop, &req, fd, record_cb)), 0);
  ck_assert_ptr_eq(req.ptr, &req.statbuf);
  ck_assert_uint_eq(req.statbuf.st_size, 11);
  ck_assert_uint_eq(req.statbuf.st_ino, st.st_ino);
  ck_assert_uint_eq(req.statbuf.st_mode, st.st_mode);
  ck_assert_uint_eq(req.statbuf.st_mtim.tv_sec, st.st_mtim.tv_sec);
  ck_assert_uint_eq(req.statbuf.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
  ck_assert_ptr_null(req.bufs);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_stat(&loop, &req, path, record_cb)), 0);
  ck_assert_str_eq(req.path, path);
  ck_assert_uint_eq(req.statbuf.st_ino, st.st_ino);
  ck_assert_uint_eq(req.statbuf.st_mode & 0777, 0640);
  uv_fs_req_cleanup(&req);
  ck_assert_ptr_null(req.path);
  ck_assert_int_eq(finish(&loop, &req,
                          uv_fs_stat(&loop, &req, "/nonexistent/x",
                                     record_cb)),
                   UV_ENOENT);
  ck_assert_ptr_null(req.ptr);
  uv_fs_req_cleanup(&req);

  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_ftruncate(&loop, &req, fd, 3, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_fdatasync(&loop, &req, fd, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(fstat(fd, &st), 0);
  ck_assert_int_eq(st.st_size, 3);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_close(&loop, &req, fd, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_close(&loop, &req, fd, record_cb)),
      UV_EBADF);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(unlink(path), 0);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- a write bigger than a pipe takes: the rest goes on after a short
 * write, as libuv's write loop does ---- */

static char big[256 * 1024];

static size_t drained;

static void drain(void *arg) {
  int fd = *(int *)arg;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    drained += (size_t)n;
}

START_TEST(short_write_continues) {
  uv_loop_t loop;
  uv_fs_t req;
  uv_buf_t b[2];
  int p[2];
  uv_thread_t t;
  int rfd;

  use_backend(_i);

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(pipe(p), 0);
  rfd = p[0];
  ck_assert_int_eq(uv_thread_create(&t, drain, &rfd), 0);
  memset(big, 'x', sizeof(big));
  b[0] = uv_buf_init(big, sizeof(big) / 2);
  b[1] = uv_buf_init(big + sizeof(big) / 2, sizeof(big) / 2);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_write(&loop, &req, p[1], b, 2, -1, record_cb)),
      (ssize_t)sizeof(big));
  uv_fs_req_cleanup(&req);
  close(p[1]);
  ck_assert_int_eq(uv_thread_join(&t), 0);
  ck_assert_uint_eq(drained, sizeof(big));
  close(p[0]);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- a positioned read or write on a pipe is ESPIPE, as pread/pwrite
 * answer (io_uring alone would ignore the offset and read) ---- */

START_TEST(positioned_rw_on_pipe_is_espipe) {
  uv_loop_t loop;
  uv_fs_t req;
  uv_buf_t b;
  char buf[8];
  int p[2];

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(pipe(p), 0);
  ck_assert_int_eq(write(p[1], "abc", 3), 3);
  b = uv_buf_init(buf, sizeof(buf));
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_read(&loop, &req, p[0], &b, 1, 1, record_cb)),
      UV_ESPIPE);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_write(&loop, &req, p[1], &b, 1, 0, record_cb)),
      UV_ESPIPE);
  uv_fs_req_cleanup(&req);
  /* At the position (-1), a pipe reads as read(2) does. */
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_read(&loop, &req, p[0], &b, 1, -1, record_cb)),
      3);
  uv_fs_req_cleanup(&req);
  close(p[0]);
  close(p[1]);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- the path ops ---- */

START_TEST(path_ops) {
  uv_loop_t loop;
  uv_fs_t req;
  char d[128], f[128], f2[128], ln[128], sl[128];
  struct stat st;
  int fd;

  use_backend(_i);

  path_in(d, sizeof(d), "sub");
  path_in(f, sizeof(f), "sub/f");
  path_in(f2, sizeof(f2), "sub/g");
  path_in(ln, sizeof(ln), "sub/hard");
  path_in(sl, sizeof(sl), "sub/soft");
  ck_assert_int_eq(uv_loop_init(&loop), 0);

  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_mkdir(&loop, &req, d, 0750, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(stat(d, &st), 0);
  ck_assert_int_eq(st.st_mode & 07777, 0750 & ~umask(022));
  umask(022);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_mkdir(&loop, &req, d, 0750, record_cb)),
      UV_EEXIST);
  uv_fs_req_cleanup(&req);
  fd = open(f, O_CREAT | O_WRONLY, 0600);
  ck_assert_int_ge(fd, 0);
  close(fd);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_rename(&loop, &req, f, f2, record_cb)), 0);
  ck_assert_str_eq(req.new_path, f2);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(access(f2, F_OK), 0);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_link(&loop, &req, f2, ln, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_symlink(&loop, &req, "g", sl, 0, record_cb)),
      0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_lstat(&loop, &req, sl, record_cb)), 0);
  ck_assert(S_ISLNK(req.statbuf.st_mode));
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_stat(&loop, &req, sl, record_cb)), 0);
  ck_assert(S_ISREG(req.statbuf.st_mode));
  ck_assert_uint_eq(req.statbuf.st_nlink, 2);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_rmdir(&loop, &req, d, record_cb)),
      UV_ENOTEMPTY);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_unlink(&loop, &req, d, record_cb)),
      UV_EISDIR);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_unlink(&loop, &req, sl, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_unlink(&loop, &req, ln, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_unlink(&loop, &req, f2, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_rmdir(&loop, &req, d, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- uv_cancel of an io_uring request whose SQE has not reached the
 * kernel yet: certain, and the callback says UV_ECANCELED ---- */

START_TEST(cancel_before_the_kernel_sees_it) {
  uv_loop_t loop;
  uv_fs_t req, other;

  if (bio_test_uring_denied())
    return; /* about io_uring's submission queue: nothing to show */
  use_backend(0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  /* The open first, while the pool is idle, so that it goes to io_uring
   * (a request issued while pool work waits goes to the pool, as libuv
   * would queue it; and a lone stat goes to the pool by choice). */
  ck_assert_int_eq(uv_fs_open(&loop, &req, "/", O_RDONLY, 0, record_cb), 0);
  ck_assert_int_eq(uv_fs_stat(&loop, &other, "/", record_cb), 0);
  ck_assert(bio__uv(&loop)->fs.native & (1u << UV_FS_OPEN));
  ck_assert_int_eq(uv_cancel((uv_req_t *)&req), 0);
  ncb = 0;
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(ncb, 2);
  ck_assert_int_eq(req.result, UV_ECANCELED);
  ck_assert_ptr_null(req.ptr);
  ck_assert_int_eq(other.result, 0);
  ck_assert(S_ISDIR(other.statbuf.st_mode));
  /* Finished: nothing left to cancel. */
  ck_assert_int_eq(uv_cancel((uv_req_t *)&other), UV_EBUSY);
  uv_fs_req_cleanup(&req);
  uv_fs_req_cleanup(&other);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- EINVAL from io_uring is tried again on the pool; the same answer
 * there is the request's own fault, so the type stays native ---- */

START_TEST(einval_retries_on_the_pool) {
  uv_loop_t loop;
  uv_fs_t req;
  char path[128];
  uint64_t had;
  int fd;

  use_backend(0);
  path_in(path, sizeof(path), "t");
  fd = open(path, O_CREAT | O_RDWR, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  /* The first request probes; remember what it found for ftruncate
   * (IORING_OP_FTRUNCATE needs Linux 6.9). */
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_fsync(&loop, &req, fd, record_cb)), 0);
  uv_fs_req_cleanup(&req);
  had = bio__uv(&loop)->fs.native & (1u << UV_FS_FTRUNCATE);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_ftruncate(&loop, &req, fd, -1, record_cb)),
      UV_EINVAL);
  uv_fs_req_cleanup(&req);
  ck_assert_uint_eq(bio__uv(&loop)->fs.native & (1u << UV_FS_FTRUNCATE), had);
  close(fd);
  ck_assert_int_eq(unlink(path), 0);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- BIO_NO_URING_FS keeps every request on the pool ---- */

START_TEST(env_turns_native_off) {
  uv_loop_t loop;
  uv_fs_t req;

  use_backend(_i);

  setenv("BIO_NO_URING_FS", "1", 1);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(
      finish(&loop, &req, uv_fs_stat(&loop, &req, "/", record_cb)), 0);
  ck_assert(S_ISDIR(req.statbuf.st_mode));
  uv_fs_req_cleanup(&req);
  ck_assert_uint_eq(bio__uv(&loop)->fs.native, 0);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  unsetenv("BIO_NO_URING_FS");
}
END_TEST

/* ---- libuv #4059: an executable written and closed through uv_fs runs
 * at once, without ETXTBSY ---- */

static uv_fs_t exe_req;
static char exe_path[128];
static int exe_runs;
static int exe_status;
static uv_buf_t exe_buf;

static void exe_open_cb(uv_fs_t *req);

static void exe_start(uv_loop_t *loop) {
  snprintf(exe_path, sizeof(exe_path), "%s/exe%d", dir, exe_runs);
  ck_assert_int_eq(uv_fs_open(loop, &exe_req, exe_path,
                              O_WRONLY | O_CREAT | O_TRUNC, 0755,
                              exe_open_cb),
                   0);
}

static void exe_close_cb(uv_fs_t *req) {
  uv_loop_t *loop = req->loop;
  pid_t pid;
  int status;

  ck_assert_int_eq(req->result, 0);
  uv_fs_req_cleanup(req);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char *argv[] = {exe_path, NULL};
    char *envp[] = {NULL};
    execve(exe_path, argv, envp);
    _exit(errno == ETXTBSY ? 3 : 4);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  exe_status = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
  ck_assert_int_eq(exe_status, 0); /* 3: ETXTBSY */
  unlink(exe_path);
  if (++exe_runs < 20)
    exe_start(loop);
}

static void exe_write_cb(uv_fs_t *req) {
  uv_file fd = (uv_file)(intptr_t)req->data;
  ck_assert_int_eq(req->result, (ssize_t)exe_buf.len);
  uv_fs_req_cleanup(req);
  ck_assert_int_eq(uv_fs_close(req->loop, req, fd, exe_close_cb), 0);
}

static void exe_open_cb(uv_fs_t *req) {
  uv_file fd = (uv_file)req->result;
  ck_assert_int_ge(fd, 0);
  uv_fs_req_cleanup(req);
  req->data = (void *)(intptr_t)fd;
  ck_assert_int_eq(
      uv_fs_write(req->loop, req, fd, &exe_buf, 1, -1, exe_write_cb), 0);
}

START_TEST(libuv_4059_exec_after_async_close_is_not_busy) {
  uv_loop_t loop;
  static char script[] = "#!/bin/sh\nexit 0\n";

  use_backend(_i);

  exe_buf = uv_buf_init(script, sizeof(script) - 1);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  exe_start(&loop);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exe_runs, 20);
  ck_assert_int_eq(rmdir(dir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fs");
  TCase *tc = tcase_create("uv");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, rw_at_file_position_and_stat, 0, 2);
  tcase_add_loop_test(tc, short_write_continues, 0, 2);
  tcase_add_loop_test(tc, positioned_rw_on_pipe_is_espipe, 0, 2);
  tcase_add_loop_test(tc, path_ops, 0, 2);
  tcase_add_loop_test(tc, env_turns_native_off, 0, 1);
  tcase_add_test(tc, cancel_before_the_kernel_sees_it);
  tcase_add_test(tc, einval_retries_on_the_pool);
  tcase_add_loop_test(tc, libuv_4059_exec_after_async_close_is_not_busy, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
