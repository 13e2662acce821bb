/* echo-task: a TCP echo server on bio_task, one task per connection.
 *
 *   echo-task PORT     serves 127.0.0.1:PORT (0: any free port) until
 *                      SIGINT or SIGTERM, then exits 0
 *   echo-task PORT WORKERS [per-core]
 *                      the same on WORKERS threads (bio_runtime), each
 *                      with its own listener on the port (SO_REUSEPORT):
 *                      the kernel spreads connections, nothing is shared
 *   echo-task PORT WORKERS stealing
 *                      WORKERS threads, work stealing: one listener, its
 *                      accept loop on worker 0 queues each connection's
 *                      task, and idle workers steal them
 *
 * Prints "listening on PORT" once it accepts connections. A signal cancels
 * the runtime's root scope: the accept loop and every connection's await
 * end with -ECANCELED, each task closes its socket, and bio_rt_run returns
 * when the last one has finished. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "blitzio.h"

/* A connection: everything that lives across an await is here. rx is
 * the socket's receiver (one recv armed for the connection's life on
 * io_uring), tx the slot of its sends. */
struct conn {
  bio_task task;
  bio_io rx, tx;
  int fd;
  int n;
  char buf[4096];
};

static int conn_run(bio_task *t) {
  struct conn *c = bio_container_of(t, struct conn, task);
  BIO_BEGIN(t);
  for (;;) {
    BIO_AWAIT(t, c->n,
              bio_recv_stream(t, &c->rx, c->fd, c->buf, sizeof c->buf));
    if (c->n <= 0)
      break;
    BIO_AWAIT(t, c->n, bio_send_all(t, &c->tx, c->fd, c->buf, (size_t)c->n));
    if (c->n < 0)
      break;
  }
  /* Cancelled or not, the receiver ends and the socket is closed. */
  BIO_AWAIT(t, c->n, bio_close(t, &c->rx, c->fd));
  BIO_END(t, 0);
}

struct server {
  bio_task task;
  bio_io io;
  int lfd;
  int fd;
  /* Work stealing: connections are spawned with bio_runtime_spawn into
   * frames of this pool (a task started on another worker can't be
   * freed by its spawner's frame cache), reused once done. */
  bio_runtime *mt;
  struct conn **pool;
  size_t npool, cursor;
};

/* A frame whose task is done (or new), from s's pool; NULL if out of
 * memory. */
static struct conn *pool_get(struct server *s) {
  size_t i;
  struct conn **grown;
  /* A look at the next few, not at all of them: with every frame busy
   * (10,000 live connections) a full scan per accept would be quadratic. */
  for (i = 0; i < s->npool && i < 64; i++) {
    struct conn *c = s->pool[(s->cursor + i) % s->npool];
    if (bio_task_done(&c->task)) {
      s->cursor = (s->cursor + i + 1) % s->npool;
      return c;
    }
  }
  if (s->npool != 0)
    s->cursor = (s->cursor + i) % s->npool;
  grown = realloc(s->pool, (s->npool + 1) * sizeof(*grown));
  if (grown == NULL)
    return NULL;
  s->pool = grown;
  if ((s->pool[s->npool] = malloc(sizeof(struct conn))) == NULL)
    return NULL;
  return s->pool[s->npool++];
}

static int server_run(bio_task *t) {
  struct server *s = bio_container_of(t, struct server, task);
  BIO_BEGIN(t);
  for (;;) {
    BIO_AWAIT(t, s->fd, bio_accept(t, &s->io, s->lfd));
    if (s->fd == -ECANCELED)
      break;
    if (s->fd < 0) {
      /* EMFILE and friends: report, breathe, go on. */
      fprintf(stderr, "echo-task: accept: %s\n", strerror(-s->fd));
      BIO_AWAIT(t, s->fd, bio_sleep(t, &s->io, 10000000));
      continue;
    }
    {
      int one = 1;
      struct conn *c;
      setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (s->mt != NULL) {
        if ((c = pool_get(s)) == NULL) {
          close(s->fd);
          continue;
        }
        memset(c, 0, offsetof(struct conn, buf));
        c->fd = s->fd;
        if (bio_runtime_spawn(s->mt, &c->task, conn_run) != 0)
          close(s->fd);
        continue;
      }
      c = (struct conn *)(void *)bio_spawn_new(t->scope, sizeof(struct conn),
                                              conn_run);
      if (c == NULL) {
        close(s->fd);
        continue;
      }
      c->fd = s->fd;
    }
  }
  BIO_END(t, 0);
}

