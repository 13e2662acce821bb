/* Unit tests of uv_fs_event_t (inotify) on both backends: event kinds and
 * names, handles sharing a watch, stop and close from callbacks, getpath,
 * the loop's teardown; plus the synchronous and pooled uv_fs_* calls the
 * watchers' tests lean on. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blitzio.h"
#include "uv.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static char dir[256];

static void setup_dir(int backend) {
  bio_test_backend(backends[backend]);
  snprintf(dir, sizeof(dir), "%s/bio-fsev-XXXXXX",
           getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];

  ck_assert_ptr_nonnull(d);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static const char *in_dir(const char *name) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return path;
}

static void create_file(const char *name) {
  uv_fs_t req;
  int fd = uv_fs_open(NULL, &req, in_dir(name), O_WRONLY | O_CREAT, 0600, NULL);
  ck_assert_int_ge(fd, 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_close(NULL, &req, fd, NULL), 0);
  uv_fs_req_cleanup(&req);
}

static void append_file(const char *name) {
  uv_fs_t req;
  uv_buf_t buf = uv_buf_init("x", 1);
  int fd = uv_fs_open(NULL, &req, in_dir(name), O_WRONLY | O_APPEND, 0, NULL);
  ck_assert_int_ge(fd, 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_write(NULL, &req, fd, &buf, 1, -1, NULL), 1);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_close(NULL, &req, fd, NULL), 0);
  uv_fs_req_cleanup(&req);
}

/* Every callback appends here: which handle, what, which name. */
struct seen {
  uv_fs_event_t *h;
  int events;
  char name[64];
};
static struct seen seen[64];
static int nseen;
static int closed;

static void record_cb(uv_fs_event_t *h, const char *name, int events,
                      int status) {
  ck_assert_int_eq(status, 0);
  ck_assert_int_lt(nseen, 64);
  seen[nseen].h = h;
  seen[nseen].events = events;
  snprintf(seen[nseen].name, sizeof(seen[nseen].name), "%s",
           name != NULL ? name : "(null)");
  nseen++;
}

static void close_cb(uv_handle_t *h) {
  (void)h;
  closed++;
}

/* Runs the loop until the queued inotify events are through: a few
 * NOWAIT turns, since every event was queued before we started. */
static void drain(uv_loop_t *loop) {
  int i;
  for (i = 0; i < 4; i++)
    uv_run(loop, UV_RUN_NOWAIT);
}

static void reset(void) {
  nseen = 0;
  closed = 0;
  memset(seen, 0, sizeof(seen));
}

START_TEST(dir_events_carry_entry_names) {
  uv_loop_t loop;
  uv_fs_event_t h;
  uv_fs_t req;
  char from[512];

  setup_dir(_i);
  reset();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_str_eq(bio_uv_loop_backend(&loop), bio_test_expect_backend(backends[_i]));
  ck_assert_int_eq(uv_fs_event_init(&loop, &h), 0);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, dir, 0), 0);
  ck_assert(uv_is_active((uv_handle_t *)&h));

  create_file("a");
  append_file("a");
  snprintf(from, sizeof(from), "%s", in_dir("a"));
  ck_assert_int_eq(uv_fs_rename(NULL, &req, from, in_dir("b"), NULL), 0);
  uv_fs_req_cleanup(&req);
  drain(&loop);

  ck_assert_int_eq(nseen, 4);
  ck_assert_int_eq(seen[0].events, UV_RENAME); /* created */
  ck_assert_str_eq(seen[0].name, "a");
  ck_assert_int_eq(seen[1].events, UV_CHANGE); /* written */
  ck_assert_str_eq(seen[1].name, "a");
  ck_assert_int_eq(seen[2].events, UV_RENAME); /* moved from */
  ck_assert_str_eq(seen[2].name, "a");
  ck_assert_int_eq(seen[3].events, UV_RENAME); /* moved to */
  ck_assert_str_eq(seen[3].name, "b");

  uv_close((uv_handle_t *)&h, close_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  remove_dir();
}
END_TEST

