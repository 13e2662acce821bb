/* Unit tests for the timing wheel (src/core/wheel.c): libuv's expiry order
 * (due, then start order), never early, exact next_due, and randomized runs
 * checked step by step against a brute-force reference model. */

#include "core/wheel.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check_run.h"

/* xorshift64*: deterministic, so a failing seed can be replayed. */
static uint64_t rng_state;

static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}


static uint64_t rnd_below(uint64_t n) { return n == 0 ? 0 : rnd() % n; }


/* A random value of up to max_bits bits, with every bit length equally
 * likely, so all wheel levels and all cascade depths get exercised. */
static uint64_t rnd_bits(unsigned max_bits) {
  unsigned bits = (unsigned)rnd_below(max_bits + 1);
  if (bits == 0)
    return 0;
  return bits >= 64 ? rnd() : rnd() & ((UINT64_C(1) << bits) - 1);
}


static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}


static void init_timers(bio_timer *t, size_t n) {
  memset(t, 0, n * sizeof(*t));
}


START_TEST(test_empty) {
  bio_wheel w;
  bio__wheel_init(&w, 5);
  ck_assert_uint_eq(bio__wheel_next_due(&w), UINT64_MAX);
  ck_assert_ptr_null(bio__wheel_pop(&w, 5));
  ck_assert_ptr_null(bio__wheel_pop(&w, UINT64_MAX));
  ck_assert_uint_eq(bio__wheel_count(&w), 0);
}
END_TEST


START_TEST(test_same_due_start_order) {
  bio_wheel w;
  bio_timer t[8];
  int i;

  init_timers(t, 8);
  bio__wheel_init(&w, 0);
  for (i = 0; i < 8; i++)
    bio__wheel_add(&w, &t[i], i % 2 ? 1000 : 50);
  ck_assert_uint_eq(bio__wheel_next_due(&w), 50);
  ck_assert_ptr_null(bio__wheel_pop(&w, 49));
  for (i = 0; i < 8; i += 2)
    ck_assert_ptr_eq(bio__wheel_pop(&w, 2000), &t[i]);
  for (i = 1; i < 8; i += 2)
    ck_assert_ptr_eq(bio__wheel_pop(&w, 2000), &t[i]);
  ck_assert_ptr_null(bio__wheel_pop(&w, 2000));
  for (i = 0; i < 8; i++)
    ck_assert(!bio__timer_active(&t[i]));
}
END_TEST


/* A was placed from clock 0, B from a later clock; A started first. */
START_TEST(test_cascade_order) {
  static const uint64_t clocks[] = {1, 100, 255, 256, 260, 299};
  size_t i;

  for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
    bio_wheel w;
    bio_timer a;
    bio_timer b;
    bio_timer c;

    init_timers(&a, 1);
    init_timers(&b, 1);
    init_timers(&c, 1);
    bio__wheel_init(&w, 0);
    bio__wheel_add(&w, &a, 300);
    ck_assert_ptr_null(bio__wheel_pop(&w, clocks[i]));
    bio__wheel_add(&w, &b, 300);
    bio__wheel_add(&w, &c, 299);
    ck_assert_uint_eq(bio__wheel_next_due(&w), 299);
    ck_assert_ptr_eq(bio__wheel_pop(&w, 300), &c);
    ck_assert_ptr_eq(bio__wheel_pop(&w, 300), &a);
    ck_assert_ptr_eq(bio__wheel_pop(&w, 300), &b);
    ck_assert_ptr_null(bio__wheel_pop(&w, 300));
  }
}
END_TEST


/* libuv 1.44: a callback that starts a 0 ms timer sees it run in the same
 * uv__run_timers pass, after the timers already due. */
