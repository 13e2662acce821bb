// blitzio.hpp: C++20 coroutines on bio_task (header-only, optional).
//
// A bio::task is a coroutine whose promise holds the C bio_task header, so
// the same runtime runs it: it is spawned into a bio_scope, cancelled with
// the scope, joined with co_await, and awaits the same futures as a C task
// (the bio_io slot lives in the awaiter, which C++ keeps in the coroutine
// frame). Frames come from bio_frame_alloc. A C task can join a C++ task
// (bio_join on task::header()) and a C++ task a C one (bio::join).
//
//   bio::task conn(int fd) {
//     char buf[4096];
//     for (;;) {
//       int n = co_await bio::recv(fd, buf, sizeof buf);
//       if (n <= 0 || co_await bio::send_all(fd, buf, n) < 0) break;
//     }
//     close(fd);
//     co_return 0;
//   }
//
// Results are ints, as in C: >= 0, or a negative errno (-ECANCELED,
// -ETIMEDOUT: set a deadline with .deadline(ns) on any future).
#ifndef BLITZIO_HPP
#define BLITZIO_HPP

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <system_error>
#include <utility>

#include "blitzio.h"

namespace bio {

class task;

namespace detail {

// The promise starts with the C header (standard layout), so the header's
// address is the promise's.
struct promise_base {
  bio_task hdr{};
  int result = 0;

  static void *operator new(std::size_t n) {
    void *p = bio_frame_alloc(n);
    if (p == nullptr)
      throw std::bad_alloc();
    return p;
  }
  static void operator delete(void *p, std::size_t n) noexcept {
    bio_frame_free(p, n);
  }
  // Created suspended: it runs once spawned. Kept after the end, so the
  // runtime can finish its bookkeeping on the header; the owner (a task
  // object, or the runtime for a detached task) destroys it.
  std::suspend_always initial_suspend() noexcept { return {}; }
  std::suspend_always final_suspend() noexcept { return {}; }
  void return_value(int v) noexcept { result = v; }
  void unhandled_exception() noexcept { std::terminate(); }
};

// An await on a C future: start(task, io) arms it (or finishes at once).
template <class Start> class future {
public:
  explicit future(Start s) : start_(std::move(s)) {}
  future(const future &) = delete;
  future(future &&o) noexcept : start_(std::move(o.start_)), io_(o.io_) {}

  // The await fails with -ETIMEDOUT if it has not ended by deadline_ns
  // (bio_now_ns's clock).
  future &&deadline(std::uint64_t deadline_ns) && {
    bio_io_deadline(&io_, deadline_ns);
    return std::move(*this);
  }

  bool await_ready() const noexcept { return false; }
  template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
    t_ = &h.promise().hdr;
    r_ = start_(t_, &io_);
    return r_ == BIO_PENDING; // ended at once: resume without suspending
  }
  int await_resume() const noexcept { return r_ == BIO_PENDING ? t_->res : r_; }

private:
  Start start_;
  bio_io io_{};
  bio_task *t_ = nullptr;
  int r_ = 0;
};

// The same for the awaits that take no bio_io (join, notify, scope close).
template <class Start> class plain_await {
public:
  explicit plain_await(Start s) : start_(std::move(s)) {}
  bool await_ready() const noexcept { return false; }
  template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
    t_ = &h.promise().hdr;
    r_ = start_(t_);
    return r_ == BIO_PENDING;
  }
  int await_resume() const noexcept { return r_ == BIO_PENDING ? t_->res : r_; }

private:
  Start start_;
  bio_task *t_ = nullptr;
  int r_ = 0;
};

template <class S> future<S> make_future(S s) { return future<S>(std::move(s)); }
template <class S> plain_await<S> make_await(S s) {
  return plain_await<S>(std::move(s));
}

} // namespace detail

