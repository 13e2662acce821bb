/* uv_fs_event_t on inotify. Each loop owns one inotify fd, opened on first
 * use, and one POLL op on it that lives in the loop's inotify_read_watcher;
 * handles watching the same inode share the kernel's watch descriptor, so
 * a table maps each wd to the list of handles it feeds. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fs.h"
#include "internal.h"

/* Everything that maps to UV_CHANGE or UV_RENAME; IN_OPEN, IN_ACCESS and
 * IN_CLOSE_* are left out, as libuv leaves them out, so that merely
 * reading a file reports nothing. */
#define WATCH_MASK                                                             \
  (IN_ATTRIB | IN_CREATE | IN_MODIFY | IN_DELETE | IN_DELETE_SELF |            \
   IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO)

#define WATCH_BUCKETS 64 /* power of two: a wd's bucket is wd & (n - 1) */

/* One kernel watch descriptor and the started handles it feeds, linked
 * through uv_fs_event_t.watchers in start order. */
typedef struct fsev_watch {
  struct fsev_watch *next; /* bucket chain */
  int wd;
  int walking; /* dispatch holds the list: release waits until it is done */
  bio_qlink handles;
} fsev_watch;

/* The per-loop state behind uv_loop_t.inotify_watchers. */
typedef struct fsev_loop {
  fsev_watch *buckets[WATCH_BUCKETS];
  size_t nwatches;
  /* The poll op is submitted and its callback has not yet finished; while
   * set, arming again is a no-op (a callback may start handles). */
  int armed;
} fsev_loop;

/* The op overlays the bytes of inotify_read_watcher (a uv__io_t) that come
 * before its fd; libuv keeps its inotify watcher there, so the loop's size
 * and the offsets after it stay libuv's. */
_Static_assert(offsetof(uv__io_t, fd) >= sizeof(bio_op),
               "bio_op must fit uv_loop_t.inotify_read_watcher before fd");
_Static_assert(_Alignof(uv__io_t) >= _Alignof(bio_op),
               "inotify_read_watcher must be aligned for a bio_op");

/* uv_fs_event_t.watchers is our queue link. */
_Static_assert(sizeof(((uv_fs_event_t *)0)->watchers) == sizeof(bio_qlink),
               "uv_fs_event_t.watchers must hold a bio_qlink");

static inline bio_op *loop_op(uv_loop_t *loop) {
  return (bio_op *)(void *)&loop->inotify_read_watcher;
}

static inline uv_loop_t *op_loop(bio_op *op) {
  return bio_container_of((void *)op, uv_loop_t, inotify_read_watcher);
}

static inline fsev_loop *loop_state(const uv_loop_t *loop) {
  return (fsev_loop *)loop->inotify_watchers;
}


static fsev_watch *watch_find(fsev_loop *st, int wd) {
  fsev_watch *w = st->buckets[(unsigned)wd & (WATCH_BUCKETS - 1)];
  while (w != NULL && w->wd != wd)
    w = w->next;
  return w;
}


static void watch_unlink(fsev_loop *st, fsev_watch *w) {
  fsev_watch **pp = &st->buckets[(unsigned)w->wd & (WATCH_BUCKETS - 1)];
  while (*pp != w)
    pp = &(*pp)->next;
  *pp = w->next;
  st->nwatches--;
}


/* Drops the kernel watch once no handle needs it. During a dispatch walk
 * the walker still holds the entry; it calls back here when done. */
static void watch_release(uv_loop_t *loop, fsev_watch *w) {
  fsev_loop *st = loop_state(loop);

  if (w->walking || !bio__q_empty(w->handles))
    return;
  /* EINVAL here means the kernel dropped the watch already (its inode was
   * deleted, or its filesystem unmounted): nothing left to undo. */
  (void)inotify_rm_watch(loop->inotify_fd, w->wd);
  watch_unlink(st, w);
  bio__free(w);
}


static void on_readable(bio_loop *core, bio_op *op);


