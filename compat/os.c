/* Operating-system queries of the libuv ABI: environment, identity, memory,
 * load, CPUs, host names, priorities and dynamic libraries. Most read /proc
 * or wrap one libc call; the work is libuv's sizing and error conventions
 * (UV_ENOBUFS with the needed size, UV_EINVAL for bad arguments). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "uv.h"
#include "core/alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;


/* Copies src (of length len) into the caller's buffer when it fits with its
 * NUL; otherwise reports the size needed. The shape every "string out"
 * function of libuv shares: on success *size is the length without NUL. */
static int copy_out(const char *src, size_t len, char *buffer, size_t *size) {
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, src, len);
  buffer[len] = '\0';
  *size = len;
  return 0;
}


/* Reads a small file whole into buf and terminates it. /proc files report a
 * size of 0, so read until EOF rather than trusting fstat. */
static int read_small_file(const char *path, char *buf, size_t cap) {
  size_t used = 0;
  ssize_t n;
  int fd;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return -errno;
  while (used + 1 < cap) {
    n = read(fd, buf + used, cap - 1 - used);
    if (n == 0)
      break;
    if (n == -1) {
      if (errno == EINTR)
        continue;
      n = -errno;
      close(fd);
      return (int) n;
    }
    used += (size_t) n;
  }
  close(fd);
  buf[used] = '\0';
  return 0;
}


/* ---- environment ------------------------------------------------------ */

UV_EXTERN int uv_os_getenv(const char *name, char *buffer, size_t *size) {
  const char *value;

  if (name == NULL || buffer == NULL || size == NULL || *size == 0)
    return UV_EINVAL;
  value = getenv(name);
  if (value == NULL)
    return UV_ENOENT;
  return copy_out(value, strlen(value), buffer, size);
}


UV_EXTERN int uv_os_setenv(const char *name, const char *value) {
  if (name == NULL || value == NULL)
    return UV_EINVAL;
  return setenv(name, value, 1) == 0 ? 0 : -errno;
}


UV_EXTERN int uv_os_unsetenv(const char *name) {
  if (name == NULL)
    return UV_EINVAL;
  return unsetenv(name) == 0 ? 0 : -errno;
}


/* Each item owns one allocation, "name\0value\0"; value points into it. */
UV_EXTERN int uv_os_environ(uv_env_item_t **envitems, int *count) {
  uv_env_item_t *items;
  char *entry;
  char *eq;
  int total;
  int n = 0;
  int i;

  if (envitems == NULL || count == NULL)
    return UV_EINVAL;
  *envitems = NULL;
  *count = 0;

  for (total = 0; environ[total] != NULL; total++)
    continue;
  /* One spare slot keeps the request non-zero for an empty environment. */
  items = bio__calloc((size_t) total + 1, sizeof(*items));
  if (items == NULL)
    return UV_ENOMEM;

  for (i = 0; i < total; i++) {
    eq = strchr(environ[i], '=');
    if (eq == NULL)
      continue; /* not a variable; skip as getenv would */
    entry = bio__strdup(environ[i]);
    if (entry == NULL) {
      uv_os_free_environ(items, n);
      return UV_ENOMEM;
    }
    entry[eq - environ[i]] = '\0';
    items[n].name = entry;
    items[n].value = entry + (eq - environ[i]) + 1;
    n++;
  }
  *envitems = items;
  *count = n;
  return 0;
}


UV_EXTERN void uv_os_free_environ(uv_env_item_t *envitems, int count) {
  int i;

  if (envitems == NULL)
    return;
  for (i = 0; i < count; i++)
    bio__free(envitems[i].name);
  bio__free(envitems);
}


/* ---- identity ----------------------------------------------------------- */

UV_EXTERN uv_pid_t uv_os_getpid(void) {
  return getpid();
}


UV_EXTERN uv_pid_t uv_os_getppid(void) {
  return getppid();
}


/* Runs a getpwuid_r-style lookup with a scratch buffer that grows while
 * the C library says it is short (ERANGE). Returns 0 with *scratch to
 * free, UV_ENOENT when there is no such entry, or an error. */
typedef int (*lookup_fn)(unsigned long id, void *entry, char *buf,
                         size_t cap, void **found);

