/* echo-load: load generator for the echo servers of bench/echo.sh. Each of
 * N connections keeps one S-byte message in flight; every echoed byte is
 * compared with what was sent (a mismatch exits 1, loudly). After a warmup
 * it measures for T seconds and prints one line:
 *
 *   rt_per_s=... p50_us=... p99_us=... p999_us=... server_cpu_us_per_rt=...
 *   client_cpu_us_per_rt=... conns=N size=S
 *
 * Server CPU is the utime+stime delta of /proc/PID/stat over the measured
 * window, so a saturated client cannot make a slow server look fast.
 * With -m it instead measures idle memory: the server's VmRSS before and
 * after N connections have each done one round trip, per connection.
 *
 * The client is io_uring (send + recv with MSG_WAITALL, the send's success
 * CQE skipped): one io_uring_enter per batch of round trips, where epoll
 * needs epoll_wait + read + write per round trip.
 *
 * usage: echo-load -p PORT [-c CONNS] [-s BYTES] [-d SECONDS] [-w SECONDS]
 *                  [-t THREADS] [-P SERVER_PID] [-m]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };
enum { OP_SEND = 1, OP_RECV = 2 };
/* Latency histogram: 32 sub-buckets per power of two, ~3% resolution,
 * fixed size whatever the run length. */
enum {
  SUB_BITS = 5,
  SUB = 1 << SUB_BITS,
  NBUCKETS = SUB + (64 - SUB_BITS) * SUB
};
#define STALL_NS 5000000000ull /* no echo for this long: the server hung */

typedef struct {
  int fd;
  uint32_t idx;
  uint64_t seq;
  uint64_t sent_ns;
  unsigned char *send_buf;
  unsigned char *recv_buf;
} conn_t;

typedef struct {
  pthread_t thread;
  conn_t *conns;
  unsigned nconns;
  struct io_uring ring;
  uint64_t hist[NBUCKETS];
  uint64_t measured_rts;
  uint64_t done_once; /* -m: connections that finished their round trip */
} worker_t;

static size_t msg_bytes = 64;
static int idle_mode;
static _Atomic int phase;

static void die(const char *what, int err) {
  fprintf(stderr, "echo-load: %s: %s\n", what, strerror(err));
  exit(1);
}


static uint64_t now_ns(void) {
  struct timespec ts;

  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    die("clock_gettime", errno);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


static unsigned bucket_of(uint64_t v) {
  unsigned msb;

  if (v < SUB)
    return (unsigned)v;
  msb = 63u - (unsigned)__builtin_clzll(v);
  return SUB + (msb - SUB_BITS) * SUB +
         (unsigned)((v >> (msb - SUB_BITS)) & (SUB - 1));
}


/* The middle of the bucket's range, so the error is at most half a bucket. */
static double bucket_value(unsigned b) {
  unsigned msb;
  uint64_t lo;
  uint64_t width;

  if (b < SUB)
    return b;
  msb = (b - SUB) / SUB + SUB_BITS;
  width = (uint64_t)1 << (msb - SUB_BITS);
  lo = ((uint64_t)1 << msb) + ((b - SUB) % SUB) * width;
  return (double)lo + (double)width / 2;
}


static double percentile_us(const uint64_t *hist, uint64_t total, double q) {
  uint64_t want = (uint64_t)(q * (double)total);
  uint64_t seen = 0;
  unsigned b;

  if (total == 0)
    return 0;
  if (want >= total)
    want = total - 1;
  for (b = 0; b < NBUCKETS; b++) {
    seen += hist[b];
    if (seen > want)
      return bucket_value(b) / 1000.0;
  }
  return 0;
}


/* The message changes with every round trip (sequence number at both
 * ends) and differs per connection, so a stale or misrouted echo fails. */
static void stamp(conn_t *c) {
  size_t n = msg_bytes < 8 ? msg_bytes : 8;

  memcpy(c->send_buf, &c->seq, n);
  memcpy(c->send_buf + msg_bytes - n, &c->seq, n);
}


static struct io_uring_sqe *get_sqe(worker_t *w) {
  struct io_uring_sqe *sqe;
  int ret;

  while ((sqe = io_uring_get_sqe(&w->ring)) == NULL) {
    ret = io_uring_submit(&w->ring);
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR)
      die("io_uring_submit", -ret);
  }
  return sqe;
}


