/* echo-uring: the ceiling for bench/echo.sh - a TCP echo server on raw
 * io_uring with every trick we know: one multishot accept into the fixed
 * file table, one multishot recv per connection into a provided-buffer
 * ring, the received buffer sent straight back and returned to the ring,
 * and a single-issuer ring whose task work runs only when we wait.
 *
 * usage: echo-uring [-b BUFFERS] [-t THREADS] PORT
 *   (0: any port; prints "listening on"). With -t N > 1: N threads, each
 *   the whole server above with its own ring, buffers and listener on the
 *   port (SO_REUSEPORT; the kernel spreads the connections): the ceiling
 *   for a multi-threaded server.
 * Needs Linux 6.0 (multishot recv); uses 6.1's DEFER_TASKRUN when there.
 * BIO_URING_FLAGS=0 turns the optional setup flags off. Exits 0 on SIGTERM
 * or SIGINT. */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CLOSE };
enum { BUF_GROUP = 7, BUF_BYTES = 4096, SQ_ENTRIES = 4096 };
enum { CQ_ENTRIES = 65536 };

/* One per fixed-file slot (or fd, without fixed files). Received buffers
 * wait in a FIFO linked through buf_next so a connection has at most one
 * send in flight: two sends on one socket may complete out of order. */
typedef struct {
  int32_t head_bid;
  int32_t tail_bid;
  uint32_t sent_bytes; /* of the head buffer, after a short send */
  uint8_t open;
  uint8_t sending;
  uint8_t recv_armed;
  uint8_t eof;
  uint8_t starved; /* on the starved list, waiting for buffers */
} conn_t;

/* Each server thread (-t) has its own of everything below but the
 * settings and the stop flag. */
static __thread struct io_uring ring;
static __thread struct io_uring_buf_ring *buf_ring;
static __thread char *buf_base;
static __thread uint32_t *buf_len;
static __thread int32_t *buf_next;
static unsigned nbufs;
static __thread unsigned buf_mask;
static __thread unsigned bufs_to_advance;
static __thread conn_t *conns;
static unsigned nconns;
/* conn indices whose recv ended in ENOBUFS */
static __thread int32_t *starved;
static __thread unsigned nstarved;
static __thread int listen_fd;
static __thread int fixed_files;
static volatile sig_atomic_t stopping;
static unsigned nthreads = 1;

static void die(const char *what, int err) {
  fprintf(stderr, "echo-uring: %s: %s\n", what, strerror(err));
  exit(1);
}


static uint64_t tag(unsigned op, unsigned bid, unsigned idx) {
  return (uint64_t)op << 56 | (uint64_t)bid << 32 | idx;
}


static struct io_uring_sqe *get_sqe(void) {
  struct io_uring_sqe *sqe;
  int ret;

  /* A full SQ is flushed, not dropped: back-pressure, never lost ops. */
  while ((sqe = io_uring_get_sqe(&ring)) == NULL) {
    ret = io_uring_submit(&ring);
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
      die("io_uring_submit", -ret);
  }
  return sqe;
}


static void set_file(struct io_uring_sqe *sqe) {
  if (fixed_files)
    sqe->flags |= IOSQE_FIXED_FILE;
}


static void arm_accept(void) {
  struct io_uring_sqe *sqe = get_sqe();

  /* Multishot accept: Linux 5.19; straight into a free fixed-file slot:
   * 5.19 too, which saves an fget/fput on every later recv and send. */
  if (fixed_files)
    io_uring_prep_multishot_accept_direct(sqe, listen_fd, NULL, NULL, 0);
  else
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
  sqe->user_data = tag(OP_ACCEPT, 0, 0);
}


static void arm_recv(unsigned idx) {
  struct io_uring_sqe *sqe = get_sqe();

  /* Multishot recv (6.0) picking from the buffer ring (5.19): one SQE
   * serves the connection's whole life unless the ring runs dry. */
  io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
  set_file(sqe);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BUF_GROUP;
  sqe->user_data = tag(OP_RECV, 0, idx);
  conns[idx].recv_armed = 1;
}


static void start_send(unsigned idx) {
  conn_t *c = &conns[idx];
  unsigned bid = (unsigned)c->head_bid;
  struct io_uring_sqe *sqe = get_sqe();

  /* MSG_WAITALL: the kernel retries a short send itself (5.18). */
  io_uring_prep_send(sqe, (int)idx,
                     buf_base + (size_t)bid * BUF_BYTES + c->sent_bytes,
                     buf_len[bid] - c->sent_bytes, MSG_WAITALL | MSG_NOSIGNAL);
  set_file(sqe);
  sqe->user_data = tag(OP_SEND, bid, idx);
  c->sending = 1;
}


