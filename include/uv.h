/* blitz-io: the libuv 1.44.2 public interface, as seen by C and C++ code.
 * Every type, field, constant and function here has the size, offset, value
 * and signature libuv gives it on Linux x86_64, so programs built against
 * libuv's uv.h run on our libuv.so.1 and vice versa. The text is our own;
 * test/abi/ checks the layout against the system's libuv1-dev headers.
 */

#ifndef UV_H
#define UV_H

#if defined(BUILDING_UV_SHARED) && defined(USING_UV_SHARED)
# error "BUILDING_UV_SHARED and USING_UV_SHARED are mutually exclusive."
#endif

/* What the library exports (it is built with -fvisibility=hidden). */
#if !defined(__GNUC__) || __GNUC__ < 4
# define UV_EXTERN
#else
# define UV_EXTERN __attribute__((visibility("default")))
#endif

/* The C library's headers first, outside the extern "C" block. */
#include <math.h>   /* INFINITY and NAN: UV_FS_UTIME_NOW, _OMIT */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "uv/version.h"
#include "uv/errno.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A link of a circular doubly linked list: libuv 1.47's type for the
 * queues in its private fields. Ours keep the two-pointer layout those
 * fields always had; the type is declared for code built against libuv's
 * internal headers (its test suite includes them). */
struct uv__queue {
  struct uv__queue* next;
  struct uv__queue* prev;
};

#include "uv/unix.h"


/* ---- X-macro tables ---------------------------------------------------- */

/* XX(name, message) for every error code. Programs expand this to build
 * their own tables: the names and messages are API, the order is not. Here
 * by value: the errno codes (as Linux numbers them), then the resolver's
 * UV__EAI_* codes, then the codes libuv made up itself. */
#define UV_ERRNO_MAP(XX) \
  XX(EPERM, "operation not permitted") \
  XX(ENOENT, "no such file or directory") \
  XX(ESRCH, "no such process") \
  XX(EINTR, "interrupted system call") \
  XX(EIO, "i/o error") \
  XX(ENXIO, "no such device or address") \
  XX(E2BIG, "argument list too long") \
  XX(EBADF, "bad file descriptor") \
  XX(EAGAIN, "resource temporarily unavailable") \
  XX(ENOMEM, "not enough memory") \
  XX(EACCES, "permission denied") \
  XX(EFAULT, "bad address in system call argument") \
  XX(EBUSY, "resource busy or locked") \
  XX(EEXIST, "file already exists") \
  XX(EXDEV, "cross-device link not permitted") \
  XX(ENODEV, "no such device") \
  XX(ENOTDIR, "not a directory") \
  XX(EISDIR, "illegal operation on a directory") \
  XX(EINVAL, "invalid argument") \
  XX(ENFILE, "file table overflow") \
  XX(EMFILE, "too many open files") \
  XX(ENOTTY, "inappropriate ioctl for device") \
  XX(ETXTBSY, "text file is busy") \
  XX(EFBIG, "file too large") \
  XX(ENOSPC, "no space left on device") \
  XX(ESPIPE, "invalid seek") \
  XX(EROFS, "read-only file system") \
  XX(EMLINK, "too many links") \
  XX(EPIPE, "broken pipe") \
  XX(ERANGE, "result too large") \
  XX(ENAMETOOLONG, "name too long") \
  XX(ENOSYS, "function not implemented") \
  XX(ENOTEMPTY, "directory not empty") \
  XX(ELOOP, "too many symbolic links encountered") \
  XX(ENONET, "machine is not on the network") \
  XX(EPROTO, "protocol error") \
  XX(EOVERFLOW, "value too large for defined data type") \
  XX(EILSEQ, "illegal byte sequence") \
  XX(ENOTSOCK, "socket operation on non-socket") \
  XX(EDESTADDRREQ, "destination address required") \
  XX(EMSGSIZE, "message too long") \
  XX(EPROTOTYPE, "protocol wrong type for socket") \
  XX(ENOPROTOOPT, "protocol not available") \
  XX(EPROTONOSUPPORT, "protocol not supported") \
  XX(ESOCKTNOSUPPORT, "socket type not supported") \
  XX(ENOTSUP, "operation not supported on socket") \
  XX(EAFNOSUPPORT, "address family not supported") \
  XX(EADDRINUSE, "address already in use") \
  XX(EADDRNOTAVAIL, "address not available") \
  XX(ENETDOWN, "network is down") \
  XX(ENETUNREACH, "network is unreachable") \
  XX(ECONNABORTED, "software caused connection abort") \
  XX(ECONNRESET, "connection reset by peer") \
  XX(ENOBUFS, "no buffer space available") \
  XX(EISCONN, "socket is already connected") \
  XX(ENOTCONN, "socket is not connected") \
  XX(ESHUTDOWN, "cannot send after transport endpoint shutdown") \
  XX(ETIMEDOUT, "connection timed out") \
  XX(ECONNREFUSED, "connection refused") \
  XX(EHOSTDOWN, "host is down") \
  XX(EHOSTUNREACH, "host is unreachable") \
  XX(EALREADY, "connection already in progress") \
  XX(EREMOTEIO, "remote I/O error") \
  XX(ECANCELED, "operation canceled") \
  XX(EAI_ADDRFAMILY, "address family not supported") XX(EAI_AGAIN, "temporary failure") \
  XX(EAI_BADFLAGS, "bad ai_flags value") XX(EAI_CANCELED, "request canceled") \
  XX(EAI_FAIL, "permanent failure") XX(EAI_FAMILY, "ai_family not supported") \
  XX(EAI_MEMORY, "out of memory") XX(EAI_NODATA, "no address") \
  XX(EAI_NONAME, "unknown node or service") XX(EAI_OVERFLOW, "argument buffer overflow") \
  XX(EAI_SERVICE, "service not available for socket type") XX(EAI_SOCKTYPE, "socket type not supported") \
  XX(EAI_BADHINTS, "invalid value for hints") XX(EAI_PROTOCOL, "resolved protocol is unknown") \
  XX(EFTYPE, "inappropriate file type or format") \
  XX(ECHARSET, "invalid Unicode character") \
  XX(ENODATA, "no data available") \
  XX(EUNATCH, "protocol driver not attached") \
  XX(ENOEXEC, "exec format error") \
  XX(UNKNOWN, "unknown error") \
  XX(EOF, "end of file")

/* Handle and request kinds, for X-macro users: XX(ENUM_SUFFIX, stem)
 * once per kind, in the order of the uv_handle_type / uv_req_type values
 * (UV_ASYNC is 1, UV_REQ is 1). Several to a line; the order is the ABI. */
#define UV_HANDLE_TYPE_MAP(XX) \
  XX(ASYNC, async) XX(CHECK, check) XX(FS_EVENT, fs_event) \
  XX(FS_POLL, fs_poll) XX(HANDLE, handle) XX(IDLE, idle) \
  XX(NAMED_PIPE, pipe) XX(POLL, poll) XX(PREPARE, prepare) \
  XX(PROCESS, process) XX(STREAM, stream) XX(TCP, tcp) \
  XX(TIMER, timer) XX(TTY, tty) XX(UDP, udp) XX(SIGNAL, signal)

#define UV_REQ_TYPE_MAP(XX) \
  XX(REQ, req) XX(CONNECT, connect) XX(WRITE, write) \
  XX(SHUTDOWN, shutdown) XX(UDP_SEND, udp_send) XX(FS, fs) \
  XX(WORK, work) XX(GETADDRINFO, getaddrinfo) \
  XX(GETNAMEINFO, getnameinfo) XX(RANDOM, random)


/* ---- Enumerations ------------------------------------------------------ */

typedef enum {
  /* UV_E2BIG = UV__E2BIG, and so on down the table. */
#define XX(code, msg) UV_##code = UV__##code,
  UV_ERRNO_MAP(XX)
#undef XX
  UV_ERRNO_MAX = UV__EOF - 1 /* below every code */
} uv_errno_t;

typedef enum {
  UV_UNKNOWN_HANDLE = 0,
  /* 1 .. 16 in table order */
#define XX(upper, lower) UV_##upper,
  UV_HANDLE_TYPE_MAP(XX)
#undef XX
  UV_FILE, /* not a handle: what uv_guess_handle() says for a file */
  UV_HANDLE_TYPE_MAX
} uv_handle_type;

typedef enum {
  UV_UNKNOWN_REQ = 0,
  /* 1 .. 10 in table order */
#define XX(upper, lower) UV_##upper,
  UV_REQ_TYPE_MAP(XX)
#undef XX
  UV_REQ_TYPE_MAX
} uv_req_type;

typedef enum {
  UV_RUN_DEFAULT = 0,
  UV_RUN_ONCE = 1,
  UV_RUN_NOWAIT = 2
} uv_run_mode;

/* What uv_loop_configure() sets: a signal kept out of the loop's waits
 * (its argument), idle-time accounting (uv_metrics_idle_time), or a ring
 * with a kernel submission thread (accepted; the ring is blitz-io's). */
