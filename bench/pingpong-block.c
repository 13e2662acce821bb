/* The floor under libuv's ping_pongs benchmark: the same exchange (a
 * client sends "PING", an echo server in another process sends it back,
 * one message at a time over TCP loopback) written with plain blocking
 * sockets, no event loop at all. Each round trip is then a send, a wake-up
 * of the other process, its recv and send, and our wake-up: what any
 * event loop pays too. Prints round trips per second.
 *
 * usage: pingpong-block [seconds]   (default 5, as ping_pongs runs)
 * build: cc -O2 -o pingpong-block bench/pingpong-block.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads exactly n bytes; 0 at EOF. */
static int read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r <= 0)
      return 0;
    p += r;
    n -= (size_t)r;
  }
  return 1;
}

static void serve(int lfd) {
  char buf[4];
  int one = 1;
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    die("accept");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  while (read_full(fd, buf, sizeof(buf)))
    if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
      break;
  _exit(0);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 5.0;
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  long trips = 0;
  double start, end;
  char buf[4];
  int one = 1;
  int lfd, fd;
  pid_t child;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(lfd, 1) != 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &len) != 0)
    die("listen");
  child = fork();
  if (child < 0)
    die("fork");
  if (child == 0)
    serve(lfd);
  close(lfd);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
    die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  start = now_s();
  end = start + seconds;
  do {
    if (send(fd, "PING", 4, 0) != 4 || !read_full(fd, buf, sizeof(buf)) ||
        memcmp(buf, "PING", 4) != 0)
      die("round trip");
    trips++;
  } while ((trips & 63) != 0 || now_s() < end);
  end = now_s();
  close(fd);
  waitpid(child, NULL, 0);
  printf("pingpong-block: %ld round trips in %.2f s: %.0f/s\n", trips,
         end - start, (double)trips / (end - start));
  return 0;
}
