/* fetch-task: many concurrent fetches, each under a deadline.
 *
 *   fetch-task [-t MS] [-c COUNT] [-s STALLED] HOST:PORT...
 *
 * For each target (COUNT times each, default 1), one task connects, sends
 * a small HTTP/1.0 request, half-closes, and reads the answer to its end,
 * all before a deadline MS milliseconds from the start (default 1000).
 * -s adds STALLED fetches from a local server that never answers (a
 * listener whose backlog is full): their connects time out. Prints one
 * line per fetch ("HOST:PORT ok BYTES", "timeout", "error: ...") and a
 * summary; exits 0 when every fetch ended one way or another. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blitzio.h"

struct fetch {
  bio_task task;
  bio_io io;
  struct sockaddr_in addr;
  const char *name;
  int fd;
  int r;
  long got;
  char req[128];
  char buf[4096];
};

static int fetch_run(bio_task *t) {
  struct fetch *f = bio_container_of(t, struct fetch, task);
  BIO_BEGIN(t);
  f->fd = bio_tcp_socket(AF_INET);
  if (f->fd < 0)
    return f->fd;
  BIO_AWAIT(t, f->r, bio_connect(t, &f->io, f->fd,
                                 (struct sockaddr *)&f->addr,
                                 sizeof(f->addr)));
  if (f->r == 0) {
    snprintf(f->req, sizeof(f->req), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n",
             f->name);
    BIO_AWAIT(t, f->r, bio_send_all(t, &f->io, f->fd, f->req,
                                    strlen(f->req)));
  }
  if (f->r >= 0) {
    shutdown(f->fd, SHUT_WR);
    do {
      BIO_AWAIT(t, f->r, bio_recv(t, &f->io, f->fd, f->buf, sizeof f->buf));
      if (f->r > 0)
        f->got += f->r;
    } while (f->r > 0);
  }
  close(f->fd);
  BIO_END(t, f->r);
}

/* A listener nobody accepts on, its backlog filled: connects to it stay
 * in progress until they give up. */
static int stalled_listener(struct sockaddr_in *addr, int fill[2]) {
  socklen_t len = sizeof(*addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int i;
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
      listen(fd, 0) != 0)
    return -1;
  getsockname(fd, (struct sockaddr *)addr, &len);
  for (i = 0; i < 2; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fill[i], (struct sockaddr *)addr, sizeof(*addr));
  }
  usleep(10000); /* let the kernel queue them */
  return fd;
}

int main(int argc, char **argv) {
  long timeout_ms = 1000, count = 1, stalled = 0;
  long ntargets, nfetch, i, k, ok = 0, timedout = 0, failed = 0;
  struct fetch *f;
  struct sockaddr_in stall_addr;
  int stall_fd = -1, fill[2] = {-1, -1};
  uint64_t deadline;
  bio_rt *rt;
  int opt, err;

  while ((opt = getopt(argc, argv, "t:c:s:")) != -1) {
    if (opt == 't')
      timeout_ms = atol(optarg);
    else if (opt == 'c')
      count = atol(optarg);
    else if (opt == 's')
      stalled = atol(optarg);
    else {
      fprintf(stderr, "usage: fetch-task [-t MS] [-c COUNT] [-s STALLED] "
                      "HOST:PORT...\n");
      return 2;
    }
  }
  ntargets = argc - optind;
  if (count < 1 || timeout_ms < 1 || stalled < 0 ||
      (ntargets == 0 && stalled == 0)) {
    fprintf(stderr, "fetch-task: nothing to fetch\n");
    return 2;
  }
  nfetch = ntargets * count + stalled;
  f = calloc((size_t)nfetch, sizeof(*f));
  if (f == NULL)
    return 1;
  if (stalled > 0 && (stall_fd = stalled_listener(&stall_addr, fill)) < 0) {
    perror("fetch-task: listener");
    return 1;
  }
  if ((err = bio_rt_new(&rt, NULL)) != 0) {
    fprintf(stderr, "fetch-task: %s\n", strerror(-err));
    return 1;
  }
  deadline = bio_now_ns() + (uint64_t)timeout_ms * 1000000u;
  for (i = 0; i < nfetch; i++) {
    if (i < ntargets * count) {
      char host[64];
      const char *arg = argv[optind + i / count];
      const char *colon = strrchr(arg, ':');
      size_t hl = colon != NULL ? (size_t)(colon - arg) : 0;
      if (colon == NULL || hl >= sizeof(host)) {
        fprintf(stderr, "fetch-task: %s: not HOST:PORT\n", arg);
        return 2;
      }
      memcpy(host, arg, hl);
      host[hl] = 0;
      f[i].addr.sin_family = AF_INET;
      f[i].addr.sin_port = htons((uint16_t)atoi(colon + 1));
      if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1"
                                                             : host,
                    &f[i].addr.sin_addr) != 1) {
        fprintf(stderr, "fetch-task: %s: not an IPv4 address\n", host);
        return 2;
      }
      f[i].name = arg;
    } else {
      f[i].addr = stall_addr;
      f[i].name = "stalled";
    }
    bio_io_init(&f[i].io);
    bio_io_deadline(&f[i].io, deadline);
    bio_spawn(bio_rt_scope(rt), &f[i].task, fetch_run);
  }
  err = bio_rt_run(rt);
  for (i = 0; i < nfetch; i++) {
    int r = bio_task_result(&f[i].task);
    if (r >= 0) {
      printf("%s ok %ld\n", f[i].name, f[i].got);
      ok++;
    } else if (r == -ETIMEDOUT) {
      printf("%s timeout\n", f[i].name);
      timedout++;
    } else {
      printf("%s error: %s\n", f[i].name, strerror(-r));
      failed++;
    }
  }
  printf("fetched %ld of %ld: %ld timed out, %ld failed\n", ok, nfetch,
         timedout, failed);
  for (k = 0; k < 2; k++)
    if (fill[k] >= 0)
      close(fill[k]);
  if (stall_fd >= 0)
    close(stall_fd);
  free(f);
  if (err == 0)
    err = bio_rt_free(rt);
  return err == 0 ? 0 : 1;
}