typedef enum {
  UV_LOOP_BLOCK_SIGNAL = 0,
  UV_METRICS_IDLE_TIME = 1,
  UV_LOOP_USE_IO_URING_SQPOLL = 2
} uv_loop_option;
/* Lets a program test for the option with #ifdef. */
#define UV_LOOP_USE_IO_URING_SQPOLL UV_LOOP_USE_IO_URING_SQPOLL

/* uv_udp_set_membership() and uv_udp_set_source_membership(). */
typedef enum { UV_LEAVE_GROUP = 0, UV_JOIN_GROUP = 1 } uv_membership;

/* Bits for uv_tcp_bind(). */
enum uv_tcp_flags {
  UV_TCP_IPV6ONLY = 1,
  UV_TCP_REUSEPORT = 2     /* SO_REUSEPORT: listeners share the port */
};

/* Bits for uv_udp_bind(), uv_udp_init_ex() and the recv callback. */
enum uv_udp_flags {
  UV_UDP_IPV6ONLY = 1,
  UV_UDP_PARTIAL = 2,       /* datagram was truncated to the buffer */
  UV_UDP_REUSEADDR = 4,
  UV_UDP_MMSG_CHUNK = 8,    /* buffer is a slice of a recvmmsg batch */
  UV_UDP_MMSG_FREE = 16,    /* last callback for a batch: free it now */
  UV_UDP_LINUX_RECVERR = 32,
  UV_UDP_REUSEPORT = 64,    /* SO_REUSEPORT: sockets share the port */
  UV_UDP_RECVMMSG = 256
};

/* uv_poll_start() interest and uv_poll_cb result bits. */
enum uv_poll_event {
  UV_READABLE = 0x1,
  UV_WRITABLE = 0x2,
  UV_DISCONNECT = 0x4,   /* peer hung up */
  UV_PRIORITIZED = 0x8   /* urgent data (EPOLLPRI) */
};

typedef enum {
  UV_TTY_MODE_NORMAL = 0,
  UV_TTY_MODE_RAW = 1,
  UV_TTY_MODE_IO = 2,
  UV_TTY_MODE_RAW_VT = 3 /* raw; Windows' VT input, the same as raw here */
} uv_tty_mode_t;

/* Windows console state; accepted and ignored elsewhere. */
typedef enum {
  UV_TTY_SUPPORTED = 0,
  UV_TTY_UNSUPPORTED = 1
} uv_tty_vtermstate_t;

/* uv_stdio_container_t.flags: what uv_spawn() puts in a child's slot. */
typedef enum {
  UV_IGNORE = 0,              /* nothing (the child finds it closed) */
  UV_CREATE_PIPE = 1 << 0,    /* a new pipe, data.stream its parent end */
  UV_INHERIT_FD = 1 << 1,     /* data.fd, as it is */
  UV_INHERIT_STREAM = 1 << 2, /* data.stream's descriptor */
  /* Modifiers of UV_CREATE_PIPE, from the child's side: it reads, it
   * writes (either or both), its end is nonblocking. */
  UV_READABLE_PIPE = 1 << 4,
  UV_WRITABLE_PIPE = 1 << 5,
  UV_NONBLOCK_PIPE = 1 << 6,
  UV_OVERLAPPED_PIPE = UV_NONBLOCK_PIPE /* its Windows-era name */
} uv_stdio_flags;

/* uv_process_options_t.flags bits (the WINDOWS_* ones are ignored here). */
enum uv_process_flags {
  UV_PROCESS_SETUID = 1 << 0,
  UV_PROCESS_SETGID = 1 << 1,
  UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS = 1 << 2,
  UV_PROCESS_DETACHED = 1 << 3,
  UV_PROCESS_WINDOWS_HIDE = 1 << 4,
  UV_PROCESS_WINDOWS_HIDE_CONSOLE = 1 << 5,
  UV_PROCESS_WINDOWS_HIDE_GUI = 1 << 6,
  UV_PROCESS_WINDOWS_FILE_PATH_EXACT_NAME = 1 << 7
};

/* uv_pipe_bind2() and uv_pipe_connect2() flags. */
enum {
  UV_PIPE_NO_TRUNCATE = 1u << 0 /* a name too long is an error, not cut */
};

/* uv_thread_setpriority() levels, mapped to the thread's nice value. */
enum {
  UV_THREAD_PRIORITY_HIGHEST = 2,
  UV_THREAD_PRIORITY_ABOVE_NORMAL = 1,
  UV_THREAD_PRIORITY_NORMAL = 0,
  UV_THREAD_PRIORITY_BELOW_NORMAL = -1,
  UV_THREAD_PRIORITY_LOWEST = -2
};

/* uv_clock_gettime() clocks. */
typedef enum {
  UV_CLOCK_MONOTONIC = 0,
  UV_CLOCK_REALTIME = 1
} uv_clock_id;

typedef enum {
  UV_DIRENT_UNKNOWN = 0,
  UV_DIRENT_FILE = 1,
  UV_DIRENT_DIR = 2,
  UV_DIRENT_LINK = 3,
  UV_DIRENT_FIFO = 4,
  UV_DIRENT_SOCKET = 5,
  UV_DIRENT_CHAR = 6,
  UV_DIRENT_BLOCK = 7
} uv_dirent_type_t;

/* Which operation a uv_fs_t carries. The order is ABI. */
typedef enum {
  UV_FS_UNKNOWN = -1,
  UV_FS_CUSTOM = 0,
  UV_FS_OPEN = 1,
  UV_FS_CLOSE = 2,
  UV_FS_READ = 3,
  UV_FS_WRITE = 4,
  UV_FS_SENDFILE = 5,
  UV_FS_STAT = 6,
  UV_FS_LSTAT = 7,
  UV_FS_FSTAT = 8,
  UV_FS_FTRUNCATE = 9,
  UV_FS_UTIME = 10,
  UV_FS_FUTIME = 11,
  UV_FS_ACCESS = 12,
  UV_FS_CHMOD = 13,
  UV_FS_FCHMOD = 14,
  UV_FS_FSYNC = 15,
  UV_FS_FDATASYNC = 16,
  UV_FS_UNLINK = 17,
  UV_FS_RMDIR = 18,
  UV_FS_MKDIR = 19,
  UV_FS_MKDTEMP = 20,
  UV_FS_RENAME = 21,
  UV_FS_SCANDIR = 22,
  UV_FS_LINK = 23,
  UV_FS_SYMLINK = 24,
  UV_FS_READLINK = 25,
  UV_FS_CHOWN = 26,
  UV_FS_FCHOWN = 27,
  UV_FS_REALPATH = 28,
  UV_FS_COPYFILE = 29,
  UV_FS_LCHOWN = 30,
  UV_FS_OPENDIR = 31,
  UV_FS_READDIR = 32,
  UV_FS_CLOSEDIR = 33,
  UV_FS_STATFS = 34,
  UV_FS_MKSTEMP = 35,
  UV_FS_LUTIME = 36
} uv_fs_type;

/* Events reported to a uv_fs_event_cb. */
enum uv_fs_event {
  UV_RENAME = 1,
  UV_CHANGE = 2
};

/* uv_fs_event_start() flags. */
enum uv_fs_event_flags {
  UV_FS_EVENT_WATCH_ENTRY = 1, /* not implemented by libuv either */
  UV_FS_EVENT_STAT = 2,        /* likewise */
  UV_FS_EVENT_RECURSIVE = 4    /* only honoured on macOS and Windows */
};

typedef enum {
  UV_THREAD_NO_FLAGS = 0x00,
  UV_THREAD_HAS_STACK_SIZE = 0x01
} uv_thread_create_flags;


/* ---- Constants --------------------------------------------------------- */

/* uv_fs_copyfile() flags. */
#define UV_FS_COPYFILE_EXCL 0x0001          /* fail if the target exists */
#define UV_FS_COPYFILE_FICLONE 0x0002       /* try a reflink first */
#define UV_FS_COPYFILE_FICLONE_FORCE 0x0004 /* reflink or fail */

/* uv_fs_symlink() flags (meaningful on Windows only). */
#define UV_FS_SYMLINK_DIR 0x0001
#define UV_FS_SYMLINK_JUNCTION 0x0002

/* uv_os_setpriority() levels: nice(2) values on Linux. */
#define UV_PRIORITY_LOW 19
#define UV_PRIORITY_BELOW_NORMAL 10
#define UV_PRIORITY_NORMAL 0
#define UV_PRIORITY_ABOVE_NORMAL -7
#define UV_PRIORITY_HIGH -14
#define UV_PRIORITY_HIGHEST -20

/* Buffer sizes including the terminating NUL. */
#ifdef MAXHOSTNAMELEN
# define UV_MAXHOSTNAMESIZE (MAXHOSTNAMELEN + 1)
#else
# define UV_MAXHOSTNAMESIZE 256
#endif
#define UV_IF_NAMESIZE (16 + 1) /* Linux IF_NAMESIZE is 16 */