class task {
public:
  struct promise_type : detail::promise_base {
    task get_return_object() noexcept {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };
  using handle = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  task(task &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  task &operator=(task &&o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  task(const task &) = delete;
  task &operator=(const task &) = delete;
  // A task must have finished (or never started) when its owner drops it.
  ~task() { reset(); }

  // The C header: to bio_join it from C, or bio_spawn it yourself with
  // task::resume as its function.
  bio_task *header() noexcept { return h_ ? &h_.promise().hdr : nullptr; }
  bool done() const noexcept { return h_ && bio_task_done(&h_.promise().hdr); }
  int result() const noexcept { return h_ ? h_.promise().result : -EINVAL; }

  // Starts it in scope; this object stays the owner (join it, or keep it
  // until it is done). 0 or a negative errno.
  int spawn(bio_scope *scope) noexcept {
    return h_ ? bio_spawn(scope, header(), &task::resume) : -EINVAL;
  }
  // Starts it detached: the runtime destroys the frame when it ends.
  int spawn_detached(bio_scope *scope) && noexcept {
    if (!h_)
      return -EINVAL;
    int r = bio_spawn_detached(scope, header(), &task::resume, &task::release);
    if (r == 0)
      h_ = nullptr;
    return r;
  }

  // co_await on a spawned task joins it: its result.
  auto operator co_await() & noexcept {
    bio_task *target = header();
    return detail::make_await(
        [target](bio_task *t) { return bio_join(t, target); });
  }

  // The C resume function of every C++ task.
  static int resume(bio_task *t) noexcept {
    auto *p = reinterpret_cast<promise_type *>(t);
    handle h = handle::from_promise(*p);
    h.resume();
    return h.done() ? p->result : BIO_PENDING;
  }
  static void release(bio_task *t) noexcept {
    handle::from_promise(*reinterpret_cast<promise_type *>(t)).destroy();
  }

private:
  explicit task(handle h) noexcept : h_(h) {}
  void reset() noexcept {
    if (h_) {
      if (h_.promise().hdr.fn != nullptr && !bio_task_done(&h_.promise().hdr))
        std::terminate(); // dropped while it runs: its frame is in use
      h_.destroy();
      h_ = nullptr;
    }
  }
  handle h_ = nullptr;
};

static_assert(offsetof(detail::promise_base, hdr) == 0,
              "the header starts the promise");

// ---- the runtime ----

class runtime {
public:
  explicit runtime(const bio_loop_options *opts = nullptr) {
    int e = bio_rt_new(&rt_, opts);
    if (e != 0)
      throw std::system_error(-e, std::generic_category(), "bio_rt_new");
  }
  runtime(const runtime &) = delete;
  runtime &operator=(const runtime &) = delete;
  ~runtime() {
    if (bio_rt_free(rt_) == -EBUSY) {
      bio_rt_shutdown(rt_);
      bio_rt_free(rt_);
    }
  }
  bio_rt *get() noexcept { return rt_; }
  bio_scope *scope() noexcept { return bio_rt_scope(rt_); }
  // Runs t (spawned into the root scope) to its end: its result.
  int block_on(task &t) noexcept {
    return bio_rt_block_on(rt_, t.header(), &task::resume);
  }
  int block_on(task &&t) noexcept {
    task owned = std::move(t);
    return block_on(owned);
  }
  int run() noexcept { return bio_rt_run(rt_); }
  int shutdown() noexcept { return bio_rt_shutdown(rt_); }

private:
  bio_rt *rt_ = nullptr;
};

// ---- futures ----

inline auto sleep_until(std::uint64_t deadline_ns) {
  return detail::make_future([deadline_ns](bio_task *t, bio_io *io) {
    return bio_sleep_until(t, io, deadline_ns);
  });
}
inline auto sleep(std::uint64_t ns) {
  return detail::make_future(
      [ns](bio_task *t, bio_io *io) { return bio_sleep(t, io, ns); });
}
inline auto recv(int fd, void *buf, std::size_t len) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_recv(t, io, fd, buf, len);
  });
}
inline auto send(int fd, const void *buf, std::size_t len) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_send(t, io, fd, buf, len);
  });
}
inline auto send_all(int fd, const void *buf, std::size_t len) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_send_all(t, io, fd, buf, len);
  });
}
inline auto accept(int fd) {
  return detail::make_future(
      [fd](bio_task *t, bio_io *io) { return bio_accept(t, io, fd); });
}
inline auto connect(int fd, const struct sockaddr *addr, socklen_t len) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_connect(t, io, fd, addr, len);
  });
}
inline auto poll(int fd, unsigned events) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_poll(t, io, fd, events);
  });
}
inline auto read(int fd, void *buf, std::size_t len, std::int64_t off) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_read(t, io, fd, buf, len, off);
  });
}
inline auto write(int fd, const void *buf, std::size_t len, std::int64_t off) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_write(t, io, fd, buf, len, off);
  });
}
inline auto open(const char *path, int flags, unsigned mode = 0) {
  return detail::make_future([=](bio_task *t, bio_io *io) {
    return bio_open(t, io, path, flags, mode);
  });
}
inline auto close(int fd) {
  return detail::make_future(
      [fd](bio_task *t, bio_io *io) { return bio_close(t, io, fd); });
}