static int lookup(lookup_fn fn, unsigned long id, void *entry,
                  char **scratch) {
  void *found = NULL;
  size_t cap;
  int rc;

  *scratch = NULL;
  for (cap = 4096;; cap *= 2) {
    bio__free(*scratch);
    *scratch = bio__malloc(cap);
    if (*scratch == NULL)
      return UV_ENOMEM;
    rc = fn(id, entry, *scratch, cap, &found);
    if (rc == EINTR) {
      cap /= 2;
      continue;
    }
    if (rc != ERANGE || cap > (1u << 24))
      break;
  }
  if (rc != 0 || found == NULL) {
    bio__free(*scratch);
    *scratch = NULL;
    return rc != 0 ? -rc : UV_ENOENT;
  }
  return 0;
}

static int by_uid(unsigned long id, void *entry, char *buf, size_t cap,
                  void **found) {
  return getpwuid_r((uid_t)id, entry, buf, cap, (struct passwd **)found);
}

static int by_gid(unsigned long id, void *entry, char *buf, size_t cap,
                  void **found) {
  return getgrgid_r((gid_t)id, entry, buf, cap, (struct group **)found);
}


/* username, homedir and shell share one allocation headed by username, which
 * is what uv_os_free_passwd releases. */
UV_EXTERN int uv_os_get_passwd2(uv_passwd_t *pwd, uv_uid_t uid) {
  struct passwd entry;
  size_t name_len;
  size_t home_len;
  size_t shell_len;
  char *scratch;
  char *block;
  int rc;

  if (pwd == NULL)
    return UV_EINVAL;
  rc = lookup(by_uid, (unsigned long)uid, &entry, &scratch);
  if (rc != 0)
    return rc;
  name_len = strlen(entry.pw_name) + 1;
  home_len = strlen(entry.pw_dir) + 1;
  shell_len = strlen(entry.pw_shell) + 1;
  block = bio__malloc(name_len + home_len + shell_len);
  if (block == NULL) {
    bio__free(scratch);
    return UV_ENOMEM;
  }
  pwd->username = memcpy(block, entry.pw_name, name_len);
  pwd->homedir = memcpy(block + name_len, entry.pw_dir, home_len);
  pwd->shell = memcpy(block + name_len + home_len, entry.pw_shell, shell_len);
  pwd->uid = entry.pw_uid;
  pwd->gid = entry.pw_gid;
  bio__free(scratch);
  return 0;
}


UV_EXTERN int uv_os_get_passwd(uv_passwd_t *pwd) {
  return uv_os_get_passwd2(pwd, geteuid());
}


/* The member pointers, then the names they point to, then the group's
 * name: one allocation headed by members, which uv_os_free_group
 * releases. */
UV_EXTERN int uv_os_get_group(uv_group_t *grp, uv_uid_t gid) {
  struct group entry;
  size_t name_len, strings = 0, count = 0, i;
  char *scratch, *block, *at;
  char **members;
  int rc;

  if (grp == NULL)
    return UV_EINVAL;
  rc = lookup(by_gid, (unsigned long)gid, &entry, &scratch);
  if (rc != 0)
    return rc;
  for (count = 0; entry.gr_mem[count] != NULL; count++)
    strings += strlen(entry.gr_mem[count]) + 1;
  name_len = strlen(entry.gr_name) + 1;
  block = bio__malloc((count + 1) * sizeof(char *) + strings + name_len);
  if (block == NULL) {
    bio__free(scratch);
    return UV_ENOMEM;
  }
  members = (char **)(void *)block;
  at = block + (count + 1) * sizeof(char *);
  for (i = 0; i < count; i++) {
    size_t n = strlen(entry.gr_mem[i]) + 1;
    members[i] = memcpy(at, entry.gr_mem[i], n);
    at += n;
  }
  members[count] = NULL;
  grp->groupname = memcpy(at, entry.gr_name, name_len);
  grp->members = members;
  grp->gid = entry.gr_gid;
  bio__free(scratch);
  return 0;
}


UV_EXTERN void uv_os_free_group(uv_group_t *grp) {
  if (grp == NULL)
    return;
  bio__free(grp->members);
  grp->members = NULL;
  grp->groupname = NULL;
}


UV_EXTERN void uv_os_free_passwd(uv_passwd_t *pwd) {
  if (pwd == NULL)
    return;
  bio__free(pwd->username);
  pwd->username = NULL;
  pwd->homedir = NULL;
  pwd->shell = NULL;
}


