/* Threads and the blocking synchronisation primitives of the libuv ABI. On
 * Linux every uv_* sync type is the pthread (or sem_t) type itself, so these
 * are thin wrappers; their job is libuv's error contract: setup failures come
 * back as UV_E* codes, misuse of an initialised object aborts. */

#include "config.h"

#include "uv.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ull

_Static_assert(sizeof(uv_barrier_t) == sizeof(pthread_barrier_t),
               "uv_barrier_t must be a pthread_barrier_t on Linux");
_Static_assert(sizeof(uv_sem_t) == sizeof(sem_t),
               "uv_sem_t must be a sem_t on Linux");

/* pthread calls return the error number; abort when a call that cannot fail
 * on a valid object did fail, because the object or its owner is corrupt. */
static void must(int pthread_rc) {
  if (pthread_rc != 0)
    abort();
}


/* Below this, glibc refuses the attribute and some libcs crash on deep
 * frames; libuv uses the same floor. */
static size_t min_stack_bytes(void) {
  size_t floor_bytes = 8192;

#ifdef PTHREAD_STACK_MIN
  if ((size_t) PTHREAD_STACK_MIN > floor_bytes)
    floor_bytes = (size_t) PTHREAD_STACK_MIN;
#endif
  return floor_bytes;
}


/* Threads get the main thread's stack budget (RLIMIT_STACK) so code that
 * works on the main thread works on ours; glibc's 2 MiB when it is
 * unlimited, unreadable or absurdly small. */
