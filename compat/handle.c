/* The handle API common to every kind: close (and its per-kind teardown),
 * ref counting, state queries, type names and sizes, fileno, debug dumps. */
#include "config.h"

#include <stdio.h>

#include "fs.h"
#include "internal.h"
#include "stream.h"
#include "udp.h"


UV_EXTERN void uv_close(uv_handle_t *handle, uv_close_cb close_cb) {
  uv_loop_t *loop = handle->loop;

  assert(!bio__handle_closing(handle)); /* libuv: closing twice is a bug */
  if (bio__handle_closing(handle))
    return;
  handle->flags |= BIO_H_CLOSING;
  handle->close_cb = close_cb;

  switch (handle->type) {
  case UV_TIMER:
    bio__timer_close((uv_timer_t *)handle);
    break;
  case UV_IDLE:
    uv_idle_stop((uv_idle_t *)handle);
    break;
  case UV_PREPARE:
    uv_prepare_stop((uv_prepare_t *)handle);
    break;
  case UV_CHECK:
    uv_check_stop((uv_check_t *)handle);
    break;
  case UV_ASYNC:
    bio__async_close((uv_async_t *)handle);
    break;
  case UV_UDP:
    /* Ops still out: udp.c queues the handle for closing once they are
     * back, so its close callback can't run before them. */
    if (bio__udp_close((uv_udp_t *)handle))
      return;
    break;
  case UV_FS_EVENT:
    bio__fs_event_close((uv_fs_event_t *)handle);
    break;
  case UV_NAMED_PIPE:
    bio__pipe_close((uv_pipe_t *)handle); /* a pipe is a stream too */
    /* fall through */
  case UV_TCP:
  case UV_TTY:
    /* Like UDP: with ops or request callbacks still out, stream.c queues
     * the handle for closing once they are done. */
    if (bio__stream_close((uv_stream_t *)handle))
      return;
    break;
  case UV_SIGNAL:
    bio__signal_close((uv_signal_t *)handle);
    break;
  case UV_PROCESS:
    bio__process_close((uv_process_t *)handle);
    break;
  case UV_POLL:
    if (bio__poll_close((uv_poll_t *)handle))
      return;
    break;
  case UV_FS_POLL:
    /* A stat or timer still winding down: fs_poll.c queues the handle. */
    if (bio__fs_poll_close((uv_fs_poll_t *)handle))
      return;
    break;
  default:
    /* Kinds this build does not implement can't be initialised, so can't
     * reach here; stop the bookkeeping all the same. */
    bio__handle_stop(handle);
    break;
  }

  /* Close callbacks run in the loop's closing phase, never from here. */
  handle->next_closing = loop->closing_handles;
  loop->closing_handles = handle;
}


UV_EXTERN void uv_ref(uv_handle_t *handle) {
  if (handle->flags & BIO_H_REF)
    return;
  handle->flags |= BIO_H_REF;
  if ((handle->flags & BIO_H_ACTIVE) && !(handle->flags & BIO_H_CLOSING))
    handle->loop->active_handles++;
}


UV_EXTERN void uv_unref(uv_handle_t *handle) {
  if (!(handle->flags & BIO_H_REF))
    return;
  handle->flags &= ~BIO_H_REF;
  if ((handle->flags & BIO_H_ACTIVE) && !(handle->flags & BIO_H_CLOSING))
    handle->loop->active_handles--;
}


UV_EXTERN int uv_has_ref(const uv_handle_t *handle) {
  return (handle->flags & BIO_H_REF) != 0;
}


UV_EXTERN int uv_is_active(const uv_handle_t *handle) {
  return (handle->flags & BIO_H_ACTIVE) != 0;
}


UV_EXTERN int uv_is_closing(const uv_handle_t *handle) {
  return bio__handle_closing(handle);
}


