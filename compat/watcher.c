/* uv_idle_t, uv_prepare_t and uv_check_t: callbacks run once per loop
 * iteration in their phase. The three kinds differ only in their list and
 * phase, so one macro writes all three. */
#include "config.h"

#include "internal.h"

/* A callback may start, stop or close any watcher of its kind, itself
 * included: run a detached copy of the list and put each handle back on
 * the loop's list before its callback. */
#define BIO_WATCHER_KIND(name, type_enum)                                      \
  UV_EXTERN int uv_##name##_init(uv_loop_t *loop, uv_##name##_t *handle) {     \
    if (loop == NULL || handle == NULL)                                        \
      return UV_EINVAL;                                                        \
    bio__handle_init(loop, (uv_handle_t *)handle, type_enum);                  \
    handle->name##_cb = NULL;                                                  \
    return 0;                                                                  \
  }                                                                            \
                                                                               \
  UV_EXTERN int uv_##name##_start(uv_##name##_t *handle, uv_##name##_cb cb) { \
    if (bio__handle_closing((uv_handle_t *)handle))                            \
      return UV_EINVAL;                                                        \
    if (handle->flags & BIO_H_ACTIVE)                                          \
      return 0;                                                                \
    if (cb == NULL)                                                            \
      return UV_EINVAL;                                                        \
    /* Newest first, as libuv orders them. */                                  \
    bio__q_insert_head(handle->loop->name##_handles, handle->queue);           \
    handle->name##_cb = cb;                                                    \
    bio__handle_start((uv_handle_t *)handle);                                  \
    return 0;                                                                  \
  }                                                                            \
                                                                               \
  UV_EXTERN int uv_##name##_stop(uv_##name##_t *handle) {                      \
    if (!(handle->flags & BIO_H_ACTIVE))                                       \
      return 0;                                                                \
    bio__q_remove(handle->queue);                                              \
    bio__handle_stop((uv_handle_t *)handle);                                   \
    return 0;                                                                  \
  }                                                                            \
                                                                               \
  void bio__run_##name(uv_loop_t *loop) {                                      \
    bio_qlink batch;                                                           \
    bio__q_move(loop->name##_handles, batch);                                  \
    while (!bio__q_empty(batch)) {                                             \
      void **q = bio__q_next(batch);                                           \
      uv_##name##_t *h = bio__q_data(q, uv_##name##_t, queue);                 \
      bio__q_remove(q);                                                        \
      bio__q_insert_tail(loop->name##_handles, q);                             \
      h->name##_cb(h);                                                         \
    }                                                                          \
  }

BIO_WATCHER_KIND(idle, UV_IDLE)
BIO_WATCHER_KIND(prepare, UV_PREPARE)
BIO_WATCHER_KIND(check, UV_CHECK)
