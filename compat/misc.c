/* Small process-wide services of the libuv ABI that fit nowhere else: the
 * clock, version, allocator hook, sleeping, library shutdown, the process
 * title and stdio inheritance. Process title state is the one global here. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* program_invocation_name */
#endif
#include "uv.h"
#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The libuv release whose API we implement (its ABI includes 1.44.2's);
 * uv.h must agree. */
#define ABI_MAJOR 1
#define ABI_MINOR 52
#define ABI_PATCH 1
#define ABI_TEXT "1.52.1"

_Static_assert(UV_VERSION_MAJOR == ABI_MAJOR &&
               UV_VERSION_MINOR == ABI_MINOR &&
               UV_VERSION_PATCH == ABI_PATCH,
               "uv.h announces a different libuv version than we implement");

/* Other subsystems (thread pool, signal table) register their teardown by
 * defining this; until one does, the weak reference is simply NULL. */
extern void bio__library_shutdown_hooks(void)
    __attribute__((weak, visibility("hidden")));


UV_EXTERN uint64_t uv_hrtime(void) {
  struct timespec ts;

  /* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}


UV_EXTERN uv_buf_t uv_buf_init(char *base, unsigned int len) {
  uv_buf_t buf;

  buf.base = base;
  buf.len = len;
  return buf;
}


UV_EXTERN unsigned int uv_version(void) {
  return (ABI_MAJOR << 16) | (ABI_MINOR << 8) | ABI_PATCH;
}


UV_EXTERN const char *uv_version_string(void) {
  return ABI_TEXT;
}


UV_EXTERN int uv_replace_allocator(uv_malloc_func malloc_func,
                                   uv_realloc_func realloc_func,
                                   uv_calloc_func calloc_func,
                                   uv_free_func free_func) {
  return bio__replace_allocator(malloc_func, realloc_func, calloc_func,
                                free_func);
}


UV_EXTERN void uv_sleep(unsigned int msec) {
  struct timespec left;

  left.tv_sec = msec / 1000;
  left.tv_nsec = (long) (msec % 1000) * 1000000L;
  /* nanosleep writes the unslept remainder back, so a signal only pauses
   * the countdown. */
  while (nanosleep(&left, &left) != 0 && errno == EINTR)
    continue;
}


/* ---- process title ---------------------------------------------------- */

/* We keep the authoritative title in our own memory, so uv_get_process_title
 * returns it whole. When uv_setup_args gave us the original argv strings, we
 * also write the title over that area (what ps(1) shows), truncated to fit,
 * and hand the program a private copy of argv so its arguments survive. */
static struct {
  pthread_mutex_t lock;
  char *title;        /* bio__malloc'd, or NULL before the first title */
  size_t title_len;
  char *argv_area;    /* start of the kernel-provided argv strings */
  size_t argv_cap;    /* bytes there we may overwrite, incl. the last NUL */
  char **argv_copy;   /* returned by uv_setup_args; freed at shutdown */
} proc = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, NULL, 0, NULL };


static void show_title_locked(void) {
  size_t n;

  if (proc.argv_area != NULL && proc.argv_cap > 0) {
    n = proc.title_len < proc.argv_cap ? proc.title_len : proc.argv_cap - 1;
    memcpy(proc.argv_area, proc.title, n);
    memset(proc.argv_area + n, '\0', proc.argv_cap - n);
  }
  /* The kernel's comm name: 15 bytes, visible in top and /proc/self/comm. */
  prctl(PR_SET_NAME, (unsigned long) proc.title, 0, 0, 0);
}


