/* uv_process_t: uv_spawn by clone(CLONE_VM | CLONE_VFORK) and exec (the
 * parent's memory is shared, not copied: the cost doesn't grow with the
 * heap); a child that can't exec leaves its errno in that shared memory
 * for uv_spawn to return. Exit reporting through the loop's internal
 * SIGCHLD handle (signal.c), which reaps only this loop's own children.
 * Also uv_kill and uv_process_kill. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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


/* ---- the child, between clone and exec ----
 *
 * It runs in the parent's memory (CLONE_VM), on a stack of its own, while
 * the calling thread waits in clone (CLONE_VFORK) until it execs or exits.
 * So: async-signal-safe calls only, no malloc or locks (other threads of
 * the parent go on using the heap), and no stores to memory the parent
 * owns except the spawn-private scratch in child_ctx. glibc's set*id and
 * setgroups are avoided: in a threaded process they signal every thread
 * of what they take to be their own process, the parent's. */

#if defined(SYS_setuid32)
#define SYS_SETUID SYS_setuid32
#define SYS_SETGID SYS_setgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETUID SYS_setuid
#define SYS_SETGID SYS_setgid
#define SYS_SETGROUPS SYS_setgroups
#endif

/* ASan would poison shadow memory for the child's frames on a stack it
 * never sees unwound; the child's own code stays uninstrumented. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize_address)
#define CHILD_CODE __attribute__((no_sanitize_address, noinline))
#endif
#endif
#ifndef CHILD_CODE
#define CHILD_CODE __attribute__((noinline))
#endif

#define CHILD_STACK_SIZE (64 * 1024)

/* Everything the child needs, made by the parent before the clone. */
typedef struct {
  const uv_process_options_t *o;
  int count;
  int *use;        /* the descriptor each stdio number gets, or -1;
                      the child renumbers in place (scratch) */
  char **paths;    /* execve candidates in order, NULL-terminated */
  char **sh_argv;  /* "/bin/sh", <candidate>, args[1..]: ENOEXEC's retry;
                      the child fills [1] (scratch) */
  char **envp;
  int search;      /* paths came from a PATH search */
  int pre_err;     /* the search's own error, reported where exec fails */
  int rt_min;
  int rt_max;
  volatile int err; /* written by the child when it can't exec */
} child_ctx;


/* Tells the parent why we could not exec, and goes. */
CHILD_CODE _Noreturn static void child_fail(child_ctx *c, int err) {
  c->err = err;
  _exit(127);
}


CHILD_CODE static int set_cloexec(int fd, int on) {
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0)
    return -errno;
  if (fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC)) != 0)
    return -errno;
  return 0;
}


/* No handler of the parent may run here: it would run on the parent's
 * data. libuv sets the classic signals to SIG_DFL (ignored ones too);
 * real-time ones with a handler go to SIG_DFL as well (exec would do that
 * anyway), ignored ones stay ignored across exec as with libuv. */
CHILD_CODE static void child_reset_signals(child_ctx *c) {
  struct sigaction dfl;
  struct sigaction cur;
  int n;

  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (n = 1; n < 32; n++) {
    if (n == SIGKILL || n == SIGSTOP)
      continue;
    if (sigaction(n, &dfl, NULL) != 0)
      child_fail(c, -errno);
  }
  for (n = c->rt_min; n <= c->rt_max; n++) {
    if (sigaction(n, NULL, &cur) != 0)
      continue;
    if (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN)
      sigaction(n, &dfl, NULL);
  }
}


