/* The process's working directory and executable path, and the Windows
 * fd/handle conversions (identity on Unix). Sizing follows libuv: uv_cwd
 * fails with UV_ENOBUFS and the size needed, uv_exepath truncates. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"


UV_EXTERN int uv_cwd(char *buffer, size_t *size) {
  char scratch[PATH_MAX + 1];
  size_t len;

  if (buffer == NULL || size == NULL)
    return UV_EINVAL;
  if (getcwd(buffer, *size) == NULL) {
    if (errno != ERANGE && errno != EINVAL)
      return -errno;
    /* Too small (EINVAL is getcwd's answer to a size of 0): report the
     * size that would do, terminator included. */
    if (getcwd(scratch, sizeof(scratch)) == NULL)
      return -errno;
    *size = strlen(scratch) + 1;
    return UV_ENOBUFS;
  }
  len = strlen(buffer);
  /* No trailing slash, except for the root itself. */
  if (len > 1 && buffer[len - 1] == '/')
    buffer[--len] = '\0';
  *size = len;
  return 0;
}


UV_EXTERN int uv_chdir(const char *dir) {
  if (dir == NULL)
    return UV_EINVAL;
  return chdir(dir) != 0 ? -errno : 0;
}


UV_EXTERN int uv_exepath(char *buffer, size_t *size) {
  char path[PATH_MAX + 1];
  ssize_t n;
  size_t len;

  if (buffer == NULL || size == NULL || *size == 0)
    return UV_EINVAL;
  /* /proc/self/exe is the binary itself, whatever argv[0] or the process
   * title say. */
  n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n < 0)
    return -errno;
  len = (size_t)n;
  if (len > *size - 1)
    len = *size - 1;
  memcpy(buffer, path, len);
  buffer[len] = '\0';
  *size = len;
  return 0;
}


UV_EXTERN uv_os_fd_t uv_get_osfhandle(int fd) {
  return fd; /* no CRT/OS handle split on Unix */
}


UV_EXTERN int uv_open_osfhandle(uv_os_fd_t os_fd) { return os_fd; }
