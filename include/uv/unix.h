/* blitz-io: POSIX-side ABI types that uv.h builds its structs from.
 * Everything here is a libuv 1.44.2 Linux/x86_64 fact: the system headers a
 * libuv program may rely on being pulled in, the OS type aliases (uv_file,
 * uv_mutex_t, ...), the embedded I/O watcher shape and the fs open() flags.
 */

#ifndef UV_UNIX_H
#define UV_UNIX_H

/* libuv programs lean on uv.h for these, so we must include them too. */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <dirent.h>
#include <termios.h>
#include <pwd.h>
#include <semaphore.h>
#include <pthread.h>
#include <signal.h>

#include "uv/threadpool.h"
#include "uv/linux.h"

/* uv_getnameinfo_t's buffer sizes, should <netdb.h> leave them out
 * (glibc shows them only with _DEFAULT_SOURCE): names with their NUL. */
#if !defined(NI_MAXHOST)
# define NI_MAXHOST 1025 /* a host name */
#endif
#if !defined(NI_MAXSERV)
# define NI_MAXSERV 32 /* a service name */
#endif

/* Scatter/gather element; same shape as struct iovec so writev() takes an
 * array of them directly. */
typedef struct uv_buf_t {
  char* base; /* iov_base */
  size_t len; /* iov_len */
} uv_buf_t;

/* OS object aliases: descriptors are ints here, ids the system's own. */
typedef int uv_file, uv_os_sock_t, uv_os_fd_t;
typedef pid_t uv_pid_t;
typedef uid_t uv_uid_t;
typedef gid_t uv_gid_t;

/* Threading primitives are thin names for their pthread counterparts. */
typedef pthread_t uv_thread_t;
typedef pthread_once_t uv_once_t;
typedef pthread_key_t uv_key_t;
typedef pthread_mutex_t uv_mutex_t;
typedef pthread_rwlock_t uv_rwlock_t;
typedef pthread_cond_t uv_cond_t;
typedef sem_t uv_sem_t;

#define UV_ONCE_INIT PTHREAD_ONCE_INIT

/* Barriers: the pthread type when the includer's feature macros expose it
 * (the usual case with glibc); otherwise libuv falls back to a pointer to a
 * hand-rolled barrier, and so do we, with the same shape. */
#if defined(PTHREAD_BARRIER_SERIAL_THREAD)
typedef pthread_barrier_t uv_barrier_t;
#else
struct _uv_barrier {
  uv_mutex_t mutex;
  uv_cond_t cond;
  unsigned threshold, in, out; /* size; arrived; still to leave */
};
typedef struct {
  struct _uv_barrier* b;
} uv_barrier_t;
#endif

/* uv_dlopen() state. */
#define UV_DYNAMIC /* nothing needed on ELF */
typedef struct {
  void* handle;
  char* errmsg;
} uv_lib_t;

/* Directory streams. */
typedef struct dirent uv__dirent_t;
#define UV_DIR_PRIVATE_FIELDS DIR* dir;

#if defined(DT_UNKNOWN)
/* glibc reports d_type; map it straight onto the dirent kinds. */
# define HAVE_DIRENT_TYPES
# define UV__DT_FILE DT_REG
# define UV__DT_DIR DT_DIR
# define UV__DT_LINK DT_LNK
# define UV__DT_FIFO DT_FIFO
# define UV__DT_SOCKET DT_SOCK
# define UV__DT_CHAR DT_CHR
# define UV__DT_BLOCK DT_BLK
#endif

/* The fd watcher libuv embeds in streams, udp, poll handles and the loop.
 * We keep its size and field names: our backend parks per-fd state here. */
struct uv_loop_s;
struct uv__io_s;
typedef struct uv__io_s uv__io_t;
typedef void (*uv__io_cb)(struct uv_loop_s* loop,
                          struct uv__io_s* w,
                          unsigned int events);

struct uv__io_s {
  /* libuv 1.52 keeps its callback's index here as bits; 1.44 named it cb.
   * Both names, one word. */
  __extension__ union {
    uv__io_cb cb;
    uintptr_t bits;
  };
  void* pending_queue[2];
  void* watcher_queue[2];
  unsigned int pevents; /* interest wanted after the next poll */
  unsigned int events;  /* interest currently armed */
  int fd;
};

/* uv_fs_open() flags. The ones POSIX always provides map directly; the
 * optional ones are 0 when the includer's feature macros hide them, which
 * matches what libuv's header yields in the same compilation. */
#define UV_FS_O_RDONLY O_RDONLY
#define UV_FS_O_WRONLY O_WRONLY
#define UV_FS_O_RDWR O_RDWR
#define UV_FS_O_APPEND O_APPEND
#define UV_FS_O_CREAT O_CREAT
#define UV_FS_O_EXCL O_EXCL
#define UV_FS_O_NOCTTY O_NOCTTY
#define UV_FS_O_NONBLOCK O_NONBLOCK
#define UV_FS_O_TRUNC O_TRUNC
/* Hard-coded in libuv for x86_64 Linux, visible with or without _GNU_SOURCE. */
#define UV_FS_O_DIRECT 0x04000

#ifdef O_DIRECTORY
# define UV_FS_O_DIRECTORY O_DIRECTORY
#else
# define UV_FS_O_DIRECTORY 0
#endif
#ifdef O_DSYNC
# define UV_FS_O_DSYNC O_DSYNC
#else
# define UV_FS_O_DSYNC 0
#endif
#ifdef O_SYNC
# define UV_FS_O_SYNC O_SYNC
#else
# define UV_FS_O_SYNC 0
#endif
#ifdef O_NOATIME
# define UV_FS_O_NOATIME O_NOATIME
#else
# define UV_FS_O_NOATIME 0
#endif
#ifdef O_NOFOLLOW
# define UV_FS_O_NOFOLLOW O_NOFOLLOW
#else
# define UV_FS_O_NOFOLLOW 0
#endif

/* BSD, macOS and Windows flags that Linux lacks: no bits here, so that
 * or'ing them in changes nothing. */
#define UV__FS_O_NO_BITS 0
#define UV_FS_O_EXLOCK UV__FS_O_NO_BITS
#define UV_FS_O_FILEMAP UV__FS_O_NO_BITS
#define UV_FS_O_RANDOM UV__FS_O_NO_BITS
#define UV_FS_O_SEQUENTIAL UV__FS_O_NO_BITS
#define UV_FS_O_SHORT_LIVED UV__FS_O_NO_BITS
#define UV_FS_O_SYMLINK UV__FS_O_NO_BITS
#define UV_FS_O_TEMPORARY UV__FS_O_NO_BITS

#endif /* UV_UNIX_H */
