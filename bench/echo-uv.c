/* echo-uv: a TCP echo server on the plain libuv API, written the way most
 * libuv programs are (malloc in alloc_cb, uv_write the bytes back, free in
 * the write callback), so the benchmark measures what real programs get.
 * Built once against the system's uv.h and -luv; LD_LIBRARY_PATH picks the
 * library (system libuv or blitz-io's libuv.so.1) at run time.
 *
 * usage: echo-uv PORT    (0: any free port; prints "listening on PORT")
 * Exits 0 on SIGTERM or SIGINT after closing every handle. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
  uv_write_t req;
  char *base;
} write_req_t;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sig_term;
static uv_signal_t sig_int;
static uv_async_t stop_async;

static void die(const char *what, int err) {
  fprintf(stderr, "echo-uv: %s: %s\n", what, uv_strerror(err));
  exit(1);
}


static void free_handle_cb(uv_handle_t *handle) {
  free(handle);
}


static void alloc_cb(uv_handle_t *handle, size_t suggested_size,
                     uv_buf_t *buf) {
  buf->base = malloc(suggested_size);
  /* A NULL base with len 0 makes libuv report UV_ENOBUFS to read_cb. */
  buf->len = buf->base == NULL ? 0 : suggested_size;
}


static void write_cb(uv_write_t *req, int status) {
  write_req_t *wr = (write_req_t *)req;

  /* A failed write means the peer went away; read_cb sees it and closes. */
  free(wr->base);
  free(wr);
}


static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  write_req_t *wr;
  uv_buf_t out;
  int err;

  if (nread > 0) {
    wr = malloc(sizeof(*wr));
    if (wr == NULL) {
      free(buf->base);
      uv_close((uv_handle_t *)stream, free_handle_cb);
      return;
    }
    wr->base = buf->base;
    out = uv_buf_init(buf->base, (unsigned int)nread);
    err = uv_write(&wr->req, stream, &out, 1, write_cb);
    if (err != 0) {
      free(wr->base);
      free(wr);
      uv_close((uv_handle_t *)stream, free_handle_cb);
    }
    return;
  }
  free(buf->base);
  /* nread == 0 is EAGAIN: nothing to do. Below 0 is EOF or an error. */
  if (nread < 0 && !uv_is_closing((uv_handle_t *)stream))
    uv_close((uv_handle_t *)stream, free_handle_cb);
}


static void connection_cb(uv_stream_t *listener, int status) {
  uv_tcp_t *client;
  int err;

  if (status != 0) {
    /* EMFILE and friends: keep serving the connections we have. */
    fprintf(stderr, "echo-uv: connection: %s\n", uv_strerror(status));
    return;
  }
  client = malloc(sizeof(*client));
  if (client == NULL)
    return;
  err = uv_tcp_init(loop, client);
  if (err != 0) {
    free(client);
    return;
  }
  if (uv_accept(listener, (uv_stream_t *)client) != 0 ||
      uv_read_start((uv_stream_t *)client, alloc_cb, read_cb) != 0) {
    uv_close((uv_handle_t *)client, free_handle_cb);
    return;
  }
  /* One small message per round trip: never let Nagle hold a reply back
   * (the other two servers set it too, so all three are alike). */
  uv_tcp_nodelay(client, 1);
}


static void close_walk_cb(uv_handle_t *handle, void *arg) {
  if (uv_is_closing(handle))
    return;
  /* The clients were malloc'd; the listener and signal handles are static. */
  if (handle->type == UV_TCP && handle != (uv_handle_t *)&server)
    uv_close(handle, free_handle_cb);
  else
    uv_close(handle, NULL);
}


static void stop(void) {
  uv_walk(loop, close_walk_cb, NULL);
}


static void signal_cb(uv_signal_t *handle, int signum) {
  stop();
}


static void async_stop_cb(uv_async_t *handle) {
  stop();
}


static void on_signal(int signum) {
  /* uv_async_send is the one libuv call documented as async-signal-safe. */
  uv_async_send(&stop_async);
}


/* uv_signal_* is the idiomatic way; a library without it (blitz-io returns
 * UV_ENOSYS today) gets a sigaction handler that wakes the loop instead. */
static void setup_signals(void) {
  struct sigaction sa;
  int err;

  err = uv_signal_init(loop, &sig_term);
  if (err == 0) {
    err = uv_signal_start(&sig_term, signal_cb, SIGTERM);
    if (err != 0)
      die("uv_signal_start", err);
    err = uv_signal_init(loop, &sig_int);
    if (err != 0)
      die("uv_signal_init", err);
    err = uv_signal_start(&sig_int, signal_cb, SIGINT);
    if (err != 0)
      die("uv_signal_start", err);
    return;
  }
  if (err != UV_ENOSYS)
    die("uv_signal_init", err);
  err = uv_async_init(loop, &stop_async, async_stop_cb);
  if (err != 0)
    die("uv_async_init", err);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
    perror("echo-uv: sigaction");
    exit(1);
  }
}


int main(int argc, char **argv) {
  struct sockaddr_storage name;
  struct sockaddr_in addr;
  char *end;
  long port;
  int namelen;
  int err;

  if (argc != 2) {
    fprintf(stderr, "usage: echo-uv PORT\n");
    return 2;
  }
  port = strtol(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
    fprintf(stderr, "echo-uv: bad port %s\n", argv[1]);
    return 2;
  }
  /* A client that vanishes mid-write must not kill the server. */
  signal(SIGPIPE, SIG_IGN);

  loop = uv_default_loop();
  setup_signals();
  err = uv_ip4_addr("127.0.0.1", (int)port, &addr);
  if (err != 0)
    die("uv_ip4_addr", err);
  err = uv_tcp_init(loop, &server);
  if (err != 0)
    die("uv_tcp_init", err);
  err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (err != 0)
    die("uv_tcp_bind", err);
  /* The kernel clamps this to net.core.somaxconn; 10,000 clients connect
   * in a burst, so ask for as much as it allows. */
  err = uv_listen((uv_stream_t *)&server, 65535, connection_cb);
  if (err != 0)
    die("uv_listen", err);
  namelen = sizeof(name);
  err = uv_tcp_getsockname(&server, (struct sockaddr *)&name, &namelen);
  if (err != 0)
    die("uv_tcp_getsockname", err);
  printf("listening on %d\n", ntohs(((struct sockaddr_in *)&name)->sin_port));
  fflush(stdout);

  err = uv_run(loop, UV_RUN_DEFAULT);
  if (err != 0)
    fprintf(stderr, "echo-uv: uv_run returned %d\n", err);
  err = uv_loop_close(loop);
  if (err != 0)
    die("uv_loop_close", err);
  return 0;
}
