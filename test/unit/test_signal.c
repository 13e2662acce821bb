/* Unit tests of uv_signal_t and uv_spawn, on both backends: argument
 * checks, one signal seen by two loops, a oneshot handle stopping while
 * its signal is being delivered (it once hid the signal from the loop's
 * other handles), a signal from another thread ending a blocking
 * UV_RUN_ONCE turn, and child processes (exit status, exec failure,
 * termination by signal, stdout through a created pipe). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }

static int calls[4];

static void count_cb(uv_signal_t *h, int signum) {
  ck_assert_int_eq(signum, SIGUSR1);
  calls[(int)(intptr_t)h->data]++;
}

static void close_one(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}


static void close_all(uv_loop_t *loop) {
  uv_walk(loop, close_one, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(loop), 0);
}


START_TEST(argument_checks) {
  uv_loop_t loop;
  uv_signal_t sig;
  uv_process_t proc;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_signal_init(&loop, &sig), 0);
  ck_assert_int_eq(uv_signal_start(&sig, count_cb, 0), UV_EINVAL);
  ck_assert_int_eq(uv_signal_start(&sig, count_cb, -1), UV_EINVAL);
  ck_assert_int_eq(uv_signal_start(&sig, count_cb, NSIG), UV_EINVAL);
  ck_assert_int_eq(uv_signal_start(&sig, count_cb, SIGKILL), UV_EINVAL);
  ck_assert_int_eq(uv_is_active((uv_handle_t *)&sig), 0);
  ck_assert_int_eq(uv_signal_stop(&sig), 0);
  ck_assert_int_eq(uv_kill(getpid(), -1), UV_EINVAL);
  ck_assert_int_eq(uv_kill(getpid(), 4096), UV_EINVAL);
  ck_assert_int_eq(uv_kill(getpid(), 0), 0);
  ck_assert_int_eq(uv_spawn(&loop, &proc, NULL), UV_EINVAL);
  /* Never spawned: must not become kill(0, ...), our process group. */
  ck_assert_int_eq(uv_process_kill(&proc, SIGTERM), UV_ESRCH);
  close_all(&loop);
}
END_TEST


START_TEST(one_signal_two_loops) {
  uv_loop_t a, b;
  uv_signal_t sa, sb;

  use_backend(_i);
  memset(calls, 0, sizeof(calls));
  ck_assert_int_eq(uv_loop_init(&a), 0);
  ck_assert_int_eq(uv_loop_init(&b), 0);
  ck_assert_int_eq(uv_signal_init(&a, &sa), 0);
  ck_assert_int_eq(uv_signal_init(&b, &sb), 0);
  sa.data = (void *)0;
  sb.data = (void *)1;
  ck_assert_int_eq(uv_signal_start(&sa, count_cb, SIGUSR1), 0);
  ck_assert_int_eq(uv_signal_start(&sb, count_cb, SIGUSR1), 0);
  ck_assert_int_eq(raise(SIGUSR1), 0);
  uv_run(&a, UV_RUN_NOWAIT);
  uv_run(&b, UV_RUN_NOWAIT);
  ck_assert_int_eq(calls[0], 1);
  ck_assert_int_eq(calls[1], 1);
  close_all(&a);
  close_all(&b);
}
END_TEST


START_TEST(oneshot_stop_during_delivery_keeps_others) {
  uv_loop_t loop;
  uv_signal_t h[3];
  int i;

  use_backend(_i);
  memset(calls, 0, sizeof(calls));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(uv_signal_init(&loop, &h[i]), 0);
    h[i].data = (void *)(intptr_t)i;
  }
  /* The oneshot one sits first: it stops while the others still wait
   * for their callbacks in the same delivery. */
  ck_assert_int_eq(uv_signal_start_oneshot(&h[0], count_cb, SIGUSR1), 0);
  ck_assert_int_eq(uv_signal_start(&h[1], count_cb, SIGUSR1), 0);
  ck_assert_int_eq(uv_signal_start(&h[2], count_cb, SIGUSR1), 0);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(raise(SIGUSR1), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  ck_assert_int_eq(calls[0], 1);
  ck_assert_int_eq(calls[1], 3);
  ck_assert_int_eq(calls[2], 3);
  ck_assert_int_eq(uv_is_active((uv_handle_t *)&h[0]), 0);
  close_all(&loop);
}
END_TEST


static void *signal_later(void *arg) {
  (void)arg;
  usleep(100 * 1000); /* long enough for the loop to block */
  kill(getpid(), SIGUSR1);
  return NULL;
}


static void close_on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  calls[0]++;
  uv_close((uv_handle_t *)h, NULL);
}


