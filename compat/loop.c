/* uv_run's phases in libuv 1.46+'s order (pending, idle, prepare, poll,
 * check, closing, timers; in UV_RUN_DEFAULT timers before the first turn
 * too), plus the loop's small accessors and uv_walk. */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "core/settings.h"
#include "fs.h"
#include "loop.h"

_Static_assert(sizeof(uv_loop_t) >= sizeof(void *) * 8,
               "uv_loop_t is libuv's size; our state lives behind "
               "internal_fields, not in it");

static uv_loop_t default_loop_storage;
static uv_loop_t *default_loop; /* process-wide by libuv's contract */


/* libuv's loop clock is CLOCK_MONOTONIC_COARSE when that ticks at least
 * every millisecond (cheaper: no vDSO page read of the TSC), else the
 * precise clock. Decided once per process. */
uint64_t bio__loop_clock_ms(void) {
  static clockid_t id = (clockid_t)-1;
  struct timespec ts;

  if (id == (clockid_t)-1) {
    struct timespec res;
    clockid_t pick = CLOCK_MONOTONIC;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
        res.tv_nsec <= 1000000)
      pick = CLOCK_MONOTONIC_COARSE;
    id = pick;
  }
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}


/* The core's wake: caught signals first (signal.c counts them and wakes
 * us), then the async handles that were sent. */
static void loop_woken(bio_loop *core, void *arg) {
  bio__signal_dispatch(arg);
  bio__async_wake(core, arg);
}


/* Async handles sent: the core asks before it blocks, as sends that came
 * while the loop was awake wrote no eventfd. (Signals always write it:
 * their callbacks keep libuv's timing, from the wake read of a later
 * turn.) */
static int loop_has_wakes(void *arg) {
  uv_loop_t *loop = arg;
  return atomic_load(&bio__uv(loop)->async.stack) != NULL;
}


static void quiet_trim(void *arg) {
  (void)arg;
  bio__heap_trim();
}


UV_EXTERN int uv_loop_init(uv_loop_t *loop) {
  bio_uv_loop *ul;
  void *saved_data;
  int err;

  if (loop == NULL)
    return UV_EINVAL;
  ul = bio__calloc(1, sizeof(*ul));
  if (ul == NULL)
    return UV_ENOMEM;

  /* data belongs to the user, who may set it before init (libuv keeps it). */
  saved_data = loop->data;
  memset(loop, 0, sizeof(*loop));
  loop->data = saved_data;
  loop->internal_fields = ul;
  bio__q_init(loop->handle_queue);
  bio__q_init(loop->pending_queue);
  bio__q_init(loop->watcher_queue);
  bio__q_init(loop->prepare_handles);
  bio__q_init(loop->check_handles);
  bio__q_init(loop->idle_handles);
  bio__q_init(loop->async_handles);
  bio__q_init(loop->process_handles);
  bio__q_init(loop->wq);
  loop->closing_handles = NULL;
  loop->backend_fd = -1;
  loop->emfile_fd = -1;
  loop->signal_pipefd[0] = -1;
  loop->signal_pipefd[1] = -1;
  loop->async_wfd = -1;
  loop->time = bio__loop_clock_ms();

  err = bio__loop_init(&ul->core, loop->time);
  if (err != 0) {
    bio__free(ul);
    loop->internal_fields = NULL;
    return err;
  }
  atomic_init(&ul->async.stack, NULL);
  bio__q_init(ul->signal.handles);
  ul->wake.cb = loop_woken;
  ul->wake.busy = loop_has_wakes;
  ul->wake.arg = loop;
  bio__loop_add_wake_client(&ul->core, &ul->wake);
  /* A server that has gone quiet gives back the heap memory its last
   * burst freed, as a task runtime's idle workers would. */
  if (bio__settings()->heap_trim)
    bio__loop_set_quiet_cb(&ul->core, quiet_trim, NULL);
  return 0;
}