/* $HOME wins, even when it is set but odd; the password database is only
 * consulted when it is absent. */
UV_EXTERN int uv_os_homedir(char *buffer, size_t *size) {
  uv_passwd_t pwd;
  int rc;

  rc = uv_os_getenv("HOME", buffer, size);
  if (rc != UV_ENOENT)
    return rc;
  rc = uv_os_get_passwd(&pwd);
  if (rc != 0)
    return rc;
  rc = copy_out(pwd.homedir, strlen(pwd.homedir), buffer, size);
  uv_os_free_passwd(&pwd);
  return rc;
}


UV_EXTERN int uv_os_tmpdir(char *buffer, size_t *size) {
  static const char *const vars[] = { "TMPDIR", "TMP", "TEMP", "TEMPDIR" };
  const char *dir = NULL;
  size_t len;
  size_t i;

  if (buffer == NULL || size == NULL || *size == 0)
    return UV_EINVAL;
  for (i = 0; i < sizeof(vars) / sizeof(vars[0]) && dir == NULL; i++)
    dir = getenv(vars[i]);
  if (dir == NULL)
    dir = "/tmp";

  len = strlen(dir);
  /* The size check uses the unstripped length, as libuv does, so callers
   * that size from a failed call always succeed on the retry. */
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  if (len > 1 && dir[len - 1] == '/')
    len--;
  return copy_out(dir, len, buffer, size);
}


UV_EXTERN int uv_os_gethostname(char *buffer, size_t *size) {
  char name[UV_MAXHOSTNAMESIZE];

  if (buffer == NULL || size == NULL || *size == 0)
    return UV_EINVAL;
  /* Ask with a full-size buffer: gethostname may truncate silently. */
  if (gethostname(name, sizeof(name)) != 0)
    return -errno;
  name[sizeof(name) - 1] = '\0';
  return copy_out(name, strlen(name), buffer, size);
}


UV_EXTERN int uv_os_uname(uv_utsname_t *buffer) {
  struct utsname u;
  int rc = 0;

  if (buffer == NULL)
    return UV_EINVAL;
  if (uname(&u) != 0) {
    rc = -errno;
  } else if (strlen(u.sysname) >= sizeof(buffer->sysname) ||
             strlen(u.release) >= sizeof(buffer->release) ||
             strlen(u.version) >= sizeof(buffer->version) ||
             strlen(u.machine) >= sizeof(buffer->machine)) {
    rc = UV_E2BIG;
  }
  if (rc != 0) {
    memset(buffer, 0, sizeof(*buffer)); /* all fields empty on failure */
    return rc;
  }
  strcpy(buffer->sysname, u.sysname);
  strcpy(buffer->release, u.release);
  strcpy(buffer->version, u.version);
  strcpy(buffer->machine, u.machine);
  return 0;
}


/* ---- time and resources ------------------------------------------------- */

UV_EXTERN int uv_gettimeofday(uv_timeval64_t *tv) {
  struct timespec now;

  if (tv == NULL)
    return UV_EINVAL;
  if (clock_gettime(CLOCK_REALTIME, &now) != 0)
    return -errno;
  tv->tv_sec = (int64_t) now.tv_sec;
  tv->tv_usec = (int32_t) (now.tv_nsec / 1000);
  return 0;
}


UV_EXTERN int uv_clock_gettime(uv_clock_id clock_id, uv_timespec64_t *ts) {
  struct timespec now;
  clockid_t id;

  if (ts == NULL)
    return UV_EFAULT;
  switch (clock_id) {
  case UV_CLOCK_MONOTONIC:
    id = CLOCK_MONOTONIC;
    break;
  case UV_CLOCK_REALTIME:
    id = CLOCK_REALTIME;
    break;
  default:
    return UV_EINVAL;
  }
  if (clock_gettime(id, &now) != 0)
    return -errno;
  ts->tv_sec = (int64_t)now.tv_sec;
  ts->tv_nsec = (int32_t)now.tv_nsec;
  return 0;
}