START_TEST(test_add_during_pop) {
  bio_wheel w;
  bio_timer t[4];

  init_timers(t, 4);
  bio__wheel_init(&w, 0);
  bio__wheel_add(&w, &t[0], 10);
  bio__wheel_add(&w, &t[1], 100);
  ck_assert_ptr_eq(bio__wheel_pop(&w, 100), &t[0]);
  bio__wheel_add(&w, &t[2], 100); /* "0 ms" at loop time 100 */
  bio__wheel_add(&w, &t[3], 101);
  ck_assert_ptr_eq(bio__wheel_pop(&w, 100), &t[1]);
  ck_assert_ptr_eq(bio__wheel_pop(&w, 100), &t[2]);
  ck_assert_ptr_null(bio__wheel_pop(&w, 100));
  ck_assert_uint_eq(bio__wheel_next_due(&w), 101);
  ck_assert_ptr_eq(bio__wheel_pop(&w, 101), &t[3]);
}
END_TEST


/* pop_before with the start-order number taken before a pass: timers
 * added during the pass (even due at once) stay for the next one, and
 * every timer that was due when it began still comes out first. */
START_TEST(test_pop_before_holds_back_timers_added_in_the_pass) {
  bio_wheel w;
  bio_timer t[4];
  uint64_t limit;

  init_timers(t, 4);
  bio__wheel_init(&w, 0);
  bio__wheel_add(&w, &t[0], 10);
  bio__wheel_add(&w, &t[1], 100);
  limit = w.next_seq;
  ck_assert_ptr_eq(bio__wheel_pop_before(&w, 100, limit), &t[0]);
  bio__wheel_add(&w, &t[2], 100); /* "0 ms" at loop time 100 */
  ck_assert_ptr_eq(bio__wheel_pop_before(&w, 100, limit), &t[1]);
  bio__wheel_add(&w, &t[3], 100);
  ck_assert_ptr_null(bio__wheel_pop_before(&w, 100, limit));
  ck_assert_uint_eq(bio__wheel_count(&w), 2);
  /* The next pass. */
  limit = w.next_seq;
  ck_assert_ptr_eq(bio__wheel_pop_before(&w, 100, limit), &t[2]);
  ck_assert_ptr_eq(bio__wheel_pop_before(&w, 100, limit), &t[3]);
  ck_assert_ptr_null(bio__wheel_pop_before(&w, 100, limit));
}
END_TEST


START_TEST(test_remove_ready_and_during_pop) {
  bio_wheel w;
  bio_timer t[4];

  init_timers(t, 4);
  bio__wheel_init(&w, 7);
  bio__wheel_add(&w, &t[0], 7); /* straight into the ready list */
  bio__wheel_add(&w, &t[1], 7);
  bio__wheel_remove(&w, &t[0]);
  ck_assert(!bio__timer_active(&t[0]));
  bio__wheel_remove(&w, &t[0]); /* no-op */
  ck_assert_uint_eq(bio__wheel_count(&w), 1);
  bio__wheel_add(&w, &t[2], 9);
  bio__wheel_add(&w, &t[3], 9);
  ck_assert_ptr_eq(bio__wheel_pop(&w, 9), &t[1]);
  ck_assert_ptr_eq(bio__wheel_pop(&w, 9), &t[2]);
  bio__wheel_remove(&w, &t[3]); /* a callback stops an expired timer */
  ck_assert_ptr_null(bio__wheel_pop(&w, 9));
  ck_assert_uint_eq(bio__wheel_count(&w), 0);
  ck_assert_uint_eq(bio__wheel_next_due(&w), UINT64_MAX);
}
END_TEST


START_TEST(test_max_due) {
  bio_wheel w;
  bio_timer t[3];

  init_timers(t, 3);
  bio__wheel_init(&w, 0);
  bio__wheel_add(&w, &t[0], UINT64_MAX);
  bio__wheel_add(&w, &t[1], UINT64_MAX - 1);
  ck_assert_uint_eq(bio__wheel_next_due(&w), UINT64_MAX - 1);
  ck_assert_ptr_null(bio__wheel_pop(&w, UINT64_MAX - 2));
  ck_assert_ptr_eq(bio__wheel_pop(&w, UINT64_MAX - 1), &t[1]);
  ck_assert_ptr_null(bio__wheel_pop(&w, UINT64_MAX - 1));
  ck_assert_uint_eq(bio__wheel_next_due(&w), UINT64_MAX);
  ck_assert_uint_eq(bio__wheel_count(&w), 1);
  bio__wheel_add(&w, &t[2], UINT64_MAX);
  ck_assert_ptr_eq(bio__wheel_pop(&w, UINT64_MAX), &t[0]);
  ck_assert_ptr_eq(bio__wheel_pop(&w, UINT64_MAX), &t[2]);
  ck_assert_ptr_null(bio__wheel_pop(&w, UINT64_MAX));

  /* A clock that starts at the very end. */
  bio__wheel_init(&w, UINT64_MAX);
  bio__wheel_add(&w, &t[0], UINT64_MAX);
  ck_assert_ptr_eq(bio__wheel_pop(&w, UINT64_MAX), &t[0]);
}
END_TEST


