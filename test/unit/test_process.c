/* Unit tests of uv_spawn, on both backends: the child runs in the
 * parent's address space until it execs (no copy-on-write of the parent's
 * pages), exec errors come back (ENOENT, EACCES, the PATH of the child's
 * environment) with the parent intact, the ENOEXEC retry under /bin/sh,
 * cwd, env, uid/gid (set as root, refused without it), detached, stdio
 * pipes both ways, dispositions and mask reset in the child, and no
 * handler of the parent run by a child sharing its memory. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"

extern char **environ;

static const char *backends[] = {"uring", "epoll"};

static void use_backend(int i) { bio_test_backend(backends[i]); }


/* ---- a child with its stdout (and optionally stdin) on pipes ---- */

typedef struct {
  uv_process_t proc;
  uv_pipe_t out;
  uv_pipe_t in;
  char buf[4096];
  size_t len;
  int64_t exit_status;
  int term_signal;
  int exited;
} run_t;

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  run_t *r = p->data;
  r->exit_status = status;
  r->term_signal = sig;
  r->exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}


static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  run_t *r = h->data;
  (void)suggested;
  buf->base = r->buf + r->len;
  buf->len = sizeof(r->buf) - 1 - r->len;
}


static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  run_t *r = s->data;
  (void)buf;
  if (n > 0) {
    r->len += (size_t)n;
    r->buf[r->len] = '\0';
  } else if (n < 0) {
    uv_close((uv_handle_t *)s, NULL);
  }
}


/* Spawns o (exit_cb and stdio are set here: stdin ignored or a pipe,
 * stdout a pipe, stderr inherited) and returns uv_spawn's answer; on 0
 * stdout is being read. */