START_TEST(file_events_carry_basename) {
  uv_loop_t loop;
  uv_fs_event_t h;

  setup_dir(_i);
  reset();
  create_file("watched");
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_fs_event_init(&loop, &h), 0);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, in_dir("watched"), 0), 0);
  append_file("watched");
  drain(&loop);
  ck_assert_int_eq(nseen, 1);
  ck_assert_int_eq(seen[0].events, UV_CHANGE);
  ck_assert_str_eq(seen[0].name, "watched");

  uv_close((uv_handle_t *)&h, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  remove_dir();
}
END_TEST

START_TEST(two_handles_share_a_watch_and_stop_keeps_the_other) {
  uv_loop_t loop;
  uv_fs_event_t h[2];
  char slashed[512];

  setup_dir(_i);
  reset();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_fs_event_init(&loop, &h[0]), 0);
  ck_assert_int_eq(uv_fs_event_init(&loop, &h[1]), 0);
  /* A different spelling of the same directory: the kernel gives the
   * same watch descriptor, so the handles share it. */
  snprintf(slashed, sizeof(slashed), "%s/", dir);
  ck_assert_int_eq(uv_fs_event_start(&h[0], record_cb, dir, 0), 0);
  ck_assert_int_eq(uv_fs_event_start(&h[1], record_cb, slashed, 0), 0);
  ck_assert_int_eq(h[0].wd, h[1].wd);

  create_file("one");
  drain(&loop);
  ck_assert_int_eq(nseen, 2);
  ck_assert_ptr_eq(seen[0].h, &h[0]); /* start order */
  ck_assert_ptr_eq(seen[1].h, &h[1]);
  ck_assert_str_eq(seen[0].name, "one");
  ck_assert_str_eq(seen[1].name, "one");

  ck_assert_int_eq(uv_fs_event_stop(&h[0]), 0);
  ck_assert(!uv_is_active((uv_handle_t *)&h[0]));
  ck_assert_int_eq(uv_fs_event_stop(&h[0]), 0); /* twice is fine */
  reset();
  create_file("two");
  drain(&loop);
  ck_assert_int_eq(nseen, 1);
  ck_assert_ptr_eq(seen[0].h, &h[1]);
  ck_assert_str_eq(seen[0].name, "two");

  /* A stopped handle starts again, on another path. */
  create_file("f");
  drain(&loop);
  reset();
  ck_assert_int_eq(uv_fs_event_start(&h[0], record_cb, in_dir("f"), 0), 0);
  ck_assert_int_ne(h[0].wd, h[1].wd);
  append_file("f");
  drain(&loop);
  ck_assert_int_eq(nseen, 2); /* the dir's handle and the file's */

  uv_close((uv_handle_t *)&h[0], close_cb);
  uv_close((uv_handle_t *)&h[1], close_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 2);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  remove_dir();
}
END_TEST

/* The first handle to see an event closes itself and the next one, which
 * shares the watch and has the same event pending in the same batch. */
static uv_fs_event_t trio[3];
static int trio_calls[3];

static void trio_cb(uv_fs_event_t *h, const char *name, int events,
                    int status) {
  int i = (int)(h - trio);
  (void)name;
  (void)events;
  ck_assert_int_eq(status, 0);
  ck_assert(!uv_is_closing((uv_handle_t *)h));
  trio_calls[i]++;
  if (i == 0) {
    uv_close((uv_handle_t *)&trio[0], close_cb);
    uv_close((uv_handle_t *)&trio[1], close_cb);
  }
}