static void start_round_trip(worker_t *w, conn_t *c, uint64_t t_ns) {
  /* The tag is the index within this worker's slice, not c->idx. */
  uint64_t local = (uint64_t)(c - w->conns);
  struct io_uring_sqe *sqe;

  stamp(c);
  /* MSG_WAITALL on both (5.18): the kernel loops over short transfers, so
   * one CQE means the whole message came back. The send's success CQE is
   * skipped (5.17); a failure still posts and fails the run. */
  sqe = get_sqe(w);
  io_uring_prep_send(sqe, c->fd, c->send_buf, msg_bytes,
                     MSG_WAITALL | MSG_NOSIGNAL);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  sqe->user_data = (uint64_t)OP_SEND << 32 | local;
  sqe = get_sqe(w);
  io_uring_prep_recv(sqe, c->fd, c->recv_buf, msg_bytes, MSG_WAITALL);
  sqe->user_data = (uint64_t)OP_RECV << 32 | local;
  c->sent_ns = t_ns;
}


static void check_echo(const conn_t *c, int res) {
  size_t i;

  if (res < 0) {
    fprintf(stderr, "echo-load: FAIL: connection %u: recv: %s\n", c->idx,
            strerror(-res));
    exit(1);
  }
  if ((size_t)res != msg_bytes) {
    fprintf(stderr,
            "echo-load: FAIL: connection %u: echo of %zu bytes "
            "came back as %d (server closed?)\n",
            c->idx, msg_bytes, res);
    exit(1);
  }
  if (memcmp(c->recv_buf, c->send_buf, msg_bytes) == 0)
    return;
  for (i = 0; i < msg_bytes && c->recv_buf[i] == c->send_buf[i]; i++)
    ;
  fprintf(stderr,
          "echo-load: FAIL: connection %u round trip %llu: byte %zu "
          "is 0x%02x, sent 0x%02x\n",
          c->idx, (unsigned long long)c->seq, i, c->recv_buf[i],
          c->send_buf[i]);
  exit(1);
}


/* SINGLE_ISSUER + DEFER_TASKRUN (6.1) where the kernel has them: the ring
 * belongs to this thread, and completions run only when it waits. */
static void worker_ring(worker_t *w) {
  static const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER |
                                       IORING_SETUP_DEFER_TASKRUN,
                                   IORING_SETUP_COOP_TASKRUN, 0};
  struct io_uring_params p;
  unsigned entries = 4096;
  unsigned i;
  int ret = -EINVAL;

  for (i = 0; i < 3; i++) {
    memset(&p, 0, sizeof(p));
    /* Every connection can have a recv completion outstanding. */
    p.flags = tries[i] | IORING_SETUP_CQSIZE;
    p.cq_entries = w->nconns * 2 > entries * 2 ? w->nconns * 2 : entries * 2;
    ret = io_uring_queue_init_params(entries, &w->ring, &p);
    if (ret != -EINVAL)
      break;
  }
  if (ret != 0)
    die("io_uring_queue_init_params", -ret);
}


static void *worker_main(void *arg) {
  struct __kernel_timespec wait_ts = {0, 100000000};
  struct io_uring_cqe *cqe;
  worker_t *w = arg;
  uint64_t last_progress_ns;
  uint64_t t_ns;
  unsigned head;
  unsigned seen;
  unsigned i;
  conn_t *c;
  int ph;
  int ret;

  worker_ring(w);
  t_ns = now_ns();
  for (i = 0; i < w->nconns; i++)
    start_round_trip(w, &w->conns[i], t_ns);
  last_progress_ns = t_ns;

  for (;;) {
    ph = atomic_load_explicit(&phase, memory_order_relaxed);
    if (ph == PHASE_STOP || (idle_mode && w->done_once == w->nconns))
      break;
    ret = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &wait_ts, NULL);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
        ret != -EBUSY)
      die("io_uring_submit_and_wait_timeout", -ret);
    /* One clock read per batch: the batch's completions all arrived by
     * now, and the sends it starts leave at the next enter. */
    t_ns = now_ns();
    seen = 0;
    io_uring_for_each_cqe(&w->ring, head, cqe) {
      seen++;
      c = &w->conns[(uint32_t)cqe->user_data];
      if ((cqe->user_data >> 32) == OP_SEND) {
        fprintf(stderr, "echo-load: FAIL: connection %u: send: %s\n", c->idx,
                cqe->res < 0 ? strerror(-cqe->res) : "short");
        exit(1);
      }
      check_echo(c, cqe->res);
      if (ph == PHASE_MEASURE) {
        w->hist[bucket_of(t_ns - c->sent_ns)]++;
        w->measured_rts++;
      }
      c->seq++;
      if (idle_mode)
        w->done_once++;
      else
        start_round_trip(w, c, t_ns);
    }
    io_uring_cq_advance(&w->ring, seen);
    if (seen > 0)
      last_progress_ns = t_ns;
    else if (t_ns - last_progress_ns > STALL_NS) {
      fprintf(stderr, "echo-load: FAIL: no echo for 5 s (server stalled)\n");
      exit(1);
    }
  }
  io_uring_queue_exit(&w->ring);
  return NULL;
}


