/* uv_signal_t. Signal dispositions belong to the process, so this file
 * keeps the one process-wide table the compat layer has (the exception to
 * "no globals"): a slot per loop that watches signals, saying which ones
 * and how many arrived. The handler counts a signal in every slot that
 * watches it and wakes that loop through its core wake (an eventfd write,
 * async-signal-safe); the loop thread then runs its own handles'
 * callbacks in the poll phase. No pipe per loop, and nothing to rebuild
 * at uv_loop_fork: the core already gives the child a fresh wake fd. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#include "loop.h"

/* Signals 1..SIG_LAST; glibc's NSIG is one more than the last. */
#define SIG_LAST (NSIG - 1)
/* Loops with signal handles at once; one more gets UV_ENOMEM. */
#define SLOTS_MAX 128

/* Our bit in uv_handle_t.flags (above internal.h's). */
#define SIG_ONESHOT (1u << 8)

_Static_assert(SIG_LAST <= 64, "a slot's masks hold one bit per signal");
_Static_assert(sizeof(((uv_signal_t *)0)->tree_entry) >= sizeof(bio_qlink),
               "uv_signal_t.tree_entry holds our list link");

typedef struct sig_slot {
  _Atomic(bio_loop *) core; /* NULL: free */
  _Atomic uint64_t watched; /* bit signum - 1: the loop has a handle */
  _Atomic uint64_t pending; /* bit signum - 1: caught, not delivered */
  atomic_uint caught[SIG_LAST + 1];
  /* Started handles of the loop per signal (its thread, table_lock). A
   * count, not a walk of the loop's list: deliver() detaches that list
   * while callbacks run. */
  int handles[SIG_LAST + 1];
} sig_slot;

/* Process-wide by nature (see the top of the file). The handler reads
 * slots lock-free; writers (loop threads) take table_lock. A slot is
 * given up by clearing core and then waiting until no handler runs, so a
 * handler never wakes a loop that is gone (both sides are seq_cst). */
static sig_slot slots[SLOTS_MAX];
static atomic_int handlers_running;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
/* Started handles per signal over all loops: our handler is installed
 * while this is nonzero. Under table_lock. */
static int users[SIG_LAST + 1];

#define LINK(h) ((void **)(void *)&(h)->tree_entry)


static inline uint64_t bit(int signum) {
  return (uint64_t)1 << (signum - 1);
}


static void on_signal(int signum) {
  int saved_errno = errno;
  int i;

  atomic_fetch_add(&handlers_running, 1);
  for (i = 0; i < SLOTS_MAX; i++) {
    sig_slot *s = &slots[i];
    bio_loop *core = atomic_load(&s->core);
    if (core == NULL || !(atomic_load(&s->watched) & bit(signum)))
      continue;
    atomic_fetch_add(&s->caught[signum], 1);
    atomic_fetch_or(&s->pending, bit(signum));
    bio__loop_wake_now(core);
  }
  atomic_fetch_sub(&handlers_running, 1);
  errno = saved_errno;
}


/* A fork child has one thread: a lock some other thread of the parent
 * held would never be released there. */
static void atfork_child(void) {
  pthread_mutex_init(&table_lock, NULL);
  atomic_store(&handlers_running, 0);
}


static void register_atfork(void) {
  pthread_atfork(NULL, NULL, atfork_child);
}


/* Installs (on) or removes our handler for signum. The handler runs with
 * every signal blocked so it never nests on one thread, and restarts
 * interrupted calls as libuv's does. Removing restores the default, as
 * libuv does, whatever was there before the first handle started. */
static int set_disposition(int signum, int on) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  if (sigfillset(&sa.sa_mask) != 0)
    return -errno;
  sa.sa_handler = on ? on_signal : SIG_DFL;
  sa.sa_flags = on ? SA_RESTART : 0;
  if (sigaction(signum, &sa, NULL) != 0)
    return -errno;
  return 0;
}


