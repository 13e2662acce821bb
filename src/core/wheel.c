/* The hierarchical timing wheel behind uv_timer_t and task deadlines. A
 * timer's place follows from its due time and the wheel's clock alone, so
 * start and stop are O(1) with no back pointer, and expiry comes out in
 * libuv's (due, start order) without any sorting. */

#include "wheel.h"

#include <assert.h>

/* Placement rule. Let e = elapsed_ms and d = a timer's due time.
 *   d == e: the ready list.
 *   else:   level k = msb(d ^ e) / 6, slot (d >> 6k) & 63.
 * So a level-k timer agrees with e on every digit (6-bit group) above k and,
 * being later than e, has a larger digit k. Three things follow:
 *  - every level-k timer is due before every level-(k+1) timer;
 *  - within a level, slot index order is time order (no wrap-around), so
 *    the earliest timer is in the lowest set bit of the lowest non-empty
 *    level;
 *  - a timer's list can be recomputed from (d, e), which is how remove
 *    finds the list head it may have to update.
 *
 * The rule must survive every change of e. Pop only moves e forward to a
 * time T such that (k being the lowest non-empty level, s its first
 * occupied slot, S the start of slot s) e <= T <= S and the ready list is
 * empty. [e, S] lies inside one aligned block of 2^(6(k+1)) ms, so T shares
 * e's digits above k, and T's digit k is <= s. A timer at a level j > k
 * therefore still differs from T first in digit j; a timer in another slot
 * of level k still differs from T first in digit k. Only slot s itself can
 * change (when T == S) and pop re-places its timers. Levels below k are
 * empty. Pop uses T = S to cascade and T = now once nothing more expires.
 *
 * Order rule: every list is sorted by seq. A cascade from level k only
 * happens when the ready list and all levels below k are empty, so it fills
 * empty lists, in the (sorted) order of the source slot; any later direct
 * add has a larger seq than every timer already in the wheel. Appending
 * therefore keeps each list sorted, and append_list asserts it. */

#define SLOT_BITS 6
#define SLOT_MASK ((uint64_t)BIO_WHEEL_SLOTS - 1)

_Static_assert(BIO_WHEEL_SLOTS == 1 << SLOT_BITS, "64 slots per level");
_Static_assert(BIO_WHEEL_LEVELS * SLOT_BITS >= 64, "levels cover 64 bits");
_Static_assert(sizeof(bio_timer) == 32, "fits a uv_timer_t's heap area");


static unsigned level_of(uint64_t elapsed_ms, uint64_t due_ms) {
  uint64_t diff = due_ms ^ elapsed_ms;
  assert(diff != 0);
  return (unsigned)(63 - __builtin_clzll(diff)) / SLOT_BITS;
}


static unsigned slot_of(uint64_t due_ms, unsigned level) {
  return (unsigned)((due_ms >> (level * SLOT_BITS)) & SLOT_MASK);
}


/* First millisecond covered by slot `slot` of `level`, given the clock. */
static uint64_t slot_start(uint64_t elapsed_ms, unsigned level,
                           unsigned slot) {
  unsigned above = (level + 1) * SLOT_BITS;
  uint64_t base = above >= 64 ? 0 : (elapsed_ms >> above) << above;
  return base | ((uint64_t)slot << (level * SLOT_BITS));
}


/* Due times below the clock break the caller's contract; they are asserted
 * in add and otherwise treated as ready so nothing is lost. */
static bio_timer_list *list_of(bio_wheel *w, uint64_t due_ms,
                               unsigned *level, unsigned *slot) {
  if (due_ms <= w->elapsed_ms)
    return &w->ready;
  *level = level_of(w->elapsed_ms, due_ms);
  *slot = slot_of(due_ms, *level);
  return &w->slots[*level][*slot];
}


/* The head's prev points at its list: it must be non-NULL (prev == NULL
 * means inactive), and it is never followed. */
static void append_list(bio_timer_list *l, bio_timer *t) {
  assert(l->tail == NULL || l->tail->seq < t->seq);
  t->next = NULL;
  if (l->tail == NULL) {
    t->prev = (bio_timer *)(void *)l;
    l->head = t;
  } else {
    t->prev = l->tail;
    l->tail->next = t;
  }
  l->tail = t;
}


static void place(bio_wheel *w, bio_timer *t) {
  unsigned level = 0;
  unsigned slot = 0;
  bio_timer_list *l = list_of(w, t->due_ms, &level, &slot);
  append_list(l, t);
  if (l != &w->ready)
    w->occupied[level] |= (uint64_t)1 << slot;
}


void bio__wheel_init(bio_wheel *w, uint64_t now_ms) {
  unsigned i;
  unsigned j;

  w->elapsed_ms = now_ms;
  w->next_seq = 0;
  w->count = 0;
  w->next_due_ms = UINT64_MAX;
  w->next_due_valid = 1;
  w->ready.head = NULL;
  w->ready.tail = NULL;
  for (i = 0; i < BIO_WHEEL_LEVELS; i++) {
    w->occupied[i] = 0;
    for (j = 0; j < BIO_WHEEL_SLOTS; j++) {
      w->slots[i][j].head = NULL;
      w->slots[i][j].tail = NULL;
    }
  }
}


void bio__wheel_add(bio_wheel *w, bio_timer *t, uint64_t due_ms) {
  assert(!bio__timer_active(t));
  assert(due_ms >= w->elapsed_ms);
  t->due_ms = due_ms;
  t->seq = w->next_seq++;
  place(w, t);
  w->count++;
  if (w->next_due_valid && due_ms < w->next_due_ms)
    w->next_due_ms = due_ms;
}