static int rusage_of(int who, uv_rusage_t *rusage) {
  struct rusage ru;

  if (rusage == NULL)
    return UV_EINVAL;
  if (getrusage(who, &ru) != 0)
    return -errno;
  rusage->ru_utime.tv_sec = ru.ru_utime.tv_sec;
  rusage->ru_utime.tv_usec = ru.ru_utime.tv_usec;
  rusage->ru_stime.tv_sec = ru.ru_stime.tv_sec;
  rusage->ru_stime.tv_usec = ru.ru_stime.tv_usec;
  rusage->ru_maxrss = (uint64_t) ru.ru_maxrss;
  rusage->ru_ixrss = (uint64_t) ru.ru_ixrss;
  rusage->ru_idrss = (uint64_t) ru.ru_idrss;
  rusage->ru_isrss = (uint64_t) ru.ru_isrss;
  rusage->ru_minflt = (uint64_t) ru.ru_minflt;
  rusage->ru_majflt = (uint64_t) ru.ru_majflt;
  rusage->ru_nswap = (uint64_t) ru.ru_nswap;
  rusage->ru_inblock = (uint64_t) ru.ru_inblock;
  rusage->ru_oublock = (uint64_t) ru.ru_oublock;
  rusage->ru_msgsnd = (uint64_t) ru.ru_msgsnd;
  rusage->ru_msgrcv = (uint64_t) ru.ru_msgrcv;
  rusage->ru_nsignals = (uint64_t) ru.ru_nsignals;
  rusage->ru_nvcsw = (uint64_t) ru.ru_nvcsw;
  rusage->ru_nivcsw = (uint64_t) ru.ru_nivcsw;
  return 0;
}


UV_EXTERN int uv_getrusage(uv_rusage_t *rusage) {
  return rusage_of(RUSAGE_SELF, rusage);
}


UV_EXTERN int uv_getrusage_thread(uv_rusage_t *rusage) {
  return rusage_of(RUSAGE_THREAD, rusage);
}


UV_EXTERN int uv_uptime(double *uptime) {
  struct timespec ts;
  char buf[128];

  if (uptime == NULL)
    return UV_EINVAL;
  if (read_small_file("/proc/uptime", buf, sizeof(buf)) == 0 &&
      sscanf(buf, "%lf", uptime) == 1)
    return 0;
  /* /proc may be missing (chroots); the boot clock counts the same thing. */
  if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
    return -errno;
  *uptime = (double) ts.tv_sec;
  return 0;
}


UV_EXTERN void uv_loadavg(double avg[3]) {
  struct sysinfo si;
  char buf[128];

  if (read_small_file("/proc/loadavg", buf, sizeof(buf)) == 0 &&
      sscanf(buf, "%lf %lf %lf", &avg[0], &avg[1], &avg[2]) == 3)
    return;
  if (sysinfo(&si) != 0) {
    avg[0] = avg[1] = avg[2] = 0;
    return;
  }
  /* sysinfo reports loads as fixed point with 16 fraction bits. */
  avg[0] = si.loads[0] / 65536.0;
  avg[1] = si.loads[1] / 65536.0;
  avg[2] = si.loads[2] / 65536.0;
}


/* Field 24 of /proc/self/stat is the resident set in pages. The command name
 * (field 2) may contain spaces and parentheses, so counting starts after the
 * last ')'. */
UV_EXTERN int uv_resident_set_memory(size_t *rss) {
  char buf[1024];
  char *p;
  long pages;
  int field;
  int rc;

  if (rss == NULL)
    return UV_EINVAL;
  rc = read_small_file("/proc/self/stat", buf, sizeof(buf));
  if (rc != 0)
    return rc;
  p = strrchr(buf, ')');
  if (p == NULL)
    return UV_EINVAL;
  /* After ')' comes field 3; skip 21 more separators to reach field 24. */
  for (field = 2; field < 24; field++) {
    p = strchr(p + 1, ' ');
    if (p == NULL)
      return UV_EINVAL;
  }
  errno = 0;
  pages = strtol(p + 1, NULL, 10);
  if (errno != 0 || pages < 0)
    return UV_EINVAL;
  *rss = (size_t) pages * (size_t) getpagesize();
  return 0;
}


/* ---- memory ------------------------------------------------------------- */