/* The loop's slot, taken on first use. Under table_lock. */
static sig_slot *loop_slot(uv_loop_t *loop) {
  bio_uv_loop *ul = bio__uv(loop);
  int i;

  if (ul->signal.slot != 0)
    return &slots[ul->signal.slot - 1];
  for (i = 0; i < SLOTS_MAX; i++) {
    sig_slot *s = &slots[i];
    int n;
    if (atomic_load(&s->core) != NULL)
      continue;
    atomic_store(&s->watched, 0);
    atomic_store(&s->pending, 0);
    for (n = 0; n <= SIG_LAST; n++) {
      atomic_store(&s->caught[n], 0);
      s->handles[n] = 0;
    }
    atomic_store(&s->core, &ul->core);
    ul->signal.slot = i + 1;
    return s;
  }
  return NULL;
}


static void **loop_list(uv_loop_t *loop) {
  return bio__uv(loop)->signal.handles; /* set up by uv_loop_init */
}


UV_EXTERN int uv_signal_init(uv_loop_t *loop, uv_signal_t *handle) {
  if (loop == NULL || handle == NULL || loop->internal_fields == NULL)
    return UV_EINVAL;
  pthread_once(&atfork_once, register_atfork);
  bio__handle_init(loop, (uv_handle_t *)handle, UV_SIGNAL);
  handle->signal_cb = NULL;
  handle->signum = 0;
  memset(&handle->tree_entry, 0, sizeof(handle->tree_entry));
  handle->caught_signals = 0;
  handle->dispatched_signals = 0;
  return 0;
}


static int signal_ok(const uv_signal_t *h) {
  return h != NULL && h->type == UV_SIGNAL && h->loop != NULL;
}


UV_EXTERN int uv_signal_stop(uv_signal_t *handle) {
  uv_loop_t *loop;
  sig_slot *s;
  int signum;

  if (!signal_ok(handle))
    return UV_EINVAL;
  if (!(handle->flags & BIO_H_ACTIVE))
    return 0;
  loop = handle->loop;
  signum = handle->signum;
  bio__q_remove(LINK(handle));
  handle->signum = 0;
  handle->flags &= ~SIG_ONESHOT;
  bio__handle_stop((uv_handle_t *)handle);

  pthread_mutex_lock(&table_lock);
  s = &slots[bio__uv(loop)->signal.slot - 1];
  if (--s->handles[signum] == 0)
    atomic_fetch_and(&s->watched, ~bit(signum));
  if (--users[signum] == 0)
    (void)set_disposition(signum, 0);
  pthread_mutex_unlock(&table_lock);
  return 0;
}


static int start(uv_signal_t *handle, uv_signal_cb cb, int signum,
                 int oneshot) {
  uv_loop_t *loop;
  sig_slot *s;
  int err;

  if (!signal_ok(handle) || bio__handle_closing((uv_handle_t *)handle))
    return UV_EINVAL;
  if (signum <= 0 || signum > SIG_LAST)
    return UV_EINVAL;
  /* Same signal: only the callback and the mode change. */
  if ((handle->flags & BIO_H_ACTIVE) && handle->signum == signum) {
    handle->signal_cb = cb;
    handle->flags = oneshot ? (handle->flags | SIG_ONESHOT)
                            : (handle->flags & ~SIG_ONESHOT);
    return 0;
  }
  if (handle->flags & BIO_H_ACTIVE)
    uv_signal_stop(handle);

  loop = handle->loop;
  pthread_mutex_lock(&table_lock);
  s = loop_slot(loop);
  if (s == NULL) {
    pthread_mutex_unlock(&table_lock);
    return UV_ENOMEM;
  }
  if (users[signum] == 0) {
    err = set_disposition(signum, 1);
    if (err != 0) {
      pthread_mutex_unlock(&table_lock);
      return err; /* SIGKILL, SIGSTOP: EINVAL from the kernel */
    }
  }
  users[signum]++;
  if (s->handles[signum]++ == 0)
    atomic_fetch_or(&s->watched, bit(signum));
  pthread_mutex_unlock(&table_lock);

  handle->signum = signum;
  handle->signal_cb = cb;
  if (oneshot)
    handle->flags |= SIG_ONESHOT;
  else
    handle->flags &= ~SIG_ONESHOT;
  bio__q_insert_tail(loop_list(loop), LINK(handle));
  bio__handle_start((uv_handle_t *)handle);
  return 0;
}