/* Reference model: the active timers, searched exhaustively. */
#define POOL 257

typedef struct {
  bio_wheel w;
  bio_timer t[POOL];
  int active[POOL];
  uint64_t due[POOL];
  uint64_t seq[POOL];
  uint64_t now;
  size_t count;
} model;


static int ref_first(const model *m, uint64_t limit) {
  int best = -1;
  int i;
  for (i = 0; i < POOL; i++) {
    if (!m->active[i] || m->due[i] > limit)
      continue;
    if (best < 0 || m->due[i] < m->due[best] ||
        (m->due[i] == m->due[best] && m->seq[i] < m->seq[best]))
      best = i;
  }
  return best;
}


static void check_state(model *m) {
  int first = ref_first(m, UINT64_MAX);
  ck_assert_uint_eq(bio__wheel_count(&m->w), m->count);
  ck_assert_uint_eq(bio__wheel_next_due(&m->w),
                    first < 0 ? UINT64_MAX : m->due[first]);
}


static void m_remove(model *m, int i) {
  bio__wheel_remove(&m->w, &m->t[i]);
  ck_assert(!bio__timer_active(&m->t[i]));
  if (m->active[i])
    m->count--;
  m->active[i] = 0;
}


/* Starts (or restarts, like uv_timer_again) timer i, offset ms from now. */
static void m_add(model *m, int i, uint64_t offset) {
  m_remove(m, i);
  m->due[i] = sat_add(m->now, offset);
  bio__wheel_add(&m->w, &m->t[i], m->due[i]);
  ck_assert(bio__timer_active(&m->t[i]));
  ck_assert_uint_eq(m->t[i].due_ms, m->due[i]);
  m->seq[i] = m->t[i].seq;
  m->active[i] = 1;
  m->count++;
}


static uint64_t rnd_offset(unsigned max_bits) {
  uint64_t r = rnd_below(100);
  if (r < 10)
    return 0;
  if (r < 12)
    return UINT64_MAX; /* saturates to a UINT64_MAX due time */
  if (r < 40)
    return rnd_below(70);
  return rnd_bits(max_bits);
}


/* One uv__run_timers pass: pop all that expired, each compared with the
 * model; "callbacks" start and stop timers, including 0 ms ones. */
static void m_run(model *m, unsigned max_bits) {
  for (;;) {
    bio_timer *got = bio__wheel_pop(&m->w, m->now);
    int want = ref_first(m, m->now);
    if (want < 0) {
      ck_assert_ptr_null(got);
      break;
    }
    ck_assert_ptr_eq(got, &m->t[want]);
    ck_assert_uint_le(got->due_ms, m->now);
    ck_assert(!bio__timer_active(got));
    m->active[want] = 0;
    m->count--;
    switch (rnd_below(6)) {
    case 0:
      m_add(m, want, rnd_below(3)); /* a repeating timer */
      break;
    case 1:
      m_add(m, (int)rnd_below(POOL), rnd_offset(max_bits));
      break;
    case 2:
      m_remove(m, (int)rnd_below(POOL));
      break;
    default:
      break;
    }
  }
  check_state(m);
}


