/* blitz-io: placeholder definitions for the libuv functions not built yet.
 * Exporting all 293 libuv 1.44.2 functions from day one lets any libuv
 * program link and load against us; what is missing fails with UV_ENOSYS
 * (or NULL / 0 / a no-op) instead of an unresolved symbol. Each section
 * names the issue that replaces it: delete a stub when its real one lands.
 */

#include "uv.h"

#include <netdb.h>


/* ---- TTY: the Windows console state (streams are in stream.c). */


UV_EXTERN void uv_tty_set_vterm_state(uv_tty_vtermstate_t state) {
  (void)state; /* a Windows console setting; nothing to do here */
}


UV_EXTERN int uv_tty_get_vterm_state(uv_tty_vtermstate_t* state) {
  (void)state;
  return UV_ENOTSUP; /* libuv answers the same on Unix */
}


/* ---- File system requests. Issue 6. */


/* (open, close, read, write, unlink, mkdir, rmdir, rename, stat, lstat,
 * fstat, utime, futime, lutime, accessors, cleanup: compat/fs.c) */


/* (the other fs requests: compat/fs.c; fs_poll handles: compat/fs_poll.c;
 * uv_get_osfhandle, uv_open_osfhandle: compat/process_misc.c) */


/* (DNS: compat/dns.c; uv_random: compat/random.c) */


/* (uv_spawn, uv_process_kill, uv_kill, uv_process_get_pid:
 * compat/process.c; uv_signal_*: compat/signal.c) */


/* (uv_exepath, uv_cwd, uv_chdir: compat/process_misc.c) */