START_TEST(signal_ends_a_blocking_run_once) {
  uv_loop_t loop;
  uv_signal_t sig;
  pthread_t t;
  sigset_t usr1;

  use_backend(_i);
  memset(calls, 0, sizeof(calls));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_signal_init(&loop, &sig), 0);
  ck_assert_int_eq(uv_signal_start(&sig, close_on_signal, SIGUSR1), 0);
  /* The signal must land on the loop's thread, inside its wait. */
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);
  ck_assert_int_eq(pthread_create(&t, NULL, signal_later, NULL), 0);
  pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_ONCE), 0);
  ck_assert_int_eq(calls[0], 1);
  pthread_join(t, NULL);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


static int64_t exit_status;
static int term_signal;
static int exits;

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  exit_status = status;
  term_signal = sig;
  exits++;
  uv_close((uv_handle_t *)p, NULL);
}


static int spawn_sh(uv_loop_t *loop, uv_process_t *p, const char *script,
                    uv_stdio_container_t *stdio, int nstdio) {
  char *args[] = {"sh", "-c", (char *)script, NULL};
  uv_process_options_t o;

  memset(&o, 0, sizeof(o));
  o.file = "/bin/sh";
  o.args = args;
  o.exit_cb = on_exit_cb;
  o.stdio = stdio;
  o.stdio_count = nstdio;
  return uv_spawn(loop, p, &o);
}


START_TEST(exit_status_and_term_signal) {
  uv_loop_t loop;
  uv_process_t p;

  use_backend(_i);
  exits = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(spawn_sh(&loop, &p, "exit 3", NULL, 0), 0);
  ck_assert_int_gt(uv_process_get_pid(&p), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exits, 1);
  ck_assert_int_eq(exit_status, 3);
  ck_assert_int_eq(term_signal, 0);

  ck_assert_int_eq(spawn_sh(&loop, &p, "sleep 10", NULL, 0), 0);
  ck_assert_int_eq(uv_process_kill(&p, SIGTERM), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exits, 2);
  ck_assert_int_eq(term_signal, SIGTERM);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


START_TEST(exec_failure_is_returned_and_reaped) {
  uv_loop_t loop;
  uv_process_t p, p2;
  uv_process_options_t o;
  char *args[] = {"no-such-program-here", NULL};

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = on_exit_cb;
  ck_assert_int_eq(uv_spawn(&loop, &p, &o), UV_ENOENT);
  ck_assert_int_eq(uv_is_active((uv_handle_t *)&p), 0);
  ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
  ck_assert_int_eq(errno, ECHILD);
  o.file = "/bin/true";
  o.cwd = "/no/such/directory";
  ck_assert_int_eq(uv_spawn(&loop, &p2, &o), UV_ENOENT);
  close_all(&loop);
}
END_TEST


static char out[64];
static size_t out_len;

static void alloc_out(uv_handle_t *h, size_t n, uv_buf_t *buf) {
  (void)h;
  (void)n;
  buf->base = out + out_len;
  buf->len = sizeof(out) - out_len - 1;
}


static void read_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n > 0)
    out_len += (size_t)n;
  else if (n < 0)
    uv_close((uv_handle_t *)s, NULL);
}


START_TEST(stdout_through_a_created_pipe) {
  uv_loop_t loop;
  uv_process_t p;
  uv_pipe_t pipe;
  uv_stdio_container_t stdio[3];

  use_backend(_i);
  exits = 0;
  out_len = 0;
  memset(out, 0, sizeof(out));
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_pipe_init(&loop, &pipe, 0), 0);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&pipe;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  ck_assert_int_eq(spawn_sh(&loop, &p, "echo hello", stdio, 3), 0);
  ck_assert_int_eq(uv_is_readable((uv_stream_t *)&pipe), 1);
  ck_assert_int_eq(uv_is_writable((uv_stream_t *)&pipe), 0);
  ck_assert_int_eq(uv_read_start((uv_stream_t *)&pipe, alloc_out, read_out),
                   0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(exits, 1);
  ck_assert_int_eq(exit_status, 0);
  ck_assert_str_eq(out, "hello\n");
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


int main(void) {
  Suite *s = suite_create("signal");
  TCase *tc = tcase_create("uv");

  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, argument_checks, 0, 2);
  tcase_add_loop_test(tc, one_signal_two_loops, 0, 2);
  tcase_add_loop_test(tc, oneshot_stop_during_delivery_keeps_others, 0, 2);
  tcase_add_loop_test(tc, signal_ends_a_blocking_run_once, 0, 2);
  tcase_add_loop_test(tc, exit_status_and_term_signal, 0, 2);
  tcase_add_loop_test(tc, exec_failure_is_returned_and_reaped, 0, 2);
  tcase_add_loop_test(tc, stdout_through_a_created_pipe, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