/* ---- Type names -------------------------------------------------------- */

typedef struct uv_loop_s uv_loop_t;

/* Handles: long-lived objects bound to a loop. */
typedef struct uv_handle_s uv_handle_t;
typedef struct uv_async_s uv_async_t;
typedef struct uv_check_s uv_check_t;
typedef struct uv_fs_event_s uv_fs_event_t;
typedef struct uv_fs_poll_s uv_fs_poll_t;
typedef struct uv_idle_s uv_idle_t;
typedef struct uv_pipe_s uv_pipe_t;
typedef struct uv_poll_s uv_poll_t;
typedef struct uv_prepare_s uv_prepare_t;
typedef struct uv_process_s uv_process_t;
typedef struct uv_signal_s uv_signal_t;
typedef struct uv_stream_s uv_stream_t;
typedef struct uv_tcp_s uv_tcp_t;
typedef struct uv_timer_s uv_timer_t;
typedef struct uv_tty_s uv_tty_t;
typedef struct uv_udp_s uv_udp_t;

/* Requests: one operation each. */
typedef struct uv_req_s uv_req_t;
typedef struct uv_connect_s uv_connect_t;
typedef struct uv_fs_s uv_fs_t;
typedef struct uv_getaddrinfo_s uv_getaddrinfo_t;
typedef struct uv_getnameinfo_s uv_getnameinfo_t;
typedef struct uv_random_s uv_random_t;
typedef struct uv_shutdown_s uv_shutdown_t;
typedef struct uv_udp_send_s uv_udp_send_t;
typedef struct uv_work_s uv_work_t;
typedef struct uv_write_s uv_write_t;

/* Plain data. */
typedef struct uv_dir_s uv_dir_t;
typedef struct uv_cpu_info_s uv_cpu_info_t;
typedef struct uv_dirent_s uv_dirent_t;
typedef struct uv_env_item_s uv_env_item_t;
typedef struct uv_interface_address_s uv_interface_address_t;
typedef struct uv_passwd_s uv_passwd_t;
typedef struct uv_group_s uv_group_t;
typedef struct uv_metrics_s uv_metrics_t;
typedef struct uv_statfs_s uv_statfs_t;
typedef struct uv_thread_options_s uv_thread_options_t;
typedef struct uv_utsname_s uv_utsname_t;


/* ---- Callbacks --------------------------------------------------------- */

typedef void* (*uv_malloc_func)(size_t size);
typedef void* (*uv_realloc_func)(void* ptr, size_t size);
typedef void* (*uv_calloc_func)(size_t count, size_t size);
typedef void (*uv_free_func)(void* ptr);

/* Any handle: closed; visited by uv_walk. */
typedef void (*uv_close_cb)(uv_handle_t* closed);
typedef void (*uv_walk_cb)(uv_handle_t* visited, void* arg);
/* The loop's phases and wake-ups: the handle that fired. */
typedef void (*uv_timer_cb)(uv_timer_t* timer);
typedef void (*uv_idle_cb)(uv_idle_t* idle);
typedef void (*uv_prepare_cb)(uv_prepare_t* prepare);
typedef void (*uv_check_cb)(uv_check_t* check);
typedef void (*uv_async_cb)(uv_async_t* async);
typedef void (*uv_poll_cb)(uv_poll_t* poll, int status, int events);
/* Streams: buffers for reads, the reads, then requests ending (status 0
 * or a UV_E* code) and listeners' new connections. */
typedef void (*uv_alloc_cb)(uv_handle_t* reader, size_t suggested_size,
    uv_buf_t* buf);
typedef void (*uv_read_cb)(uv_stream_t* reader, ssize_t nread,
    const uv_buf_t* buf);
typedef void (*uv_connection_cb)(uv_stream_t* listener, int status);
typedef void (*uv_connect_cb)(uv_connect_t* connect, int status);
typedef void (*uv_write_cb)(uv_write_t* write, int status);
typedef void (*uv_shutdown_cb)(uv_shutdown_t* shutdown, int status);
typedef void (*uv_exit_cb)(uv_process_t* process, int64_t exit_status,
    int term_signal);
typedef void (*uv_signal_cb)(uv_signal_t* handle, int signum);
typedef void (*uv_fs_cb)(uv_fs_t* fs);
typedef void (*uv_work_cb)(uv_work_t* req);
typedef void (*uv_after_work_cb)(uv_work_t* req, int status);
typedef void (*uv_getaddrinfo_cb)(uv_getaddrinfo_t* req, int status,
    struct addrinfo* res);
typedef void (*uv_getnameinfo_cb)(uv_getnameinfo_t* req, int status,
    const char* hostname, const char* service);
typedef void (*uv_random_cb)(uv_random_t* req, int status, void* buf,
    size_t buflen);
typedef void (*uv_udp_send_cb)(uv_udp_send_t* req, int status);
typedef void (*uv_udp_recv_cb)(uv_udp_t* handle, ssize_t nread,
    const uv_buf_t* buf, const struct sockaddr* addr, unsigned flags);
typedef void (*uv_fs_event_cb)(uv_fs_event_t* handle, const char* filename,
    int events, int status);
typedef void (*uv_thread_cb)(void* arg);


/* ---- Plain data types -------------------------------------------------- */

typedef struct { long tv_sec, tv_nsec; } uv_timespec_t; /* as timespec */
typedef struct { long tv_sec, tv_usec; } uv_timeval_t;  /* as timeval */

/* uv_gettimeofday() result: 64-bit seconds on every platform. */
typedef struct {
  int64_t tv_sec;
  int32_t tv_usec;
} uv_timeval64_t;

/* uv_clock_gettime() result. */
typedef struct {
  int64_t tv_sec;
  int32_t tv_nsec;
} uv_timespec64_t;

/* Portable stat: every count is 64 bits wide, whatever the kernel's is. */
typedef struct {
  uint64_t st_dev; /* device */
  uint64_t st_mode; /* type and permissions */
  uint64_t st_nlink; /* hard links */
  uint64_t st_uid; /* owner */
  uint64_t st_gid; /* group */
  uint64_t st_rdev; /* device, if special file */
  uint64_t st_ino; /* inode */
  uint64_t st_size; /* bytes */
  uint64_t st_blksize; /* preferred I/O size */
  uint64_t st_blocks; /* 512-byte blocks */
  uint64_t st_flags; /* BSD file flags; 0 on Linux */
  uint64_t st_gen; /* generation; 0 on Linux */
  uv_timespec_t st_atim;
  uv_timespec_t st_mtim;
  uv_timespec_t st_ctim;
  uv_timespec_t st_birthtim; /* statx btime when known */
} uv_stat_t;

typedef void (*uv_fs_poll_cb)(uv_fs_poll_t* handle, int status,
    const uv_stat_t* prev, const uv_stat_t* curr);

struct uv_statfs_s {
  uint64_t f_type; /* filesystem magic */
  uint64_t f_bsize; /* block size in bytes */
  uint64_t f_blocks;
  uint64_t f_bfree;
  uint64_t f_bavail; /* free blocks for unprivileged users */
  uint64_t f_files;
  uint64_t f_ffree;
  uint64_t f_frsize; /* fragment size in bytes */
  uint64_t f_spare[3]; /* zeroed */
};

/* getrusage(2) in fixed-width fields. */
typedef struct {
  uv_timeval_t ru_utime;
  uv_timeval_t ru_stime;
  uint64_t ru_maxrss;
  uint64_t ru_ixrss;
  uint64_t ru_idrss;
  uint64_t ru_isrss;
  uint64_t ru_minflt;
  uint64_t ru_majflt;
  uint64_t ru_nswap;
  uint64_t ru_inblock;
  uint64_t ru_oublock;
  uint64_t ru_msgsnd;
  uint64_t ru_msgrcv;
  uint64_t ru_nsignals;
  uint64_t ru_nvcsw;
  uint64_t ru_nivcsw;
} uv_rusage_t;

/* CPU time split, in milliseconds. */
struct uv_cpu_times_s {
  uint64_t user;
  uint64_t nice;
  uint64_t sys;
  uint64_t idle;
  uint64_t irq;
};

struct uv_cpu_info_s {
  const char* model; /* from /proc/cpuinfo */
  int speed; /* MHz */
  struct uv_cpu_times_s cpu_times;
};

struct uv_interface_address_s {
  char* name;
  char phys_addr[6]; /* MAC address */
  int is_internal; /* loopback */
  union { /* family is in the sockaddr */
    struct sockaddr_in address4;
    struct sockaddr_in6 address6;
  } address;
  union { /* same family as address */
    struct sockaddr_in netmask4;   /* AF_INET */
    struct sockaddr_in6 netmask6;  /* AF_INET6 */
  } netmask;
};

struct uv_passwd_s {
  char* username;
  unsigned long uid; /* numeric ids widened */
  unsigned long gid;
  char* shell; /* NULL when unknown */
  char* homedir;
};

