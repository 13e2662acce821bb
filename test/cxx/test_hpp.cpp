// blitzio.hpp: C++20 tasks on the same runtime as C tasks. Spawn and join,
// futures with deadlines, cancellation through a scope, detached tasks
// (their frames freed by the runtime), notify and yield, and C and C++
// tasks joining each other. Exits non-zero on the first failed check.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "blitzio.hpp"

static int failures;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                   #cond);                                                     \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static bio::task square(int x) {
  co_await bio::yield();
  co_return x * x;
}

static bio::task sum_of_squares(bio_scope *scope, int n) {
  std::vector<bio::task> kids;
  for (int i = 0; i < n; i++) {
    kids.push_back(square(i));
    CHECK(kids.back().spawn(scope) == 0);
  }
  int sum = 0;
  for (auto &k : kids)
    sum += co_await k;
  co_return sum;
}

static void spawn_and_join() {
  bio::runtime rt;
  CHECK(rt.block_on(sum_of_squares(rt.scope(), 100)) == 328350);
}

static bio::task read_with_deadline(int fd, int *out) {
  char c;
  *out = co_await bio::recv(fd, &c, 1).deadline(bio_now_ns() + 20000000);
  // The deadline was this await's only: the next one waits normally.
  int r = co_await bio::sleep(1000);
  co_return r;
}

static void deadlines() {
  bio::runtime rt;
  int sv[2], r = 0;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  uint64_t t0 = bio_now_ns();
  CHECK(rt.block_on(read_with_deadline(sv[0], &r)) == 0);
  CHECK(r == -ETIMEDOUT);
  CHECK(bio_now_ns() >= t0 + 20000000);
  close(sv[0]);
  close(sv[1]);
}

static int cancelled_count;
static bio::task reader(int fd) {
  char buf[8];
  int r = co_await bio::recv(fd, buf, sizeof buf);
  if (r == -ECANCELED)
    cancelled_count++;
  co_return r;
}

static bio::task cancel_scope(bio_rt *rt, int fd) {
  bio_scope scope;
  bio_scope_init(&scope, rt, nullptr);
  for (int i = 0; i < 3; i++)
    CHECK(reader(fd).spawn_detached(&scope) == 0);
  co_await bio::sleep(5000000);
  CHECK(bio_scope_count(&scope) == 3);
  int r = co_await bio::close_scope(&scope, true);
  CHECK(bio_scope_count(&scope) == 0);
  co_return r;
}

static void cancellation_and_detached_frames() {
  bio::runtime rt;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  cancelled_count = 0;
  CHECK(rt.block_on(cancel_scope(rt.get(), sv[0])) == 0);
  CHECK(cancelled_count == 3);
  close(sv[0]);
  close(sv[1]);
}

static std::string trace;
static bio::task waiter(bio_notify *n, char name) {
  co_await bio::wait(n);
  trace += name;
  co_return 0;
}
static bio::task ringer(bio_notify *n) {
  co_await bio::yield();
  bio_notify_one(n);
  co_await bio::yield();
  trace += '|';
  bio_notify_all(n);
  co_return 0;
}

static void notify_and_yield() {
  bio::runtime rt;
  bio_notify n;
  bio_notify_init(&n);
  trace.clear();
  bio::task a = waiter(&n, 'a'), b = waiter(&n, 'b'), c = waiter(&n, 'c');
  a.spawn(rt.scope());
  b.spawn(rt.scope());
  c.spawn(rt.scope());
  CHECK(rt.block_on(ringer(&n)) == 0);
  CHECK(rt.run() == 0);
  CHECK(trace == "a|bc");
}

// A C task that joins a C++ task, and a C++ task that joins a C one.
struct c_joiner {
  bio_task task;
  bio_task *target;
  int r;
};
static int c_joiner_run(bio_task *t) {
  c_joiner *j = bio_container_of(t, c_joiner, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, j->r, bio_join(t, j->target));
  BIO_END(t, j->r + 1);
}
static int c_leaf_run(bio_task *) { return 40; }

static bio::task mixed(bio_scope *scope) {
  bio_task leaf{};
  CHECK(bio_spawn(scope, &leaf, c_leaf_run) == 0);
  int from_c = co_await bio::join(&leaf);
  bio::task sq = square(3);
  sq.spawn(scope);
  c_joiner j{};
  j.target = sq.header();
  CHECK(bio_spawn(scope, &j.task, c_joiner_run) == 0);
  int from_cpp = co_await bio::join(&j.task);
  co_return from_c + from_cpp; // 40 + (9 + 1)
}

static void c_and_cpp_join_each_other() {
  bio::runtime rt;
  CHECK(rt.block_on(mixed(rt.scope())) == 50);
}

// A receiver: what comes between reads waits for the next, in order; its
// close lets the peer see the end.
static bio::task receive_all(int fd, int peer, std::string *got) {
  bio::receiver rx(fd);
  char buf[4];
  CHECK(::write(peer, "abcdef", 6) == 6);
  int n = co_await rx.recv(buf, 2);
  CHECK(n == 2);
  got->append(buf, 2);
  co_await bio::sleep(5000000);
  CHECK(::write(peer, "gh", 2) == 2);
  ::shutdown(peer, SHUT_WR);
  while ((n = co_await rx.recv(buf, sizeof buf)) > 0)
    got->append(buf, static_cast<size_t>(n));
  CHECK(n == 0);
  co_return co_await rx.close();
}

static void receiver_keeps_order_and_closes() {
  bio::runtime rt;
  int sv[2];
  std::string got;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  CHECK(rt.block_on(receive_all(sv[0], sv[1], &got)) == 0);
  CHECK(got == "abcdefgh");
  char c;
  CHECK(::read(sv[1], &c, 1) == 0); // the receiver's close reached the peer
  close(sv[1]);
}

int main() {
  const char *backends[] = {"uring", "epoll"};
  const char *denied = std::getenv("BIO_TEST_DENIED");
  for (const char *b : backends) {
    if (denied == nullptr || std::strcmp(b, "uring") != 0)
      setenv("BIO_BACKEND", b, 1);
    else
      unsetenv("BIO_BACKEND");
    spawn_and_join();
    deadlines();
    cancellation_and_detached_frames();
    notify_and_yield();
    c_and_cpp_join_each_other();
    receiver_keeps_order_and_closes();
    std::printf("%s: %s\n", b, failures == 0 ? "ok" : "FAILED");
  }
  return failures == 0 ? 0 : 1;
}