START_TEST(close_never_calls_back_after_close) {
  uv_loop_t loop;
  uv_fs_event_t h;
  int i;

  setup_dir(_i);
  reset();
  ck_assert_int_eq(uv_loop_init(&loop), 0);

  /* Closed with an event already queued in the kernel. */
  ck_assert_int_eq(uv_fs_event_init(&loop, &h), 0);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, dir, 0), 0);
  create_file("pending");
  uv_close((uv_handle_t *)&h, close_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(nseen, 0);
  ck_assert_int_eq(closed, 1);

  /* Closed from a sibling's callback in the same dispatch. */
  reset();
  memset(trio_calls, 0, sizeof(trio_calls));
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(uv_fs_event_init(&loop, &trio[i]), 0);
    ck_assert_int_eq(uv_fs_event_start(&trio[i], trio_cb, dir, 0), 0);
  }
  create_file("batch");
  drain(&loop);
  ck_assert_int_eq(trio_calls[0], 1);
  ck_assert_int_eq(trio_calls[1], 0);
  ck_assert_int_eq(trio_calls[2], 1);
  ck_assert_int_eq(closed, 2);
  uv_close((uv_handle_t *)&trio[2], close_cb);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 3);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  remove_dir();
}
END_TEST

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  ck_assert_ptr_nonnull(d);
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

START_TEST(getpath_errors_and_loop_teardown) {
  uv_loop_t loop;
  uv_fs_event_t h;
  char buf[512];
  size_t len;
  int fds;

  setup_dir(_i);
  fds = count_fds();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_fs_event_init(&loop, &h), 0);
  len = sizeof(buf);
  ck_assert_int_eq(uv_fs_event_getpath(&h, buf, &len), UV_EINVAL);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, in_dir("missing"), 0),
                   UV_ENOENT);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, "", 0), UV_ENOENT);
  ck_assert_int_eq(uv_fs_event_start(&h, NULL, dir, 0), UV_EINVAL);
  ck_assert(!uv_is_active((uv_handle_t *)&h));

  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, dir, 0), 0);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, dir, 0), UV_EINVAL);
  len = 0;
  ck_assert_int_eq(uv_fs_event_getpath(&h, buf, &len), UV_ENOBUFS);
  ck_assert_uint_eq(len, strlen(dir) + 1);
  ck_assert_int_eq(uv_fs_event_getpath(&h, buf, &len), 0);
  ck_assert_uint_eq(len, strlen(dir));
  ck_assert_str_eq(buf, dir);

  uv_close((uv_handle_t *)&h, NULL);
  ck_assert_int_eq(uv_fs_event_start(&h, record_cb, dir, 0), UV_EINVAL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  /* The inotify fd went with the loop. */
  ck_assert_int_eq(count_fds(), fds);
  remove_dir();
}
END_TEST

/* ---- the fs calls ---- */

static int fs_cb_calls;

static void utime_cb(uv_fs_t *req) {
  ck_assert_int_eq(req->fs_type, UV_FS_UTIME);
  ck_assert_int_eq(req->result, 0);
  ck_assert_str_eq(req->path, in_dir("t"));
  fs_cb_calls++;
  uv_fs_req_cleanup(req);
}