UV_EXTERN char **uv_setup_args(int argc, char **argv) {
  char **copy;
  char *end;
  char *s;
  size_t total;
  size_t len;
  int i;

  if (argc <= 0 || argv == NULL || argv[0] == NULL)
    return argv;

  total = (size_t) (argc + 1) * sizeof(char *);
  for (i = 0; i < argc; i++)
    total += strlen(argv[i]) + 1;
  copy = bio__malloc(total);
  if (copy == NULL)
    return argv;

  s = (char *) (copy + argc + 1);
  for (i = 0; i < argc; i++) {
    len = strlen(argv[i]) + 1;
    memcpy(s, argv[i], len);
    copy[i] = s;
    s += len;
  }
  copy[argc] = NULL;

  /* Only the run of strings laid out back to back after argv[0] is ours to
   * overwrite; stop at the first gap. */
  end = argv[0] + strlen(argv[0]) + 1;
  for (i = 1; i < argc && argv[i] == end; i++)
    end += strlen(argv[i]) + 1;

  pthread_mutex_lock(&proc.lock);
  /* A second call leaves the earlier copy alive: the caller may still use
   * it. Only the latest is released by uv_library_shutdown. */
  proc.argv_copy = copy;
  proc.argv_area = argv[0];
  proc.argv_cap = (size_t) (end - argv[0]);
  if (proc.title == NULL) {
    proc.title = bio__strdup(copy[0]);
    proc.title_len = proc.title != NULL ? strlen(proc.title) : 0;
  }
  pthread_mutex_unlock(&proc.lock);
  return copy;
}


UV_EXTERN int uv_set_process_title(const char *title) {
  char *mine;

  if (title == NULL)
    return UV_EINVAL;
  mine = bio__strdup(title);
  if (mine == NULL)
    return UV_ENOMEM;

  pthread_mutex_lock(&proc.lock);
  bio__free(proc.title);
  proc.title = mine;
  proc.title_len = strlen(mine);
  show_title_locked();
  pthread_mutex_unlock(&proc.lock);
  return 0;
}


UV_EXTERN int uv_get_process_title(char *buffer, size_t size) {
  const char *title;
  size_t len;
  int rc = 0;

  if (buffer == NULL || size == 0)
    return UV_EINVAL;

  pthread_mutex_lock(&proc.lock);
  /* Without uv_setup_args or a set title, report argv[0] as glibc saw it. */
  title = proc.title != NULL ? proc.title : program_invocation_name;
  if (title == NULL)
    title = "";
  len = strlen(title);
  if (len >= size)
    rc = UV_ENOBUFS;
  else
    memcpy(buffer, title, len + 1);
  pthread_mutex_unlock(&proc.lock);
  return rc;
}


/* ---- stdio inheritance ------------------------------------------------ */

UV_EXTERN void uv_disable_stdio_inheritance(void) {
  int fd;
  int flags;

#ifdef SYS_close_range
  /* Linux 5.11+: mark every open descriptor close-on-exec in one call. */
  if (syscall(SYS_close_range, 0u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) == 0)
    return;
#endif
  /* Older kernels: walk the table. The low descriptors may have holes, so
   * always try the first 16; past those, the first closed one ends it. */
  for (fd = 0;; fd++) {
    flags = fcntl(fd, F_GETFD);
    if (flags == -1 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
      if (fd >= 16)
        break;
    }
  }
}


/* ---- shutdown --------------------------------------------------------- */

/* Releases process-wide resources before unloading; no uv_* call may follow
 * except uv_library_shutdown itself, which becomes a no-op. */
UV_EXTERN void uv_library_shutdown(void) {
  static atomic_int done;

  if (atomic_exchange(&done, 1) != 0)
    return;

  if (bio__library_shutdown_hooks != NULL)
    bio__library_shutdown_hooks();

  pthread_mutex_lock(&proc.lock);
  /* The program's argv now points into freed memory, as it does with libuv;
   * the kernel-side argv area keeps the last title. */
  bio__free(proc.argv_copy);
  proc.argv_copy = NULL;
  proc.argv_area = NULL;
  proc.argv_cap = 0;
  bio__free(proc.title);
  proc.title = NULL;
  proc.title_len = 0;
  pthread_mutex_unlock(&proc.lock);
}