// A socket's receiver (bio_recv_stream): a slot of its own that stays
// fd's across reads, so that io_uring keeps one recv armed for it. Keep it
// where it stays put (a coroutine's local), and co_await close() (or
// stop()) before it goes:
//
//   bio::receiver rx(fd);
//   int n = co_await rx.recv(buf, sizeof buf);
//   ...
//   co_await rx.close();
class receiver {
public:
  explicit receiver(int fd) noexcept : fd_(fd) {}
  receiver(const receiver &) = delete;
  receiver &operator=(const receiver &) = delete;

  // Bytes, 0 at the end of the stream, or a negative errno.
  auto recv(void *buf, std::size_t len) {
    return detail::make_await([this, buf, len](bio_task *t) {
      return bio_recv_stream(t, &io_, fd_, buf, len);
    });
  }
  // Ends the receiver, keeping fd open.
  auto stop() {
    return detail::make_await(
        [this](bio_task *t) { return bio_recv_stop(t, &io_); });
  }
  // Ends the receiver and closes fd.
  auto close() {
    return detail::make_await(
        [this](bio_task *t) { return bio_close(t, &io_, fd_); });
  }
  // Every read from now on fails with -ETIMEDOUT if it has not ended by
  // deadline_ns (0: none).
  void deadline(std::uint64_t deadline_ns) noexcept {
    bio_io_deadline(&io_, deadline_ns);
  }
  int fd() const noexcept { return fd_; }

private:
  bio_io io_{};
  int fd_;
};

// Joins a task written in C (or any bio_task); .deadline(ns) works.
inline auto join(bio_task *target) {
  return detail::make_future([target](bio_task *t, bio_io *io) {
    return bio_join_io(t, io, target);
  });
}
// Waits on a bio_notify with a deadline: wait_for(n).deadline(ns).
inline auto wait_for(bio_notify *n) {
  return detail::make_future(
      [n](bio_task *t, bio_io *io) { return bio_notify_wait_io(t, io, n); });
}
// Closes a scope (cancelling it first if cancel): waits for its tasks.
inline auto close_scope(bio_scope *scope, bool cancel) {
  return detail::make_await([=](bio_task *t) {
    return bio_scope_close(t, scope, cancel ? 1 : 0);
  });
}

// Waits on a bio_notify (the waiter lives in the awaiter).
class notified {
public:
  explicit notified(bio_notify *n) noexcept : n_(n) {}
  bool await_ready() const noexcept { return false; }
  template <class P> bool await_suspend(std::coroutine_handle<P> h) noexcept {
    t_ = &h.promise().hdr;
    r_ = bio_notify_wait(t_, &w_, n_);
    return r_ == BIO_PENDING;
  }
  int await_resume() const noexcept { return r_ == BIO_PENDING ? t_->res : r_; }

private:
  bio_notify *n_;
  bio_waiter w_{};
  bio_task *t_ = nullptr;
  int r_ = 0;
};
inline notified wait(bio_notify *n) noexcept { return notified(n); }

// co_await bio::yield(): every other runnable task runs first.
struct yield {
  bool await_ready() const noexcept { return false; }
  template <class P> void await_suspend(std::coroutine_handle<P> h) noexcept {
    bio_task_yield(&h.promise().hdr);
  }
  void await_resume() const noexcept {}
};

} // namespace bio

#endif