UV_EXTERN int uv_signal_start(uv_signal_t *handle, uv_signal_cb signal_cb,
                              int signum) {
  return start(handle, signal_cb, signum, 0);
}


UV_EXTERN int uv_signal_start_oneshot(uv_signal_t *handle,
                                      uv_signal_cb signal_cb, int signum) {
  return start(handle, signal_cb, signum, 1);
}


void bio__signal_close(uv_signal_t *h) { uv_signal_stop(h); }


/* n arrivals of signum: each started handle for it gets n callbacks (a
 * oneshot one, one), in start order. Callbacks may stop, close or start
 * any handle, so walk a detached list and put each handle back before
 * its callbacks run. */
static void deliver(uv_loop_t *loop, int signum, unsigned int n) {
  void **head = loop_list(loop);
  bio_qlink rest;

  bio__q_move(head, rest);
  while (!bio__q_empty(rest)) {
    void **q = bio__q_next(rest);
    uv_signal_t *h = bio_container_of((void *)q, uv_signal_t, tree_entry);
    unsigned int i;

    bio__q_remove(q);
    bio__q_insert_tail(head, q);
    for (i = 0; i < n; i++) {
      if (!(h->flags & BIO_H_ACTIVE) || h->signum != signum)
        break;
      h->caught_signals++;
      h->dispatched_signals++;
      if (h->flags & SIG_ONESHOT) {
        uv_signal_cb cb = h->signal_cb;
        uv_signal_stop(h); /* libuv stops a oneshot before its callback */
        if (cb != NULL)
          cb(h, signum);
        break;
      }
      if (h->signal_cb != NULL)
        h->signal_cb(h, signum);
    }
  }
}


void bio__signal_dispatch(uv_loop_t *loop) {
  bio_uv_loop *ul = bio__uv(loop);
  sig_slot *s;
  uint64_t todo;
  int signum;

  if (ul->signal.slot == 0)
    return;
  s = &slots[ul->signal.slot - 1];
  todo = atomic_exchange(&s->pending, 0);
  for (signum = 1; todo != 0 && signum <= SIG_LAST; signum++) {
    unsigned int n;
    if (!(todo & bit(signum)))
      continue;
    todo &= ~bit(signum);
    n = atomic_exchange(&s->caught[signum], 0);
    if (n != 0)
      deliver(loop, signum, n);
  }
}


void bio__signal_loop_close(uv_loop_t *loop) {
  bio_uv_loop *ul = bio__uv(loop);
  sig_slot *s;

  /* The SIGCHLD watcher spawn started is internal: uv_loop_close let it
   * through, so it is ours to stop and unlink. */
  if (loop->child_watcher.type == UV_SIGNAL) {
    uv_signal_stop(&loop->child_watcher);
    bio__q_remove(loop->child_watcher.handle_queue);
    memset(&loop->child_watcher, 0, sizeof(loop->child_watcher));
  }
  if (ul->signal.slot == 0)
    return;
  s = &slots[ul->signal.slot - 1];
  pthread_mutex_lock(&table_lock);
  atomic_store(&s->watched, 0);
  atomic_store(&s->core, NULL);
  ul->signal.slot = 0;
  pthread_mutex_unlock(&table_lock);
  /* A handler that read core before we cleared it may still be waking. */
  while (atomic_load(&handlers_running) != 0)
    sched_yield();
}