/* Unlinks t, which the wheel holds. */
static void unlink_timer(bio_wheel *w, bio_timer *t) {
  unsigned level = 0;
  unsigned slot = 0;
  bio_timer_list *l = list_of(w, t->due_ms, &level, &slot);
  int is_head = l->head == t;

  assert(w->count > 0);
  assert(is_head == (t->prev == (bio_timer *)(void *)l));
  if (is_head)
    l->head = t->next;
  else
    t->prev->next = t->next;
  if (l->tail == t)
    l->tail = is_head ? NULL : t->prev;
  else
    t->next->prev = t->prev;
  assert((l->head == NULL) == (l->tail == NULL));
  if (l->head == NULL && l != &w->ready)
    w->occupied[level] &= ~((uint64_t)1 << slot);

  t->next = NULL;
  t->prev = NULL;
  w->count--;
  /* Another timer may share the due time, but recomputing is cheap. */
  if (w->next_due_valid && t->due_ms == w->next_due_ms)
    w->next_due_valid = 0;
}


void bio__wheel_remove(bio_wheel *w, bio_timer *t) {
  if (bio__timer_active(t))
    unlink_timer(w, t);
}


static int lowest_level(const bio_wheel *w) {
  int k;
  for (k = 0; k < BIO_WHEEL_LEVELS; k++)
    if (w->occupied[k] != 0)
      return k;
  return -1;
}


/* Moves the clock to the start of slot `slot` of `level` and re-places
 * the slot's timers, all of which land in lower levels or the ready list. */
static void cascade(bio_wheel *w, unsigned level, unsigned slot) {
  bio_timer_list *l = &w->slots[level][slot];
  bio_timer *t = l->head;
  bio_timer *tail = l->tail;
  bio_timer *next;

  assert(w->ready.head == NULL);
  w->elapsed_ms = slot_start(w->elapsed_ms, level, slot);
  w->occupied[level] &= ~((uint64_t)1 << slot);
  l->head = NULL;
  l->tail = NULL;

  if (level == 0) {
    /* A level-0 slot holds a single due time: splice it whole. */
    assert(t != NULL && t->due_ms == w->elapsed_ms);
    assert(tail->due_ms == w->elapsed_ms);
    w->ready.head = t;
    w->ready.tail = tail;
    t->prev = (bio_timer *)(void *)&w->ready;
    return;
  }
  for (; t != NULL; t = next) {
    next = t->next;
    assert(t->due_ms >= w->elapsed_ms);
    place(w, t);
    assert(t->due_ms == w->elapsed_ms ||
           level_of(w->elapsed_ms, t->due_ms) < level);
  }
}


bio_timer *bio__wheel_pop(bio_wheel *w, uint64_t now_ms) {
  return bio__wheel_pop_before(w, now_ms, UINT64_MAX);
}


bio_timer *bio__wheel_pop_before(bio_wheel *w, uint64_t now_ms,
                                 uint64_t seq_limit) {
  assert(now_ms >= w->elapsed_ms);
  /* Fast exits, taken on almost every loop turn: nothing at all, or
   * nothing due yet by the cached earliest due time. Leaving elapsed
   * behind now is allowed (adds only need due >= elapsed). */
  if (w->count == 0) {
    w->elapsed_ms = now_ms;
    return NULL;
  }
  if (w->ready.head == NULL && w->next_due_valid && w->next_due_ms > now_ms)
    return NULL;
  for (;;) {
    bio_timer *t = w->ready.head;
    int k;
    unsigned s;

    if (t != NULL) {
      assert(t->due_ms <= now_ms);
      if (t->seq >= seq_limit)
        return NULL;
      unlink_timer(w, t);
      return t;
    }
    k = lowest_level(w);
    if (k < 0) {
      assert(w->count == 0);
      w->elapsed_ms = now_ms;
      return NULL;
    }
    s = (unsigned)__builtin_ctzll(w->occupied[k]);
    /* Digit k of the clock is below every occupied slot at level k. */
    assert(s > slot_of(w->elapsed_ms, (unsigned)k));
    if (slot_start(w->elapsed_ms, (unsigned)k, s) > now_ms) {
      w->elapsed_ms = now_ms; /* allowed: see the placement rule above */
      return NULL;
    }
    cascade(w, (unsigned)k, s);
  }
}


uint64_t bio__wheel_next_due(bio_wheel *w) {
  const bio_timer *t;
  uint64_t best = UINT64_MAX;
  int k;
  unsigned s;

  if (w->next_due_valid)
    return w->next_due_ms;
  if (w->ready.head != NULL) {
    best = w->ready.head->due_ms;
  } else if ((k = lowest_level(w)) >= 0) {
    s = (unsigned)__builtin_ctzll(w->occupied[k]);
    if (k == 0) {
      best = slot_start(w->elapsed_ms, 0, s);
    } else {
      /* Higher slots mix due times; the earliest of the whole wheel is in
       * this one, but anywhere in it. */
      for (t = w->slots[k][s].head; t != NULL; t = t->next)
        if (t->due_ms < best)
          best = t->due_ms;
    }
  }
  assert((best == UINT64_MAX) >= (w->count == 0));
  w->next_due_ms = best;
  w->next_due_valid = 1;
  return best;
}