static void return_buf(unsigned bid) {
  io_uring_buf_ring_add(buf_ring, buf_base + (size_t)bid * BUF_BYTES, BUF_BYTES,
                        (unsigned short)bid, buf_mask, (int)bufs_to_advance);
  /* Published once per CQE batch: one store-release instead of many. */
  bufs_to_advance++;
}


/* Closes once nothing of ours is in flight on the slot: a CQE arriving
 * after the slot was reused would land on the wrong connection. */
static void maybe_close(unsigned idx) {
  conn_t *c = &conns[idx];
  struct io_uring_sqe *sqe;

  if (!c->open || c->sending || c->recv_armed || c->starved)
    return;
  while (c->head_bid >= 0) {
    return_buf((unsigned)c->head_bid);
    c->head_bid = buf_next[c->head_bid];
  }
  c->open = 0;
  sqe = get_sqe();
  if (fixed_files)
    io_uring_prep_close_direct(sqe, idx);
  else
    io_uring_prep_close(sqe, (int)idx);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  sqe->user_data = tag(OP_CLOSE, 0, idx);
}


static void on_accept(const struct io_uring_cqe *cqe) {
  conn_t *c;
  int one = 1;

  if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping)
    arm_accept();
  if (cqe->res < 0) {
    /* ENFILE/EMFILE/ENOMEM: keep serving what we have. */
    fprintf(stderr, "echo-uring: accept: %s\n", strerror(-cqe->res));
    return;
  }
  if ((unsigned)cqe->res >= nconns)
    die("accept: slot beyond the table", ERANGE);
  if (!fixed_files &&
      setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    die("setsockopt TCP_NODELAY", errno);
  c = &conns[cqe->res];
  memset(c, 0, sizeof(*c));
  c->head_bid = -1;
  c->tail_bid = -1;
  c->open = 1;
  arm_recv((unsigned)cqe->res);
}


static void on_recv(const struct io_uring_cqe *cqe, unsigned idx) {
  conn_t *c = &conns[idx];
  unsigned bid;

  if (!(cqe->flags & IORING_CQE_F_MORE))
    c->recv_armed = 0;
  if (cqe->res > 0) {
    if (!(cqe->flags & IORING_CQE_F_BUFFER))
      die("recv: no buffer", EPROTO);
    bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    buf_len[bid] = (uint32_t)cqe->res;
    buf_next[bid] = -1;
    if (c->tail_bid >= 0)
      buf_next[c->tail_bid] = (int32_t)bid;
    else
      c->head_bid = (int32_t)bid;
    c->tail_bid = (int32_t)bid;
    if (!c->sending)
      start_send(idx);
    if (!c->recv_armed && !c->eof)
      arm_recv(idx);
    return;
  }
  if (cqe->res == -ENOBUFS && !c->eof) {
    /* The ring ran dry: rearm once buffers come back (end of batch). */
    c->starved = 1;
    starved[nstarved++] = (int32_t)idx;
    return;
  }
  /* 0 is EOF; anything else is an error (ECONNRESET): close either way. */
  if (c->recv_armed)
    return;
  c->eof = 1;
  maybe_close(idx);
}


static void on_send(const struct io_uring_cqe *cqe, unsigned idx,
                    unsigned bid) {
  conn_t *c = &conns[idx];

  c->sending = 0;
  if (cqe->res < 0) {
    c->eof = 1;
    maybe_close(idx);
    return;
  }
  c->sent_bytes += (uint32_t)cqe->res;
  if (c->sent_bytes < buf_len[bid] && cqe->res > 0) {
    start_send(idx);
    return;
  }
  c->sent_bytes = 0;
  c->head_bid = buf_next[bid];
  if (c->head_bid < 0)
    c->tail_bid = -1;
  return_buf(bid);
  if (c->head_bid >= 0)
    start_send(idx);
  else if (c->eof)
    maybe_close(idx);
}


static void rearm_starved(void) {
  unsigned i;
  unsigned idx;

  for (i = 0; i < nstarved; i++) {
    idx = (unsigned)starved[i];
    conns[idx].starved = 0;
    if (conns[idx].eof)
      maybe_close(idx);
    else
      arm_recv(idx);
  }
  nstarved = 0;
}


static void on_signal(int signum) {
  (void)signum;
  stopping = 1;
}


static int kernel_at_least(int major, int minor) {
  struct utsname u;
  int ma = 0;
  int mi = 0;

  if (uname(&u) != 0)
    die("uname", errno);
  if (sscanf(u.release, "%d.%d", &ma, &mi) != 2)
    return 1;
  return ma > major || (ma == major && mi >= minor);
}