static void random_run(uint64_t seed, uint64_t start, unsigned max_bits,
                       int steps) {
  model *m = calloc(1, sizeof(*m));
  int s;

  ck_assert_ptr_nonnull(m);
  rng_state = seed;
  m->now = start;
  bio__wheel_init(&m->w, start);
  for (s = 0; s < steps; s++) {
    uint64_t r = rnd_below(100);
    int i = (int)rnd_below(POOL);
    if (r < 45) {
      m_add(m, i, rnd_offset(max_bits));
    } else if (r < 60) {
      m_remove(m, i);
    } else if (r < 70) {
      m_run(m, max_bits); /* pop with an unchanged clock */
    } else {
      /* Mostly small steps, sometimes huge ones, sometimes exactly onto
       * the next due time. */
      uint64_t next = bio__wheel_next_due(&m->w);
      if (r < 75 && next != UINT64_MAX)
        m->now = next;
      else
        m->now = sat_add(m->now, rnd_bits(r < 95 ? 12 : max_bits));
      m_run(m, max_bits);
    }
    check_state(m);
  }
  /* Drain: every remaining timer comes out, in order, at the end of time. */
  m->now = UINT64_MAX;
  m_run(m, max_bits);
  ck_assert_uint_eq(bio__wheel_count(&m->w), 0);
  free(m);
}


START_TEST(test_random_small_times) {
  random_run(UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)_i, 0, 14, 20000);
}
END_TEST


START_TEST(test_random_all_times) {
  random_run(UINT64_C(0xD1B54A32D192ED03) + (uint64_t)_i,
             ((uint64_t)_i << 37) | 12345, 64, 20000);
}
END_TEST


START_TEST(test_random_near_max) {
  random_run(UINT64_C(0xABCDEF0123456789) + (uint64_t)_i,
             UINT64_MAX - (UINT64_C(1) << 22), 24, 20000);
}
END_TEST


/* Many timers through one wheel: counts and order only (timing is for
 * bench/wheel-bench.c). */
START_TEST(test_million) {
  enum { N = 1000000 };
  bio_timer *t = calloc(N, sizeof(*t));
  bio_wheel *w = malloc(sizeof(*w));
  uint64_t now = 0;
  uint64_t last_due = 0;
  uint64_t last_seq = 0;
  size_t popped = 0;
  size_t i;

  ck_assert_ptr_nonnull(t);
  ck_assert_ptr_nonnull(w);
  rng_state = 42;
  bio__wheel_init(w, 0);
  for (i = 0; i < N; i++)
    bio__wheel_add(w, &t[i], rnd_bits(22));
  for (i = 0; i < N; i += 3) /* stop a third of them */
    bio__wheel_remove(w, &t[i]);
  ck_assert_uint_eq(bio__wheel_count(w), N - (N + 2) / 3);
  while (bio__wheel_count(w) > 0) {
    bio_timer *x;
    now += rnd_below(64);
    while ((x = bio__wheel_pop(w, now)) != NULL) {
      ck_assert_uint_le(x->due_ms, now);
      ck_assert(x->due_ms > last_due ||
                (x->due_ms == last_due && (popped == 0 || x->seq > last_seq)));
      last_due = x->due_ms;
      last_seq = x->seq;
      popped++;
    }
  }
  ck_assert_uint_eq(popped, N - (N + 2) / 3);
  free(w);
  free(t);
}
END_TEST


static Suite *wheel_suite(void) {
  Suite *s = suite_create("wheel");
  TCase *basic = tcase_create("basic");
  TCase *random = tcase_create("random");
  TCase *bulk = tcase_create("bulk");

  tcase_add_test(basic, test_empty);
  tcase_add_test(basic, test_same_due_start_order);
  tcase_add_test(basic, test_cascade_order);
  tcase_add_test(basic, test_add_during_pop);
  tcase_add_test(basic, test_pop_before_holds_back_timers_added_in_the_pass);
  tcase_add_test(basic, test_remove_ready_and_during_pop);
  tcase_add_test(basic, test_max_due);
  suite_add_tcase(s, basic);

  tcase_set_timeout(random, 120);
  tcase_add_loop_test(random, test_random_small_times, 0, 4);
  tcase_add_loop_test(random, test_random_all_times, 0, 4);
  tcase_add_loop_test(random, test_random_near_max, 0, 4);
  suite_add_tcase(s, random);

  tcase_set_timeout(bulk, 120);
  tcase_add_test(bulk, test_million);
  suite_add_tcase(s, bulk);
  return s;
}


int main(void) {
  return bio_check_run(wheel_suite());
}
