/* Names and messages for every UV_E* code, and the errno translation. The
 * strings are part of libuv's observable behaviour (programs print and tests
 * compare them), so they are kept verbatim; the table is ordered by code. */

#include "uv.h"
#include "core/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct err_entry {
  int code;
  const char *name;
  const char *message;
};

static const struct err_entry err_table[] = {
  { UV_EPERM, "EPERM", "operation not permitted" },
  { UV_ENOENT, "ENOENT", "no such file or directory" },
  { UV_ESRCH, "ESRCH", "no such process" },
  { UV_EINTR, "EINTR", "interrupted system call" },
  { UV_EIO, "EIO", "i/o error" },
  { UV_ENXIO, "ENXIO", "no such device or address" },
  { UV_E2BIG, "E2BIG", "argument list too long" },
  { UV_EBADF, "EBADF", "bad file descriptor" },
  { UV_EAGAIN, "EAGAIN", "resource temporarily unavailable" },
  { UV_ENOMEM, "ENOMEM", "not enough memory" },
  { UV_EACCES, "EACCES", "permission denied" },
  { UV_EFAULT, "EFAULT", "bad address in system call argument" },
  { UV_EBUSY, "EBUSY", "resource busy or locked" },
  { UV_EEXIST, "EEXIST", "file already exists" },
  { UV_EXDEV, "EXDEV", "cross-device link not permitted" },
  { UV_ENODEV, "ENODEV", "no such device" },
  { UV_ENOTDIR, "ENOTDIR", "not a directory" },
  { UV_EISDIR, "EISDIR", "illegal operation on a directory" },
  { UV_EINVAL, "EINVAL", "invalid argument" },
  { UV_ENFILE, "ENFILE", "file table overflow" },
  { UV_EMFILE, "EMFILE", "too many open files" },
  { UV_ENOTTY, "ENOTTY", "inappropriate ioctl for device" },
  { UV_ETXTBSY, "ETXTBSY", "text file is busy" },
  { UV_EFBIG, "EFBIG", "file too large" },
  { UV_ENOSPC, "ENOSPC", "no space left on device" },
  { UV_ESPIPE, "ESPIPE", "invalid seek" },
  { UV_EROFS, "EROFS", "read-only file system" },
  { UV_EMLINK, "EMLINK", "too many links" },
  { UV_EPIPE, "EPIPE", "broken pipe" },
  { UV_ERANGE, "ERANGE", "result too large" },
  { UV_ENAMETOOLONG, "ENAMETOOLONG", "name too long" },
  { UV_ENOSYS, "ENOSYS", "function not implemented" },
  { UV_ENOTEMPTY, "ENOTEMPTY", "directory not empty" },
  { UV_ELOOP, "ELOOP", "too many symbolic links encountered" },
  { UV_ENONET, "ENONET", "machine is not on the network" },
  { UV_EPROTO, "EPROTO", "protocol error" },
  { UV_EOVERFLOW, "EOVERFLOW", "value too large for defined data type" },
  { UV_EILSEQ, "EILSEQ", "illegal byte sequence" },
  { UV_ENOTSOCK, "ENOTSOCK", "socket operation on non-socket" },
  { UV_EDESTADDRREQ, "EDESTADDRREQ", "destination address required" },
  { UV_EMSGSIZE, "EMSGSIZE", "message too long" },
  { UV_EPROTOTYPE, "EPROTOTYPE", "protocol wrong type for socket" },
  { UV_ENOPROTOOPT, "ENOPROTOOPT", "protocol not available" },
  { UV_EPROTONOSUPPORT, "EPROTONOSUPPORT", "protocol not supported" },
  { UV_ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT", "socket type not supported" },
  { UV_ENOTSUP, "ENOTSUP", "operation not supported on socket" },
  { UV_EAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported" },
  { UV_EADDRINUSE, "EADDRINUSE", "address already in use" },
  { UV_EADDRNOTAVAIL, "EADDRNOTAVAIL", "address not available" },
  { UV_ENETDOWN, "ENETDOWN", "network is down" },
  { UV_ENETUNREACH, "ENETUNREACH", "network is unreachable" },
  { UV_ECONNABORTED, "ECONNABORTED", "software caused connection abort" },
  { UV_ECONNRESET, "ECONNRESET", "connection reset by peer" },
  { UV_ENOBUFS, "ENOBUFS", "no buffer space available" },
  { UV_EISCONN, "EISCONN", "socket is already connected" },
  { UV_ENOTCONN, "ENOTCONN", "socket is not connected" },
  { UV_ESHUTDOWN, "ESHUTDOWN",
    "cannot send after transport endpoint shutdown" },
  { UV_ETIMEDOUT, "ETIMEDOUT", "connection timed out" },
  { UV_ECONNREFUSED, "ECONNREFUSED", "connection refused" },
  { UV_EHOSTDOWN, "EHOSTDOWN", "host is down" },
  { UV_EHOSTUNREACH, "EHOSTUNREACH", "host is unreachable" },
  { UV_EALREADY, "EALREADY", "connection already in progress" },
  { UV_EREMOTEIO, "EREMOTEIO", "remote I/O error" },
  { UV_ECANCELED, "ECANCELED", "operation canceled" },
  { UV_EAI_ADDRFAMILY, "EAI_ADDRFAMILY", "address family not supported" },
  { UV_EAI_AGAIN, "EAI_AGAIN", "temporary failure" },
  { UV_EAI_BADFLAGS, "EAI_BADFLAGS", "bad ai_flags value" },
  { UV_EAI_CANCELED, "EAI_CANCELED", "request canceled" },
  { UV_EAI_FAIL, "EAI_FAIL", "permanent failure" },
  { UV_EAI_FAMILY, "EAI_FAMILY", "ai_family not supported" },
  { UV_EAI_MEMORY, "EAI_MEMORY", "out of memory" },
  { UV_EAI_NODATA, "EAI_NODATA", "no address" },
  { UV_EAI_NONAME, "EAI_NONAME", "unknown node or service" },
  { UV_EAI_OVERFLOW, "EAI_OVERFLOW", "argument buffer overflow" },
  { UV_EAI_SERVICE, "EAI_SERVICE", "service not available for socket type" },
  { UV_EAI_SOCKTYPE, "EAI_SOCKTYPE", "socket type not supported" },
  { UV_EAI_BADHINTS, "EAI_BADHINTS", "invalid value for hints" },
  { UV_EAI_PROTOCOL, "EAI_PROTOCOL", "resolved protocol is unknown" },
  { UV_EFTYPE, "EFTYPE", "inappropriate file type or format" },
  { UV_ECHARSET, "ECHARSET", "invalid Unicode character" },
  { UV_UNKNOWN, "UNKNOWN", "unknown error" },
  { UV_EOF, "EOF", "end of file" },
};


static const struct err_entry *find_err(int code) {
  size_t i;

  for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
    if (err_table[i].code == code)
      return &err_table[i];
  return NULL;
}


/* libuv hands out a freshly allocated, never freed string for a code it does
 * not know. We intern one string per distinct code instead: the pointer stays
 * valid forever (as callers expect) but repeated calls do not grow memory. */
struct unknown_text {
  struct unknown_text *next;
  int code;
  char text[32];
};

static pthread_mutex_t unknown_lock = PTHREAD_MUTEX_INITIALIZER;
static struct unknown_text *unknown_list;


static const char *unknown_err_text(int code) {
  struct unknown_text *u;

  pthread_mutex_lock(&unknown_lock);
  for (u = unknown_list; u != NULL; u = u->next)
    if (u->code == code)
      break;
  if (u == NULL) {
    u = bio__malloc(sizeof(*u));
    if (u != NULL) {
      u->code = code;
      snprintf(u->text, sizeof(u->text), "Unknown system error %d", code);
      u->next = unknown_list;
      unknown_list = u;
    }
  }
  pthread_mutex_unlock(&unknown_lock);
  return u != NULL ? u->text : "Unknown system error";
}


UV_EXTERN const char *uv_err_name(int err) {
  const struct err_entry *e = find_err(err);

  return e != NULL ? e->name : unknown_err_text(err);
}


UV_EXTERN const char *uv_strerror(int err) {
  const struct err_entry *e = find_err(err);

  return e != NULL ? e->message : unknown_err_text(err);
}


/* Both _r variants truncate to buflen - 1 bytes and always terminate when
 * buflen > 0; a zero-length buffer is left untouched. */
UV_EXTERN char *uv_err_name_r(int err, char *buf, size_t buflen) {
  const struct err_entry *e = find_err(err);

  if (e != NULL)
    snprintf(buf, buflen, "%s", e->name);
  else
    snprintf(buf, buflen, "Unknown system error %d", err);
  return buf;
}


UV_EXTERN char *uv_strerror_r(int err, char *buf, size_t buflen) {
  const struct err_entry *e = find_err(err);

  if (e != NULL)
    snprintf(buf, buflen, "%s", e->message);
  else
    snprintf(buf, buflen, "Unknown system error %d", err);
  return buf;
}


/* On Unix a UV_E* code is the negated errno, so translation is a sign flip;
 * values already zero or negative are passed through unchanged. */
UV_EXTERN int uv_translate_sys_error(int sys_errno) {
  return sys_errno > 0 ? -sys_errno : sys_errno;
}