static size_t default_stack_bytes(void) {
  const size_t fallback = 2u << 20;
  struct rlimit lim;
  size_t page = (size_t) getpagesize();
  size_t bytes;

  if (getrlimit(RLIMIT_STACK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return fallback;
  bytes = (size_t) lim.rlim_cur / page * page;
  return bytes >= min_stack_bytes() ? bytes : fallback;
}


UV_EXTERN int uv_thread_create_ex(uv_thread_t *tid,
                                  const uv_thread_options_t *params,
                                  void (*entry)(void *arg), void *arg) {
  union {
    void (*uv_entry)(void *);
    void *(*pthread_entry)(void *);
  } fn;
  pthread_attr_t attr;
  size_t page;
  size_t stack_bytes = 0;
  int rc;

  if (tid == NULL || entry == NULL)
    return UV_EINVAL;

  if (params != NULL && (params->flags & UV_THREAD_HAS_STACK_SIZE))
    stack_bytes = params->stack_size;
  if (stack_bytes == 0) {
    stack_bytes = default_stack_bytes();
  } else {
    page = (size_t) getpagesize();
    if (stack_bytes > SIZE_MAX - page)
      return UV_EINVAL;
    stack_bytes = (stack_bytes + page - 1) / page * page;
    if (stack_bytes < min_stack_bytes())
      stack_bytes = min_stack_bytes();
  }

  rc = pthread_attr_init(&attr);
  if (rc != 0)
    return -rc;
  rc = pthread_attr_setstacksize(&attr, stack_bytes);
  if (rc == 0) {
    /* libuv's entry returns void; the x86_64 ABI makes calling it through a
     * void*-returning pointer harmless (the return register is ignored). */
    fn.uv_entry = entry;
    rc = pthread_create(tid, &attr, fn.pthread_entry, arg);
  }
  pthread_attr_destroy(&attr);
  return -rc;
}


UV_EXTERN int uv_thread_create(uv_thread_t *tid, void (*entry)(void *arg),
                               void *arg) {
  uv_thread_options_t opts = { .flags = UV_THREAD_NO_FLAGS };

  return uv_thread_create_ex(tid, &opts, entry, arg);
}


UV_EXTERN uv_thread_t uv_thread_self(void) {
  return pthread_self();
}


UV_EXTERN int uv_thread_join(uv_thread_t *tid) {
  if (tid == NULL)
    return UV_EINVAL;
  return -pthread_join(*tid, NULL);
}


UV_EXTERN int uv_thread_equal(const uv_thread_t *t1, const uv_thread_t *t2) {
  return pthread_equal(*t1, *t2);
}


UV_EXTERN int uv_thread_detach(uv_thread_t *tid) {
  if (tid == NULL)
    return UV_EINVAL;
  return -pthread_detach(*tid);
}


/* ---- affinity, CPU, name, priority (libuv 1.45-1.48) ------------------ */

/* Masks are one char per CPU, as many as the kernel's cpu_set_t holds. */
UV_EXTERN int uv_cpumask_size(void) { return CPU_SETSIZE; }


static void mask_to_chars(const cpu_set_t *set, char *mask, size_t size) {
  size_t i;
  for (i = 0; i < size; i++)
    mask[i] = i < CPU_SETSIZE && CPU_ISSET(i, set) ? 1 : 0;
}


UV_EXTERN int uv_thread_getaffinity(uv_thread_t *tid, char *cpumask,
                                    size_t mask_size) {
  cpu_set_t set;
  int rc;

  if (tid == NULL || cpumask == NULL ||
      mask_size < (size_t)uv_cpumask_size())
    return UV_EINVAL;
  CPU_ZERO(&set);
  rc = pthread_getaffinity_np(*tid, sizeof(set), &set);
  if (rc != 0)
    return -rc;
  mask_to_chars(&set, cpumask, mask_size);
  return 0;
}


/* CPUs named that do not exist are left out by the kernel, which refuses
 * only a mask with none it can use. */
UV_EXTERN int uv_thread_setaffinity(uv_thread_t *tid, char *cpumask,
                                    char *oldmask, size_t mask_size) {
  cpu_set_t set;
  size_t i;
  int rc;

  if (tid == NULL || cpumask == NULL ||
      mask_size < (size_t)uv_cpumask_size())
    return UV_EINVAL;
  if (oldmask != NULL) {
    rc = uv_thread_getaffinity(tid, oldmask, mask_size);
    if (rc != 0)
      return rc;
  }
  CPU_ZERO(&set);
  for (i = 0; i < mask_size && i < CPU_SETSIZE; i++)
    if (cpumask[i])
      CPU_SET(i, &set);
  rc = pthread_setaffinity_np(*tid, sizeof(set), &set);
  return -rc;
}


UV_EXTERN int uv_thread_getcpu(void) {
  int cpu = sched_getcpu();
  return cpu < 0 ? -errno : cpu;
}


/* The kernel keeps 15 bytes of a thread's name; a longer one is cut. */
#define THREAD_NAME_MAX 16

UV_EXTERN int uv_thread_setname(const char *name) {
  char buf[THREAD_NAME_MAX];

  if (name == NULL)
    return UV_EINVAL;
  strncpy(buf, name, sizeof(buf) - 1);
  buf[sizeof(buf) - 1] = '\0';
  return -pthread_setname_np(pthread_self(), buf);
}


UV_EXTERN int uv_thread_getname(uv_thread_t *tid, char *name, size_t size) {
  char buf[THREAD_NAME_MAX];
  size_t n;
  int rc;

  if (tid == NULL || name == NULL || size == 0)
    return UV_EINVAL;
  rc = pthread_getname_np(*tid, buf, sizeof(buf));
  if (rc != 0)
    return -rc;
  n = strnlen(buf, sizeof(buf) - 1);
  if (n > size - 1)
    n = size - 1;
  memcpy(name, buf, n);
  name[n] = '\0';
  return 0;
}


/* A SCHED_OTHER thread's only priority is its nice value, and a thread
 * can read and set its own (it has a kernel thread id of its own); libuv
 * maps its levels to nice -4 .. 4 there. Any other thread, or one under a
 * real-time policy, has the levels spread over the policy's range. */
UV_EXTERN int uv_thread_getpriority(uv_thread_t tid, int *priority) {
  struct sched_param param;
  int policy, rc, nice_value;

  if (priority == NULL)
    return UV_EINVAL;
  rc = pthread_getschedparam(tid, &policy, &param);
  if (rc != 0)
    return -rc;
  if (policy == SCHED_OTHER && pthread_equal(tid, pthread_self())) {
    errno = 0;
    nice_value = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (nice_value == -1 && errno != 0)
      return -errno;
    *priority = nice_value;
    return 0;
  }
  *priority = param.sched_priority;
  return 0;
}


UV_EXTERN int uv_thread_setpriority(uv_thread_t tid, int priority) {
  struct sched_param param;
  int policy, rc, lo, hi, want;

  if (priority < UV_THREAD_PRIORITY_LOWEST ||
      priority > UV_THREAD_PRIORITY_HIGHEST)
    return UV_EINVAL;
  rc = pthread_getschedparam(tid, &policy, &param);
  if (rc != 0)
    return -rc;
  if (policy == SCHED_OTHER && pthread_equal(tid, pthread_self())) {
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), -2 * priority) != 0)
      return -errno;
    return 0;
  }
  lo = sched_get_priority_min(policy);
  hi = sched_get_priority_max(policy);
  if (lo == -1 || hi == -1)
    return -errno;
  /* LOWEST .. HIGHEST over lo .. hi, in quarters. */
  want = lo + (hi - lo) * (priority - UV_THREAD_PRIORITY_LOWEST) / 4;
  if (param.sched_priority == want)
    return 0;
  param.sched_priority = want;
  return -pthread_setschedparam(tid, policy, &param);
}


