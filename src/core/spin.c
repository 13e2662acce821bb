/* The default idle policy (bio__spin_policy): about to block, a loop
 * spins for a while instead when it expects an event soon, unless other
 * threads want its CPUs (contention.c). The loop's reap asks before it
 * blocks (before_block) and reports the idle gap that followed
 * (after_idle); an owner may install another policy, or none
 * (bio__loop_set_idle_policy). The state lives in bio_loop's spin
 * fields: spin_ns, io_skip, io_backoff, spun_io, the spins_* counters. */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "core/core.h"

/* At most this many idle turns sleep between two tries of an I/O spin. */
#define SPIN_BACKOFF_MAX 64u
/* A spin that saw its clock jump this far between two looks was
 * preempted (spin_before_sleep). */
#define SPIN_PREEMPTED_NS 200000u


/* Whether a spin due now is skipped: other threads want our CPUs
 * (contention.c). The skipped turn sleeps at once; its idle gap is still
 * measured, so the loop spins again when contention ends and the gaps
 * are short. */
static int spin_held_off(bio_loop *loop, uint64_t now_ns) {
  if (loop->spin_always || !bio__cpu_contended(now_ns))
    return 0;
  loop->spins_contended++;
  return 1;
}


/* About to sleep, the loop may spin instead, for up to spin_ns:
 * - while pool jobs of ours run: a short job (libuv's queue_work
 *   benchmark: an empty one) comes back within microseconds;
 * - when its recent idle gaps were short (io_skip, adapt_spin) and the
 *   backend can watch for completions without a syscall (ready): a peer
 *   on the other CPU answering our last send (a request/response client,
 *   libuv's pound and ping-pong benchmarks) often does within
 *   microseconds too.
 * Catching the event spinning saves the sleep, the wake-up, and the
 * cross-CPU interrupt that wake-up costs whoever completed our op: on a
 * saturated peer CPU that is the bigger half. While we spin, wakes write
 * no eventfd; they hand over through posted or a wake client's busy,
 * which we watch. Returns 1 when something arrived. */
int bio__spin_until(int (*found)(void *arg), void *arg, unsigned relax,
                    uint64_t start_ns, uint64_t until_ns, int through_preempt) {
  uint64_t last = start_ns;
  unsigned i, k;

  for (i = 1;; i++) {
    if (found(arg))
      return 1;
    for (k = 0; k < relax; k++)
      bio__cpu_relax();
    if ((i * relax) % 16 < relax) {
      uint64_t t = bio__clock_ns();
      /* Sixteen pauses take a microsecond or two: a much longer gap
       * means the CPU went to someone else meanwhile. Stop, and let no
       * spin take it from them for a while. */
      if (t - last > SPIN_PREEMPTED_NS && !through_preempt) {
        bio__cpu_note_preempted(t);
        return -1;
      }
      if (t >= until_ns)
        return 0;
      last = t;
    }
  }
}


typedef struct spin_watch {
  bio_loop *loop;
  int watch_io;
} spin_watch;

static int spin_found(void *arg) {
  spin_watch *w = arg;
  return bio__loop_handed_over(w->loop) ||
         (w->watch_io && w->loop->backend->ready(w->loop));
}

static int spin_before_sleep(bio_loop *loop, int64_t timeout_ns,
                             int watch_io, uint64_t start) {
  uint64_t limit = loop->spin_ns;
  spin_watch w = {loop, watch_io};

  if (timeout_ns > 0 && (uint64_t)timeout_ns < limit)
    limit = (uint64_t)timeout_ns;
  atomic_store(&loop->spinning, 1);
  if (bio__spin_until(spin_found, &w, 1, start, start + limit,
                      loop->spin_always) < 0)
    loop->spins_preempted++;
  atomic_store(&loop->spinning, 0);
  /* A wake that saw us spinning wrote nothing: look once more. */
  return spin_found(&w);
}


/* After an idle gap (from the start of a spin or sleep to the event that
 * ended it): a short one means spin next time. A spin that caught its
 * event keeps the loop spinning; one that missed makes it sleep through
 * the next 1, 2, 4 ... SPIN_BACKOFF_MAX idle turns before it tries again,
 * unless one of those sleeps turns out short itself. A slept gap counts
 * the wake-up too, so it reads longer than the peer's real answer time:
 * the tries find what the sleeps can't show. */
static void adapt_spin(bio_loop *loop, int spun, uint64_t gap_ns) {
  if (gap_ns < loop->spin_ns) {
    loop->io_skip = 0;
    loop->io_backoff = 0;
  } else if (spun) {
    loop->io_backoff = loop->io_backoff == 0 ? 1
                       : loop->io_backoff >= SPIN_BACKOFF_MAX
                           ? SPIN_BACKOFF_MAX
                           : loop->io_backoff * 2;
    loop->io_skip = loop->io_backoff;
  } else if (loop->io_skip > 0) {
    loop->io_skip--;
  }
}


/* The policy's first half: spin when pool jobs of ours run (their posts
 * come back soon), or when recent idle gaps were short and the backend
 * can watch for completions without a syscall (ready). Returns 1 when
 * something arrived while it spun. */
static int spin_before_block(bio_loop *loop, int64_t timeout_ns,
                             uint64_t now_ns) {
  int io;

  loop->spun_io = 0;
  if (loop->spin_ns == 0)
    return 0;
  io = loop->backend->ready != NULL && loop->io_skip == 0;
  if ((!io && atomic_load_explicit(&loop->posts_expected,
                                   memory_order_relaxed) <= 0) ||
      loop->backend->busy(loop) || spin_held_off(loop, now_ns))
    return 0;
  loop->spun_io = io;
  if (spin_before_sleep(loop, timeout_ns, io, now_ns)) {
    loop->spins_caught++;
    return 1;
  }
  loop->spins_missed++;
  return 0;
}


static void spin_after_idle(bio_loop *loop, uint64_t gap_ns) {
  if (loop->spin_ns != 0 && loop->backend->ready != NULL)
    adapt_spin(loop, loop->spun_io, gap_ns);
}


const bio_idle_policy bio__spin_policy = {
    .before_block = spin_before_block,
    .after_idle = spin_after_idle,
};
