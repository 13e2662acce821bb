// bench/task-bench.c's spawn_join and pingpong written with blitzio.hpp's
// C++20 coroutines, to compare the C++ path with the C one in one run:
// `task-bench-cxx BENCH [N]` prints "BENCH VALUE" (tasks/s, round trips/s).
// Each C++ task's frame is a coroutine frame from bio_frame_alloc, where
// the C benchmark's frames are one array.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "blitzio.hpp"

static long n_tasks;

static bio::task leaf() { co_return 1; }

static bio::task spawner(bio_scope *scope) {
  std::vector<bio::task> kids;
  kids.reserve(static_cast<size_t>(n_tasks));
  for (long i = 0; i < n_tasks; i++) {
    kids.push_back(leaf());
    kids.back().spawn(scope);
  }
  long sum = 0;
  for (auto &k : kids)
    sum += co_await k;
  co_return sum == n_tasks ? 0 : -1;
}

static bio_notify to_a, to_b;

static bio::task player(bool first) {
  for (long i = 0; i < n_tasks; i++) {
    if (first) {
      bio_notify_one(&to_b);
      co_await bio::wait(&to_a);
    } else {
      co_await bio::wait(&to_b);
      bio_notify_one(&to_a);
    }
  }
  co_return 0;
}

int main(int argc, char **argv) {
  const char *bench = argc > 1 ? argv[1] : "";
  n_tasks = argc > 2 ? std::atol(argv[2]) : 1000000;
  if (n_tasks <= 0)
    n_tasks = 1000000;
  bio::runtime rt;
  uint64_t t0, t1;
  if (std::strcmp(bench, "spawn_join") == 0) {
    t0 = bio_now_ns();
    int r = rt.block_on(spawner(rt.scope()));
    t1 = bio_now_ns();
    if (r != 0)
      return 1;
  } else if (std::strcmp(bench, "pingpong") == 0) {
    bio_notify_init(&to_a);
    bio_notify_init(&to_b);
    bio::task b = player(false), a = player(true);
    b.spawn(rt.scope());
    a.spawn(rt.scope());
    t0 = bio_now_ns();
    rt.run();
    t1 = bio_now_ns();
  } else {
    std::fprintf(stderr, "usage: task-bench-cxx spawn_join|pingpong [N]\n");
    return 2;
  }
  std::printf("%s %.0f\n", bench,
              static_cast<double>(n_tasks) * 1e9 / static_cast<double>(t1 - t0));
  return 0;
}
