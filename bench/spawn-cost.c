/* uv_spawn's cost against the parent's size: touches MIB MiB of private
 * anonymous memory (small pages, like a fragmented heap), then spawns
 * /bin/true N times one after another, each to its exit, and prints the
 * mean time per spawn. Built against the system's uv.h and -luv;
 * bench/spawn-cost.sh runs it on the system libuv and on blitz-io
 * (LD_LIBRARY_PATH).
 *
 * usage: spawn-cost MIB N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

static int exited;


static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  if (status != 0 || sig != 0) {
    fprintf(stderr, "spawn-cost: child ended %d/%d\n", (int)status, sig);
    exit(1);
  }
  exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}


int main(int argc, char **argv) {
  char *args[] = {"true", NULL};
  uv_process_options_t o;
  uv_process_t proc;
  uv_loop_t *loop = uv_default_loop();
  size_t size;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uint64_t t0;
  uint64_t t1;
  char *mem;
  long n;
  long i;
  int err;

  if (argc != 3) {
    fprintf(stderr, "usage: spawn-cost MIB N\n");
    return 2;
  }
  size = (size_t)atol(argv[1]) << 20;
  n = atol(argv[2]);
  mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  (void)madvise(mem, size, MADV_NOHUGEPAGE);
  for (i = 0; (size_t)i < size; i += (long)page)
    mem[i] = 1;

  memset(&o, 0, sizeof(o));
  o.file = "/bin/true";
  o.args = args;
  o.exit_cb = on_exit_cb;
  t0 = uv_hrtime();
  for (i = 0; i < n; i++) {
    exited = 0;
    err = uv_spawn(loop, &proc, &o);
    if (err != 0) {
      fprintf(stderr, "spawn-cost: uv_spawn: %s\n", uv_strerror(err));
      return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (!exited)
      return 1;
  }
  t1 = uv_hrtime();
  printf("mib=%s spawns=%ld us_per_spawn=%.1f\n", argv[1], n,
         (double)(t1 - t0) / 1e3 / (double)n);
  munmap(mem, size);
  return 0;
}
