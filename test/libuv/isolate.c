/* Runs one libuv test process as an unprivileged user, optionally in its own
 * namespaces. libuv's tests use fixed TCP ports (9123..) and fixed socket
 * paths (/tmp/uv-test-sock), so running them in parallel needs a private
 * loopback and a private /tmp per test; and helpers a failing test leaves
 * behind (spawn_helper4 never exits) must die with it, which a PID namespace
 * guarantees: when its first process exits, the kernel kills the rest.
 *
 * usage: isolate [-n] UID GID DIR PROGRAM [ARGS...]
 *   -n  new network namespace (loopback up), mount namespace (fresh tmpfs on
 *       /tmp, /proc of the new PID namespace) and PID namespace
 *   Exits 125 if the isolation itself fails (so the caller can tell it from a
 *   test failure), else with PROGRAM's status (128+N if killed by signal N).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_ISOLATION = 125 };

static pid_t ns_init_pid;


static void die(const char* what) {
  fprintf(stderr, "isolate: %s: %s\n", what, strerror(errno));
  exit(EXIT_ISOLATION);
}


static int exit_code(int status) {
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}


static void loopback_up(void) {
  struct ifreq ifr;
  int fd;

  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    die("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    die("SIOCSIFFLAGS lo");
  close(fd);
}


/* A tmpfs over /tmp would hide DIR or PROGRAM if they live under /tmp. */
static int under_tmp(const char* path) {
  char real[PATH_MAX];

  if (realpath(path, real) == NULL)
    return 0;
  return strcmp(real, "/tmp") == 0 || strncmp(real, "/tmp/", 5) == 0;
}


/* The harness's timeout signals us, not the namespace's init, which ignores
 * signals it has no handler for: pass the verdict on as SIGKILL. */
static void on_term(int signum) {
  (void) signum;
  if (ns_init_pid > 0)
    kill(ns_init_pid, SIGKILL);
}


/* Enters fresh namespaces. Returns in the process that goes on to become the
 * test (a child of the namespace's init); the callers above it only wait. */
static void private_namespaces(const char* dir, const char* program) {
  struct sigaction sa;
  pid_t test_pid;
  pid_t pid;
  int status;

  if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID) < 0)
    die("unshare");
  /* Keep our mounts from propagating back to the host's namespace. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    die("mount --make-rprivate /");
  if (!under_tmp(dir) && !under_tmp(program))
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
      die("mount tmpfs /tmp");
  loopback_up();

  ns_init_pid = fork();
  if (ns_init_pid < 0)
    die("fork");
  if (ns_init_pid > 0) {
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    while (waitpid(ns_init_pid, &status, 0) < 0)
      if (errno != EINTR)
        die("waitpid");
    exit(exit_code(status));
  }

  /* PID 1 of the new namespace: reap everything, leave with the test. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    die("prctl");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
    die("mount proc");
  test_pid = fork();
  if (test_pid < 0)
    die("fork");
  if (test_pid == 0)
    return;
  for (;;) {
    pid = wait(&status);
    if (pid < 0 && errno != EINTR)
      die("wait");
    if (pid == test_pid)
      exit(exit_code(status));
  }
}


int main(int argc, char** argv) {
  const char* dir;
  uid_t uid;
  gid_t gid;
  int namespaces;
  int i;

  namespaces = 0;
  i = 1;
  if (i < argc && strcmp(argv[i], "-n") == 0) {
    namespaces = 1;
    i++;
  }
  if (argc - i < 4) {
    fprintf(stderr, "usage: isolate [-n] UID GID DIR PROGRAM [ARGS...]\n");
    return EXIT_ISOLATION;
  }
  uid = (uid_t) strtoul(argv[i], NULL, 10);
  gid = (gid_t) strtoul(argv[i + 1], NULL, 10);
  dir = argv[i + 2];
  if (uid == 0) {
    fprintf(stderr, "isolate: refusing to run the test as root\n");
    return EXIT_ISOLATION;
  }

  if (namespaces)
    private_namespaces(dir, argv[i + 3]);
  if (chdir(dir) < 0)
    die("chdir");
  /* Group first: after setuid we may no longer change it. */
  if (setgroups(0, NULL) < 0)
    die("setgroups");
  if (setgid(gid) < 0)
    die("setgid");
  if (setuid(uid) < 0)
    die("setuid");
  if (getuid() == 0 || geteuid() == 0)
    die("still root");

  execv(argv[i + 3], &argv[i + 3]);
  die("execv");
  return EXIT_ISOLATION;
}