/* uv_os_get_group(): one allocation, freed by uv_os_free_group(). */
struct uv_group_s {
  char* groupname;
  unsigned long gid;
  char** members; /* NULL-terminated */
};

/* uv_metrics_info(): counts since the loop started. */
struct uv_metrics_s {
  uint64_t loop_count;     /* turns of uv_run */
  uint64_t events;         /* events the loop's waits returned */
  uint64_t events_waiting; /* of those, ready while a callback ran */
  uint64_t* reserved[13];
};

/* uname(2) minus nodename and domainname, which libuv leaves out. */
struct uv_utsname_s {
  char sysname[256]; /* "Linux" */
  char release[256];
  char version[256];
  char machine[256];
};

struct uv_env_item_s {
  char* name;
  char* value;
};

struct uv_dirent_s {
  const char* name;
  uv_dirent_type_t type;
};

/* An open directory for uv_fs_readdir(): the caller points dirents at an
 * array of nentries slots before each read. */
struct uv_dir_s {
  uv_dirent_t* dirents; /* caller-provided slots */
  size_t nentries;
  void* reserved[4];
  UV_DIR_PRIVATE_FIELDS
};

struct uv_thread_options_s {
  unsigned int flags; /* uv_thread_create_flags */
  size_t stack_size;
};

/* One entry of uv_process_options_t.stdio. */
typedef struct uv_stdio_container_s {
  uv_stdio_flags flags; /* UV_IGNORE, UV_CREATE_PIPE, UV_INHERIT_* ... */
  union {
    uv_stream_t* stream; /* with UV_CREATE_PIPE or UV_INHERIT_STREAM */
    int fd;              /* with UV_INHERIT_FD */
  } data;
} uv_stdio_container_t;

typedef struct uv_process_options_s {
  uv_exit_cb exit_cb;         /* when the child has exited */
  const char* file;           /* the program, looked up in PATH */
  char **args, **env;         /* NULL-terminated; env NULL: ours */
  const char* cwd;            /* NULL: ours */
  unsigned int flags;         /* UV_PROCESS_* */
  int stdio_count;            /* entries in stdio */
  uv_stdio_container_t* stdio;
  uv_uid_t uid;               /* with UV_PROCESS_SETUID */
  uv_gid_t gid;               /* with UV_PROCESS_SETGID */
} uv_process_options_t;


/* ---- Requests ---------------------------------------------------------- */

/* Head shared by every request type: user data, the type tag and a
 * reserved tail nobody may touch. */
#define UV_REQ_FIELDS \
  void* data; \
  uv_req_type type; \
  void* reserved[6];

struct uv_req_s {
  UV_REQ_FIELDS
};

struct uv_shutdown_s {
  UV_REQ_FIELDS
  uv_stream_t* handle;
  uv_shutdown_cb cb;
};

struct uv_write_s {
  UV_REQ_FIELDS
  uv_write_cb cb;
  uv_stream_t* send_handle;
  uv_stream_t* handle;
  /* private */
  void* queue[2];
  unsigned int write_index;
  uv_buf_t* bufs;
  unsigned int nbufs;
  int error;
  uv_buf_t bufsml[4]; /* inline storage when nbufs <= 4 */
};

struct uv_connect_s {
  UV_REQ_FIELDS
  uv_connect_cb cb;
  uv_stream_t* handle;
  /* private */
  void* queue[2];
};

struct uv_udp_send_s {
  UV_REQ_FIELDS
  uv_udp_t* handle;
  uv_udp_send_cb cb;
  /* private */
  void* queue[2];
  /* The destination: addr by libuv 1.44's name, u by 1.52's. */
  __extension__ union {
    struct sockaddr_storage addr;
    union {
      struct sockaddr addr;
      struct sockaddr_storage storage;
    } u;
  };
  unsigned int nbufs;
  uv_buf_t* bufs;
  ssize_t status;
  uv_udp_send_cb send_cb;
  uv_buf_t bufsml[4];
};

struct uv_getaddrinfo_s {
  UV_REQ_FIELDS
  uv_loop_t* loop;
  /* private */
  struct uv__work work_req;
  uv_getaddrinfo_cb cb;
  struct addrinfo* hints;
  char* hostname;
  char* service;
  struct addrinfo* addrinfo;
  int retcode;
};

struct uv_getnameinfo_s {
  UV_REQ_FIELDS
  uv_loop_t* loop;
  /* private */
  struct uv__work work_req;
  uv_getnameinfo_cb getnameinfo_cb;
  struct sockaddr_storage storage;
  int flags;
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  int retcode;
};

struct uv_work_s {
  UV_REQ_FIELDS
  uv_loop_t* loop;
  uv_work_cb work_cb;
  uv_after_work_cb after_work_cb;
  /* private */
  struct uv__work work_req;
};

struct uv_fs_s {
  UV_REQ_FIELDS
  uv_fs_type fs_type; /* which operation */
  uv_loop_t* loop;
  uv_fs_cb cb;
  ssize_t result; /* >= 0 on success, else a UV_E* code */
  void* ptr;      /* operation-specific output (readlink text, dir, ...) */
  const char* path;
  uv_stat_t statbuf; /* filled by stat, lstat and fstat */
  /* private: the operation's arguments, kept until it runs */
  const char* new_path;
  uv_file file;
  int flags;
  mode_t mode;
  unsigned int nbufs;
  uv_buf_t* bufs;
  off_t off;
  uv_uid_t uid;
  uv_gid_t gid;
  double atime;
  double mtime;
  struct uv__work work_req;
  uv_buf_t bufsml[4];
};

struct uv_random_s {
  UV_REQ_FIELDS
  uv_loop_t* loop;
  /* private: the caller's buffer and the outcome of filling it */
  int status;
  void* buf;
  size_t buflen; /* bytes wanted */
  uv_random_cb cb;
  struct uv__work work_req;
};


/* ---- Handles ----------------------------------------------------------- */

/* Head shared by every handle type. Everything after u is private. */
#define UV_HANDLE_FIELDS \
  void* data; uv_loop_t* loop; uv_handle_type type; \
  uv_close_cb close_cb; void* handle_queue[2]; \
  union { int fd; void* reserved[4]; } u; \
  uv_handle_t* next_closing; unsigned int flags;

struct uv_handle_s {
  UV_HANDLE_FIELDS
};

/* What tcp, pipe and tty add on top of UV_HANDLE_FIELDS. Only the first
 * three members are public. */
#define UV_STREAM_FIELDS \
  size_t write_queue_size; /* public: bytes queued, not yet written */ \
  uv_alloc_cb alloc_cb; uv_read_cb read_cb; \
  uv_connect_t* connect_req; uv_shutdown_t* shutdown_req; \
  uv__io_t io_watcher; \
  void *write_queue[2], *write_completed_queue[2]; \
  uv_connection_cb connection_cb; \
  int delayed_error, accepted_fd; \
  void* queued_fds;

struct uv_stream_s {
  UV_HANDLE_FIELDS
  UV_STREAM_FIELDS
};

struct uv_tcp_s {
  UV_HANDLE_FIELDS
  UV_STREAM_FIELDS
};

struct uv_pipe_s {
  UV_HANDLE_FIELDS
  UV_STREAM_FIELDS
  int ipc; /* non-zero: can pass handles */
  /* private */
  const char* pipe_fname;
};

struct uv_tty_s {
  UV_HANDLE_FIELDS
  UV_STREAM_FIELDS
  /* private */
  struct termios orig_termios;
  int mode;
};

struct uv_udp_s {
  UV_HANDLE_FIELDS
  size_t send_queue_size;
  size_t send_queue_count;
  /* private */
  uv_alloc_cb alloc_cb;
  uv_udp_recv_cb recv_cb;
  uv__io_t io_watcher;
  void* write_queue[2];
  void* write_completed_queue[2];
};

struct uv_poll_s {
  UV_HANDLE_FIELDS
  uv_poll_cb poll_cb;
  /* private */
  uv__io_t io_watcher;
};

struct uv_prepare_s {
  UV_HANDLE_FIELDS
  /* private */
  uv_prepare_cb prepare_cb;
  void* queue[2];
};

struct uv_check_s {
  UV_HANDLE_FIELDS
  /* private */
  uv_check_cb check_cb;
  void* queue[2];
};

struct uv_idle_s {
  UV_HANDLE_FIELDS
  /* private */
  uv_idle_cb idle_cb;
  void* queue[2];
};

struct uv_async_s {
  UV_HANDLE_FIELDS
  /* private */
  uv_async_cb async_cb;
  void* queue[2];
  int pending;
};

struct uv_timer_s {
  UV_HANDLE_FIELDS
  /* private */
  uv_timer_cb timer_cb;
  /* heap_node by libuv 1.44's name, node by 1.52's: the same 24 bytes. */
  __extension__ union {
    void* heap_node[3];
    union {
      void* heap[3];
      struct uv__queue queue;
    } node;
  };
  uint64_t timeout;
  uint64_t repeat;
  uint64_t start_id;
};