/* SINGLE_ISSUER (6.0) lets the kernel skip locking for one submitter;
 * DEFER_TASKRUN (6.1) runs completions only when we wait, batched, instead
 * of interrupting us. Older kernels reject them: fall back step by step. */
static void setup_ring(void) {
  static const unsigned tries[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_COOP_TASKRUN, 0};
  struct io_uring_params p;
  const char *env = getenv("BIO_URING_FLAGS");
  unsigned i;
  int ret = -EINVAL;

  for (i = env != NULL && strcmp(env, "0") == 0 ? 3 : 0; i < 4; i++) {
    memset(&p, 0, sizeof(p));
    /* A CQ much larger than the SQ: 10,000 connections can each post a
     * recv and a send completion between two waits. */
    p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = CQ_ENTRIES;
    ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    if (ret == 0)
      break;
    if (ret != -EINVAL)
      die("io_uring_queue_init_params", -ret);
  }
  if (ret != 0)
    die("io_uring_queue_init_params", -ret);
  fprintf(stderr, "echo-uring: setup flags%s%s%s\n",
          p.flags & IORING_SETUP_SINGLE_ISSUER ? " SINGLE_ISSUER" : "",
          p.flags & IORING_SETUP_DEFER_TASKRUN ? " DEFER_TASKRUN" : "",
          p.flags & IORING_SETUP_COOP_TASKRUN ? " COOP_TASKRUN" : "");
}


static void setup_buffers(void) {
  struct io_uring_buf_reg reg;
  size_t ring_bytes = (size_t)nbufs * sizeof(struct io_uring_buf);
  unsigned i;
  int ret;

  /* The ring itself must be page-aligned: mmap, not malloc. */
  buf_ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf_ring == MAP_FAILED)
    die("mmap buffer ring", errno);
  /* The pool is prefaulted: it is a fixed cost paid at start, so the idle
   * memory measurement (RSS growth per connection) does not count pages
   * that the FIFO ring happens to touch first while connections come up. */
  buf_base = mmap(NULL, (size_t)nbufs * BUF_BYTES, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (buf_base == MAP_FAILED)
    die("mmap buffers", errno);
  buf_len = calloc(nbufs, sizeof(*buf_len));
  buf_next = calloc(nbufs, sizeof(*buf_next));
  if (buf_len == NULL || buf_next == NULL)
    die("calloc", ENOMEM);
  io_uring_buf_ring_init(buf_ring);
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (unsigned long)buf_ring;
  reg.ring_entries = nbufs;
  reg.bgid = BUF_GROUP;
  ret = io_uring_register_buf_ring(&ring, &reg, 0);
  if (ret != 0)
    die("io_uring_register_buf_ring (needs Linux 5.19)", -ret);
  buf_mask = (unsigned)io_uring_buf_ring_mask(nbufs);
  for (i = 0; i < nbufs; i++)
    return_buf(i);
  io_uring_buf_ring_advance(buf_ring, (int)bufs_to_advance);
  bufs_to_advance = 0;
}