START_TEST(fs_sync_calls_and_pooled_utime) {
  uv_loop_t loop;
  uv_fs_t req;
  uv_buf_t bufs[2];
  char a[4] = "abc", b[4] = "def", back[8];
  int fd;

  setup_dir(_i);
  fd = uv_fs_open(NULL, &req, in_dir("t"), O_RDWR | O_CREAT, 0600, NULL);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(req.type, UV_FS);
  ck_assert_int_eq(uv_fs_get_type(&req), UV_FS_OPEN);
  ck_assert_int_eq(uv_fs_get_result(&req), fd);
  uv_fs_req_cleanup(&req);
  ck_assert_ptr_null(req.path);

  bufs[0] = uv_buf_init(a, 3);
  bufs[1] = uv_buf_init(b, 3);
  ck_assert_int_eq(uv_fs_write(NULL, &req, fd, bufs, 2, 0, NULL), 6);
  uv_fs_req_cleanup(&req);
  bufs[0] = uv_buf_init(back, sizeof(back));
  ck_assert_int_eq(uv_fs_read(NULL, &req, fd, bufs, 1, 1, NULL), 5);
  ck_assert(memcmp(back, "bcdef", 5) == 0);
  uv_fs_req_cleanup(&req);

  ck_assert_int_eq(uv_fs_fstat(NULL, &req, fd, NULL), 0);
  ck_assert_uint_eq(req.statbuf.st_size, 6);
  ck_assert_ptr_eq(uv_fs_get_ptr(&req), &req.statbuf);
  uv_fs_req_cleanup(&req);

  ck_assert_int_eq(uv_fs_futime(NULL, &req, fd, 1000.5, 2000.25, NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_stat(NULL, &req, in_dir("t"), NULL), 0);
  ck_assert_int_eq(req.statbuf.st_atim.tv_sec, 1000);
  ck_assert_int_eq(req.statbuf.st_atim.tv_nsec, 500000000);
  ck_assert_int_eq(req.statbuf.st_mtim.tv_sec, 2000);
  ck_assert_int_eq(req.statbuf.st_mtim.tv_nsec, 250000000);
  uv_fs_req_cleanup(&req);
  /* Before the epoch the nanoseconds stay positive. */
  ck_assert_int_eq(uv_fs_utime(NULL, &req, in_dir("t"), -1.25, -1.25, NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_lstat(NULL, &req, in_dir("t"), NULL), 0);
  ck_assert_int_eq(req.statbuf.st_mtim.tv_sec, -2);
  ck_assert_int_eq(req.statbuf.st_mtim.tv_nsec, 750000000);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_close(NULL, &req, fd, NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_close(NULL, &req, fd, NULL), UV_EBADF);
  uv_fs_req_cleanup(&req);

  ck_assert_int_eq(uv_fs_mkdir(NULL, &req, in_dir("d"), 0700, NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_mkdir(NULL, &req, in_dir("d"), 0700, NULL), UV_EEXIST);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_rmdir(NULL, &req, in_dir("d"), NULL), 0);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_unlink(NULL, &req, in_dir("nope"), NULL), UV_ENOENT);
  ck_assert_int_eq(uv_fs_get_system_error(&req), 2);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_stat(NULL, &req, NULL, NULL), UV_EINVAL);
  /* A NaN is UV_FS_UTIME_OMIT since libuv 1.51; -infinity means nothing. */
  ck_assert_int_eq(uv_fs_utime(NULL, &req, in_dir("t"), -1.0 / 0.0, 1, NULL),
                   UV_EINVAL);
  uv_fs_req_cleanup(&req);
  ck_assert_int_eq(uv_fs_utime(NULL, &req, in_dir("t"), 1e300 * 1e300 * -1,
                               1e19, NULL),
                   UV_EINVAL);

  /* The pooled form: the request keeps the loop alive until its callback. */
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  fs_cb_calls = 0;
  ck_assert_int_eq(uv_fs_utime(&loop, &req, in_dir("t"), 5, 6, utime_cb), 0);
  ck_assert(uv_loop_alive(&loop));
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(fs_cb_calls, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  remove_dir();
}
END_TEST

int main(void) {
  Suite *s = suite_create("fs_event");
  TCase *tc = tcase_create("uv");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, dir_events_carry_entry_names, 0, 2);
  tcase_add_loop_test(tc, file_events_carry_basename, 0, 2);
  tcase_add_loop_test(tc, two_handles_share_a_watch_and_stop_keeps_the_other, 0,
                      2);
  tcase_add_loop_test(tc, close_never_calls_back_after_close, 0, 2);
  tcase_add_loop_test(tc, getpath_errors_and_loop_teardown, 0, 2);
  tcase_add_loop_test(tc, fs_sync_calls_and_pooled_utime, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
