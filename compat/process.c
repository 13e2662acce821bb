/* uv_process_t: uv_spawn by fork and exec, with a close-on-exec pipe that
 * carries the child's errno back when it fails before exec (so uv_spawn
 * returns it), and exit reporting through the loop's internal SIGCHLD
 * handle (signal.c), which reaps only this loop's own children. Also
 * uv_kill and uv_process_kill. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "stream.h"

extern char **environ;

/* Descriptor pairs kept on the stack; more stdio entries than this are
 * allocated. */
#define PAIRS_ON_STACK 8

#define KNOWN_FLAGS                                                            \
  (UV_PROCESS_SETUID | UV_PROCESS_SETGID | UV_PROCESS_DETACHED |               \
   UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS | UV_PROCESS_WINDOWS_HIDE |           \
   UV_PROCESS_WINDOWS_HIDE_CONSOLE | UV_PROCESS_WINDOWS_HIDE_GUI)

#define STDIO_KIND                                                             \
  (UV_IGNORE | UV_CREATE_PIPE | UV_INHERIT_FD | UV_INHERIT_STREAM)

/* pair[0]: the parent's end (UV_CREATE_PIPE only); pair[1]: what the
 * child gets as this descriptor number, or -1. */
typedef int fd_pair[2];


static void **proc_link(uv_process_t *h) {
  return (void **)h->queue;
}


/* ---- exits ---- */

/* SIGCHLD: some child of the process changed state. Ask for each of this
 * loop's children by pid, never waitpid(-1): other loops and the program
 * itself may have children of their own. Collect first, report after, so
 * a callback that spawns or closes can't disturb the walk. */
static void on_sigchld(uv_signal_t *sig, int signum) {
  uv_loop_t *loop = sig->loop;
  bio_qlink exited;
  void **q;

  (void)signum;
  bio__q_init(exited);
  q = bio__q_next(loop->process_handles);
  while (q != (void **)loop->process_handles) {
    uv_process_t *p = bio_container_of((void *)q, uv_process_t, queue);
    int status;
    pid_t r;

    q = bio__q_next(q);
    do
      r = waitpid(p->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
      continue; /* still running */
    if (r < 0)
      continue; /* ECHILD: someone else reaped it; nothing to report */
    p->status = status;
    bio__q_remove(proc_link(p));
    bio__q_insert_tail(exited, proc_link(p));
  }
  while (!bio__q_empty(exited)) {
    uv_process_t *p =
        bio_container_of((void *)bio__q_next(exited), uv_process_t, queue);
    int exit_status = 0;
    int term_signal = 0;

    bio__q_remove(proc_link(p));
    bio__q_init(proc_link(p));
    bio__handle_stop((uv_handle_t *)p);
    if (WIFEXITED(p->status))
      exit_status = WEXITSTATUS(p->status);
    if (WIFSIGNALED(p->status))
      term_signal = WTERMSIG(p->status);
    if (p->exit_cb != NULL)
      p->exit_cb(p, exit_status, term_signal);
  }
}


/* The loop's SIGCHLD handle: internal (uv_walk and uv_loop_close skip it)
 * and unreferenced (children keep the loop alive through their own
 * handles), set up on the first spawn. */
static int watch_children(uv_loop_t *loop) {
  uv_signal_t *w = &loop->child_watcher;
  int err;

  if (w->type != UV_SIGNAL) {
    err = uv_signal_init(loop, w);
    if (err != 0)
      return err;
    w->flags |= BIO_H_INTERNAL;
    uv_unref((uv_handle_t *)w);
  }
  return uv_signal_start(w, on_sigchld, SIGCHLD);
}


void bio__process_close(uv_process_t *h) {
  uv_loop_t *loop = h->loop;

  bio__q_remove(proc_link(h));
  bio__q_init(proc_link(h));
  bio__handle_stop((uv_handle_t *)h);
  if (bio__q_empty(loop->process_handles) &&
      loop->child_watcher.type == UV_SIGNAL)
    uv_signal_stop(&loop->child_watcher);
}


__thread int bio__spawning;


/* ---- the child, between fork and exec: async-signal-safe calls only ---- */

/* Tells the parent why we could not exec, and goes. */
_Noreturn static void child_fail(int error_fd, int err) {
  ssize_t r;

  do
    r = write(error_fd, &err, sizeof(err));
  while (r < 0 && errno == EINTR);
  _exit(127);
}


static int set_cloexec(int fd, int on) {
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0)
    return -errno;
  if (fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC)) != 0)
    return -errno;
  return 0;
}


