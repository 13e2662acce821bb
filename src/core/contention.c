/* Is the CPU contended? Spinning for an event (a loop before it sleeps,
 * a pool worker before it parks) pays only while the CPU it burns is one
 * nobody else wants. When other threads wait to run, the spin takes the
 * CPU from them, and the event it waits for is often theirs to make (the
 * peer of a ping-pong): every spun microsecond then delays it. Under a
 * CPU quota (a container's cgroup), every spun microsecond is also paid
 * for.
 *
 * One answer for the whole process (contention is the machine's, not a
 * loop's), sampled at most every CALM_SAMPLE_NS while the answer is "no"
 * and every HOLD_NS while it is "yes", by whichever caller comes first:
 * - runnable threads (the fourth field of /proc/loadavg, counted at the
 *   moment it is read, the reader included) above the CPUs we may run on;
 * - the cgroup's nr_throttled (cpu.stat, v2 or v1) grew since the last
 *   sample: the quota ran out;
 * - a spinner found itself preempted (bio__cpu_note_preempted): someone
 *   else had our CPU in the middle of a spin.
 * Reading the files costs a few microseconds; at most 100 times a second,
 * and only from callers about to spin. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define CALM_SAMPLE_NS 10000000u /* 10 ms */
#define HOLD_NS 100000000u       /* 100 ms */

static _Atomic uint64_t next_sample_ns;
static _Atomic uint64_t contended_until_ns;
static atomic_ullong throttled_last;
static atomic_int throttled_known;

static pthread_once_t cgroup_once = PTHREAD_ONCE_INIT;
static char cpu_stat_path[256];
static const char *loadavg_path = "/proc/loadavg";
static uint64_t hold_ns = HOLD_NS;


/* Reads a small file whole; returns its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}


/* The number before the '/' of loadavg's fourth field ("3/412"), or -1. */
int bio__loadavg_running(const char *text) {
  const char *p = text;
  int field;
  for (field = 0; field < 3; field++) {
    p = strchr(p, ' ');
    if (p == NULL)
      return -1;
    p++;
  }
  if (*p < '0' || *p > '9' || strchr(p, '/') == NULL)
    return -1;
  return atoi(p);
}


/* The value of "nr_throttled N" in a cpu.stat text, or -1. */
long long bio__cpu_stat_throttled(const char *text) {
  const char *p = strstr(text, "nr_throttled ");
  if (p == NULL || (p != text && p[-1] != '\n'))
    return -1;
  return atoll(p + strlen("nr_throttled "));
}


static int try_cpu_stat(const char *root, const char *path, size_t len) {
  char buf[512];
  int n = snprintf(cpu_stat_path, sizeof(cpu_stat_path), "%s%.*s/cpu.stat",
                   root, (int)len, path);
  if (n <= 0 || (size_t)n >= sizeof(cpu_stat_path))
    return 0;
  if (read_small(cpu_stat_path, buf, sizeof(buf)) > 0 &&
      bio__cpu_stat_throttled(buf) >= 0)
    return 1;
  return 0;
}


/* Finds our cgroup's cpu.stat (the one with nr_throttled), from
 * /proc/self/cgroup: "0::PATH" for v2, "N:...cpu...:PATH" for v1. */
static void find_cpu_stat(void) {
  char buf[4096];
  char *line, *save = NULL;

  if (read_small("/proc/self/cgroup", buf, sizeof(buf)) > 0) {
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
      char *ctl = strchr(line, ':');
      char *path = ctl != NULL ? strchr(ctl + 1, ':') : NULL;
      size_t ctl_len;
      if (path == NULL)
        continue;
      ctl++;
      ctl_len = (size_t)(path - ctl);
      path++;
      if (ctl_len == 0) {
        if (try_cpu_stat("/sys/fs/cgroup", path, strlen(path)) ||
            try_cpu_stat("/sys/fs/cgroup/unified", path, strlen(path)))
          return;
      } else {
        /* v1: the controller list must name "cpu" itself. */
        char list[128];
        char *tok, *lsave = NULL;
        if (ctl_len >= sizeof(list))
          continue;
        memcpy(list, ctl, ctl_len);
        list[ctl_len] = '\0';
        for (tok = strtok_r(list, ",", &lsave); tok != NULL;
             tok = strtok_r(NULL, ",", &lsave)) {
          if (strcmp(tok, "cpu") == 0 &&
              (try_cpu_stat("/sys/fs/cgroup/cpu", path, strlen(path)) ||
               try_cpu_stat("/sys/fs/cgroup/cpu,cpuacct", path,
                            strlen(path))))
            return;
        }
      }
    }
  }
  cpu_stat_path[0] = '\0';
}


/* Whether the quota throttled us since the last call. */
static int throttled_since_last(void) {
  char buf[512];
  long long n;

  pthread_once(&cgroup_once, find_cpu_stat);
  if (cpu_stat_path[0] == '\0' ||
      read_small(cpu_stat_path, buf, sizeof(buf)) <= 0 ||
      (n = bio__cpu_stat_throttled(buf)) < 0)
    return 0;
  if (!atomic_exchange(&throttled_known, 1)) {
    atomic_store(&throttled_last, (unsigned long long)n);
    return 0;
  }
  return atomic_exchange(&throttled_last, (unsigned long long)n) <
         (unsigned long long)n;
}


static int sample(void) {
  char buf[128];
  cpu_set_t set;
  int running, cpus;
  int busy = 0;

  if (read_small(loadavg_path, buf, sizeof(buf)) > 0 &&
      (running = bio__loadavg_running(buf)) > 0) {
    cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                        : 0;
    if (cpus <= 0)
      cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    busy = cpus > 0 && running > cpus;
  }
  /* Read every time, so the next delta is from now. */
  if (throttled_since_last())
    busy = 1;
  return busy;
}


static void hold(uint64_t now_ns) {
  uint64_t until = now_ns + hold_ns;
  uint64_t cur = atomic_load_explicit(&contended_until_ns,
                                      memory_order_relaxed);
  while (cur < until &&
         !atomic_compare_exchange_weak(&contended_until_ns, &cur, until)) {
  }
  atomic_store_explicit(&next_sample_ns, until, memory_order_relaxed);
}


int bio__cpu_contended(uint64_t now_ns) {
  uint64_t next = atomic_load_explicit(&next_sample_ns, memory_order_relaxed);
  if (now_ns >= next &&
      atomic_compare_exchange_strong(&next_sample_ns, &next,
                                     now_ns + CALM_SAMPLE_NS)) {
    /* This caller samples; the others go by the last answer meanwhile. */
    if (sample())
      hold(now_ns);
  }
  return now_ns < atomic_load_explicit(&contended_until_ns,
                                       memory_order_relaxed);
}


void bio__cpu_note_preempted(uint64_t now_ns) {
  hold(now_ns);
}


void bio__cpu_contention_reset(void) {
  atomic_store(&next_sample_ns, 0);
  atomic_store(&contended_until_ns, 0);
}


void bio__cpu_contention_sources(const char *loadavg, const char *cpu_stat,
                                 uint64_t hold) {
  pthread_once(&cgroup_once, find_cpu_stat);
  loadavg_path = loadavg != NULL ? loadavg : "/proc/loadavg";
  if (cpu_stat == NULL)
    find_cpu_stat();
  else
    snprintf(cpu_stat_path, sizeof(cpu_stat_path), "%s", cpu_stat);
  hold_ns = hold != 0 ? hold : HOLD_NS;
  atomic_store(&throttled_known, 0);
  bio__cpu_contention_reset();
}