/* Returns the "<key> <n> kB" value of /proc/meminfo in bytes, or 0. */
static uint64_t meminfo_bytes(const char *key) {
  char buf[8192];
  const char *p;
  uint64_t kib;

  if (read_small_file("/proc/meminfo", buf, sizeof(buf)) != 0)
    return 0;
  p = strstr(buf, key);
  if (p == NULL || sscanf(p + strlen(key), " %" SCNu64, &kib) != 1)
    return 0;
  return kib * 1024;
}


UV_EXTERN uint64_t uv_get_free_memory(void) {
  struct sysinfo si;
  uint64_t bytes;

  /* MemAvailable counts reclaimable cache, which is what callers mean. */
  bytes = meminfo_bytes("MemAvailable:");
  if (bytes == 0 && sysinfo(&si) == 0)
    bytes = (uint64_t) si.freeram * si.mem_unit;
  return bytes;
}


UV_EXTERN uint64_t uv_get_total_memory(void) {
  struct sysinfo si;
  uint64_t bytes;

  bytes = meminfo_bytes("MemTotal:");
  if (bytes == 0 && sysinfo(&si) == 0)
    bytes = (uint64_t) si.totalram * si.mem_unit;
  return bytes;
}


/* Reads a cgroup limit file; "max" and cgroup v1's "no limit" sentinel
 * (LONG_MAX rounded down to a page) both mean unconstrained: 0. */
static uint64_t cgroup_limit(const char *path) {
  char buf[64];
  uint64_t v;

  if (read_small_file(path, buf, sizeof(buf)) != 0)
    return 0;
  if (sscanf(buf, "%" SCNu64, &v) != 1)
    return 0;
  return v >= ((uint64_t) 1 << 62) ? 0 : v;
}


/* The tightest limit on the path from our cgroup up to the root, since a
 * parent's limit binds its children too. dir is modified in place. */
static uint64_t cgroup_min_limit(const char *mount, char *dir,
                                 const char *file) {
  char path[PATH_MAX];
  uint64_t best = 0;
  uint64_t v;
  char *slash;

  for (;;) {
    snprintf(path, sizeof(path), "%s%s/%s", mount,
             strcmp(dir, "/") == 0 ? "" : dir, file);
    v = cgroup_limit(path);
    if (v != 0 && (best == 0 || v < best))
      best = v;
    slash = strrchr(dir, '/');
    if (slash == NULL || strcmp(dir, "/") == 0)
      break;
    if (slash == dir)
      slash[1] = '\0'; /* "/a" -> "/" */
    else
      *slash = '\0';
  }
  return best;
}


/* Our memory cgroup, from /proc/self/cgroup: the v1 hierarchy's path
 * (v1_dir) or, without one, the v2 path (v2_dir); "" when not found. */
static void memory_cgroup(char v1_dir[1024], char v2_dir[1024]) {
  char buf[4096];
  char *line;
  char *save = NULL;
  char *ctrl;
  char *path;

  v1_dir[0] = v2_dir[0] = '\0';
  if (read_small_file("/proc/self/cgroup", buf, sizeof(buf)) != 0)
    return;
  /* Lines are "id:controllers:path"; v2 is "0::path", v1 names "memory".
   * On hybrid hosts both appear and only the v1 hierarchy has the memory
   * controller, so it takes precedence. */
  for (line = strtok_r(buf, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    ctrl = strchr(line, ':');
    if (ctrl == NULL)
      continue;
    path = strchr(++ctrl, ':');
    if (path == NULL)
      continue;
    *path++ = '\0';
    if (*path != '/' || strlen(path) >= 1024)
      continue;
    if (*ctrl == '\0')
      strcpy(v2_dir, path);
    else if (strcmp(ctrl, "memory") == 0 ||
             strncmp(ctrl, "memory,", 7) == 0 || strstr(ctrl, ",memory"))
      strcpy(v1_dir, path);
  }
  if (v1_dir[0] != '\0')
    v2_dir[0] = '\0';
}


UV_EXTERN uint64_t uv_get_constrained_memory(void) {
  char v1_dir[1024];
  char v2_dir[1024];

  memory_cgroup(v1_dir, v2_dir);
  if (v1_dir[0] != '\0')
    return cgroup_min_limit("/sys/fs/cgroup/memory", v1_dir,
                            "memory.limit_in_bytes");
  if (v2_dir[0] != '\0')
    return cgroup_min_limit("/sys/fs/cgroup", v2_dir, "memory.max");
  return cgroup_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes");
}


/* Under a limit: what the cgroup may still use (its limit less what it
 * uses now); without one, the machine's free memory. */
UV_EXTERN uint64_t uv_get_available_memory(void) {
  char v1_dir[1024];
  char v2_dir[1024];
  char path[PATH_MAX];
  char buf[64];
  uint64_t limit = uv_get_constrained_memory();
  uint64_t used = 0;

  if (limit == 0)
    return uv_get_free_memory();
  memory_cgroup(v1_dir, v2_dir);
  if (v1_dir[0] != '\0')
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.usage_in_bytes",
             strcmp(v1_dir, "/") == 0 ? "" : v1_dir);
  else if (v2_dir[0] != '\0')
    snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current",
             strcmp(v2_dir, "/") == 0 ? "" : v2_dir);
  else
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/memory.usage_in_bytes");
  if (read_small_file(path, buf, sizeof(buf)) == 0 &&
      sscanf(buf, "%" SCNu64, &used) != 1)
    used = 0;
  return used < limit ? limit - used : 0;
}