_Noreturn static void child_run(const uv_process_options_t *o, int count,
                                fd_pair *pairs, int error_fd) {
  sigset_t none;
  int fd;
  int n;

  /* The parent's handlers (ours among them) mean nothing here; libuv
   * resets the classic signals and leaves glibc's real-time ones alone. */
  for (n = 1; n < 32; n++) {
    if (n == SIGKILL || n == SIGSTOP)
      continue;
    if (signal(n, SIG_DFL) == SIG_ERR)
      child_fail(error_fd, -errno);
  }
  if (o->flags & UV_PROCESS_DETACHED)
    setsid();

  /* The error pipe must survive the renumbering below. */
  if (error_fd < count) {
    error_fd = fcntl(error_fd, F_DUPFD_CLOEXEC, count);
    if (error_fd < 0)
      _exit(127);
  }
  /* A source numbered below its target may be overwritten by an earlier
   * target (a stdout/stderr swap): move those out of the way first. */
  for (fd = 0; fd < count; fd++) {
    int use = pairs[fd][1];
    if (use < 0 || use >= fd)
      continue;
    pairs[fd][1] = fcntl(use, F_DUPFD_CLOEXEC, count);
    if (pairs[fd][1] < 0)
      child_fail(error_fd, -errno);
  }
  for (fd = 0; fd < count; fd++) {
    int use = pairs[fd][1];
    int devnull = 0;

    if (use < 0) {
      if (fd > STDERR_FILENO)
        continue;
      /* Ignored stdio still exists, on /dev/null, as libuv has it. */
      close(fd);
      use = open("/dev/null", fd == 0 ? O_RDONLY : O_RDWR);
      if (use < 0)
        child_fail(error_fd, -errno);
      devnull = 1;
    }
    if (use == fd) {
      if (!devnull && set_cloexec(fd, 0) != 0)
        child_fail(error_fd, -errno);
    } else if (dup2(use, fd) < 0) {
      child_fail(error_fd, -errno);
    }
    /* Children expect blocking stdio (the descriptor may be one of our
     * nonblocking sockets). */
    if (fd <= STDERR_FILENO && !devnull) {
      int fl = fcntl(fd, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    if (devnull && use != fd && use >= count)
      close(use);
  }

  if (o->cwd != NULL && chdir(o->cwd) != 0)
    child_fail(error_fd, -errno);
  /* Dropping root: shed the supplementary groups too. Fails harmlessly
   * when we are not root. */
  if (o->flags & (UV_PROCESS_SETUID | UV_PROCESS_SETGID))
    (void)setgroups(0, NULL);
  if ((o->flags & UV_PROCESS_SETGID) && setgid(o->gid) != 0)
    child_fail(error_fd, -errno);
  if ((o->flags & UV_PROCESS_SETUID) && setuid(o->uid) != 0)
    child_fail(error_fd, -errno);
  /* execvp looks the file up in PATH of the environment it passes on,
   * as libuv's child does. */
  if (o->env != NULL)
    environ = o->env;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvp(o->file, o->args);
  child_fail(error_fd, -errno);
}


/* ---- the parent ---- */

/* Forks with every signal blocked that can be, so nothing runs in the
 * child before its handlers are reset; faults still end it. Then waits on
 * the error pipe: EOF means the exec happened. Returns 0 or the child's
 * -errno (the child is reaped then). */
static int fork_exec(const uv_process_options_t *o, int count,
                     fd_pair *pairs, pid_t *pid_out) {
  sigset_t all;
  sigset_t old;
  int errpipe[2];
  int child_err;
  ssize_t r;
  pid_t pid;
  int err;

  if (pipe2(errpipe, O_CLOEXEC) != 0)
    return -errno;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGABRT);
  sigdelset(&all, SIGTRAP);
  sigdelset(&all, SIGSYS);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  bio__spawning = 1;
  pid = fork();
  bio__spawning = 0;
  if (pid == 0) {
    close(errpipe[0]);
    child_run(o, count, pairs, errpipe[1]);
  }
  err = pid < 0 ? -errno : 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(errpipe[1]);
  if (err != 0) {
    close(errpipe[0]);
    return err;
  }
  do
    r = read(errpipe[0], &child_err, sizeof(child_err));
  while (r < 0 && errno == EINTR);
  close(errpipe[0]);
  if (r == 0) {
    *pid_out = pid;
    return 0;
  }
  /* It failed (or died some other way before exec): reap it now, so no
   * zombie is left and no exit is reported. */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (r == (ssize_t)sizeof(child_err) && child_err < 0)
    return child_err;
  return UV_EPIPE;
}


/* Fills pair for one stdio entry. */
static int stdio_prepare(const uv_stdio_container_t *c, int *pair) {
  uv_os_fd_t fd;
  int sv[2];

  switch (c->flags & STDIO_KIND) {
  case UV_IGNORE:
    return 0;
  case UV_CREATE_PIPE:
    if (c->data.stream == NULL || c->data.stream->type != UV_NAMED_PIPE ||
        bio__handle_closing((uv_handle_t *)c->data.stream))
      return UV_EINVAL;
    /* Sockets, not pipes, as libuv: both ways, and IPC can pass fds. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return -errno;
    pair[0] = sv[0];
    pair[1] = sv[1];
    return 0;
  case UV_INHERIT_FD:
    if (c->data.fd < 0)
      return UV_EINVAL;
    pair[1] = c->data.fd;
    return 0;
  case UV_INHERIT_STREAM:
    if (c->data.stream == NULL ||
        uv_fileno((uv_handle_t *)c->data.stream, &fd) != 0)
      return UV_EINVAL;
    pair[1] = fd;
    return 0;
  default:
    return UV_EINVAL;
  }
}


/* The parent's end of a created pipe becomes the user's uv_pipe_t. The
 * container's flags speak for the child: a pipe it writes is one we
 * read. */
static int stdio_adopt(const uv_stdio_container_t *c, int *pair) {
  unsigned int flags = 0;
  int err;

  if (!(c->flags & UV_CREATE_PIPE) || pair[0] < 0)
    return 0;
  close(pair[1]);
  pair[1] = -1;
  err = bio__set_nonblock(pair[0], 1);
  if (c->flags & UV_WRITABLE_PIPE)
    flags |= S_READABLE;
  if (c->flags & UV_READABLE_PIPE)
    flags |= S_WRITABLE;
  if (err == 0)
    err = bio__stream_open(c->data.stream, pair[0], flags);
  if (err != 0)
    return err;
  pair[0] = -1; /* the stream owns it now */
  return 0;
}


UV_EXTERN int uv_spawn(uv_loop_t *loop, uv_process_t *process,
                       const uv_process_options_t *options) {
  fd_pair stack_pairs[PAIRS_ON_STACK];
  fd_pair *pairs = stack_pairs;
  char *default_args[2];
  uv_process_options_t o;
  pid_t pid = 0;
  int count;
  int exec_err;
  int err;
  int i;

  if (loop == NULL || process == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;
  /* As libuv: the handle is set up first, so it can be closed whatever
   * uv_spawn answers. */
  bio__handle_init(loop, (uv_handle_t *)process, UV_PROCESS);
  bio__q_init(proc_link(process));
  process->status = 0;
  process->pid = 0;
  process->exit_cb = NULL;
  if (options == NULL || options->file == NULL ||
      (options->flags & ~(unsigned int)KNOWN_FLAGS) != 0 ||
      options->stdio_count < 0 ||
      (options->stdio_count > 0 && options->stdio == NULL))
    return UV_EINVAL;
  o = *options;
  if (o.args == NULL) {
    default_args[0] = (char *)o.file;
    default_args[1] = NULL;
    o.args = default_args;
  }

  count = o.stdio_count < 3 ? 3 : o.stdio_count;
  if (count > PAIRS_ON_STACK) {
    pairs = bio__malloc((size_t)count * sizeof(*pairs));
    if (pairs == NULL)
      return UV_ENOMEM;
  }
  for (i = 0; i < count; i++) {
    pairs[i][0] = -1;
    pairs[i][1] = -1;
  }
  for (i = 0; i < o.stdio_count; i++) {
    err = stdio_prepare(&o.stdio[i], pairs[i]);
    if (err != 0)
      goto fail;
  }
  /* Watching SIGCHLD before the fork: a child that exits at once is then
   * still seen. */
  err = watch_children(loop);
  if (err != 0)
    goto fail;

  exec_err = fork_exec(&o, count, pairs, &pid);
  if (exec_err == 0) {
    process->pid = pid;
    process->exit_cb = o.exit_cb;
    bio__q_insert_tail(loop->process_handles, proc_link(process));
    bio__handle_start((uv_handle_t *)process);
  }
  /* The streams are opened even when the exec failed: node expects them
   * ready either way, and libuv does so. */
  for (i = 0; i < o.stdio_count; i++) {
    err = stdio_adopt(&o.stdio[i], pairs[i]);
    if (err != 0)
      goto fail;
  }
  if (pairs != stack_pairs)
    bio__free(pairs);
  return exec_err;

fail:
  /* Close what we made; inherited descriptors belong to the caller. */
  for (i = 0; i < o.stdio_count; i++) {
    if (!(o.stdio[i].flags & UV_CREATE_PIPE))
      continue;
    if (pairs[i][0] >= 0)
      close(pairs[i][0]);
    if (pairs[i][1] >= 0)
      close(pairs[i][1]);
  }
  if (pairs != stack_pairs)
    bio__free(pairs);
  if (bio__q_empty(loop->process_handles) &&
      loop->child_watcher.type == UV_SIGNAL)
    uv_signal_stop(&loop->child_watcher);
  return err;
}


UV_EXTERN int uv_kill(int pid, int signum) {
  if (signum < 0 || signum >= NSIG)
    return UV_EINVAL;
  if (kill(pid, signum) != 0)
    return -errno;
  return 0;
}


UV_EXTERN int uv_process_kill(uv_process_t *process, int signum) {
  if (process == NULL || process->type != UV_PROCESS)
    return UV_EINVAL;
  if (signum < 0 || signum >= NSIG)
    return UV_EINVAL;
  /* Never spawned: kill(0) would signal our whole process group. */
  if (process->pid <= 0)
    return UV_ESRCH;
  return uv_kill(process->pid, signum);
}


UV_EXTERN uv_pid_t uv_process_get_pid(const uv_process_t *process) {
  return process == NULL ? 0 : process->pid;
}