struct uv_process_s {
  UV_HANDLE_FIELDS
  uv_exit_cb exit_cb;
  int pid;
  /* private */
  void* queue[2];
  int status;
};

struct uv_fs_event_s {
  UV_HANDLE_FIELDS
  char* path;
  /* private */
  uv_fs_event_cb cb;
  UV_PLATFORM_FS_EVENT_FIELDS
};

struct uv_fs_poll_s {
  UV_HANDLE_FIELDS
  void* poll_ctx; /* private */
};

struct uv_signal_s {
  UV_HANDLE_FIELDS
  uv_signal_cb signal_cb;
  int signum;
  /* private: a red-black tree link, then delivery counters */
  struct {
    struct uv_signal_s* rbe_left;
    struct uv_signal_s* rbe_right;
    struct uv_signal_s* rbe_parent;
    int rbe_color;
  } tree_entry;
  unsigned int caught_signals;
  unsigned int dispatched_signals;
};

/* Big enough for any handle or request, for callers that pool them. */
union uv_any_handle {
#define XX(upper, lower) uv_##lower##_t lower;
  UV_HANDLE_TYPE_MAP(XX)
#undef XX
};

union uv_any_req {
#define XX(upper, lower) uv_##lower##_t lower;
  UV_REQ_TYPE_MAP(XX)
#undef XX
};


/* ---- The loop ---------------------------------------------------------- */

/* Public: data, active_handles, handle_queue, active_reqs, internal_fields,
 * stop_flag. The rest is libuv's private area, kept for its size; we store
 * our own state there and behind internal_fields. */
struct uv_loop_s {
  void* data;                   /* the user's */
  unsigned int active_handles;  /* those that keep the loop alive */
  void* handle_queue[2];        /* every handle, for uv_walk */
  union {
    void* unused;
    unsigned int count;         /* requests in flight */
  } active_reqs;
  void* internal_fields;
  unsigned int stop_flag;
  /* private */
  unsigned long flags;
  int backend_fd;
  void* pending_queue[2];
  void* watcher_queue[2];
  uv__io_t** watchers;
  unsigned int nwatchers;
  unsigned int nfds;
  void* wq[2];
  uv_mutex_t wq_mutex;
  uv_async_t wq_async;
  uv_rwlock_t cloexec_lock;
  uv_handle_t* closing_handles;
  void* process_handles[2];
  void* prepare_handles[2];
  void* check_handles[2];
  void* idle_handles[2];
  void* async_handles[2];
  void (*async_unused)(void);
  uv__io_t async_io_watcher;
  int async_wfd;
  struct {
    void* min;
    unsigned int nelts;
  } timer_heap;
  uint64_t timer_counter;
  uint64_t time;
  int signal_pipefd[2];
  uv__io_t signal_io_watcher;
  uv_signal_t child_watcher;
  int emfile_fd;
  UV_PLATFORM_LOOP_FIELDS
};


/* ---- Library, loop and generic handle/request API ---------------------- */

UV_EXTERN unsigned int uv_version(void);
UV_EXTERN const char* uv_version_string(void);

/* Only before any other uv_* call; returns UV_EINVAL on a NULL member. */
UV_EXTERN int uv_replace_allocator(uv_malloc_func malloc_func,
    uv_realloc_func realloc_func, uv_calloc_func calloc_func,
    uv_free_func free_func);
UV_EXTERN void uv_library_shutdown(void);

UV_EXTERN uv_loop_t* uv_default_loop(void);
UV_EXTERN int uv_loop_init(uv_loop_t* loop);
UV_EXTERN int uv_loop_close(uv_loop_t* loop);
UV_EXTERN int uv_loop_configure(uv_loop_t* loop, uv_loop_option option, ...);
UV_EXTERN int uv_loop_fork(uv_loop_t* loop);
UV_EXTERN int uv_loop_alive(const uv_loop_t* loop);
UV_EXTERN size_t uv_loop_size(void);
UV_EXTERN void* uv_loop_get_data(const uv_loop_t* loop);
UV_EXTERN void uv_loop_set_data(uv_loop_t* loop, void* data);
/* Deprecated allocate-and-init pair. */
UV_EXTERN uv_loop_t* uv_loop_new(void);
UV_EXTERN void uv_loop_delete(uv_loop_t* loop);

UV_EXTERN int uv_run(uv_loop_t* loop, uv_run_mode mode);
UV_EXTERN void uv_stop(uv_loop_t* loop);
UV_EXTERN void uv_update_time(uv_loop_t* loop);
UV_EXTERN uint64_t uv_now(const uv_loop_t* loop);
UV_EXTERN int uv_backend_fd(const uv_loop_t* loop);
UV_EXTERN int uv_backend_timeout(const uv_loop_t* loop);
UV_EXTERN uint64_t uv_metrics_idle_time(uv_loop_t* loop);
UV_EXTERN int uv_metrics_info(uv_loop_t* loop, uv_metrics_t* metrics);
UV_EXTERN void uv_walk(uv_loop_t* loop, uv_walk_cb walk_cb, void* arg);
UV_EXTERN void uv_print_all_handles(uv_loop_t* loop, FILE* stream);
UV_EXTERN void uv_print_active_handles(uv_loop_t* loop, FILE* stream);

UV_EXTERN void uv_close(uv_handle_t* handle, uv_close_cb close_cb);
UV_EXTERN int uv_is_closing(const uv_handle_t* handle);
UV_EXTERN int uv_is_active(const uv_handle_t* handle);
UV_EXTERN void uv_ref(uv_handle_t* handle);
UV_EXTERN void uv_unref(uv_handle_t* handle);
UV_EXTERN int uv_has_ref(const uv_handle_t* handle);
UV_EXTERN size_t uv_handle_size(uv_handle_type type);
UV_EXTERN uv_handle_type uv_handle_get_type(const uv_handle_t* handle);
UV_EXTERN const char* uv_handle_type_name(uv_handle_type type);
UV_EXTERN void* uv_handle_get_data(const uv_handle_t* handle);
UV_EXTERN void uv_handle_set_data(uv_handle_t* handle, void* data);
UV_EXTERN uv_loop_t* uv_handle_get_loop(const uv_handle_t* handle);
UV_EXTERN int uv_fileno(const uv_handle_t* handle, uv_os_fd_t* fd);
UV_EXTERN int uv_send_buffer_size(uv_handle_t* handle, int* value);
UV_EXTERN int uv_recv_buffer_size(uv_handle_t* handle, int* value);

UV_EXTERN size_t uv_req_size(uv_req_type type);
UV_EXTERN uv_req_type uv_req_get_type(const uv_req_t* req);
UV_EXTERN const char* uv_req_type_name(uv_req_type type);
UV_EXTERN void* uv_req_get_data(const uv_req_t* req);
UV_EXTERN void uv_req_set_data(uv_req_t* req, void* data);
UV_EXTERN int uv_cancel(uv_req_t* req);


/* ---- Errors ------------------------------------------------------------ */

UV_EXTERN int uv_translate_sys_error(int sys_errno);
UV_EXTERN const char* uv_strerror(int err);
UV_EXTERN char* uv_strerror_r(int err, char* buf, size_t buflen);
UV_EXTERN const char* uv_err_name(int err);
UV_EXTERN char* uv_err_name_r(int err, char* buf, size_t buflen);


/* ---- Timers and loop-phase watchers ------------------------------------ */

UV_EXTERN int uv_timer_init(uv_loop_t* loop, uv_timer_t* handle);
UV_EXTERN int uv_timer_start(uv_timer_t* timer, uv_timer_cb cb,
    uint64_t timeout_ms, uint64_t repeat_ms);
UV_EXTERN int uv_timer_stop(uv_timer_t* timer);
UV_EXTERN int uv_timer_again(uv_timer_t* timer);
UV_EXTERN void uv_timer_set_repeat(uv_timer_t* timer, uint64_t repeat_ms);
UV_EXTERN uint64_t uv_timer_get_repeat(const uv_timer_t* timer);
UV_EXTERN uint64_t uv_timer_get_due_in(const uv_timer_t* timer);

UV_EXTERN int uv_prepare_init(uv_loop_t* loop, uv_prepare_t* prepare);
UV_EXTERN int uv_prepare_start(uv_prepare_t* prepare, uv_prepare_cb cb);
UV_EXTERN int uv_prepare_stop(uv_prepare_t* prepare);
UV_EXTERN int uv_check_init(uv_loop_t* loop, uv_check_t* check);
UV_EXTERN int uv_check_start(uv_check_t* check, uv_check_cb cb);
UV_EXTERN int uv_check_stop(uv_check_t* check);
UV_EXTERN int uv_idle_init(uv_loop_t* loop, uv_idle_t* idle);
UV_EXTERN int uv_idle_start(uv_idle_t* idle, uv_idle_cb cb);
UV_EXTERN int uv_idle_stop(uv_idle_t* idle);

