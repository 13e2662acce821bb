/* copy-task: copies a file with bio_task's file futures.
 *
 *   copy-task SRC DST
 *
 * Two tasks share the work: each copies every other 256 KiB chunk at its
 * offset (read at offset, write at offset), so one reads while the other
 * writes. Then DST is fsynced and both are closed. io_uring does the
 * reads and writes; without it, the blocking pool does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blitzio.h"

#define CHUNK (256 * 1024)
#define WORKERS 2

struct copier {
  bio_task task;
  bio_io io;
  int in, out;
  int id;
  int64_t off;
  int n, w, r;
  char *buf;
};

static int copier_run(bio_task *t) {
  struct copier *c = bio_container_of(t, struct copier, task);
  BIO_BEGIN(t);
  for (c->off = (int64_t)c->id * CHUNK;; c->off += (int64_t)WORKERS * CHUNK) {
    BIO_AWAIT(t, c->n, bio_read(t, &c->io, c->in, c->buf, CHUNK, c->off));
    if (c->n <= 0)
      break;
    /* A short write (a full disk) is an error here: report it. */
    for (c->w = 0; c->w < c->n; c->w += c->r) {
      BIO_AWAIT(t, c->r, bio_write(t, &c->io, c->out, c->buf + c->w,
                                   (size_t)(c->n - c->w), c->off + c->w));
      if (c->r <= 0)
        return c->r < 0 ? c->r : -EIO;
    }
  }
  BIO_END(t, c->n);
}

struct copy {
  bio_task task;
  bio_io io;
  const char *src, *dst;
  struct copier workers[WORKERS];
  int in, out;
  int i, r, err;
};

static int copy_run(bio_task *t) {
  struct copy *c = bio_container_of(t, struct copy, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, c->in, bio_open(t, &c->io, c->src, O_RDONLY, 0));
  if (c->in < 0)
    return c->in;
  BIO_AWAIT(t, c->out, bio_open(t, &c->io, c->dst,
                                O_WRONLY | O_CREAT | O_TRUNC, 0644));
  if (c->out < 0)
    return c->out;
  for (c->i = 0; c->i < WORKERS; c->i++) {
    struct copier *w = &c->workers[c->i];
    w->in = c->in;
    w->out = c->out;
    w->id = c->i;
    w->buf = malloc(CHUNK);
    if (w->buf == NULL)
      return -ENOMEM;
    bio_spawn(t->scope, &w->task, copier_run);
  }
  for (c->i = 0; c->i < WORKERS; c->i++) {
    BIO_AWAIT(t, c->r, bio_join(t, &c->workers[c->i].task));
    free(c->workers[c->i].buf);
    if (c->r < 0 && c->err == 0)
      c->err = c->r;
  }
  if (c->err == 0)
    BIO_AWAIT(t, c->err, bio_fsync(t, &c->io, c->out));
  BIO_AWAIT(t, c->r, bio_close(t, &c->io, c->out));
  if (c->err == 0)
    c->err = c->r;
  BIO_AWAIT(t, c->r, bio_close(t, &c->io, c->in));
  BIO_END(t, c->err);
}

int main(int argc, char **argv) {
  struct copy c;
  bio_rt *rt;
  int err;

  if (argc != 3) {
    fprintf(stderr, "usage: copy-task SRC DST\n");
    return 2;
  }
  memset(&c, 0, sizeof(c));
  c.src = argv[1];
  c.dst = argv[2];
  if ((err = bio_rt_new(&rt, NULL)) != 0) {
    fprintf(stderr, "copy-task: %s\n", strerror(-err));
    return 1;
  }
  err = bio_rt_block_on(rt, &c.task, copy_run);
  bio_rt_run(rt);
  bio_rt_free(rt);
  if (err < 0) {
    fprintf(stderr, "copy-task: %s -> %s: %s\n", c.src, c.dst,
            strerror(-err));
    return 1;
  }
  return 0;
}