/* ---- CPUs --------------------------------------------------------------- */

UV_EXTERN unsigned int uv_available_parallelism(void) {
  cpu_set_t set;
  long n;

  /* The affinity mask is what this process may actually run on (taskset,
   * container cpusets); the online count is only a fallback. */
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    n = CPU_COUNT(&set);
  else
    n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1u : (unsigned int) n;
}


/* Fills model and speed from /proc/cpuinfo, in processor order. Entries it
 * cannot name copy the last model seen, or "unknown". */
static int cpu_models(uv_cpu_info_t *ci, int count) {
  static const char model_key[] = "model name";
  static const char mhz_key[] = "cpu MHz";
  const char *fallback = "unknown";
  char line[1024];
  char *colon;
  char *nl;
  int models = 0;
  int speeds = 0;
  FILE *f;
  int i;

  f = fopen("/proc/cpuinfo", "re");
  if (f != NULL) {
    while (fgets(line, sizeof(line), f) != NULL) {
      colon = strchr(line, ':');
      if (colon == NULL)
        continue;
      if (strncmp(line, model_key, sizeof(model_key) - 1) == 0 &&
          models < count) {
        colon += colon[1] == ' ' ? 2 : 1;
        nl = strchr(colon, '\n');
        if (nl != NULL)
          *nl = '\0';
        ci[models].model = bio__strdup(colon);
        if (ci[models].model == NULL) {
          fclose(f);
          return UV_ENOMEM;
        }
        models++;
      } else if (strncmp(line, mhz_key, sizeof(mhz_key) - 1) == 0 &&
                 speeds < count) {
        ci[speeds++].speed = atoi(colon + 1);
      }
    }
    fclose(f);
  }
  if (models > 0)
    fallback = ci[models - 1].model;
  for (i = models; i < count; i++) {
    ci[i].model = bio__strdup(fallback);
    if (ci[i].model == NULL)
      return UV_ENOMEM;
  }
  return 0;
}


/* cpufreq's current frequency in MHz, or 0 when the driver is absent. */
static int cpu_freq_mhz(int cpu) {
  char path[128];
  char buf[32];
  unsigned long khz;

  snprintf(path, sizeof(path),
           "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", cpu);
  if (read_small_file(path, buf, sizeof(buf)) != 0 ||
      sscanf(buf, "%lu", &khz) != 1)
    return 0;
  return (int) (khz / 1000);
}