/* uv_async_send() is the one call that is safe from any thread. */
UV_EXTERN int uv_async_init(uv_loop_t* loop, uv_async_t* async,
    uv_async_cb async_cb);
UV_EXTERN int uv_async_send(uv_async_t* async);


/* ---- Streams: tcp, pipe, tty ------------------------------------------- */

UV_EXTERN uv_buf_t uv_buf_init(char* base, unsigned int len);

UV_EXTERN int uv_listen(uv_stream_t* stream, int backlog, uv_connection_cb cb);
UV_EXTERN int uv_accept(uv_stream_t* server, uv_stream_t* client);
UV_EXTERN int uv_read_start(uv_stream_t* stream, uv_alloc_cb alloc_cb,
    uv_read_cb read_cb);
UV_EXTERN int uv_read_stop(uv_stream_t* stream);
UV_EXTERN int uv_write(uv_write_t* req, uv_stream_t* handle,
    const uv_buf_t bufs[], unsigned int nbufs, uv_write_cb cb);
UV_EXTERN int uv_write2(uv_write_t* req, uv_stream_t* handle,
    const uv_buf_t bufs[], unsigned int nbufs, uv_stream_t* send_handle,
    uv_write_cb cb);
UV_EXTERN int uv_try_write(uv_stream_t* handle, const uv_buf_t bufs[],
    unsigned int nbufs);
UV_EXTERN int uv_try_write2(uv_stream_t* handle, const uv_buf_t bufs[],
    unsigned int nbufs, uv_stream_t* send_handle);
UV_EXTERN int uv_shutdown(uv_shutdown_t* req, uv_stream_t* handle,
    uv_shutdown_cb cb);
UV_EXTERN int uv_is_readable(const uv_stream_t* handle);
UV_EXTERN int uv_is_writable(const uv_stream_t* handle);
UV_EXTERN int uv_stream_set_blocking(uv_stream_t* handle, int blocking);
UV_EXTERN size_t uv_stream_get_write_queue_size(const uv_stream_t* stream);

UV_EXTERN int uv_tcp_init(uv_loop_t* loop, uv_tcp_t* handle);
UV_EXTERN int uv_tcp_init_ex(uv_loop_t* loop, uv_tcp_t* handle,
    unsigned int flags);
UV_EXTERN int uv_tcp_open(uv_tcp_t* handle, uv_os_sock_t sock);
UV_EXTERN int uv_tcp_nodelay(uv_tcp_t* handle, int enable);
UV_EXTERN int uv_tcp_keepalive(uv_tcp_t* handle, int enable,
    unsigned int delay);
/* TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT too (seconds, seconds,
 * probes). */
UV_EXTERN int uv_tcp_keepalive_ex(uv_tcp_t* handle, int on, unsigned int idle,
    unsigned int intvl, unsigned int cnt);
UV_EXTERN int uv_tcp_simultaneous_accepts(uv_tcp_t* handle, int enable);
UV_EXTERN int uv_tcp_bind(uv_tcp_t* handle, const struct sockaddr* addr,
    unsigned int flags);
UV_EXTERN int uv_tcp_getsockname(const uv_tcp_t* handle, struct sockaddr* name,
    int* namelen);
UV_EXTERN int uv_tcp_getpeername(const uv_tcp_t* handle, struct sockaddr* name,
    int* namelen);
UV_EXTERN int uv_tcp_close_reset(uv_tcp_t* handle, uv_close_cb close_cb);
UV_EXTERN int uv_tcp_connect(uv_connect_t* req, uv_tcp_t* handle,
    const struct sockaddr* addr, uv_connect_cb cb);

UV_EXTERN int uv_pipe_init(uv_loop_t* loop, uv_pipe_t* handle, int ipc);
UV_EXTERN int uv_pipe_open(uv_pipe_t* handle, uv_file file);
UV_EXTERN int uv_pipe_bind(uv_pipe_t* handle, const char* name);
UV_EXTERN void uv_pipe_connect(uv_connect_t* req, uv_pipe_t* handle,
    const char* name, uv_connect_cb cb);
/* With the name's length (an abstract socket's name starts with a NUL)
 * and UV_PIPE_* flags. */
UV_EXTERN int uv_pipe_bind2(uv_pipe_t* handle, const char* name,
    size_t namelen, unsigned int flags);
UV_EXTERN int uv_pipe_connect2(uv_connect_t* req, uv_pipe_t* handle,
    const char* name, size_t namelen, unsigned int flags, uv_connect_cb cb);
UV_EXTERN int uv_pipe_getsockname(const uv_pipe_t* handle, char* buffer,
    size_t* size);
UV_EXTERN int uv_pipe_getpeername(const uv_pipe_t* handle, char* buffer,
    size_t* size);
UV_EXTERN void uv_pipe_pending_instances(uv_pipe_t* handle, int count);
UV_EXTERN int uv_pipe_pending_count(uv_pipe_t* handle);
UV_EXTERN uv_handle_type uv_pipe_pending_type(uv_pipe_t* handle);
UV_EXTERN int uv_pipe_chmod(uv_pipe_t* handle, int flags);
/* Plain descriptor pair; flags may hold UV_NONBLOCK_PIPE. */
UV_EXTERN int uv_pipe(uv_file fds[2], int read_flags, int write_flags);
UV_EXTERN int uv_socketpair(int type, int protocol,
    uv_os_sock_t socket_vector[2], int flags0, int flags1);

UV_EXTERN int uv_tty_init(uv_loop_t* loop, uv_tty_t* tty, uv_file fd,
    int readable);
UV_EXTERN int uv_tty_set_mode(uv_tty_t* tty, uv_tty_mode_t mode);
UV_EXTERN int uv_tty_reset_mode(void);
UV_EXTERN int uv_tty_get_winsize(uv_tty_t* tty, int* width, int* height);
UV_EXTERN void uv_tty_set_vterm_state(uv_tty_vtermstate_t state);
UV_EXTERN int uv_tty_get_vterm_state(uv_tty_vtermstate_t* state);