UV_EXTERN int uv_loop_close(uv_loop_t *loop) {
  bio_uv_loop *ul;
  void **q;

  if (loop == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;
  /* Requests in flight (pool work, fs) still point at the loop. */
  if (loop->active_reqs.count != 0)
    return UV_EBUSY;
  /* Every user handle must be closed, and its close callback run. */
  for (q = bio__q_next(loop->handle_queue); q != (void **)loop->handle_queue;
       q = bio__q_next(q)) {
    uv_handle_t *h = bio__q_data(q, uv_handle_t, handle_queue);
    if (!(h->flags & BIO_H_INTERNAL))
      return UV_EBUSY;
  }
  if (loop->closing_handles != NULL)
    return UV_EBUSY;
  /* Tasks still live on it (bio_rt_new_uv). */
  if (bio__core(loop)->guest != NULL)
    return UV_EBUSY;

  ul = bio__uv(loop);
  /* Before the core goes: a signal handler may be about to wake it. */
  bio__signal_loop_close(loop);
  bio__loop_close(&ul->core);
  bio__fs_event_loop_close(loop);
  bio__free(ul->async.sort_buf);
  if (loop->emfile_fd != -1) { /* listeners' spare (stream.c) */
    close(loop->emfile_fd);
    loop->emfile_fd = -1;
  }
  bio__free(ul);
  loop->internal_fields = NULL;
  loop->backend_fd = -1;
  if (loop == default_loop)
    default_loop = NULL;
  return 0;
}


UV_EXTERN uv_loop_t *uv_default_loop(void) {
  if (default_loop != NULL)
    return default_loop;
  if (uv_loop_init(&default_loop_storage) != 0)
    return NULL;
  default_loop = &default_loop_storage;
  return default_loop;
}


UV_EXTERN uv_loop_t *uv_loop_new(void) {
  uv_loop_t *loop = bio__malloc(sizeof(*loop));
  if (loop == NULL)
    return NULL;
  memset(loop, 0, sizeof(*loop));
  if (uv_loop_init(loop) != 0) {
    bio__free(loop);
    return NULL;
  }
  return loop;
}


UV_EXTERN void uv_loop_delete(uv_loop_t *loop) {
  uv_loop_t *dflt = default_loop;
  int err;

  if (loop == NULL)
    return;
  err = uv_loop_close(loop);
  (void)err;
  assert(err == 0);
  if (loop != dflt)
    bio__free(loop);
}


UV_EXTERN size_t uv_loop_size(void) { return sizeof(uv_loop_t); }


/* The core's idle meter: the time each turn spent spinning or blocked. */
static void meter_idle(void *arg, uint64_t ns) {
  ((bio_uv_loop *)arg)->metrics.idle_ns += ns;
}


UV_EXTERN int uv_loop_configure(uv_loop_t *loop, uv_loop_option option, ...) {
  va_list ap;
  int sig;

  if (loop == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;
  switch (option) {
  case UV_LOOP_BLOCK_SIGNAL:
    va_start(ap, option);
    sig = va_arg(ap, int);
    va_end(ap);
    /* libuv supports SIGPROF only: profilers' timer signals would
     * otherwise cut every wait short. */
    if (sig != SIGPROF)
      return UV_EINVAL;
    bio__core(loop)->block_sigprof = 1;
    return 0;
  case UV_METRICS_IDLE_TIME:
    bio__uv(loop)->metrics.track_idle = 1;
    bio__loop_set_idle_meter(bio__core(loop), meter_idle, bio__uv(loop));
    return 0;
  case UV_LOOP_USE_IO_URING_SQPOLL:
    /* libuv's io_uring ring (file ops only) would get a kernel polling
     * thread. Ours serves every op and sizes its own waits, so the option
     * is taken and changes nothing (as on libuv where the kernel is too
     * old for it). */
    return 0;
  default:
    return UV_ENOSYS;
  }
}


UV_EXTERN int uv_loop_fork(uv_loop_t *loop) {
  if (loop == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;
  return bio__loop_fork(bio__core(loop));
}


UV_EXTERN void *uv_loop_get_data(const uv_loop_t *loop) { return loop->data; }


UV_EXTERN void uv_loop_set_data(uv_loop_t *loop, void *data) {
  loop->data = data;
}


UV_EXTERN uint64_t uv_now(const uv_loop_t *loop) { return loop->time; }


UV_EXTERN void uv_update_time(uv_loop_t *loop) {
  loop->time = bio__loop_clock_ms();
}


UV_EXTERN void uv_stop(uv_loop_t *loop) { loop->stop_flag = 1; }


UV_EXTERN int uv_metrics_info(uv_loop_t *loop, uv_metrics_t *metrics) {
  bio_uv_loop *u;
  if (loop == NULL || loop->internal_fields == NULL || metrics == NULL)
    return UV_EINVAL;
  u = bio__uv(loop);
  memset(metrics, 0, sizeof(*metrics));
  metrics->loop_count = u->metrics.loop_count;
  metrics->events = u->metrics.events;
  metrics->events_waiting = u->metrics.events_waiting;
  return 0;
}


UV_EXTERN uint64_t uv_metrics_idle_time(uv_loop_t *loop) {
  if (loop == NULL || loop->internal_fields == NULL)
    return 0;
  return bio__uv(loop)->metrics.idle_ns;
}


static int loop_alive(const uv_loop_t *loop) {
  return loop->active_handles > 0 || loop->active_reqs.count > 0 ||
         loop->closing_handles != NULL ||
         (loop->internal_fields != NULL && bio__guest_alive(bio__core(loop)));
}


UV_EXTERN int uv_loop_alive(const uv_loop_t *loop) { return loop_alive(loop); }


/* How long the poll phase may block, by libuv's rules. */
static int poll_timeout(const uv_loop_t *loop) {
  if (loop->stop_flag != 0)
    return 0;
  if (loop->active_handles == 0 && loop->active_reqs.count == 0 &&
      !bio__guest_alive(bio__core(loop)))
    return 0;
  if (bio__guest_ready(bio__core(loop)))
    return 0; /* tasks to run */
  if (!bio__q_empty((void **)loop->idle_handles))
    return 0;
  if (loop->closing_handles != NULL)
    return 0;
  return bio__next_timeout(loop);
}


UV_EXTERN int uv_backend_timeout(const uv_loop_t *loop) {
  if (loop->internal_fields != NULL && bio__loop_busy(bio__core(loop)))
    return 0; /* work is queued that the backend fd does not show yet */
  return poll_timeout(loop);
}


UV_EXTERN int uv_backend_fd(const uv_loop_t *loop) {
  if (loop->internal_fields == NULL)
    return -1;
  return bio__loop_backend_fd(bio__core(loop));
}


static void finish_close(uv_handle_t *h) {
  assert(h->flags & BIO_H_CLOSING);
  assert(!(h->flags & BIO_H_CLOSED));
  h->flags |= BIO_H_CLOSED;
  bio__q_remove(h->handle_queue);
  if (h->close_cb != NULL)
    h->close_cb(h);
}


static void run_closing(uv_loop_t *loop) {
  uv_handle_t *h;

  bio__async_purge(loop);
  h = loop->closing_handles;
  loop->closing_handles = NULL;
  /* The list is newest-first, and libuv runs close callbacks in that
   * order; close_order and friends depend on it. */
  while (h != NULL) {
    uv_handle_t *next = h->next_closing;
    finish_close(h);
    h = next;
  }
}


static void poll_io(uv_loop_t *loop, int timeout_ms) {
  bio_loop *core = bio__core(loop);
  int n;

  /* A wait that fails (say ENOMEM) is retried at the next turn; libuv
   * aborts there, which we would rather not. */
  n = bio__loop_reap(core, timeout_ms);
  (void)n;
  bio__uv(loop)->metrics.loop_count++;
  /* A new batch of callbacks (stream.c's send_op_ok). */
  bio__uv(loop)->stream.writers = 0;
  bio__uv(loop)->stream.last_writer = NULL;
  /* Even a zero timeout may have taken a while: callbacks see fresh time. */
  uv_update_time(loop);
  n = bio__loop_dispatch(core);
  bio__uv(loop)->metrics.events += (uint64_t)n;
  if (bio__uv(loop)->metrics.track_idle && core->reap_found_ready)
    bio__uv(loop)->metrics.events_waiting += (uint64_t)n;
  /* Sends that came while we were awake wrote no eventfd (the core looked
   * for them before any blocking wait, through loop_has_wakes): run them. */
  if (loop_has_wakes(loop))
    bio__async_wake(core, loop);
}


UV_EXTERN int uv_run(uv_loop_t *loop, uv_run_mode mode) {
  int alive;
  int timeout;
  int can_sleep;
  int i;

  alive = loop_alive(loop);
  if (!alive)
    uv_update_time(loop);
  /* libuv 1.46 on runs the timers at the end of each turn, after the
   * poll (and, in UV_RUN_DEFAULT only, once before the first turn). */
  if (mode == UV_RUN_DEFAULT && alive && loop->stop_flag == 0) {
    uv_update_time(loop);
    bio__run_timers(loop);
  }

  while (alive && loop->stop_flag == 0) {
    can_sleep = bio__q_empty(loop->idle_handles);
    bio__run_idle(loop);
    bio__run_prepare(loop);

    timeout = 0;
    if (mode == UV_RUN_DEFAULT || (mode == UV_RUN_ONCE && can_sleep))
      timeout = poll_timeout(loop);
    poll_io(loop, timeout);

    /* Callbacks queued by the poll phase get a few more chances before
     * the check phase, as libuv 1.44 runs its pending queue: our ops
     * deferred or completed during the poll's callbacks (write and send
     * callbacks, errors, the final completions of armed ops cancelled
     * there). A ping-pong then takes one wait per round trip, not two. */
    for (i = 0; i < 8; i++) {
      /* Dispatch hands its callbacks' cancels to the kernel; these are
       * those of callbacks run outside it (async handles woken while the
       * loop was awake), so that a stream closed there closes in this
       * turn too, as in libuv. */
      bio__loop_flush_cancels(bio__core(loop));
      if (bio__core(loop)->completed.head == NULL)
        break;
      bio__loop_dispatch(bio__core(loop));
    }

    /* Tasks on this loop (bio_rt_new_uv) run after the I/O callbacks
     * that woke them, before the check phase. */
    if (bio__core(loop)->guest != NULL)
      bio__core(loop)->guest->run(bio__core(loop)->guest_arg);

    bio__run_check(loop);
    run_closing(loop);

    uv_update_time(loop);
    bio__run_timers(loop);
    alive = loop_alive(loop);
    if (mode == UV_RUN_ONCE || mode == UV_RUN_NOWAIT)
      break;
  }
  if (loop->stop_flag != 0)
    loop->stop_flag = 0;
  return alive;
}


UV_EXTERN void uv_walk(uv_loop_t *loop, uv_walk_cb walk_cb, void *arg) {
  bio_qlink snapshot;
  void **q;

  /* A callback may close (and so unlink) handles while we walk: walk a
   * detached list, putting each handle back before its callback. */
  bio__q_move(loop->handle_queue, snapshot);
  while (!bio__q_empty(snapshot)) {
    uv_handle_t *h;
    q = bio__q_next(snapshot);
    h = bio__q_data(q, uv_handle_t, handle_queue);
    bio__q_remove(q);
    bio__q_insert_tail(loop->handle_queue, q);
    if (!(h->flags & BIO_H_INTERNAL))
      walk_cb(h, arg);
  }
}


/* Not libuv: the core loop under a uv loop, for the task runtime
 * (bio_rt_new_uv finds it with dlsym), or NULL. */
UV_EXTERN void *bio_uv_loop_core(void *uv_loop) {
  uv_loop_t *loop = uv_loop;
  if (loop == NULL || loop->internal_fields == NULL)
    return NULL;
  return bio__core(loop);
}


/* Not libuv: tells which backend a loop runs on ("uring", "epoll"). */
UV_EXTERN const char *bio_uv_loop_backend(const void *uv_loop) {
  const uv_loop_t *loop = uv_loop;
  if (loop == NULL || loop->internal_fields == NULL)
    return NULL;
  return bio__core(loop)->backend->name;
}