UV_EXTERN size_t uv_handle_size(uv_handle_type type) {
  switch (type) {
#define BIO_SIZE_CASE(upper, lower)                                            \
  case UV_##upper:                                                             \
    return sizeof(uv_##lower##_t);
    UV_HANDLE_TYPE_MAP(BIO_SIZE_CASE)
#undef BIO_SIZE_CASE
  default:
    return (size_t)-1;
  }
}


UV_EXTERN size_t uv_req_size(uv_req_type type) {
  switch (type) {
#define BIO_SIZE_CASE(upper, lower)                                            \
  case UV_##upper:                                                             \
    return sizeof(uv_##lower##_t);
    UV_REQ_TYPE_MAP(BIO_SIZE_CASE)
#undef BIO_SIZE_CASE
  default:
    return (size_t)-1;
  }
}


UV_EXTERN const char *uv_handle_type_name(uv_handle_type type) {
  switch (type) {
#define BIO_NAME_CASE(upper, lower)                                            \
  case UV_##upper:                                                             \
    return #lower;
    UV_HANDLE_TYPE_MAP(BIO_NAME_CASE)
#undef BIO_NAME_CASE
  case UV_FILE:
    return "file";
  default:
    return NULL;
  }
}


UV_EXTERN const char *uv_req_type_name(uv_req_type type) {
  switch (type) {
#define BIO_NAME_CASE(upper, lower)                                            \
  case UV_##upper:                                                             \
    return #lower;
    UV_REQ_TYPE_MAP(BIO_NAME_CASE)
#undef BIO_NAME_CASE
  default:
    return NULL;
  }
}


UV_EXTERN uv_handle_type uv_handle_get_type(const uv_handle_t *handle) {
  return handle->type;
}


UV_EXTERN void *uv_handle_get_data(const uv_handle_t *handle) {
  return handle->data;
}


UV_EXTERN uv_loop_t *uv_handle_get_loop(const uv_handle_t *handle) {
  return handle->loop;
}


UV_EXTERN void uv_handle_set_data(uv_handle_t *handle, void *data) {
  handle->data = data;
}


UV_EXTERN uv_req_type uv_req_get_type(const uv_req_t *req) {
  return req->type;
}


UV_EXTERN void *uv_req_get_data(const uv_req_t *req) { return req->data; }


UV_EXTERN void uv_req_set_data(uv_req_t *req, void *data) {
  req->data = data;
}


UV_EXTERN int uv_fileno(const uv_handle_t *handle, uv_os_fd_t *fd) {
  int fd_value;

  switch (handle->type) {
  case UV_TCP:
  case UV_NAMED_PIPE:
  case UV_TTY:
    fd_value = ((const uv_stream_t *)handle)->io_watcher.fd;
    break;
  case UV_UDP:
    fd_value = ((const uv_udp_t *)handle)->io_watcher.fd;
    break;
  case UV_POLL:
    fd_value = ((const uv_poll_t *)handle)->io_watcher.fd;
    break;
  default:
    return UV_EINVAL;
  }
  if (bio__handle_closing(handle) || fd_value == -1)
    return UV_EBADF;
  *fd = fd_value;
  return 0;
}


/* Same line format as libuv's dump: [R-A-I] flags, type, address. */
static void print_handles(uv_loop_t *loop, int only_active, FILE *stream) {
  void **q;

  if (loop == NULL)
    loop = uv_default_loop();
  if (stream == NULL)
    stream = stderr;
  for (q = bio__q_next(loop->handle_queue); q != (void **)loop->handle_queue;
       q = bio__q_next(q)) {
    uv_handle_t *h = bio__q_data(q, uv_handle_t, handle_queue);
    const char *name = uv_handle_type_name(h->type);
    if (only_active && !(h->flags & BIO_H_ACTIVE))
      continue;
    fprintf(stream, "[%c%c%c] %-8s %p\n", (h->flags & BIO_H_REF) ? 'R' : '-',
            (h->flags & BIO_H_ACTIVE) ? 'A' : '-',
            (h->flags & BIO_H_INTERNAL) ? 'I' : '-',
            name != NULL ? name : "<unknown>", (void *)h);
  }
}


UV_EXTERN void uv_print_all_handles(uv_loop_t *loop, FILE *stream) {
  print_handles(loop, 0, stream);
}


UV_EXTERN void uv_print_active_handles(uv_loop_t *loop, FILE *stream) {
  print_handles(loop, 1, stream);
}