#ifdef __cplusplus
} /* extern "C" */
/* C++ callers may pass a plain int mode; forward it to the C entry point. */
inline int uv_tty_set_mode(uv_tty_t* tty, int mode) {
  return uv_tty_set_mode(tty, static_cast<uv_tty_mode_t>(mode));
}
extern "C" {
#endif

UV_EXTERN uv_handle_type uv_guess_handle(uv_file file);


/* ---- UDP --------------------------------------------------------------- */

UV_EXTERN int uv_udp_init(uv_loop_t* loop, uv_udp_t* handle);
UV_EXTERN int uv_udp_init_ex(uv_loop_t* loop, uv_udp_t* handle,
    unsigned int flags);
UV_EXTERN int uv_udp_open(uv_udp_t* handle, uv_os_sock_t sock);
/* flags: UV_UDP_* bits as for uv_udp_init_ex() (UV_UDP_RECVMMSG). */
UV_EXTERN int uv_udp_open_ex(uv_udp_t* handle, uv_os_sock_t sock,
    unsigned int flags);
UV_EXTERN int uv_udp_bind(uv_udp_t* handle, const struct sockaddr* addr,
    unsigned int flags);
UV_EXTERN int uv_udp_connect(uv_udp_t* handle, const struct sockaddr* addr);
UV_EXTERN int uv_udp_getpeername(const uv_udp_t* handle, struct sockaddr* name,
    int* namelen);
UV_EXTERN int uv_udp_getsockname(const uv_udp_t* handle, struct sockaddr* name,
    int* namelen);
UV_EXTERN int uv_udp_set_membership(uv_udp_t* handle,
    const char* multicast_addr, const char* interface_addr,
    uv_membership membership);
UV_EXTERN int uv_udp_set_source_membership(uv_udp_t* handle,
    const char* multicast_addr, const char* interface_addr,
    const char* source_addr, uv_membership membership);
/* Socket options: 0 or a UV_E* code. */
UV_EXTERN int uv_udp_set_broadcast(uv_udp_t* udp, int enable);
UV_EXTERN int uv_udp_set_ttl(uv_udp_t* udp, int hops);
UV_EXTERN int uv_udp_set_multicast_ttl(uv_udp_t* udp, int hops);
UV_EXTERN int uv_udp_set_multicast_loop(uv_udp_t* udp, int enable);
UV_EXTERN int uv_udp_set_multicast_interface(uv_udp_t* udp,
    const char* interface_addr);
UV_EXTERN int uv_udp_send(uv_udp_send_t* req, uv_udp_t* handle,
    const uv_buf_t bufs[], unsigned int nbufs, const struct sockaddr* addr,
    uv_udp_send_cb send_cb);
UV_EXTERN int uv_udp_try_send(uv_udp_t* handle, const uv_buf_t bufs[],
    unsigned int nbufs, const struct sockaddr* addr);
/* count datagrams at once: datagram i is bufs[i][0..nbufs[i]) to addrs[i].
 * Returns how many went out (> 0), or a UV_E* code for the first. */
UV_EXTERN int uv_udp_try_send2(uv_udp_t* handle, unsigned int count,
    uv_buf_t* bufs[], unsigned int nbufs[], struct sockaddr* addrs[],
    unsigned int flags);
UV_EXTERN int uv_udp_recv_start(uv_udp_t* handle, uv_alloc_cb alloc_cb,
    uv_udp_recv_cb recv_cb);
UV_EXTERN int uv_udp_recv_stop(uv_udp_t* handle);
UV_EXTERN int uv_udp_using_recvmmsg(const uv_udp_t* handle);
UV_EXTERN size_t uv_udp_get_send_queue_size(const uv_udp_t* handle);
UV_EXTERN size_t uv_udp_get_send_queue_count(const uv_udp_t* handle);


/* ---- Poll, signals, processes ------------------------------------------ */

UV_EXTERN int uv_poll_init(uv_loop_t* loop, uv_poll_t* handle, int fd);
UV_EXTERN int uv_poll_init_socket(uv_loop_t* loop, uv_poll_t* handle,
    uv_os_sock_t socket);
UV_EXTERN int uv_poll_start(uv_poll_t* handle, int events, uv_poll_cb cb);
UV_EXTERN int uv_poll_stop(uv_poll_t* handle);

UV_EXTERN int uv_signal_init(uv_loop_t* loop, uv_signal_t* handle);
UV_EXTERN int uv_signal_start(uv_signal_t* handle, uv_signal_cb signal_cb,
    int signum);
UV_EXTERN int uv_signal_start_oneshot(uv_signal_t* handle,
    uv_signal_cb signal_cb, int signum);
UV_EXTERN int uv_signal_stop(uv_signal_t* handle);

UV_EXTERN int uv_spawn(uv_loop_t* loop, uv_process_t* handle,
    const uv_process_options_t* options);
UV_EXTERN int uv_process_kill(uv_process_t* process, int signum);
UV_EXTERN uv_pid_t uv_process_get_pid(const uv_process_t* process);
UV_EXTERN int uv_kill(int pid, int signum);
UV_EXTERN void uv_disable_stdio_inheritance(void);


/* ---- Thread pool, DNS, randomness -------------------------------------- */

UV_EXTERN int uv_queue_work(uv_loop_t* loop, uv_work_t* req, uv_work_cb work_cb,
    uv_after_work_cb after_work_cb);

/* With cb == NULL these run synchronously. */
UV_EXTERN int uv_getaddrinfo(uv_loop_t* loop, uv_getaddrinfo_t* req,
    uv_getaddrinfo_cb getaddrinfo_cb, const char* node, const char* service,
    const struct addrinfo* hints);
UV_EXTERN void uv_freeaddrinfo(struct addrinfo* ai);
UV_EXTERN int uv_getnameinfo(uv_loop_t* loop, uv_getnameinfo_t* req,
    uv_getnameinfo_cb getnameinfo_cb, const struct sockaddr* addr, int flags);

/* flags is reserved and must be 0. */
UV_EXTERN int uv_random(uv_loop_t* loop, uv_random_t* req, void* buf,
    size_t buflen, unsigned flags, uv_random_cb cb);


/* ---- File system ------------------------------------------------------- */

UV_EXTERN uv_fs_type uv_fs_get_type(const uv_fs_t* req);
UV_EXTERN ssize_t uv_fs_get_result(const uv_fs_t* req);
UV_EXTERN int uv_fs_get_system_error(const uv_fs_t* req);
UV_EXTERN void* uv_fs_get_ptr(const uv_fs_t* req);
UV_EXTERN const char* uv_fs_get_path(const uv_fs_t* req);
UV_EXTERN uv_stat_t* uv_fs_get_statbuf(uv_fs_t* req);
UV_EXTERN void uv_fs_req_cleanup(uv_fs_t* req);

UV_EXTERN int uv_fs_open(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int flags, int mode, uv_fs_cb cb);
UV_EXTERN int uv_fs_close(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_read(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    const uv_buf_t bufs[], unsigned int nbufs, int64_t offset, uv_fs_cb cb);
UV_EXTERN int uv_fs_write(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    const uv_buf_t bufs[], unsigned int nbufs, int64_t offset, uv_fs_cb cb);
UV_EXTERN int uv_fs_unlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_copyfile(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, int flags, uv_fs_cb cb);
UV_EXTERN int uv_fs_mkdir(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int mode, uv_fs_cb cb);
UV_EXTERN int uv_fs_mkdtemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_mkstemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_rmdir(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_scandir(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int flags, uv_fs_cb cb);
UV_EXTERN int uv_fs_scandir_next(uv_fs_t* req, uv_dirent_t* ent);
UV_EXTERN int uv_fs_opendir(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_readdir(uv_loop_t* loop, uv_fs_t* req, uv_dir_t* dir,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_closedir(uv_loop_t* loop, uv_fs_t* req, uv_dir_t* dir,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_stat(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_lstat(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_fstat(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_statfs(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_rename(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, uv_fs_cb cb);
UV_EXTERN int uv_fs_fsync(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_fdatasync(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_ftruncate(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    int64_t offset, uv_fs_cb cb);
UV_EXTERN int uv_fs_sendfile(uv_loop_t* loop, uv_fs_t* req, uv_file out_fd,
    uv_file in_fd, int64_t in_offset, size_t length, uv_fs_cb cb);
UV_EXTERN int uv_fs_access(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int mode, uv_fs_cb cb);
UV_EXTERN int uv_fs_chmod(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int mode, uv_fs_cb cb);
UV_EXTERN int uv_fs_fchmod(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    int mode, uv_fs_cb cb);
/* For an atime or mtime of uv_fs_utime, _futime and _lutime: the current
 * time, or leave it as it is. */
#define UV_FS_UTIME_NOW (INFINITY)
#define UV_FS_UTIME_OMIT (NAN)
UV_EXTERN int uv_fs_utime(uv_loop_t* loop, uv_fs_t* req, const char* path,
    double atime, double mtime, uv_fs_cb cb);
UV_EXTERN int uv_fs_futime(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    double atime, double mtime, uv_fs_cb cb);
UV_EXTERN int uv_fs_lutime(uv_loop_t* loop, uv_fs_t* req, const char* path,
    double atime, double mtime, uv_fs_cb cb);
UV_EXTERN int uv_fs_link(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, uv_fs_cb cb);
UV_EXTERN int uv_fs_symlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, int flags, uv_fs_cb cb);
UV_EXTERN int uv_fs_readlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_realpath(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb);
UV_EXTERN int uv_fs_chown(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb);
UV_EXTERN int uv_fs_fchown(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb);
UV_EXTERN int uv_fs_lchown(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb);

UV_EXTERN int uv_fs_event_init(uv_loop_t* loop, uv_fs_event_t* handle);
UV_EXTERN int uv_fs_event_start(uv_fs_event_t* handle, uv_fs_event_cb cb,
    const char* path, unsigned int flags);
UV_EXTERN int uv_fs_event_stop(uv_fs_event_t* handle);
UV_EXTERN int uv_fs_event_getpath(uv_fs_event_t* handle, char* buffer,
    size_t* size);

UV_EXTERN int uv_fs_poll_init(uv_loop_t* loop, uv_fs_poll_t* handle);
UV_EXTERN int uv_fs_poll_start(uv_fs_poll_t* handle, uv_fs_poll_cb poll_cb,
    const char* path, unsigned int interval);
UV_EXTERN int uv_fs_poll_stop(uv_fs_poll_t* handle);
UV_EXTERN int uv_fs_poll_getpath(uv_fs_poll_t* handle, char* buffer,
    size_t* size);

/* Windows CRT fd <-> OS handle; identity on Unix. */
UV_EXTERN uv_os_fd_t uv_get_osfhandle(int fd);
UV_EXTERN int uv_open_osfhandle(uv_os_fd_t os_fd);


/* ---- Addresses --------------------------------------------------------- */

UV_EXTERN int uv_ip4_addr(const char* ip, int port, struct sockaddr_in* addr);
UV_EXTERN int uv_ip6_addr(const char* ip, int port, struct sockaddr_in6* addr);
UV_EXTERN int uv_ip4_name(const struct sockaddr_in* src, char* dst,
    size_t size);
UV_EXTERN int uv_ip6_name(const struct sockaddr_in6* src, char* dst,
    size_t size);
UV_EXTERN int uv_ip_name(const struct sockaddr* src, char* dst, size_t size);
UV_EXTERN int uv_inet_ntop(int af, const void* src, char* dst, size_t size);
UV_EXTERN int uv_inet_pton(int af, const char* src, void* dst);
UV_EXTERN int uv_if_indextoname(unsigned int ifindex, char* buffer,
    size_t* size);
UV_EXTERN int uv_if_indextoiid(unsigned int ifindex, char* buffer,
    size_t* size);
UV_EXTERN int uv_interface_addresses(uv_interface_address_t** addresses,
    int* count);
UV_EXTERN void uv_free_interface_addresses(uv_interface_address_t* addresses,
    int count);


/* ---- Process and system information ------------------------------------ */

UV_EXTERN char** uv_setup_args(int argc, char** argv);
UV_EXTERN int uv_get_process_title(char* buffer, size_t size);
UV_EXTERN int uv_set_process_title(const char* title);
UV_EXTERN int uv_exepath(char* buffer, size_t* size);
UV_EXTERN int uv_cwd(char* buffer, size_t* size);
UV_EXTERN int uv_chdir(const char* dir);

UV_EXTERN uv_pid_t uv_os_getpid(void);
UV_EXTERN uv_pid_t uv_os_getppid(void);
UV_EXTERN int uv_os_getpriority(uv_pid_t pid, int* priority);
UV_EXTERN int uv_os_setpriority(uv_pid_t pid, int priority);
UV_EXTERN int uv_os_homedir(char* buf, size_t* len);
UV_EXTERN int uv_os_tmpdir(char* buf, size_t* len);
UV_EXTERN int uv_os_get_passwd(uv_passwd_t* out);
UV_EXTERN void uv_os_free_passwd(uv_passwd_t* passwd);
UV_EXTERN int uv_os_get_passwd2(uv_passwd_t* out, uv_uid_t uid);
UV_EXTERN int uv_os_get_group(uv_group_t* out, uv_uid_t gid);
UV_EXTERN void uv_os_free_group(uv_group_t* group);
UV_EXTERN int uv_os_gethostname(char* buf, size_t* len);
UV_EXTERN int uv_os_uname(uv_utsname_t* out);

UV_EXTERN int uv_os_environ(uv_env_item_t** items, int* n);
UV_EXTERN void uv_os_free_environ(uv_env_item_t* items, int n);
UV_EXTERN int uv_os_getenv(const char* key, char* buf, size_t* len);
UV_EXTERN int uv_os_setenv(const char* key, const char* value);
UV_EXTERN int uv_os_unsetenv(const char* key);

UV_EXTERN int uv_resident_set_memory(size_t* rss);
UV_EXTERN int uv_uptime(double* uptime);
UV_EXTERN void uv_loadavg(double avg[3]);
UV_EXTERN int uv_getrusage(uv_rusage_t* rusage);
UV_EXTERN int uv_getrusage_thread(uv_rusage_t* rusage); /* calling thread */
UV_EXTERN uint64_t uv_get_free_memory(void);
UV_EXTERN uint64_t uv_get_total_memory(void);
UV_EXTERN uint64_t uv_get_constrained_memory(void);
UV_EXTERN uint64_t uv_get_available_memory(void);
UV_EXTERN unsigned int uv_available_parallelism(void);
UV_EXTERN int uv_cpu_info(uv_cpu_info_t** cpu_infos, int* count);
UV_EXTERN void uv_free_cpu_info(uv_cpu_info_t* cpu_infos, int count);

UV_EXTERN uint64_t uv_hrtime(void);
UV_EXTERN int uv_gettimeofday(uv_timeval64_t* tv);
UV_EXTERN int uv_clock_gettime(uv_clock_id clock_id, uv_timespec64_t* ts);
UV_EXTERN void uv_sleep(unsigned int msec);

UV_EXTERN int uv_dlopen(const char* filename, uv_lib_t* lib);
UV_EXTERN void uv_dlclose(uv_lib_t* lib);
UV_EXTERN int uv_dlsym(uv_lib_t* lib, const char* name, void** ptr);
UV_EXTERN const char* uv_dlerror(const uv_lib_t* lib);


/* ---- Threads and synchronisation --------------------------------------- */

UV_EXTERN int uv_thread_create(uv_thread_t* tid, uv_thread_cb entry, void* arg);
UV_EXTERN int uv_thread_create_ex(uv_thread_t* tid,
    const uv_thread_options_t* params, uv_thread_cb entry, void* arg);
UV_EXTERN uv_thread_t uv_thread_self(void);
UV_EXTERN int uv_thread_join(uv_thread_t* tid);
UV_EXTERN int uv_thread_equal(const uv_thread_t* t1, const uv_thread_t* t2);
UV_EXTERN int uv_thread_detach(uv_thread_t* tid);
/* Affinity masks: one char per CPU (nonzero: may run there), mask_size
 * at least uv_cpumask_size(). */
UV_EXTERN int uv_cpumask_size(void);
UV_EXTERN int uv_thread_setaffinity(uv_thread_t* tid, char* cpumask,
    char* oldmask, size_t mask_size);
UV_EXTERN int uv_thread_getaffinity(uv_thread_t* tid, char* cpumask,
    size_t mask_size);
UV_EXTERN int uv_thread_getcpu(void);
UV_EXTERN int uv_thread_setname(const char* name); /* the calling thread's */
UV_EXTERN int uv_thread_getname(uv_thread_t* tid, char* name, size_t size);
UV_EXTERN int uv_thread_getpriority(uv_thread_t tid, int* priority);
UV_EXTERN int uv_thread_setpriority(uv_thread_t tid, int priority);

UV_EXTERN void uv_once(uv_once_t* guard, void (*callback)(void));

/* Thread-local slots. */
UV_EXTERN int uv_key_create(uv_key_t* slot);
UV_EXTERN void uv_key_set(uv_key_t* slot, void* value);
UV_EXTERN void* uv_key_get(uv_key_t* slot);
UV_EXTERN void uv_key_delete(uv_key_t* slot);

UV_EXTERN int uv_mutex_init(uv_mutex_t* mutex);
UV_EXTERN int uv_mutex_init_recursive(uv_mutex_t* mutex);
UV_EXTERN void uv_mutex_destroy(uv_mutex_t* mutex);
UV_EXTERN void uv_mutex_lock(uv_mutex_t* mutex);
UV_EXTERN int uv_mutex_trylock(uv_mutex_t* mutex);
UV_EXTERN void uv_mutex_unlock(uv_mutex_t* mutex);

UV_EXTERN int uv_rwlock_init(uv_rwlock_t* lock);
UV_EXTERN void uv_rwlock_destroy(uv_rwlock_t* lock);
UV_EXTERN void uv_rwlock_rdlock(uv_rwlock_t* lock);
UV_EXTERN int uv_rwlock_tryrdlock(uv_rwlock_t* lock);
UV_EXTERN void uv_rwlock_rdunlock(uv_rwlock_t* lock);
UV_EXTERN void uv_rwlock_wrlock(uv_rwlock_t* lock);
UV_EXTERN int uv_rwlock_trywrlock(uv_rwlock_t* lock);
UV_EXTERN void uv_rwlock_wrunlock(uv_rwlock_t* lock);

UV_EXTERN int uv_sem_init(uv_sem_t* s, unsigned int value);
UV_EXTERN void uv_sem_destroy(uv_sem_t* s);
UV_EXTERN void uv_sem_post(uv_sem_t* s);
UV_EXTERN void uv_sem_wait(uv_sem_t* s);
UV_EXTERN int uv_sem_trywait(uv_sem_t* s);

UV_EXTERN int uv_cond_init(uv_cond_t* cv);
UV_EXTERN void uv_cond_destroy(uv_cond_t* cv);
UV_EXTERN void uv_cond_signal(uv_cond_t* cv);
UV_EXTERN void uv_cond_broadcast(uv_cond_t* cv);
UV_EXTERN void uv_cond_wait(uv_cond_t* cv, uv_mutex_t* mutex);
/* timeout in nanoseconds; UV_ETIMEDOUT when it expires. */
UV_EXTERN int uv_cond_timedwait(uv_cond_t* cv, uv_mutex_t* mutex,
    uint64_t timeout);

UV_EXTERN int uv_barrier_init(uv_barrier_t* barrier, unsigned int count);
UV_EXTERN void uv_barrier_destroy(uv_barrier_t* barrier);
UV_EXTERN int uv_barrier_wait(uv_barrier_t* barrier);


/* ---- UTF-16 and WTF-8 -------------------------------------------------- */

/* WTF-8 is UTF-8 that may also carry unpaired surrogates, so that every
 * UTF-16 string (a Windows file name, a JavaScript string) converts both
 * ways. utf16_len -1: up to the NUL. */
UV_EXTERN size_t uv_utf16_length_as_wtf8(const uint16_t* utf16,
    ssize_t utf16_len);
/* *wtf8_ptr NULL: allocates (free with free(3)); else writes there, at most
 * *wtf8_len_ptr bytes plus a NUL. */
UV_EXTERN int uv_utf16_to_wtf8(const uint16_t* utf16, ssize_t utf16_len,
    char** wtf8_ptr, size_t* wtf8_len_ptr);
/* Units needed, the NUL included; -1 when wtf8 is not WTF-8. */
UV_EXTERN ssize_t uv_wtf8_length_as_utf16(const char* wtf8);
UV_EXTERN void uv_wtf8_to_utf16(const char* wtf8, uint16_t* utf16,
    size_t utf16_len);

#ifdef __cplusplus
}
#endif
#endif /* UV_H */