/* One uv_cpu_info_t per "cpuN" line of /proc/stat, times in milliseconds. */
UV_EXTERN int uv_cpu_info(uv_cpu_info_t **cpu_infos, int *count) {
  uint64_t user, nice, sys, idle, iowait, irq;
  uint64_t ms_per_tick;
  uv_cpu_info_t *ci;
  char line[1024];
  long ticks;
  FILE *f;
  int n = 0;
  int rc;
  int i;

  if (cpu_infos == NULL || count == NULL)
    return UV_EINVAL;
  *cpu_infos = NULL;
  *count = 0;

  ticks = sysconf(_SC_CLK_TCK);
  ms_per_tick = ticks > 0 ? (uint64_t) (1000 / ticks) : 10;

  f = fopen("/proc/stat", "re");
  if (f == NULL)
    return -errno;
  /* Count first: the file is a snapshot, so a rewind sees the same lines. */
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9')
      n++;
  if (n == 0) {
    fclose(f);
    return UV_EIO;
  }
  ci = bio__calloc((size_t) n, sizeof(*ci));
  if (ci == NULL) {
    fclose(f);
    return UV_ENOMEM;
  }

  rewind(f);
  i = 0;
  while (i < n && fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
      continue;
    if (sscanf(line, "cpu%*u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
               " %" SCNu64 " %" SCNu64,
               &user, &nice, &sys, &idle, &iowait, &irq) != 6)
      break;
    ci[i].cpu_times.user = user * ms_per_tick;
    ci[i].cpu_times.nice = nice * ms_per_tick;
    ci[i].cpu_times.sys = sys * ms_per_tick;
    ci[i].cpu_times.idle = idle * ms_per_tick;
    ci[i].cpu_times.irq = irq * ms_per_tick;
    i++;
  }
  fclose(f);
  if (i != n) {
    bio__free(ci);
    return UV_EIO;
  }

  rc = cpu_models(ci, n);
  if (rc != 0) {
    uv_free_cpu_info(ci, n);
    return rc;
  }
  for (i = 0; i < n; i++)
    if (ci[i].speed == 0)
      ci[i].speed = cpu_freq_mhz(i);

  *cpu_infos = ci;
  *count = n;
  return 0;
}


UV_EXTERN void uv_free_cpu_info(uv_cpu_info_t *cpu_infos, int count) {
  int i;

  if (cpu_infos == NULL)
    return;
  for (i = 0; i < count; i++)
    bio__free((char *)cpu_infos[i].model); /* ours: strdup. */
  bio__free(cpu_infos);
}


/* ---- priorities --------------------------------------------------------- */

UV_EXTERN int uv_os_getpriority(uv_pid_t pid, int *priority) {
  int prio;

  if (priority == NULL)
    return UV_EINVAL;
  /* -1 is a valid nice value, so only errno tells failure apart. */
  errno = 0;
  prio = getpriority(PRIO_PROCESS, (id_t) pid);
  if (prio == -1 && errno != 0)
    return -errno;
  *priority = prio;
  return 0;
}


UV_EXTERN int uv_os_setpriority(uv_pid_t pid, int priority) {
  if (priority < UV_PRIORITY_HIGHEST || priority > UV_PRIORITY_LOW)
    return UV_EINVAL;
  if (setpriority(PRIO_PROCESS, (id_t) pid, priority) != 0)
    return -errno;
  return 0;
}


/* ---- dynamic libraries -------------------------------------------------- */

/* libuv's contract, kept as is: failures return -1 (not an errno) and the
 * message is kept in lib->errmsg, owned by lib, until the next call. */
static int remember_dlerror(uv_lib_t *lib) {
  const char *msg = dlerror();

  bio__free(lib->errmsg);
  lib->errmsg = msg != NULL ? bio__strdup(msg) : NULL;
  return msg != NULL ? -1 : 0;
}


UV_EXTERN int uv_dlopen(const char *filename, uv_lib_t *lib) {
  if (lib == NULL)
    return UV_EINVAL;
  lib->errmsg = NULL;
  dlerror(); /* drop any stale message */
  lib->handle = dlopen(filename, RTLD_LAZY);
  return lib->handle != NULL ? 0 : remember_dlerror(lib);
}


UV_EXTERN void uv_dlclose(uv_lib_t *lib) {
  if (lib == NULL)
    return;
  bio__free(lib->errmsg);
  lib->errmsg = NULL;
  if (lib->handle != NULL) {
    dlclose(lib->handle); /* failure leaves nothing useful to report */
    lib->handle = NULL;
  }
}


/* A symbol whose value is NULL is not an error; dlerror tells them apart. */
UV_EXTERN int uv_dlsym(uv_lib_t *lib, const char *name, void **ptr) {
  if (lib == NULL || name == NULL || ptr == NULL)
    return UV_EINVAL;
  dlerror();
  *ptr = dlsym(lib->handle, name);
  return *ptr != NULL ? 0 : remember_dlerror(lib);
}


UV_EXTERN const char *uv_dlerror(const uv_lib_t *lib) {
  return lib != NULL && lib->errmsg != NULL ? lib->errmsg : "no error";
}