/* Returns the port it listens on; says so when told to. */
static long setup_listener(long port, int announce) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int one = 1;

  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0)
    die("socket", errno);
  if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
    die("setsockopt SO_REUSEADDR", errno);
  if (nthreads > 1 &&
      setsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
    die("setsockopt SO_REUSEPORT", errno);
  /* Accepted sockets inherit TCP_NODELAY from the listener on Linux, which
   * matters with fixed files: there is no plain fd to setsockopt later. */
  if (setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
    die("setsockopt TCP_NODELAY", errno);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
    die("bind", errno);
  if (listen(listen_fd, 65535) != 0)
    die("listen", errno);
  if (getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0)
    die("getsockname", errno);
  if (announce) {
    printf("listening on %d\n", ntohs(addr.sin_port));
    fflush(stdout);
  }
  return ntohs(addr.sin_port);
}


static void dispatch(const struct io_uring_cqe *cqe) {
  unsigned op = (unsigned)(cqe->user_data >> 56);
  unsigned bid = (unsigned)(cqe->user_data >> 32) & 0xffffff;
  unsigned idx = (unsigned)cqe->user_data;

  switch (op) {
  case OP_ACCEPT:
    on_accept(cqe);
    break;
  case OP_RECV:
    on_recv(cqe, idx);
    break;
  case OP_SEND:
    on_send(cqe, idx, bid);
    break;
  case OP_CLOSE:
    /* Only failures post (CQE_SKIP_SUCCESS); the slot is gone anyway. */
    fprintf(stderr, "echo-uring: close: %s\n", strerror(-cqe->res));
    break;
  default:
    die("unknown completion", EPROTO);
  }
}


/* This thread's server: its ring, buffers, fixed files and listener.
 * Returns the port it listens on. */
static long server_init(long port, int announce) {
  int ret;

  conns = calloc(nconns, sizeof(*conns));
  starved = calloc(nconns, sizeof(*starved));
  if (conns == NULL || starved == NULL)
    die("calloc", ENOMEM);

  setup_ring();
  setup_buffers();
  ret = io_uring_register_files_sparse(&ring, nconns);
  fixed_files = ret == 0;
  if (!fixed_files)
    fprintf(stderr, "echo-uring: no fixed files (%s); using plain fds\n",
            strerror(-ret));
  port = setup_listener(port, announce);
  arm_accept();

  return port;
}


/* Serves until a signal; then (one thread) closes down. */
static void server_loop(void) {
  struct io_uring_cqe *cqe;
  unsigned head;
  unsigned seen;
  int ret;

  while (!stopping) {
    ret = io_uring_submit_and_wait(&ring, 1);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
      die("io_uring_submit_and_wait", -ret);
    /* Handlers only queue SQEs and recycle buffers - no callbacks into
     * other code - so dispatching while walking the CQ is safe here. */
    seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      dispatch(cqe);
      seen++;
    }
    io_uring_cq_advance(&ring, seen);
    if (bufs_to_advance > 0) {
      io_uring_buf_ring_advance(buf_ring, (int)bufs_to_advance);
      bufs_to_advance = 0;
    }
    if (nstarved > 0)
      rearm_starved();
  }
  io_uring_queue_exit(&ring);
  if (close(listen_fd) != 0)
    die("close", errno);
}


static long first_port;
static sem_t started;

static void *server_thread(void *arg) {
  first_port = server_init((long)(intptr_t)arg, 0);
  sem_post(&started);
  server_loop();
  return NULL;
}


int main(int argc, char **argv) {
  struct sigaction sa;
  struct rlimit rl;
  char *end;
  long port;
  int opt;

  nbufs = 16384;
  while ((opt = getopt(argc, argv, "b:t:")) != -1) {
    if (opt == 't') {
      nthreads = (unsigned)strtoul(optarg, &end, 10);
      if (*end != '\0' || nthreads == 0 || nthreads > 1024) {
        fprintf(stderr, "echo-uring: -t wants 1 to 1024 threads\n");
        return 2;
      }
      continue;
    }
    if (opt != 'b') {
      fprintf(stderr, "usage: echo-uring [-b BUFFERS] [-t THREADS] PORT\n");
      return 2;
    }
    nbufs = (unsigned)strtoul(optarg, NULL, 10);
    /* The buffer ring wants a power of two, at most 32768 entries. */
    if (nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1)) != 0) {
      fprintf(stderr, "echo-uring: -b wants a power of two <= 32768\n");
      return 2;
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "usage: echo-uring [-b BUFFERS] [-t THREADS] PORT\n");
    return 2;
  }
  port = strtol(argv[optind], &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    fprintf(stderr, "echo-uring: bad port %s\n", argv[optind]);
    return 2;
  }
  if (!kernel_at_least(6, 0)) {
    fprintf(stderr, "echo-uring: needs Linux 6.0 (multishot recv)\n");
    return 77;
  }

  /* The fixed file table is bounded by RLIMIT_NOFILE: raise it first. */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    die("getrlimit", errno);
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    die("setrlimit", errno);
  nconns = rl.rlim_cur > 1048576 ? 1048576 : (unsigned)rl.rlim_cur;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* No SA_RESTART: the signal must break io_uring_enter's wait. */
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
    die("sigaction", errno);

  if (nthreads == 1) {
    server_init(port, 1);
    server_loop();
    return 0;
  }
  /* Threads: the first listener picks the port, the rest share it; the
   * signals come to this thread only, which ends the process. */
  {
    sigset_t set;
    pthread_t th;
    unsigned i;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sem_init(&started, 0, 0);
    for (i = 0; i < nthreads; i++) {
      if (pthread_create(&th, NULL, server_thread,
                         (void *)(intptr_t)(i == 0 ? port : first_port)))
        die("pthread_create", EAGAIN);
      while (sem_wait(&started) != 0)
        ;
    }
    printf("listening on %ld\n", first_port);
    fflush(stdout);
    sigwait(&set, &sig);
    exit(0);
  }
  return 0;
}
