/* Hierarchical timing wheel: O(1) start and stop, expiry in libuv's order
 * (due time, then start order). Entries are embedded in their owners
 * (a uv_timer_t's private area, later a task frame); the wheel allocates
 * nothing. Time is in milliseconds, the resolution of libuv's loop clock. */
#ifndef BIO_CORE_WHEEL_H
#define BIO_CORE_WHEEL_H

#include <stddef.h>
#include <stdint.h>

/* 11 levels of 64 slots cover every 64-bit due time, so there is no
 * overflow list: a timer due at UINT64_MAX simply sits in the top level. */
#define BIO_WHEEL_LEVELS 11
#define BIO_WHEEL_SLOTS 64

typedef struct bio_timer bio_timer;

/* 32 bytes: fits the heap_node[3] + timeout area of a uv_timer_t. */
struct bio_timer {
  bio_timer *next;
  bio_timer *prev; /* NULL while not in the wheel */
  uint64_t due_ms;
  uint64_t seq; /* start order; assigned by bio_wheel_add */
};

typedef struct bio_timer_list {
  bio_timer *head;
  bio_timer *tail;
} bio_timer_list;

typedef struct bio_wheel {
  uint64_t elapsed_ms; /* the wheel has processed every time < elapsed_ms */
  uint64_t next_seq;
  size_t count;
  /* Exact earliest due time while next_due_valid; dropped when the timer
   * holding it leaves, so next_due rarely has to scan a slot. */
  uint64_t next_due_ms;
  int next_due_valid;
  uint64_t occupied[BIO_WHEEL_LEVELS]; /* bit s set: slot s non-empty */
  bio_timer_list ready;                /* expired, in (due, seq) order */
  bio_timer_list slots[BIO_WHEEL_LEVELS][BIO_WHEEL_SLOTS];
} bio_wheel;

void bio__wheel_init(bio_wheel *w, uint64_t now_ms);
/* Inserts t, due at due_ms (>= the last now_ms passed to pop). Gives t a
 * start-order number larger than any given before. t must not be active. */
void bio__wheel_add(bio_wheel *w, bio_timer *t, uint64_t due_ms);
/* Removes t if it is in the wheel; a no-op otherwise. */
void bio__wheel_remove(bio_wheel *w, bio_timer *t);
static inline int bio__timer_active(const bio_timer *t) {
  return t->prev != NULL;
}
/* Removes and returns the expired timer (due_ms <= now_ms) that is first in
 * (due_ms, seq) order, or NULL when none has expired. now_ms never goes
 * backwards between calls. Timers added while popping (for example from a
 * callback) are seen by the next call. */
bio_timer *bio__wheel_pop(bio_wheel *w, uint64_t now_ms);
/* The same, but only a timer started (added) before the one that got
 * seq_limit: with seq_limit = next_seq taken before a pass, the timers a
 * pass's callbacks (re)start wait for the next pass. Those sort after
 * every timer that was due when the pass began (due no earlier, seq
 * larger), so stopping at the first of them leaves none of the others. */
bio_timer *bio__wheel_pop_before(bio_wheel *w, uint64_t now_ms,
                                 uint64_t seq_limit);
/* Earliest due time of any timer in the wheel, UINT64_MAX when empty. */
uint64_t bio__wheel_next_due(bio_wheel *w);
static inline size_t bio__wheel_count(const bio_wheel *w) { return w->count; }

#endif
