/* blitz-io: placeholder definitions for the libuv functions not built yet.
 * Exporting all 293 libuv 1.44.2 functions from day one lets any libuv
 * program link and load against us; what is missing fails with UV_ENOSYS
 * (or NULL / 0 / a no-op) instead of an unresolved symbol. Each section
 * names the issue that replaces it: delete a stub when its real one lands.
 */

#include "uv.h"

#include <netdb.h>


/* ---- Streams (shared by tcp, pipe, tty). Issue 5. */


UV_EXTERN int uv_listen(uv_stream_t* stream, int backlog, uv_connection_cb cb) {
  (void)stream;
  (void)backlog;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_accept(uv_stream_t* server, uv_stream_t* client) {
  (void)server;
  (void)client;
  return UV_ENOSYS;
}


UV_EXTERN int uv_read_start(uv_stream_t* stream, uv_alloc_cb alloc_cb,
    uv_read_cb read_cb) {
  (void)stream;
  (void)alloc_cb;
  (void)read_cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_read_stop(uv_stream_t* stream) {
  (void)stream;
  return UV_ENOSYS;
}


UV_EXTERN int uv_write(uv_write_t* req, uv_stream_t* handle,
    const uv_buf_t bufs[], unsigned int nbufs, uv_write_cb cb) {
  (void)req;
  (void)handle;
  (void)bufs;
  (void)nbufs;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_write2(uv_write_t* req, uv_stream_t* handle,
    const uv_buf_t bufs[], unsigned int nbufs, uv_stream_t* send_handle,
    uv_write_cb cb) {
  (void)req;
  (void)handle;
  (void)bufs;
  (void)nbufs;
  (void)send_handle;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_try_write(uv_stream_t* handle, const uv_buf_t bufs[],
    unsigned int nbufs) {
  (void)handle;
  (void)bufs;
  (void)nbufs;
  return UV_ENOSYS;
}


UV_EXTERN int uv_try_write2(uv_stream_t* handle, const uv_buf_t bufs[],
    unsigned int nbufs, uv_stream_t* send_handle) {
  (void)handle;
  (void)bufs;
  (void)nbufs;
  (void)send_handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_shutdown(uv_shutdown_t* req, uv_stream_t* handle,
    uv_shutdown_cb cb) {
  (void)req;
  (void)handle;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_is_readable(const uv_stream_t* handle) {
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_is_writable(const uv_stream_t* handle) {
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_stream_set_blocking(uv_stream_t* handle, int blocking) {
  (void)handle;
  (void)blocking;
  return UV_ENOSYS;
}


UV_EXTERN size_t uv_stream_get_write_queue_size(const uv_stream_t* stream) {
  return stream == NULL ? 0 : stream->write_queue_size;
}


UV_EXTERN int uv_send_buffer_size(uv_handle_t* handle, int* value) {
  (void)handle;
  (void)value;
  return UV_ENOSYS;
}


UV_EXTERN int uv_recv_buffer_size(uv_handle_t* handle, int* value) {
  (void)handle;
  (void)value;
  return UV_ENOSYS;
}


/* ---- TCP. Issue 5. */


UV_EXTERN int uv_tcp_init(uv_loop_t* loop, uv_tcp_t* handle) {
  (void)loop;
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_init_ex(uv_loop_t* loop, uv_tcp_t* handle,
    unsigned int flags) {
  (void)loop;
  (void)handle;
  (void)flags;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_open(uv_tcp_t* handle, uv_os_sock_t sock) {
  (void)handle;
  (void)sock;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_bind(uv_tcp_t* handle, const struct sockaddr* addr,
    unsigned int flags) {
  (void)handle;
  (void)addr;
  (void)flags;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_connect(uv_connect_t* req, uv_tcp_t* handle,
    const struct sockaddr* addr, uv_connect_cb cb) {
  (void)req;
  (void)handle;
  (void)addr;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_getsockname(const uv_tcp_t* handle, struct sockaddr* name,
    int* namelen) {
  (void)handle;
  (void)name;
  (void)namelen;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_getpeername(const uv_tcp_t* handle, struct sockaddr* name,
    int* namelen) {
  (void)handle;
  (void)name;
  (void)namelen;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_nodelay(uv_tcp_t* handle, int enable) {
  (void)handle;
  (void)enable;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_keepalive(uv_tcp_t* handle, int enable,
    unsigned int delay) {
  (void)handle;
  (void)enable;
  (void)delay;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tcp_simultaneous_accepts(uv_tcp_t* handle, int enable) {
  (void)handle;
  (void)enable;
  return 0; /* a Windows tuning knob; libuv ignores it on Unix too */
}


UV_EXTERN int uv_tcp_close_reset(uv_tcp_t* handle, uv_close_cb close_cb) {
  (void)handle;
  (void)close_cb;
  return UV_ENOSYS;
}


/* ---- Pipes and socket pairs. Issue 5. */


UV_EXTERN int uv_pipe_init(uv_loop_t* loop, uv_pipe_t* handle, int ipc) {
  (void)loop;
  (void)handle;
  (void)ipc;
  return UV_ENOSYS;
}


UV_EXTERN int uv_pipe_open(uv_pipe_t* handle, uv_file file) {
  (void)handle;
  (void)file;
  return UV_ENOSYS;
}


UV_EXTERN int uv_pipe_bind(uv_pipe_t* handle, const char* name) {
  (void)handle;
  (void)name;
  return UV_ENOSYS;
}


UV_EXTERN void uv_pipe_connect(uv_connect_t* req, uv_pipe_t* handle,
    const char* name, uv_connect_cb cb) {
  /* Returns void, so the failure cannot be reported; the callback is
   * never called. */
  (void)req;
  (void)handle;
  (void)name;
  (void)cb;
}


UV_EXTERN int uv_pipe_getsockname(const uv_pipe_t* handle, char* buffer,
    size_t* size) {
  (void)handle;
  (void)buffer;
  (void)size;
  return UV_ENOSYS;
}


UV_EXTERN int uv_pipe_getpeername(const uv_pipe_t* handle, char* buffer,
    size_t* size) {
  (void)handle;
  (void)buffer;
  (void)size;
  return UV_ENOSYS;
}


UV_EXTERN void uv_pipe_pending_instances(uv_pipe_t* handle, int count) {
  (void)handle;
  (void)count; /* Windows only */
}


UV_EXTERN int uv_pipe_pending_count(uv_pipe_t* handle) {
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN uv_handle_type uv_pipe_pending_type(uv_pipe_t* handle) {
  (void)handle;
  return UV_UNKNOWN_HANDLE;
}


UV_EXTERN int uv_pipe_chmod(uv_pipe_t* handle, int flags) {
  (void)handle;
  (void)flags;
  return UV_ENOSYS;
}


UV_EXTERN int uv_pipe(uv_file fds[2], int read_flags, int write_flags) {
  (void)fds;
  (void)read_flags;
  (void)write_flags;
  return UV_ENOSYS;
}


UV_EXTERN int uv_socketpair(int type, int protocol,
    uv_os_sock_t socket_vector[2], int flags0, int flags1) {
  (void)type;
  (void)protocol;
  (void)socket_vector;
  (void)flags0;
  (void)flags1;
  return UV_ENOSYS;
}


/* ---- TTY. Issue 5. */


UV_EXTERN int uv_tty_init(uv_loop_t* loop, uv_tty_t* tty, uv_file fd,
    int readable) {
  (void)loop;
  (void)tty;
  (void)fd;
  (void)readable;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tty_set_mode(uv_tty_t* tty, uv_tty_mode_t mode) {
  (void)tty;
  (void)mode;
  return UV_ENOSYS;
}


UV_EXTERN int uv_tty_reset_mode(void) {
  return UV_ENOSYS;
}


UV_EXTERN int uv_tty_get_winsize(uv_tty_t* tty, int* width, int* height) {
  (void)tty;
  (void)width;
  (void)height;
  return UV_ENOSYS;
}


UV_EXTERN void uv_tty_set_vterm_state(uv_tty_vtermstate_t state) {
  (void)state; /* a Windows console setting; nothing to do here */
}


UV_EXTERN int uv_tty_get_vterm_state(uv_tty_vtermstate_t* state) {
  (void)state;
  return UV_ENOTSUP; /* libuv answers the same on Unix */
}


UV_EXTERN uv_handle_type uv_guess_handle(uv_file file) {
  (void)file;
  return UV_UNKNOWN_HANDLE;
}


/* ---- Poll handles. Issue 5. */


UV_EXTERN int uv_poll_init(uv_loop_t* loop, uv_poll_t* handle, int fd) {
  (void)loop;
  (void)handle;
  (void)fd;
  return UV_ENOSYS;
}


UV_EXTERN int uv_poll_init_socket(uv_loop_t* loop, uv_poll_t* handle,
    uv_os_sock_t socket) {
  (void)loop;
  (void)handle;
  (void)socket;
  return UV_ENOSYS;
}


UV_EXTERN int uv_poll_start(uv_poll_t* handle, int events, uv_poll_cb cb) {
  (void)handle;
  (void)events;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_poll_stop(uv_poll_t* handle) {
  (void)handle;
  return UV_ENOSYS;
}


/* ---- File system requests. Issue 6. */


/* (open, close, read, write, unlink, mkdir, rmdir, rename, stat, lstat,
 * fstat, utime, futime, lutime, accessors, cleanup: compat/fs.c) */


UV_EXTERN int uv_fs_copyfile(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, int flags, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)new_path;
  (void)flags;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_mkdtemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)tpl;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_mkstemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)tpl;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_scandir(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int flags, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)flags;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_scandir_next(uv_fs_t* req, uv_dirent_t* ent) {
  (void)req;
  (void)ent;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_opendir(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_readdir(uv_loop_t* loop, uv_fs_t* req, uv_dir_t* dir,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)dir;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_closedir(uv_loop_t* loop, uv_fs_t* req, uv_dir_t* dir,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)dir;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_statfs(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_fsync(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)file;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_fdatasync(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)file;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_ftruncate(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    int64_t offset, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)file;
  (void)offset;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_sendfile(uv_loop_t* loop, uv_fs_t* req, uv_file out_fd,
    uv_file in_fd, int64_t in_offset, size_t length, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)out_fd;
  (void)in_fd;
  (void)in_offset;
  (void)length;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_access(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int mode, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)mode;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_chmod(uv_loop_t* loop, uv_fs_t* req, const char* path,
    int mode, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)mode;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_fchmod(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    int mode, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)file;
  (void)mode;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_link(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)new_path;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_symlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
    const char* new_path, int flags, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)new_path;
  (void)flags;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_readlink(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_realpath(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_chown(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)uid;
  (void)gid;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_fchown(uv_loop_t* loop, uv_fs_t* req, uv_file file,
    uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)file;
  (void)uid;
  (void)gid;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_lchown(uv_loop_t* loop, uv_fs_t* req, const char* path,
    uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb) {
  (void)loop;
  (void)req;
  (void)path;
  (void)uid;
  (void)gid;
  (void)cb;
  return UV_ENOSYS;
}


UV_EXTERN uv_os_fd_t uv_get_osfhandle(int fd) {
  return fd; /* no CRT/OS handle split on Unix */
}


UV_EXTERN int uv_open_osfhandle(uv_os_fd_t os_fd) {
  return os_fd;
}


/* ---- fs_poll handles. Issue 6 (fs_event: compat/fs_event.c). */


UV_EXTERN int uv_fs_poll_init(uv_loop_t* loop, uv_fs_poll_t* handle) {
  (void)loop;
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_poll_start(uv_fs_poll_t* handle, uv_fs_poll_cb poll_cb,
    const char* path, unsigned int interval) {
  (void)handle;
  (void)poll_cb;
  (void)path;
  (void)interval;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_poll_stop(uv_fs_poll_t* handle) {
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_fs_poll_getpath(uv_fs_poll_t* handle, char* buffer,
    size_t* size) {
  (void)handle;
  (void)buffer;
  (void)size;
  return UV_ENOSYS;
}


/* ---- Thread pool work, cancellation, DNS and randomness. Issue 6. */


UV_EXTERN int uv_getaddrinfo(uv_loop_t* loop, uv_getaddrinfo_t* req,
    uv_getaddrinfo_cb getaddrinfo_cb, const char* node, const char* service,
    const struct addrinfo* hints) {
  (void)loop;
  (void)req;
  (void)getaddrinfo_cb;
  (void)node;
  (void)service;
  (void)hints;
  return UV_ENOSYS;
}


UV_EXTERN void uv_freeaddrinfo(struct addrinfo* ai) {
  if (ai != NULL)
    freeaddrinfo(ai);
}


UV_EXTERN int uv_getnameinfo(uv_loop_t* loop, uv_getnameinfo_t* req,
    uv_getnameinfo_cb getnameinfo_cb, const struct sockaddr* addr, int flags) {
  (void)loop;
  (void)req;
  (void)getnameinfo_cb;
  (void)addr;
  (void)flags;
  return UV_ENOSYS;
}


UV_EXTERN int uv_random(uv_loop_t* loop, uv_random_t* req, void* buf,
    size_t buflen, unsigned flags, uv_random_cb cb) {
  (void)loop;
  (void)req;
  (void)buf;
  (void)buflen;
  (void)flags;
  (void)cb;
  return UV_ENOSYS;
}


/* ---- Processes, signals and working directory. Later issue. */


UV_EXTERN int uv_spawn(uv_loop_t* loop, uv_process_t* handle,
    const uv_process_options_t* options) {
  (void)loop;
  (void)handle;
  (void)options;
  return UV_ENOSYS;
}


UV_EXTERN int uv_process_kill(uv_process_t* process, int signum) {
  (void)process;
  (void)signum;
  return UV_ENOSYS;
}


UV_EXTERN uv_pid_t uv_process_get_pid(const uv_process_t* process) {
  return process == NULL ? 0 : process->pid;
}


UV_EXTERN int uv_kill(int pid, int signum) {
  (void)pid;
  (void)signum;
  return UV_ENOSYS;
}


UV_EXTERN int uv_signal_init(uv_loop_t* loop, uv_signal_t* handle) {
  (void)loop;
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_signal_start(uv_signal_t* handle, uv_signal_cb signal_cb,
    int signum) {
  (void)handle;
  (void)signal_cb;
  (void)signum;
  return UV_ENOSYS;
}


UV_EXTERN int uv_signal_start_oneshot(uv_signal_t* handle,
    uv_signal_cb signal_cb, int signum) {
  (void)handle;
  (void)signal_cb;
  (void)signum;
  return UV_ENOSYS;
}


UV_EXTERN int uv_signal_stop(uv_signal_t* handle) {
  (void)handle;
  return UV_ENOSYS;
}


UV_EXTERN int uv_exepath(char* buffer, size_t* size) {
  (void)buffer;
  (void)size;
  return UV_ENOSYS;
}


UV_EXTERN int uv_cwd(char* buffer, size_t* size) {
  (void)buffer;
  (void)size;
  return UV_ENOSYS;
}


UV_EXTERN int uv_chdir(const char* dir) {
  (void)dir;
  return UV_ENOSYS;
}
