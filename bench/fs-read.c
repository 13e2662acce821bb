/* File-read benchmark on the plain libuv API: keeps N uv_fs_read requests
 * in flight over a file in the page cache, random 4 KiB reads or
 * sequential 1 MiB reads, for a fixed time, and prints reads/s and MB/s.
 * One binary, built against the system's uv.h and -luv, runs on either
 * library (LD_LIBRARY_PATH picks blitz-io's libuv.so.1).
 *
 * usage: fs-read FILE rand4k|seq1m INFLIGHT SECONDS
 * FILE is created (64 MiB) when missing, and read once before measuring
 * so that every read hits the page cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define FILE_BYTES (64u << 20)
#define MAX_INFLIGHT 4096

typedef struct reader {
  uv_fs_t req;
  char *buf;
  int64_t off;
} reader;

static uv_loop_t *loop;
static uv_file file = -1;
static size_t block_bytes;
static int random_mode;
static int stopping;
static uint64_t reads_done;
static uint64_t bytes_done;
static int64_t seq_next;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static int failed;


static uint64_t next_random(void) {
  /* xorshift64: cheap, and the same sequence for both libraries. */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}


static int64_t next_offset(void) {
  int64_t blocks = (int64_t)(FILE_BYTES / block_bytes);
  int64_t off;

  if (random_mode)
    return (int64_t)(next_random() % (uint64_t)blocks) * (int64_t)block_bytes;
  off = seq_next;
  seq_next += (int64_t)block_bytes;
  if (seq_next >= (int64_t)FILE_BYTES)
    seq_next = 0;
  return off;
}


static void read_cb(uv_fs_t *req);


static void submit(reader *r) {
  uv_buf_t b = uv_buf_init(r->buf, (unsigned int)block_bytes);
  int err;

  r->off = next_offset();
  err = uv_fs_read(loop, &r->req, file, &b, 1, r->off, read_cb);
  if (err != 0) {
    fprintf(stderr, "fs-read: uv_fs_read: %s\n", uv_strerror(err));
    failed = 1;
  }
}


static void read_cb(uv_fs_t *req) {
  reader *r = (reader *)req;
  ssize_t n = req->result;

  uv_fs_req_cleanup(req);
  if (n != (ssize_t)block_bytes) {
    fprintf(stderr, "fs-read: read at %lld gave %zd, wanted %zu\n",
            (long long)r->off, n, block_bytes);
    failed = 1;
    return;
  }
  reads_done++;
  bytes_done += (uint64_t)n;
  if (!stopping)
    submit(r);
}


static void timer_cb(uv_timer_t *t) {
  (void)t;
  stopping = 1;
}


/* Makes FILE 64 MiB of non-zero bytes if it is not that already, then
 * reads it through once (page cache). */
static int prepare_file(const char *path) {
  struct stat st;
  char *chunk;
  int fd;
  size_t done;

  chunk = malloc(1u << 20);
  if (chunk == NULL)
    return -1;
  fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0 || fstat(fd, &st) != 0) {
    perror("fs-read: open");
    free(chunk);
    return -1;
  }
  if (st.st_size != (off_t)FILE_BYTES) {
    memset(chunk, 'x', 1u << 20);
    if (ftruncate(fd, 0) != 0) {
      perror("fs-read: ftruncate");
      close(fd);
      free(chunk);
      return -1;
    }
    for (done = 0; done < FILE_BYTES; done += 1u << 20) {
      if (write(fd, chunk, 1u << 20) != (ssize_t)(1u << 20)) {
        perror("fs-read: write");
        close(fd);
        free(chunk);
        return -1;
      }
    }
  }
  for (done = 0; done < FILE_BYTES; done += 1u << 20) {
    if (pread(fd, chunk, 1u << 20, (off_t)done) != (ssize_t)(1u << 20)) {
      perror("fs-read: warm-up read");
      close(fd);
      free(chunk);
      return -1;
    }
  }
  free(chunk);
  return fd;
}


int main(int argc, char **argv) {
  static reader readers[MAX_INFLIGHT];
  uv_timer_t timer;
  uint64_t t0, t1;
  double secs;
  int inflight, seconds, i, fd;

  if (argc != 5 || (strcmp(argv[2], "rand4k") != 0 &&
                    strcmp(argv[2], "seq1m") != 0)) {
    fprintf(stderr, "usage: fs-read FILE rand4k|seq1m INFLIGHT SECONDS\n");
    return 2;
  }
  random_mode = strcmp(argv[2], "rand4k") == 0;
  block_bytes = random_mode ? 4096 : (1u << 20);
  inflight = atoi(argv[3]);
  seconds = atoi(argv[4]);
  if (inflight < 1 || inflight > MAX_INFLIGHT || seconds < 1) {
    fprintf(stderr, "fs-read: INFLIGHT is 1..%d, SECONDS >= 1\n",
            MAX_INFLIGHT);
    return 2;
  }
  fd = prepare_file(argv[1]);
  if (fd < 0)
    return 1;
  close(fd);

  loop = uv_default_loop();
  {
    uv_fs_t open_req;
    file = uv_fs_open(NULL, &open_req, argv[1], O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&open_req);
    if (file < 0) {
      fprintf(stderr, "fs-read: uv_fs_open: %s\n", uv_strerror(file));
      return 1;
    }
  }
  for (i = 0; i < inflight; i++) {
    readers[i].buf = aligned_alloc(4096, block_bytes);
    if (readers[i].buf == NULL) {
      fprintf(stderr, "fs-read: out of memory\n");
      return 1;
    }
  }
  uv_timer_init(loop, &timer);
  uv_timer_start(&timer, timer_cb, (uint64_t)seconds * 1000, 0);
  t0 = uv_hrtime();
  for (i = 0; i < inflight; i++)
    submit(&readers[i]);
  uv_run(loop, UV_RUN_DEFAULT);
  t1 = uv_hrtime();
  secs = (double)(t1 - t0) / 1e9;
  {
    uv_fs_t close_req;
    uv_fs_close(NULL, &close_req, file, NULL);
    uv_fs_req_cleanup(&close_req);
  }
  for (i = 0; i < inflight; i++)
    free(readers[i].buf);
  if (failed)
    return 1;
  printf("mode=%s inflight=%d reads_per_s=%.0f mb_per_s=%.1f\n", argv[2],
         inflight, (double)reads_done / secs,
         (double)bytes_done / secs / 1e6);
  return 0;
}
