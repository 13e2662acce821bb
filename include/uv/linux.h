/* blitz-io: Linux-only members appended to the loop and fs_event layouts.
 * libuv reserves them for inotify; we keep the same sizes so uv_loop_t and
 * uv_fs_event_t match byte for byte, and reuse the room for our own state.
 */

#ifndef UV_LINUX_H
#define UV_LINUX_H

/* Tail of uv_loop_t (after emfile_fd). */
#define UV_PLATFORM_LOOP_FIELDS \
  uv__io_t inotify_read_watcher; \
  void* inotify_watchers; \
  int inotify_fd;

/* Tail of uv_fs_event_t (after cb). */
#define UV_PLATFORM_FS_EVENT_FIELDS \
  void* watchers[2]; \
  int wd;

#endif /* UV_LINUX_H */