/* Waits for SIGINT or SIGTERM, then cancels everything. */
struct stopper {
  bio_task task;
  bio_io io;
  int sfd;
  int r;
};

static int stopper_run(bio_task *t) {
  struct stopper *s = bio_container_of(t, struct stopper, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, s->r, bio_poll(t, &s->io, s->sfd, POLLIN));
  bio_scope_cancel(t->scope);
  BIO_END(t, 0);
}

/* WORKERS threads. Thread-per-core: a listener and an accept loop per
 * worker. Work stealing: one listener and accept loop (worker 0), the
 * connections' tasks queued for any worker. The main thread waits for the
 * signal and shuts down. */
static int run_workers(struct sockaddr_in *addr, unsigned workers,
                       int stealing, sigset_t *sigs) {
  bio_runtime_options o;
  bio_runtime *rt;
  struct server *servers;
  socklen_t len = sizeof(*addr);
  unsigned i, nlisten = stealing ? 1 : workers;
  int one = 1, sig, err;
  size_t k;

  servers = calloc(workers, sizeof(*servers));
  if (servers == NULL)
    return 1;
  for (i = 0; i < nlisten; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        listen(fd, 4096) != 0) {
      perror("echo-task: listen");
      return 1;
    }
    /* Port 0: the first listener's port for the others. */
    getsockname(fd, (struct sockaddr *)addr, &len);
    servers[i].lfd = fd;
  }
  bio_runtime_options_init(&o);
  o.workers = workers;
  if (stealing)
    o.shape = BIO_RUNTIME_STEALING;
  if ((err = bio_runtime_new(&rt, &o)) != 0) {
    fprintf(stderr, "echo-task: %s\n", strerror(-err));
    return 1;
  }
  if (stealing)
    servers[0].mt = rt;
  for (i = 0; i < nlisten; i++)
    bio_runtime_spawn_on(rt, i, &servers[i].task, server_run);
  printf("listening on %d\n", ntohs(addr->sin_port));
  fflush(stdout);
  /* The workers inherited the blocked mask: the signal comes here. */
  sigwait(sigs, &sig);
  bio_runtime_shutdown(rt, 1);
  for (i = 0; i < nlisten; i++)
    close(servers[i].lfd);
  for (k = 0; k < servers[0].npool; k++)
    free(servers[0].pool[k]);
  free(servers[0].pool);
  free(servers);
  return 0;
}

int main(int argc, char **argv) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  struct server server;
  struct stopper stopper;
  sigset_t sigs;
  bio_rt *rt;
  int err;

  if (argc < 2 || argc > 4 ||
      (argc == 4 && strcmp(argv[3], "per-core") != 0 &&
       strcmp(argv[3], "stealing") != 0)) {
    fprintf(stderr, "usage: echo-task PORT [WORKERS [per-core|stealing]]\n");
    return 2;
  }
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((uint16_t)atoi(argv[1]));
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);

  if (argc >= 3) {
    int workers = atoi(argv[2]);
    if (workers < 1 || workers > 1024) {
      fprintf(stderr, "echo-task: WORKERS: 1 to 1024\n");
      return 2;
    }
    return run_workers(&addr, (unsigned)workers,
                       argc == 4 && strcmp(argv[3], "stealing") == 0, &sigs);
  }
  memset(&server, 0, sizeof(server));
  memset(&stopper, 0, sizeof(stopper));
  stopper.sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  server.lfd = bio_tcp_listen((struct sockaddr *)&addr, sizeof(addr), 4096);
  if (server.lfd < 0 || stopper.sfd < 0) {
    fprintf(stderr, "echo-task: listen: %s\n",
            strerror(server.lfd < 0 ? -server.lfd : errno));
    return 1;
  }
  getsockname(server.lfd, (struct sockaddr *)&addr, &len);
  if ((err = bio_rt_new(&rt, NULL)) != 0) {
    fprintf(stderr, "echo-task: %s\n", strerror(-err));
    return 1;
  }
  bio_spawn(bio_rt_scope(rt), &server.task, server_run);
  bio_spawn(bio_rt_scope(rt), &stopper.task, stopper_run);
  printf("listening on %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  err = bio_rt_run(rt);
  close(server.lfd);
  close(stopper.sfd);
  if (err == 0)
    err = bio_rt_free(rt);
  if (err != 0) {
    fprintf(stderr, "echo-task: %s\n", strerror(-err));
    return 1;
  }
  return 0;
}