static int start(uv_loop_t *loop, run_t *r, uv_process_options_t *o,
                 int stdin_pipe) {
  uv_stdio_container_t stdio[3];
  int err;

  memset(r, 0, sizeof(*r));
  r->exit_status = -1;
  ck_assert_int_eq(uv_pipe_init(loop, &r->out, 0), 0);
  ck_assert_int_eq(uv_pipe_init(loop, &r->in, 0), 0);
  r->proc.data = r->out.data = r->in.data = r;
  stdio[0].flags = stdin_pipe ? UV_CREATE_PIPE | UV_READABLE_PIPE : UV_IGNORE;
  stdio[0].data.stream = (uv_stream_t *)&r->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&r->out;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  o->stdio = stdio;
  o->stdio_count = 3;
  o->exit_cb = on_exit_cb;
  err = uv_spawn(loop, &r->proc, o);
  if (err != 0) {
    uv_close((uv_handle_t *)&r->proc, NULL);
    uv_close((uv_handle_t *)&r->out, NULL);
    uv_close((uv_handle_t *)&r->in, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return err;
  }
  ck_assert_int_eq(uv_read_start((uv_stream_t *)&r->out, alloc_cb, read_cb),
                   0);
  if (!stdin_pipe)
    uv_close((uv_handle_t *)&r->in, NULL);
  return 0;
}


/* Runs o to its end; returns uv_spawn's answer. */
static int run(uv_loop_t *loop, run_t *r, uv_process_options_t *o) {
  int err = start(loop, r, o, 0);
  if (err != 0)
    return err;
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(r->exited, 1);
  return 0;
}


static void sh_options(uv_process_options_t *o, char **args,
                       const char *script) {
  memset(o, 0, sizeof(*o));
  args[0] = "sh";
  args[1] = "-c";
  args[2] = (char *)script;
  args[3] = NULL;
  o->file = "/bin/sh";
  o->args = args;
}


static void true_options(uv_process_options_t *o, char **args) {
  memset(o, 0, sizeof(*o));
  args[0] = "true";
  args[1] = NULL;
  o->file = "/bin/true";
  o->args = args;
}


static long minor_faults(void) {
  struct rusage ru;
  ck_assert_int_eq(getrusage(RUSAGE_THREAD, &ru), 0);
  return ru.ru_minflt;
}


/* fork write-protects every private page of the parent for copy-on-write
 * (the child is the other user), so the parent's next write to each page
 * faults even after the child has exec'd. A child sharing the address
 * space leaves the page tables alone: writing a touched region again after
 * the spawn costs no fault. (Huge pages are kept out: one of them would be
 * one fault.) */
START_TEST(child_shares_the_address_space) {
  const size_t size = 64 << 20;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uv_process_options_t o;
  uv_loop_t loop;
  char *args[2];
  run_t r;
  char *mem;
  long before;
  long faults;
  size_t i;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
  ck_assert_ptr_ne(mem, MAP_FAILED);
  (void)madvise(mem, size, MADV_NOHUGEPAGE);
  for (i = 0; i < size; i += page)
    mem[i] = 1;

  true_options(&o, args);
  ck_assert_int_eq(start(&loop, &r, &o, 0), 0);
  before = minor_faults();
  for (i = 0; i < size; i += page)
    mem[i] = 2;
  faults = minor_faults() - before;
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(r.exit_status, 0);
  /* fork: one per page, 16384; shared: none (a margin for the rest). */
  ck_assert_msg(faults < (long)(size / page / 16),
                "%ld write faults on %zu pages touched before the spawn",
                faults, size / page);
  munmap(mem, size);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


static int marker = 42;


/* A missing file, directly and by a PATH search: UV_ENOENT, no process,
 * and the parent's memory as it was (the child shared it). */
START_TEST(missing_file_is_enoent_and_parent_intact) {
  char *env[] = {"PATH=/bin:/usr/bin", NULL};
  char **env_before;
  uv_process_options_t o;
  uv_loop_t loop;
  char *args[2];
  run_t r;

  use_backend(_i);
  env_before = environ;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  true_options(&o, args);
  o.file = "/nonexistent/blitz-io-no-such-file";
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_ENOENT);
  ck_assert_int_eq(r.proc.pid, 0);
  true_options(&o, args);
  o.file = "blitz-io-no-such-program";
  o.env = env;
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_ENOENT);
  true_options(&o, args);
  o.file = "";
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_ENOENT);
  ck_assert_ptr_eq(environ, env_before);
  ck_assert_int_eq(marker, 42);
  ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1); /* nothing left */
  ck_assert_int_eq(errno, ECHILD);
  /* And spawning still works. */
  true_options(&o, args);
  ck_assert_int_eq(run(&loop, &r, &o), 0);
  ck_assert_int_eq(r.exit_status, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


static char tmpdir[64];

static void make_tmpdir(void) {
  strcpy(tmpdir, "/tmp/bio-process-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}


static void write_file(const char *name, const char *text, mode_t mode) {
  char path[128];
  int fd;

  snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  ck_assert_int_eq(chmod(path, mode), 0);
}


static void remove_tmpdir(const char **names) {
  char path[128];

  for (; *names != NULL; names++) {
    snprintf(path, sizeof(path), "%s/%s", tmpdir, *names);
    unlink(path);
  }
  ck_assert_int_eq(rmdir(tmpdir), 0);
}


/* A file without execute permission: UV_EACCES by its path, and by a
 * PATH search that finds nothing better (execvp's rule); a script without
 * "#!" runs under /bin/sh (execvp's ENOEXEC retry), found through the
 * PATH of the child's environment. */
START_TEST(eacces_and_path_of_child_env) {
  const char *names[] = {"noexec", "script", NULL};
  char path_var[96];
  char file[96];
  char *env[2];
  uv_process_options_t o;
  uv_loop_t loop;
  char *args[3];
  run_t r;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  make_tmpdir();
  write_file("noexec", "exit 0\n", 0644);
  write_file("script", "echo from-script \"$1\"; exit 7\n", 0755);
  snprintf(path_var, sizeof(path_var), "PATH=/nonexistent:%s", tmpdir);
  env[0] = path_var;
  env[1] = NULL;

  true_options(&o, args);
  snprintf(file, sizeof(file), "%s/noexec", tmpdir);
  o.file = file;
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_EACCES);
  true_options(&o, args);
  o.file = "noexec";
  o.env = env;
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_EACCES);
  /* Not in our PATH: found only through the child's. */
  args[0] = "script";
  args[1] = "arg1";
  args[2] = NULL;
  o.file = "script";
  ck_assert_int_eq(run(&loop, &r, &o), 0);
  ck_assert_int_eq(r.exit_status, 7);
  ck_assert_str_eq(r.buf, "from-script arg1\n");
  remove_tmpdir(names);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


START_TEST(cwd_and_env) {
  char *env[] = {"BIO_SPAWN_VAR=value 1", "PATH=/bin:/usr/bin", NULL};
  uv_process_options_t o;
  uv_loop_t loop;
  char expect[96];
  char *args[4];
  run_t r;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  make_tmpdir();
  sh_options(&o, args, "pwd; echo \"$BIO_SPAWN_VAR\"; echo \"${HOME-unset}\"");
  o.cwd = tmpdir;
  o.env = env;
  setenv("HOME", "/home/parent", 1);
  ck_assert_int_eq(run(&loop, &r, &o), 0);
  ck_assert_int_eq(r.exit_status, 0);
  snprintf(expect, sizeof(expect), "%s\nvalue 1\nunset\n", tmpdir);
  ck_assert_str_eq(r.buf, expect);
  /* No env: ours, as it is now. */
  sh_options(&o, args, "echo \"$HOME\"");
  ck_assert_int_eq(run(&loop, &r, &o), 0);
  ck_assert_str_eq(r.buf, "/home/parent\n");
  /* A cwd that isn't there. */
  sh_options(&o, args, "true");
  o.cwd = "/nonexistent/blitz-io";
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_ENOENT);
  ck_assert_int_eq(rmdir(tmpdir), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


/* As root the child gets the ids and no supplementary groups; without
 * root (dropped here, in this test's own process) setuid is refused with
 * UV_EPERM. */
START_TEST(uid_gid_set_or_refused) {
  uv_process_options_t o;
  uv_loop_t loop;
  char *args[4];
  run_t r;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  if (geteuid() == 0) {
    sh_options(&o, args,
               "echo $(id -u) $(id -G)");
    o.flags = UV_PROCESS_SETUID | UV_PROCESS_SETGID;
    o.uid = 65534;
    o.gid = 65534;
    ck_assert_int_eq(run(&loop, &r, &o), 0);
    ck_assert_int_eq(r.exit_status, 0);
    ck_assert_str_eq(r.buf, "65534 65534\n"); /* no other group */
    /* Drop root for the rest (this test's process only). */
    ck_assert_int_eq(setgroups(0, NULL), 0);
    ck_assert_int_eq(setresgid(65534, 65534, 65534), 0);
    ck_assert_int_eq(setresuid(65534, 65534, 65534), 0);
  }
  sh_options(&o, args, "true");
  o.flags = UV_PROCESS_SETUID;
  o.uid = 0;
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_EPERM);
  sh_options(&o, args, "true");
  o.flags = UV_PROCESS_SETGID;
  o.gid = 0;
  ck_assert_int_eq(start(&loop, &r, &o, 0), UV_EPERM);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


static void closed_cb(uv_handle_t *h) { (void)h; }


/* cat echoes what we write through its stdin pipe on its stdout pipe;
 * detached, it leads a session of its own, else it is in ours. */
START_TEST(stdio_round_trip_and_detached) {
  static const char text[] = "through the child and back\n";
  uv_process_options_t o;
  uv_write_t wreq;
  uv_loop_t loop;
  char *args[2];
  uv_buf_t buf;
  run_t r;
  int detached;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  for (detached = 0; detached < 2; detached++) {
    memset(&o, 0, sizeof(o));
    args[0] = "cat";
    args[1] = NULL;
    o.file = "cat";
    o.args = args;
    o.flags = detached ? UV_PROCESS_DETACHED : 0;
    ck_assert_int_eq(start(&loop, &r, &o, 1), 0);
    if (detached)
      ck_assert_int_eq(getsid(r.proc.pid), r.proc.pid);
    else
      ck_assert_int_eq(getsid(r.proc.pid), getsid(0));
    buf = uv_buf_init((char *)text, sizeof(text) - 1);
    ck_assert_int_eq(uv_write(&wreq, (uv_stream_t *)&r.in, &buf, 1, NULL), 0);
    uv_close((uv_handle_t *)&r.in, closed_cb); /* cat sees EOF after it */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.exited, 1);
    ck_assert_int_eq(r.exit_status, 0);
    ck_assert_str_eq(r.buf, text);
  }
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


/* Ignored and blocked in the parent; the child starts with every classic
 * signal at its default and nothing blocked, as libuv's does. */
START_TEST(dispositions_and_mask_reset) {
  unsigned long long blocked;
  unsigned long long ignored;
  uv_process_options_t o;
  sigset_t usr1;
  uv_loop_t loop;
  char *args[4];
  run_t r;

  use_backend(_i);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
  sh_options(&o, args, "grep -E '^Sig(Blk|Ign):' /proc/self/status");
  ck_assert_int_eq(run(&loop, &r, &o), 0);
  ck_assert_int_eq(r.exit_status, 0);
  ck_assert_int_eq(sscanf(r.buf, "SigBlk: %llx SigIgn: %llx", &blocked,
                          &ignored), 2);
  ck_assert_msg(blocked == 0, "blocked in the child: %llx", blocked);
  /* Real-time ones are left as they are (glibc's own may be ignored by
   * whoever started us). */
  ck_assert_msg((ignored & 0x7fffffffull) == 0, "ignored: %llx", ignored);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


static pid_t parent_pid;
static volatile sig_atomic_t handled;
static volatile sig_atomic_t handled_elsewhere;
static volatile int stop_signalling;

static void usr1_handler(int sig) {
  (void)sig;
  /* In a child sharing our memory this store would land here. */
  if (getpid() != parent_pid)
    handled_elsewhere = 1;
  else
    handled = 1;
}


/* Signals our whole process group (ours alone: set up below) without
 * pause, so children are hit at every point of their start. */
static void *signaller(void *arg) {
  (void)arg;
  while (!stop_signalling)
    kill(0, SIGUSR1);
  return NULL;
}


/* Children sharing our memory take signals while they start; the
 * parent's handler must never run in one of them. Many descriptors to
 * renumber make the window before exec wide. */
START_TEST(parent_handler_not_run_by_child) {
  enum { FDS = 200, SPAWNS = 100 };
  uv_stdio_container_t stdio[FDS];
  uv_process_options_t o;
  struct sigaction sa;
  pthread_t thread;
  uv_process_t proc;
  uv_loop_t loop;
  char *args[2];
  int n;

  use_backend(_i);
  ck_assert_int_eq(setpgid(0, 0), 0);
  parent_pid = getpid();
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = usr1_handler;
  ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  for (n = 0; n < FDS; n++) {
    stdio[n].flags = n < 3 ? UV_IGNORE : UV_INHERIT_FD;
    stdio[n].data.fd = 2;
  }
  true_options(&o, args);
  o.stdio = stdio;
  o.stdio_count = FDS;
  stop_signalling = 0;
  ck_assert_int_eq(pthread_create(&thread, NULL, signaller, NULL), 0);
  for (n = 0; n < SPAWNS; n++) {
    ck_assert_int_eq(uv_spawn(&loop, &proc, &o), 0);
    uv_close((uv_handle_t *)&proc, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  stop_signalling = 1;
  pthread_join(thread, NULL);
  while (waitpid(-1, NULL, 0) > 0)
    ;
  ck_assert_int_eq(handled, 1); /* the signals did come */
  ck_assert_int_eq(handled_elsewhere, 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST


int main(void) {
  Suite *s = suite_create("process");
  TCase *tc = tcase_create("spawn");

  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, child_shares_the_address_space, 0, 2);
  tcase_add_loop_test(tc, missing_file_is_enoent_and_parent_intact, 0, 2);
  tcase_add_loop_test(tc, eacces_and_path_of_child_env, 0, 2);
  tcase_add_loop_test(tc, cwd_and_env, 0, 2);
  tcase_add_loop_test(tc, uid_gid_set_or_refused, 0, 2);
  tcase_add_loop_test(tc, stdio_round_trip_and_detached, 0, 2);
  tcase_add_loop_test(tc, dispositions_and_mask_reset, 0, 2);
  tcase_add_loop_test(tc, parent_handler_not_run_by_child, 0, 2);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