CHILD_CODE static void child_stdio(child_ctx *c) {
  int count = c->count;
  int *use = c->use;
  int fd;

  /* A source numbered below its target may be overwritten by an earlier
   * target (a stdout/stderr swap): move those out of the way first. */
  for (fd = 0; fd < count; fd++) {
    int from = use[fd];
    if (from < 0 || from >= fd)
      continue;
    use[fd] = fcntl(from, F_DUPFD_CLOEXEC, count);
    if (use[fd] < 0)
      child_fail(c, -errno);
  }
  for (fd = 0; fd < count; fd++) {
    int from = use[fd];
    int devnull = 0;

    if (from < 0) {
      if (fd > STDERR_FILENO)
        continue;
      /* Ignored stdio still exists, on /dev/null, as libuv has it. */
      close(fd);
      from = open("/dev/null", fd == 0 ? O_RDONLY : O_RDWR);
      if (from < 0)
        child_fail(c, -errno);
      devnull = 1;
    }
    if (from == fd) {
      if (!devnull && set_cloexec(fd, 0) != 0)
        child_fail(c, -errno);
    } else if (dup2(from, fd) < 0) {
      child_fail(c, -errno);
    }
    /* Children expect blocking stdio (the descriptor may be one of our
     * nonblocking sockets). */
    if (fd <= STDERR_FILENO && !devnull) {
      int fl = fcntl(fd, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    if (devnull && from != fd && from >= count)
      close(from);
  }
}


/* execvp's rules over the candidates the parent listed: a file that is
 * not an executable format runs under /bin/sh; a PATH search goes on past
 * entries that don't hold it, and reports EACCES if one refused. */
CHILD_CODE _Noreturn static void child_exec(child_ctx *c) {
  char **args = c->o->args;
  int eacces = 0;
  int e = ENOENT;
  int i;

  if (c->pre_err != 0)
    child_fail(c, c->pre_err);
  for (i = 0; c->paths[i] != NULL; i++) {
    execve(c->paths[i], args, c->envp);
    e = errno;
    if (e == ENOEXEC) {
      c->sh_argv[1] = c->paths[i];
      execve("/bin/sh", c->sh_argv, c->envp);
      e = errno;
    }
    if (!c->search)
      break;
    if (e == EACCES)
      eacces = 1;
    else if (e != ENOENT && e != ESTALE && e != ENOTDIR && e != ENODEV &&
             e != ETIMEDOUT)
      break; /* a real error: reported as it is */
    else if (c->paths[i + 1] == NULL && eacces)
      e = EACCES;
  }
  child_fail(c, -e);
}


CHILD_CODE static int child_main(void *arg) {
  child_ctx *c = arg;
  const uv_process_options_t *o = c->o;
  sigset_t none;

  child_reset_signals(c);
  if (o->flags & UV_PROCESS_DETACHED)
    setsid();
  child_stdio(c);
  if (o->cwd != NULL && chdir(o->cwd) != 0)
    child_fail(c, -errno);
  /* Dropping root: shed the supplementary groups too. Fails harmlessly
   * when we are not root. */
  if (o->flags & (UV_PROCESS_SETUID | UV_PROCESS_SETGID))
    (void)syscall(SYS_SETGROUPS, 0, NULL);
  if ((o->flags & UV_PROCESS_SETGID) && syscall(SYS_SETGID, o->gid) != 0)
    child_fail(c, -errno);
  if ((o->flags & UV_PROCESS_SETUID) && syscall(SYS_SETUID, o->uid) != 0)
    child_fail(c, -errno);
  /* Handlers are reset: what arrives now takes its default action. */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  child_exec(c);
}


/* ---- the parent ---- */

/* What execvp would try, listed here because the child may not allocate.
 * PATH comes from the environment the child gets (as libuv's child reads
 * it after setting environ), glibc's default without one; relative
 * entries stay relative to the child's cwd. One allocation, returned in
 * *block; pre_err as execvp fails before any exec. */
static int plan_exec(child_ctx *c, const uv_process_options_t *o,
                     void **block) {
  const char *file = o->file;
  const char *path = NULL;
  size_t file_len = strlen(file);
  size_t path_len;
  size_t entries = 1;
  size_t argc = 0;
  size_t size;
  const char *p;
  char *chars;
  char **v;
  size_t n;

  c->envp = o->env != NULL ? o->env : environ;
  while (o->args[argc] != NULL)
    argc++;
  c->search = file_len > 0 && strchr(file, '/') == NULL;
  if (c->search) {
    for (v = c->envp; *v != NULL; v++) {
      if (strncmp(*v, "PATH=", 5) == 0) {
        path = *v + 5;
        break;
      }
    }
    if (path == NULL)
      path = "/bin:/usr/bin";
    for (p = path; *p != '\0'; p++)
      entries += *p == ':';
  }
  path_len = c->search ? strlen(path) : 0;
  /* Pointers first, then the ints, then the strings: each aligned. */
  size = (entries + 1 + (argc > 1 ? argc : 1) + 2) * sizeof(char *) +
         (size_t)c->count * sizeof(int) +
         (c->search ? path_len + entries * (file_len + 2) : 0);
  *block = bio__malloc(size);
  if (*block == NULL)
    return UV_ENOMEM;
  c->paths = *block;
  c->sh_argv = c->paths + entries + 1;
  c->use = (int *)(c->sh_argv + (argc > 1 ? argc : 1) + 2);
  chars = (char *)(c->use + c->count);

  c->sh_argv[0] = (char *)"/bin/sh";
  c->sh_argv[1] = NULL;
  for (n = 1; n < argc; n++)
    c->sh_argv[n + 1] = o->args[n];
  c->sh_argv[argc > 1 ? argc + 1 : 2] = NULL;

  c->pre_err = 0;
  n = 0;
  if (file_len == 0) {
    c->pre_err = UV_ENOENT;
  } else if (!c->search) {
    c->paths[n++] = (char *)file;
  } else if (file_len > NAME_MAX) {
    c->pre_err = UV_ENAMETOOLONG;
  } else {
    /* glibc skips entries too long to fit its PATH_MAX buffer. */
    size_t limit = strnlen(path, PATH_MAX - 1) + 1;

    for (p = path;;) {
      const char *end = strchrnul(p, ':');
      size_t len = (size_t)(end - p);

      if (len < limit) {
        c->paths[n++] = chars;
        memcpy(chars, p, len);
        chars += len;
        if (len > 0)
          *chars++ = '/';
        memcpy(chars, file, file_len + 1);
        chars += file_len + 1;
      }
      if (*end == '\0')
        break;
      p = end + 1;
    }
  }
  c->paths[n] = NULL;
  return 0;
}


/* Starts the child with every signal blocked, so no handler of ours can
 * run in it before it resets them, and waits (CLONE_VFORK) until it has
 * exec'd or failed. Unlike fork, nothing of the parent's memory is
 * copied, so the cost doesn't grow with the heap. Returns 0 or the
 * child's -errno (the child is reaped then). */
static int start_child(const uv_process_options_t *o, int count,
                       fd_pair *pairs, pid_t *pid_out) {
  child_ctx c;
  void *block = NULL;
  sigset_t all;
  sigset_t old;
  char *stack;
  pid_t pid;
  int err;
  int i;

  memset(&c, 0, sizeof(c));
  c.o = o;
  c.count = count;
  c.rt_min = SIGRTMIN;
  c.rt_max = SIGRTMAX;
  err = plan_exec(&c, o, &block);
  if (err != 0)
    return err;
  for (i = 0; i < count; i++)
    c.use[i] = pairs[i][1];
  c.err = 0;

  /* The lowest page stays inaccessible: an overflow faults
   * instead of writing over whatever lies below. */
  stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    bio__free(block);
    return -errno;
  }
  (void)mprotect(stack, (size_t)sysconf(_SC_PAGESIZE), PROT_NONE);

  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid = clone(child_main, stack + CHILD_STACK_SIZE,
              CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
  err = pid < 0 ? -errno : c.err;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  munmap(stack, CHILD_STACK_SIZE);
  bio__free(block);
  if (pid < 0)
    return err;
  if (err == 0) {
    *pid_out = pid;
    return 0;
  }
  /* It failed before exec: reap it now, so no zombie is left and no exit
   * is reported. */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return err;
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
  /* Watching SIGCHLD before the clone: a child that exits at once is then
   * still seen. */
  err = watch_children(loop);
  if (err != 0)
    goto fail;

  exec_err = start_child(&o, count, pairs, &pid);
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
