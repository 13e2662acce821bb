/* Round trips through the blocking pool: uv_queue_work with an empty
 * work_cb, requeued from after_work_cb, with 1 and with 16 requests in
 * flight; prints items/s for each. Builds against any libuv:
 *   cc -O2 -Iinclude bench/pool-bench.c -L.libs -luv   (blitz-io)
 *   cc -O2 bench/pool-bench.c -luv                      (system libuv)
 * Optional argument: seconds per case (default 2). */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define MAX_INFLIGHT 16

static uv_work_t reqs[MAX_INFLIGHT];
static unsigned long long completed;
static int stopping;


static void work_cb(uv_work_t *req) { (void)req; }


static void after_work_cb(uv_work_t *req, int status) {
  if (status != 0) {
    fprintf(stderr, "after_work_cb: %s\n", uv_strerror(status));
    exit(1);
  }
  completed++;
  if (!stopping && uv_queue_work(req->loop, req, work_cb, after_work_cb) != 0)
    abort();
}


static void stop_cb(uv_timer_t *timer) {
  (void)timer;
  stopping = 1;
}


static void run_case(int inflight, double seconds) {
  uv_loop_t loop;
  uv_timer_t timer;
  uint64_t t0;
  uint64_t t1;
  int i;

  completed = 0;
  stopping = 0;
  if (uv_loop_init(&loop) != 0)
    abort();
  uv_timer_init(&loop, &timer);
  uv_timer_start(&timer, stop_cb, (uint64_t)(seconds * 1000), 0);
  t0 = uv_hrtime();
  for (i = 0; i < inflight; i++)
    if (uv_queue_work(&loop, &reqs[i], work_cb, after_work_cb) != 0)
      abort();
  uv_run(&loop, UV_RUN_DEFAULT);
  t1 = uv_hrtime();
  uv_loop_close(&loop);
  printf("pool round trips, %2d in flight: %10.0f items/s (%llu in %.2f s)\n",
         inflight, (double)completed / ((double)(t1 - t0) / 1e9), completed,
         (double)(t1 - t0) / 1e9);
}


int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2.0;

  if (seconds <= 0)
    seconds = 2.0;
  /* Start the pool outside the timed part. */
  run_case(1, 0.05);
  run_case(1, seconds);
  run_case(MAX_INFLIGHT, seconds);
  return 0;
}