static double cpu_s_of(pid_t pid) {
  static long ticks;
  char path[64];
  char buf[1024];
  unsigned long utime;
  unsigned long stime;
  FILE *f;
  char *p;
  size_t n;

  if (ticks == 0 && (ticks = sysconf(_SC_CLK_TCK)) <= 0)
    die("sysconf _SC_CLK_TCK", EINVAL);
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "re");
  if (f == NULL)
    die(path, errno);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  if (ferror(f))
    die(path, EIO);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: skip past the last
   * ')'; utime and stime are fields 14 and 15, the 12th and 13th after. */
  p = strrchr(buf, ')');
  if (p == NULL || sscanf(p + 1,
                          " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                          "%*u %lu %lu",
                          &utime, &stime) != 2)
    die("cannot parse /proc/PID/stat", EPROTO);
  return (double)(utime + stime) / (double)ticks;
}


static long rss_kb_of(pid_t pid) {
  char path[64];
  char line[256];
  long kb = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  f = fopen(path, "re");
  if (f == NULL)
    die(path, errno);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  if (kb < 0)
    die("no VmRSS in /proc/PID/status", EPROTO);
  return kb;
}


static double cpu_self_s(void) {
  struct rusage ru;

  if (getrusage(RUSAGE_SELF, &ru) != 0)
    die("getrusage", errno);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}


static void sleep_s(double s) {
  struct timespec ts;

  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0)
    if (errno != EINTR)
      die("nanosleep", errno);
}


static int new_socket(void) {
  /* A blocking connect to a server that stopped accepting would sit in
   * SYN retries for two minutes; SO_SNDTIMEO bounds it (EINPROGRESS). */
  struct timeval tv = {5, 0};
  int fd;

  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket", errno);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
    die("setsockopt SO_SNDTIMEO", errno);
  return fd;
}


static int connect_one(const struct sockaddr_in *addr, unsigned done) {
  int one = 1;
  int fd;
  int tries;

  fd = new_socket();
  /* The server may still be starting: retry a refused connect briefly. */
  for (tries = 0;
       connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0;
       tries++) {
    if (errno == EINPROGRESS || errno == EAGAIN) {
      fprintf(stderr,
              "echo-load: FAIL: connect timed out after %u "
              "connections: the server stopped accepting\n",
              done);
      exit(1);
    }
    if ((errno != ECONNREFUSED && errno != EINTR) || tries == 50)
      die("connect", errno);
    sleep_s(0.1);
    if (close(fd) != 0)
      die("close", errno);
    fd = new_socket();
  }
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    die("setsockopt TCP_NODELAY", errno);
  return fd;
}


/* RST instead of FIN: 10,000 connections per run, many runs, would fill
 * the port range with TIME_WAIT sockets otherwise. */
static void close_hard(int fd) {
  struct linger lg = {1, 0};

  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
    die("setsockopt SO_LINGER", errno);
  if (close(fd) != 0)
    die("close", errno);
}


static void usage(void) {
  fprintf(stderr,
          "usage: echo-load -p PORT [-c CONNS] [-s BYTES] "
          "[-d SECONDS] [-w SECONDS] [-t THREADS] [-P SERVER_PID] [-m]\n");
  exit(2);
}