/* ---- mutexes ---------------------------------------------------------- */

static int mutex_init_typed(uv_mutex_t *mutex, int type) {
  pthread_mutexattr_t attr;
  int rc;

  if (mutex == NULL)
    return UV_EINVAL;
  must(pthread_mutexattr_init(&attr));
  must(pthread_mutexattr_settype(&attr, type));
  rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  return -rc;
}


/* Debug builds catch self-deadlock and unlock-by-non-owner (lock/unlock then
 * abort); release builds get the plain, fastest mutex. */
UV_EXTERN int uv_mutex_init(uv_mutex_t *mutex) {
#ifdef NDEBUG
  return mutex_init_typed(mutex, PTHREAD_MUTEX_DEFAULT);
#else
  return mutex_init_typed(mutex, PTHREAD_MUTEX_ERRORCHECK);
#endif
}


UV_EXTERN int uv_mutex_init_recursive(uv_mutex_t *mutex) {
  return mutex_init_typed(mutex, PTHREAD_MUTEX_RECURSIVE);
}


UV_EXTERN void uv_mutex_destroy(uv_mutex_t *mutex) {
  must(pthread_mutex_destroy(mutex));
}


UV_EXTERN void uv_mutex_lock(uv_mutex_t *mutex) {
  must(pthread_mutex_lock(mutex));
}


UV_EXTERN int uv_mutex_trylock(uv_mutex_t *mutex) {
  int rc = pthread_mutex_trylock(mutex);

  /* EAGAIN: a recursive mutex whose count would overflow; busy, too. */
  if (rc == EBUSY || rc == EAGAIN)
    return UV_EBUSY;
  must(rc);
  return 0;
}


UV_EXTERN void uv_mutex_unlock(uv_mutex_t *mutex) {
  must(pthread_mutex_unlock(mutex));
}


/* ---- read-write locks ------------------------------------------------- */

UV_EXTERN int uv_rwlock_init(uv_rwlock_t *rwlock) {
  if (rwlock == NULL)
    return UV_EINVAL;
  return -pthread_rwlock_init(rwlock, NULL);
}


UV_EXTERN void uv_rwlock_destroy(uv_rwlock_t *rwlock) {
  must(pthread_rwlock_destroy(rwlock));
}


UV_EXTERN void uv_rwlock_rdlock(uv_rwlock_t *rwlock) {
  must(pthread_rwlock_rdlock(rwlock));
}


UV_EXTERN int uv_rwlock_tryrdlock(uv_rwlock_t *rwlock) {
  int rc = pthread_rwlock_tryrdlock(rwlock);

  /* EAGAIN: the reader count is saturated; report it as contention. */
  if (rc == EBUSY || rc == EAGAIN)
    return UV_EBUSY;
  must(rc);
  return 0;
}


UV_EXTERN void uv_rwlock_rdunlock(uv_rwlock_t *rwlock) {
  must(pthread_rwlock_unlock(rwlock));
}


UV_EXTERN void uv_rwlock_wrlock(uv_rwlock_t *rwlock) {
  must(pthread_rwlock_wrlock(rwlock));
}


UV_EXTERN int uv_rwlock_trywrlock(uv_rwlock_t *rwlock) {
  int rc = pthread_rwlock_trywrlock(rwlock);

  if (rc == EBUSY || rc == EAGAIN)
    return UV_EBUSY;
  must(rc);
  return 0;
}


UV_EXTERN void uv_rwlock_wrunlock(uv_rwlock_t *rwlock) {
  must(pthread_rwlock_unlock(rwlock));
}


/* ---- semaphores ------------------------------------------------------- */

/* A plain sem_t: the ABI fixes uv_sem_t as sem_t, and the lost-wakeup bug in
 * glibc's sem_post that made libuv carry a mutex+cond fallback was fixed in
 * glibc 2.21 (2015); every glibc we support is newer. */

UV_EXTERN int uv_sem_init(uv_sem_t *sem, unsigned int value) {
  if (sem == NULL)
    return UV_EINVAL;
  if (sem_init(sem, 0, value) != 0)
    return -errno;
  return 0;
}