static void arm(uv_loop_t *loop) {
  fsev_loop *st = loop_state(loop);
  bio_op *op = loop_op(loop);

  if (st->armed || st->nwatches == 0)
    return;
  /* A poll, not a read: under io_uring a read of an inotify fd (a file
   * without nowait support) is handed to a kernel worker and completes
   * later, so a UV_RUN_NOWAIT turn could miss events already queued. A
   * poll on a readable fd completes at once on both backends, and the
   * nonblocking reads below drain every queued event in one turn. */
  memset(op, 0, sizeof(*op));
  op->cb = on_readable;
  op->fd = loop->inotify_fd;
  op->opcode = BIO_OP_POLL;
  op->u.events = POLLIN;
  st->armed = 1;
  bio__op_submit(bio__core(loop), op);
}


static void deliver(uv_loop_t *loop, const struct inotify_event *ev) {
  fsev_loop *st = loop_state(loop);
  bio_qlink batch;
  fsev_watch *w;
  int events = 0;

  w = watch_find(st, ev->wd);
  if (w == NULL)
    return; /* a watch we removed; its last events were still queued */

  /* libuv's mapping: content or metadata changes are UV_CHANGE, anything
   * else (create, delete, move, the watch going away) is UV_RENAME. */
  if (ev->mask & (IN_ATTRIB | IN_MODIFY))
    events |= UV_CHANGE;
  if (ev->mask & ~(uint32_t)(IN_ATTRIB | IN_MODIFY))
    events |= UV_RENAME;

  /* Walk a detached batch, putting each handle back before its callback:
   * a callback may stop or close any handle of this watch, and a stopped
   * handle leaves the batch with it, so it is never called afterwards. */
  w->walking = 1;
  bio__q_move(w->handles, batch);
  while (!bio__q_empty(batch)) {
    void **q = bio__q_next(batch);
    uv_fs_event_t *h = bio__q_data(q, uv_fs_event_t, watchers);
    const char *name;

    bio__q_remove(q);
    bio__q_insert_tail(w->handles, q);
    if (ev->len > 0) {
      name = ev->name; /* an entry of a watched directory */
    } else {
      /* The watched path itself: libuv reports its last component. */
      const char *slash = strrchr(h->path, '/');
      name = slash != NULL ? slash + 1 : h->path;
    }
    h->cb(h, name, events, 0);
  }
  w->walking = 0;
  watch_release(loop, w);
}


static void on_readable(bio_loop *core, bio_op *op) {
  uv_loop_t *loop = op_loop(op);
  fsev_loop *st = loop_state(loop);
  /* The kernel never splits an event across reads, and one event is at
   * most sizeof(struct inotify_event) + NAME_MAX + 1 bytes. */
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

  (void)core;
  assert(st != NULL && st->armed);
  /* armed stays set while we read and dispatch: a callback that starts a
   * handle must not submit the op we are about to submit ourselves. */
  for (;;) {
    ssize_t n = read(loop->inotify_fd, buf, sizeof(buf));
    char *p;

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* EAGAIN: drained (other errors: the poll reports them) */
    for (p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      p += sizeof(*ev) + ev->len;
      deliver(loop, ev);
    }
  }
  st->armed = 0;
  /* Keep listening only while some handle is started; a later start arms
   * the op again. An fd error would repeat at once, so give up on it. */
  if (op->res >= 0 || op->res == -ECANCELED)
    arm(loop);
}


/* Opens the loop's inotify fd and table on first use. */
static int loop_setup(uv_loop_t *loop) {
  fsev_loop *st;
  int fd;

  if (loop_state(loop) != NULL)
    return 0;
  st = bio__calloc(1, sizeof(*st));
  if (st == NULL)
    return UV_ENOMEM;
  fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    int err = -errno;
    bio__free(st);
    return err;
  }
  loop->inotify_fd = fd;
  loop->inotify_watchers = st;
  memset(loop_op(loop), 0, sizeof(bio_op));
  return 0;
}


void bio__fs_event_loop_close(uv_loop_t *loop) {
  fsev_loop *st;
  size_t i;

  if (loop == NULL || (st = loop_state(loop)) == NULL)
    return;
  /* Every handle is closed by now, so the table is empty but for entries
   * a failed start could not have left; free whatever is there. */
  for (i = 0; i < WATCH_BUCKETS; i++) {
    while (st->buckets[i] != NULL) {
      fsev_watch *w = st->buckets[i];
      st->buckets[i] = w->next;
      bio__free(w);
    }
  }
  /* A poll op still in flight belongs to the backend, which drops it when
   * the core closes without calling back; its memory is the loop's. */
  close(loop->inotify_fd);
  loop->inotify_fd = -1;
  loop->inotify_watchers = NULL;
  bio__free(st);
}