int main(int argc, char **argv) {
  struct sockaddr_in addr;
  struct rlimit rl;
  worker_t *workers;
  conn_t *conns;
  unsigned char *bufs;
  uint64_t *hist;
  uint64_t total = 0;
  double duration_s = 3;
  double warmup_s = 1;
  double cpu0 = 0;
  double cpu1 = 0;
  double self0;
  double self1;
  uint64_t t0;
  uint64_t t1;
  unsigned nconns = 1;
  unsigned nthreads = 1;
  unsigned per;
  unsigned i;
  unsigned b;
  long rss0 = 0;
  long rss1;
  pid_t server = 0;
  int port = -1;
  int opt;
  int err;

  while ((opt = getopt(argc, argv, "p:c:s:d:w:t:P:m")) != -1) {
    switch (opt) {
    case 'p':
      port = atoi(optarg);
      break;
    case 'c':
      nconns = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 's':
      msg_bytes = strtoul(optarg, NULL, 10);
      break;
    case 'd':
      duration_s = atof(optarg);
      break;
    case 'w':
      warmup_s = atof(optarg);
      break;
    case 't':
      nthreads = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'P':
      server = (pid_t)atoi(optarg);
      break;
    case 'm':
      idle_mode = 1;
      break;
    default:
      usage();
    }
  }
  if (port <= 0 || port > 65535 || nconns == 0 || msg_bytes == 0 ||
      msg_bytes > (1u << 30) || nthreads == 0 || duration_s <= 0 ||
      warmup_s < 0 || optind != argc || (idle_mode && server == 0))
    usage();
  if (nthreads > nconns)
    nthreads = nconns;

  /* One fd per connection plus a ring per thread and stdio. */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    die("getrlimit", errno);
  if (rl.rlim_cur < (rlim_t)nconns + 64) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      die("setrlimit RLIMIT_NOFILE", errno);
    if (rl.rlim_cur < (rlim_t)nconns + 64) {
      fprintf(stderr,
              "echo-load: RLIMIT_NOFILE hard limit %llu is too low "
              "for %u connections\n",
              (unsigned long long)rl.rlim_max, nconns);
      return 1;
    }
  }

  conns = calloc(nconns, sizeof(*conns));
  bufs = malloc((size_t)nconns * msg_bytes * 2);
  workers = calloc(nthreads, sizeof(*workers));
  hist = calloc(NBUCKETS, sizeof(*hist));
  if (conns == NULL || bufs == NULL || workers == NULL || hist == NULL)
    die("malloc", ENOMEM);

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (idle_mode)
    rss0 = rss_kb_of(server);
  for (i = 0; i < nconns; i++) {
    size_t j;

    conns[i].idx = i;
    conns[i].fd = connect_one(&addr, i);
    conns[i].send_buf = bufs + (size_t)i * msg_bytes * 2;
    conns[i].recv_buf = conns[i].send_buf + msg_bytes;
    for (j = 0; j < msg_bytes; j++)
      conns[i].send_buf[j] = (unsigned char)(j * 131 + i * 7 + 1);
  }

  per = nconns / nthreads;
  for (i = 0; i < nthreads; i++) {
    workers[i].conns = conns + (size_t)i * per;
    workers[i].nconns = i + 1 == nthreads ? nconns - i * per : per;
    err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    if (err != 0)
      die("pthread_create", err);
  }

  if (idle_mode) {
    for (i = 0; i < nthreads; i++) {
      err = pthread_join(workers[i].thread, NULL);
      if (err != 0)
        die("pthread_join", err);
    }
    /* Let the server return its buffers and settle before reading RSS. */
    sleep_s(0.5);
    rss1 = rss_kb_of(server);
    printf("idle_conns=%u rss_before_kb=%ld rss_after_kb=%ld "
           "bytes_per_conn=%.0f\n",
           nconns, rss0, rss1, (double)(rss1 - rss0) * 1024.0 / nconns);
    for (i = 0; i < nconns; i++)
      close_hard(conns[i].fd);
    free(hist);
    free(workers);
    free(bufs);
    free(conns);
    return 0;
  }

  sleep_s(warmup_s);
  if (server != 0)
    cpu0 = cpu_s_of(server);
  self0 = cpu_self_s();
  t0 = now_ns();
  atomic_store(&phase, PHASE_MEASURE);
  sleep_s(duration_s);
  atomic_store(&phase, PHASE_STOP);
  t1 = now_ns();
  self1 = cpu_self_s();
  if (server != 0)
    cpu1 = cpu_s_of(server);
  for (i = 0; i < nthreads; i++) {
    err = pthread_join(workers[i].thread, NULL);
    if (err != 0)
      die("pthread_join", err);
    total += workers[i].measured_rts;
    for (b = 0; b < NBUCKETS; b++)
      hist[b] += workers[i].hist[b];
  }
  /* A server that serves some connections and starves others must not
   * pass on the others' behalf. */
  for (i = 0; i < nconns; i++) {
    if (conns[i].seq == 0) {
      fprintf(stderr, "echo-load: FAIL: connection %u never got its echo\n", i);
      return 1;
    }
    close_hard(conns[i].fd);
  }
  if (total == 0) {
    fprintf(stderr, "echo-load: FAIL: no round trips in the window\n");
    return 1;
  }
  printf("rt_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
         "server_cpu_us_per_rt=%.3f client_cpu_us_per_rt=%.3f conns=%u "
         "size=%zu\n",
         (double)total * 1e9 / (double)(t1 - t0),
         percentile_us(hist, total, 0.50), percentile_us(hist, total, 0.99),
         percentile_us(hist, total, 0.999),
         server != 0 ? (cpu1 - cpu0) * 1e6 / (double)total : 0.0,
         (self1 - self0) * 1e6 / (double)total, nconns, msg_bytes);
  free(hist);
  free(workers);
  free(bufs);
  free(conns);
  return 0;
}
