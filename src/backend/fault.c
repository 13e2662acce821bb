/* A fault-injecting backend for tests: wraps a real one (loop->inner) and
 * makes chosen submissions fail with ENOMEM, EAGAIN or EBUSY, or cuts
 * reads and writes short, so the core's and the owners' error,
 * back-pressure and partial-transfer paths run on purpose, not by luck. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/core.h"
#include "backend/fault.h"

typedef struct fault_state {
  int err;           /* what the next failing submission returns */
  unsigned fail_n;   /* how many submissions still fail */
  unsigned skip_n;   /* how many succeed before the failures start */
  unsigned attempts; /* submissions seen, for the tests' checks */
  unsigned injected; /* failures injected so far */
  unsigned short_n;  /* how many transfers still go down halved */
  /* Halved ops in flight and their owners' lengths, restored at
   * completion. */
  struct {
    bio_op *op;
    uint32_t len;
  } cut[16];
} fault_state;

/* The wrapped backend keeps its own state in inner_data; around each call
 * the loop's backend_data is switched to it. */
#define CALL_INNER(loop, expr)                                                 \
  do {                                                                         \
    void *saved_ = (loop)->backend_data;                                       \
    (loop)->backend_data = (loop)->inner_data;                                 \
    expr;                                                                      \
    (loop)->inner_data = (loop)->backend_data;                                 \
    (loop)->backend_data = saved_;                                             \
  } while (0)


static int fault_init(bio_loop *loop) {
  fault_state *st;
  int err;

  if (loop->inner == NULL)
    return -EINVAL;
  st = bio__calloc(1, sizeof(*st));
  if (st == NULL)
    return -ENOMEM;
  loop->backend_data = NULL;
  err = loop->inner->init(loop);
  if (err != 0) {
    bio__free(st);
    return err;
  }
  loop->inner_data = loop->backend_data;
  loop->backend_data = st;
  return 0;
}


static void fault_close(bio_loop *loop) {
  fault_state *st = loop->backend_data;
  CALL_INNER(loop, loop->inner->close(loop));
  bio__free(st);
  loop->backend_data = NULL;
}


/* Gives halved ops their owners' lengths back: those on done, or op. */
static void restore_lengths(fault_state *st, bio_op_list *done, bio_op *op) {
  unsigned i;
  for (i = 0; i < sizeof(st->cut) / sizeof(st->cut[0]); i++) {
    bio_op *o;
    if (st->cut[i].op == NULL)
      continue;
    if (st->cut[i].op == op) {
      op->u.len = st->cut[i].len;
      st->cut[i].op = NULL;
      continue;
    }
    for (o = done != NULL ? done->head : NULL; o != NULL; o = o->next)
      if (o == st->cut[i].op) {
        o->u.len = st->cut[i].len;
        st->cut[i].op = NULL;
        break;
      }
  }
}


static int fault_submit(bio_loop *loop, bio_op *op) {
  fault_state *st = loop->backend_data;
  int err;

  st->attempts++;
  /* The core's own wake read is spared: losing it would hang the test,
   * not exercise an error path. */
  if (op != &loop->wake_op && st->fail_n != 0) {
    if (st->skip_n != 0) {
      st->skip_n--;
    } else {
      st->fail_n--;
      st->injected++;
      return -st->err;
    }
  }
  if (st->short_n != 0 && op->u.len > 1 &&
      (op->opcode == BIO_OP_READ || op->opcode == BIO_OP_WRITE ||
       op->opcode == BIO_OP_RECV || op->opcode == BIO_OP_SEND)) {
    unsigned i;
    for (i = 0; i < sizeof(st->cut) / sizeof(st->cut[0]); i++)
      if (st->cut[i].op == NULL) {
        st->cut[i].op = op;
        st->cut[i].len = op->u.len;
        op->u.len /= 2;
        st->short_n--;
        st->injected++;
        break;
      }
  }
  CALL_INNER(loop, err = loop->inner->submit(loop, op));
  if (err != 0)
    restore_lengths(st, NULL, op);
  return err;
}


static int fault_cancel(bio_loop *loop, bio_op *op) {
  int err;
  CALL_INNER(loop, err = loop->inner->cancel(loop, op));
  return err;
}


static int fault_wait(bio_loop *loop, int64_t timeout_ns,
                      bio_op_list *done) {
  int err;
  CALL_INNER(loop, err = loop->inner->wait(loop, timeout_ns, done));
  restore_lengths(loop->backend_data, done, NULL);
  return err;
}


static int fault_fd(bio_loop *loop) {
  int fd;
  CALL_INNER(loop, fd = loop->inner->fd(loop));
  return fd;
}


static int fault_busy(bio_loop *loop) {
  int busy;
  CALL_INNER(loop, busy = loop->inner->busy(loop));
  return busy;
}


static int fault_fork(bio_loop *loop) {
  int err;
  CALL_INNER(loop, err = loop->inner->fork(loop));
  return err;
}


static void fault_flush(bio_loop *loop, bio_op_list *done) {
  if (loop->inner->flush != NULL)
    CALL_INNER(loop, loop->inner->flush(loop, done));
  restore_lengths(loop->backend_data, done, NULL);
}


static void fault_forget(bio_loop *loop, int fd) {
  if (loop->inner->forget != NULL)
    CALL_INNER(loop, loop->inner->forget(loop, fd));
}


static int fault_supports(bio_loop *loop, unsigned opcode) {
  int yes;
  CALL_INNER(loop, yes = loop->inner->supports(loop, opcode));
  return yes;
}


static int fault_recv_chunk(bio_loop *loop, bio_op *op, char **data,
                            size_t *len) {
  int yes = 0;
  if (loop->inner->recv_chunk != NULL)
    CALL_INNER(loop, yes = loop->inner->recv_chunk(loop, op, data, len));
  return yes;
}


static void fault_recv_consume(bio_loop *loop, bio_op *op, size_t n) {
  if (loop->inner->recv_consume != NULL)
    CALL_INNER(loop, loop->inner->recv_consume(loop, op, n));
}


int bio__fault_inject(bio_loop *loop, int err, unsigned skip_n,
                      unsigned fail_n) {
  fault_state *st;
  if (loop->backend != &bio__backend_fault)
    return -EINVAL;
  st = loop->backend_data;
  st->err = err;
  st->skip_n = skip_n;
  st->fail_n = fail_n;
  return 0;
}


int bio__fault_short(bio_loop *loop, unsigned n) {
  fault_state *st;
  if (loop->backend != &bio__backend_fault)
    return -EINVAL;
  st = loop->backend_data;
  st->short_n = n;
  return 0;
}


unsigned bio__fault_injected(bio_loop *loop) {
  fault_state *st = loop->backend_data;
  return loop->backend == &bio__backend_fault ? st->injected : 0;
}


const bio_backend bio__backend_fault = {
    .name = "fault",
    .init = fault_init,
    .close = fault_close,
    .submit = fault_submit,
    .cancel = fault_cancel,
    .wait = fault_wait,
    .fd = fault_fd,
    .busy = fault_busy,
    .fork = fault_fork,
    .forget = fault_forget,
    .flush = fault_flush,
    .supports = fault_supports,
    .recv_chunk = fault_recv_chunk,
    .recv_consume = fault_recv_consume,
};
