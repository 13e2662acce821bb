// echo-task-cxx: examples/echo-task in C++20 with blitzio.hpp.
//
//   echo-task-cxx PORT   serves 127.0.0.1:PORT (0: any) until SIGINT or
//                        SIGTERM; prints "listening on PORT"
//
// The same runtime and futures as the C version; locals live in the
// coroutine frame, so no frame struct is written by hand.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "blitzio.hpp"

static bio::task serve(int fd) {
  bio::receiver rx(fd); // one recv armed for the connection's life
  char buf[4096];
  for (;;) {
    int n = co_await rx.recv(buf, sizeof buf);
    if (n <= 0)
      break;
    if (co_await bio::send_all(fd, buf, static_cast<size_t>(n)) < 0)
      break;
  }
  co_await rx.close(); // even when cancelled: the receiver ends, fd closes
  co_return 0;
}

static bio::task accept_loop(bio_scope *scope, int lfd) {
  for (;;) {
    int fd = co_await bio::accept(lfd);
    if (fd == -ECANCELED)
      break;
    if (fd < 0) {
      std::fprintf(stderr, "echo-task-cxx: accept: %s\n", std::strerror(-fd));
      co_await bio::sleep(10000000);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (serve(fd).spawn_detached(scope) != 0)
      ::close(fd);
  }
  co_return 0;
}

static bio::task stop_on_signal(bio_scope *scope, int sfd) {
  co_await bio::poll(sfd, POLLIN);
  bio_scope_cancel(scope);
  co_return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: echo-task-cxx PORT\n");
    return 2;
  }
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  int lfd = bio_tcp_listen(reinterpret_cast<sockaddr *>(&addr), sizeof(addr),
                           4096);
  if (lfd < 0 || sfd < 0) {
    std::fprintf(stderr, "echo-task-cxx: listen: %s\n",
                 std::strerror(lfd < 0 ? -lfd : errno));
    return 1;
  }
  getsockname(lfd, reinterpret_cast<sockaddr *>(&addr), &len);
  int err;
  {
    bio::runtime rt;
    bio::task server = accept_loop(rt.scope(), lfd);
    bio::task stopper = stop_on_signal(rt.scope(), sfd);
    server.spawn(rt.scope());
    stopper.spawn(rt.scope());
    std::printf("listening on %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    err = rt.run();
  }
  ::close(lfd);
  ::close(sfd);
  if (err != 0) {
    std::fprintf(stderr, "echo-task-cxx: %s\n", std::strerror(-err));
    return 1;
  }
  return 0;
}