UV_EXTERN void uv_sem_destroy(uv_sem_t *sem) {
  if (sem_destroy(sem) != 0)
    abort();
}


UV_EXTERN void uv_sem_post(uv_sem_t *sem) {
  if (sem_post(sem) != 0)
    abort();
}


UV_EXTERN void uv_sem_wait(uv_sem_t *sem) {
  int rc;

  while ((rc = sem_wait(sem)) != 0 && errno == EINTR)
    continue;
  if (rc != 0)
    abort();
}


UV_EXTERN int uv_sem_trywait(uv_sem_t *sem) {
  int rc;

  while ((rc = sem_trywait(sem)) != 0 && errno == EINTR)
    continue;
  if (rc == 0)
    return 0;
  if (errno != EAGAIN)
    abort();
  return UV_EAGAIN;
}


/* ---- condition variables ---------------------------------------------- */

/* The monotonic clock keeps uv_cond_timedwait's relative timeout immune to
 * wall-clock jumps (NTP, settimeofday). */
UV_EXTERN int uv_cond_init(uv_cond_t *cond) {
  pthread_condattr_t attr;
  int rc;

  if (cond == NULL)
    return UV_EINVAL;
  rc = pthread_condattr_init(&attr);
  if (rc != 0)
    return -rc;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
  return -rc;
}


UV_EXTERN void uv_cond_destroy(uv_cond_t *cond) {
  must(pthread_cond_destroy(cond));
}


UV_EXTERN void uv_cond_signal(uv_cond_t *cond) {
  must(pthread_cond_signal(cond));
}


UV_EXTERN void uv_cond_broadcast(uv_cond_t *cond) {
  must(pthread_cond_broadcast(cond));
}


UV_EXTERN void uv_cond_wait(uv_cond_t *cond, uv_mutex_t *mutex) {
  must(pthread_cond_wait(cond, mutex));
}


UV_EXTERN int uv_cond_timedwait(uv_cond_t *cond, uv_mutex_t *mutex,
                                uint64_t timeout) {
  struct timespec now;
  struct timespec deadline;
  uint64_t deadline_ns;
  int rc;

  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
    abort();
  deadline_ns = (uint64_t) now.tv_sec * NS_PER_SEC + (uint64_t) now.tv_nsec;
  /* Saturate instead of wrapping, so a huge timeout means "very long" and
   * not "already expired". */
  if (timeout > UINT64_MAX - deadline_ns)
    deadline_ns = UINT64_MAX;
  else
    deadline_ns += timeout;
  deadline.tv_sec = (time_t) (deadline_ns / NS_PER_SEC);
  deadline.tv_nsec = (long) (deadline_ns % NS_PER_SEC);

  rc = pthread_cond_timedwait(cond, mutex, &deadline);
  if (rc == ETIMEDOUT)
    return UV_ETIMEDOUT;
  must(rc);
  return 0;
}


/* ---- barriers --------------------------------------------------------- */

UV_EXTERN int uv_barrier_init(uv_barrier_t *barrier, unsigned int count) {
  if (barrier == NULL || count == 0)
    return UV_EINVAL;
  return -pthread_barrier_init(barrier, NULL, count);
}


/* Exactly one waiter (pthread's "serial thread") sees 1; the rest see 0, so
 * that one can safely destroy the barrier. */
UV_EXTERN int uv_barrier_wait(uv_barrier_t *barrier) {
  int rc = pthread_barrier_wait(barrier);

  if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
    return 1;
  must(rc);
  return 0;
}


UV_EXTERN void uv_barrier_destroy(uv_barrier_t *barrier) {
  must(pthread_barrier_destroy(barrier));
}


/* ---- once and thread-local keys --------------------------------------- */

UV_EXTERN void uv_once(uv_once_t *guard, void (*callback)(void)) {
  must(pthread_once(guard, callback));
}


UV_EXTERN int uv_key_create(uv_key_t *key) {
  if (key == NULL)
    return UV_EINVAL;
  return -pthread_key_create(key, NULL);
}


UV_EXTERN void uv_key_delete(uv_key_t *key) {
  must(pthread_key_delete(*key));
}


UV_EXTERN void *uv_key_get(uv_key_t *key) {
  return pthread_getspecific(*key);
}


UV_EXTERN void uv_key_set(uv_key_t *key, void *value) {
  must(pthread_setspecific(*key, value));
}
