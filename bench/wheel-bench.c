/* Timing for the timing wheel (src/core/wheel.c): 1M adds, 1M pops, and
 * 1M restarts (remove + add, as uv_timer_again), printed as ns per op.
 * Standalone: cc -O2 -Isrc bench/wheel-bench.c src/core/wheel.c */

#include "core/wheel.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 1000000

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}


static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}


int main(void) {
  bio_timer *t = calloc(N, sizeof(*t));
  bio_wheel *w = malloc(sizeof(*w));
  double start;
  uint64_t now = 0;
  size_t popped = 0;
  size_t i;

  if (t == NULL || w == NULL)
    return 1;
  bio__wheel_init(w, 0);

  /* Due times up to ~17 minutes ahead, spread over several levels. */
  start = now_ns();
  for (i = 0; i < N; i++)
    bio__wheel_add(w, &t[i], rnd() % (1u << 20));
  printf("add:     %6.1f ns/op\n", (now_ns() - start) / N);

  start = now_ns();
  for (i = 0; i < N; i++) {
    bio__wheel_remove(w, &t[i]);
    bio__wheel_add(w, &t[i], rnd() % (1u << 20));
  }
  printf("restart: %6.1f ns/op\n", (now_ns() - start) / N);

  start = now_ns();
  (void)bio__wheel_next_due(w);
  printf("next_due (cold): %6.1f ns\n", now_ns() - start);

  /* Clock advancing 1 ms per loop iteration, as a busy loop would. */
  start = now_ns();
  while (bio__wheel_count(w) > 0) {
    now++;
    while (bio__wheel_pop(w, now) != NULL)
      popped++;
  }
  printf("pop:     %6.1f ns/op (%zu timers, %llu ms of clock)\n",
         (now_ns() - start) / (double)popped, popped,
         (unsigned long long)now);

  free(w);
  free(t);
  return popped == N ? 0 : 1;
}