UV_EXTERN int uv_fs_event_init(uv_loop_t *loop, uv_fs_event_t *handle) {
  if (loop == NULL || handle == NULL)
    return UV_EINVAL;
  bio__handle_init(loop, (uv_handle_t *)handle, UV_FS_EVENT);
  handle->path = NULL;
  handle->cb = NULL;
  handle->wd = -1;
  bio__q_init(handle->watchers);
  return 0;
}


/* UV_FS_EVENT_RECURSIVE is accepted and ignored: inotify cannot watch a
 * tree, and libuv on Linux ignores the flag the same way. */
UV_EXTERN int uv_fs_event_start(uv_fs_event_t *handle, uv_fs_event_cb cb,
                                const char *path, unsigned int flags) {
  uv_loop_t *loop;
  fsev_loop *st;
  fsev_watch *w;
  char *copy;
  int wd;
  int err;

  (void)flags;
  if (handle == NULL || cb == NULL || path == NULL)
    return UV_EINVAL;
  if (bio__handle_closing((uv_handle_t *)handle) ||
      (handle->flags & BIO_H_ACTIVE))
    return UV_EINVAL;
  loop = handle->loop;
  err = loop_setup(loop);
  if (err != 0)
    return err;
  st = loop_state(loop);

  copy = bio__strdup(path);
  if (copy == NULL)
    return UV_ENOMEM;
  /* The kernel keys watches by inode: a second path to a watched inode
   * gets the same wd back, so handles share it without our help. */
  wd = inotify_add_watch(loop->inotify_fd, path, WATCH_MASK);
  if (wd < 0) {
    err = -errno;
    bio__free(copy);
    return err;
  }
  w = watch_find(st, wd);
  if (w == NULL) {
    w = bio__calloc(1, sizeof(*w));
    if (w == NULL) {
      (void)inotify_rm_watch(loop->inotify_fd, wd);
      bio__free(copy);
      return UV_ENOMEM;
    }
    w->wd = wd;
    bio__q_init(w->handles);
    w->next = st->buckets[(unsigned)wd & (WATCH_BUCKETS - 1)];
    st->buckets[(unsigned)wd & (WATCH_BUCKETS - 1)] = w;
    st->nwatches++;
  }

  handle->path = copy;
  handle->cb = cb;
  handle->wd = wd;
  bio__q_insert_tail(w->handles, handle->watchers);
  bio__handle_start((uv_handle_t *)handle);
  arm(loop);
  return 0;
}


UV_EXTERN int uv_fs_event_stop(uv_fs_event_t *handle) {
  fsev_loop *st;
  fsev_watch *w;

  if (handle == NULL)
    return UV_EINVAL;
  if (!(handle->flags & BIO_H_ACTIVE))
    return 0;
  st = loop_state(handle->loop);
  assert(st != NULL);
  w = watch_find(st, handle->wd);
  assert(w != NULL);
  /* Unlinking is what keeps a pending event from reaching this handle,
   * even one read in the same turn (see deliver). */
  bio__q_remove(handle->watchers);
  bio__q_init(handle->watchers);
  bio__free(handle->path);
  handle->path = NULL;
  handle->wd = -1;
  bio__handle_stop((uv_handle_t *)handle);
  if (w != NULL)
    watch_release(handle->loop, w);
  /* The poll op stays armed: it keeps no handle or request alive, and the
   * next event after the last watch goes simply lets it lapse. */
  return 0;
}


void bio__fs_event_close(uv_fs_event_t *handle) { uv_fs_event_stop(handle); }


UV_EXTERN int uv_fs_event_getpath(uv_fs_event_t *handle, char *buffer,
                                  size_t *size) {
  size_t len;

  if (handle == NULL || size == NULL)
    return UV_EINVAL;
  if (!(handle->flags & BIO_H_ACTIVE) || handle->path == NULL) {
    *size = 0;
    return UV_EINVAL;
  }
  /* libuv's sizing rule: too small a buffer fails with the size needed,
   * terminator included; success reports the length without it. */
  len = strlen(handle->path);
  if (buffer == NULL || len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, handle->path, len + 1);
  *size = len;
  return 0;
}
