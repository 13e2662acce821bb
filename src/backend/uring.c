/* The io_uring backend: ops become SQEs (user_data = the op), CQEs become
 * completions. Submission is batched: SQEs reach the kernel in the single
 * io_uring_enter of the next wait. In-flight ops are bounded by the CQ size
 * so the completion queue cannot overflow (libuv #4598 lost completions). */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/core.h"
#include "core/settings.h"
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#define SQ_ENTRIES 256
/* CQ slots (IORING_SETUP_CQSIZE, 5.5): room for a busy turn's completions
 * without overflow; ring memory counts against RLIMIT_MEMLOCK. */
#define CQ_ENTRIES 2048
/* What a ring falls back to when RLIMIT_MEMLOCK is short (create_ring). */
#define SQ_ENTRIES_SMALL 64
#define CQ_ENTRIES_SMALL 256
#define URING_INFLIGHT_MAX (1u << 20)

/* user_data of SQEs whose CQEs carry nothing for us (cancel requests). */
#define IGNORED_CQE ((uint64_t)0)
/* Wakes between rings (uring_wake_other): the CQE a woken ring gets, and
 * the tag on the sender's SQE, whose CQE comes only when the message
 * failed (the rest of its user_data names the loop to wake another way).
 * Ops are aligned: neither value is an op's address. */
#define WAKE_MSG_CQE ((uint64_t)4)
#define WAKE_MSG_FAILED ((uint64_t)2)

/* IORING_OP_FTRUNCATE (6.9) is newer than liburing 2.3's opcode enum. */
#define BIO_IORING_OP_FTRUNCATE 55

typedef struct uring_state {
  struct io_uring ring;
  unsigned setup_flags;
  unsigned cq_entries;
  unsigned inflight; /* SQEs whose CQE has not been reaped */
  unsigned unsubmitted;
  int enabled;       /* R_DISABLED rings start on first use */
  int poll_first;    /* the kernel knows IORING_RECVSEND_POLL_FIRST */
  int shared;        /* seen used by two threads: no SINGLE_ISSUER */
  int embedded;      /* uv_backend_fd was asked: someone polls notify_fd */
  pid_t owner_tid;   /* the one thread SINGLE_ISSUER lets submit */
  unsigned features; /* IORING_FEAT_* of the current ring */
  int creds_sqes;    /* unflushed SQEs carry BIO_OPF_USER_CREDS ops */
  struct io_uring_probe *probe;
  /* Wakes between rings: this kernel has IORING_OP_MSG_RING and
   * IOSQE_CQE_SKIP_SUCCESS; the ring fd other threads may message (-1
   * until the ring is enabled and waited on; atomic); what a message
   * completes here (the loop's wake_msg_op). */
  int msg_ok;
  int msg_fd;
  bio_op *wake_msg;
  /* The ops that have an SQE whose last CQE has not come: an open-
   * addressing set (linear probing, at most three quarters full: the
   * recvs of 10,000 idle connections take 16384 slots, 10 B each), so
   * that a ring that must be replaced (the loop moved to another thread)
   * can hand them to its successor instead of losing them. */
  unsigned char *live; /* live_cap entries, live_w bytes each */
  unsigned live_cap;   /* a power of two, or 0 */
  unsigned live_w;
  unsigned live_n;
  /* uv_backend_fd: an eventfd registered with the ring, which the kernel
   * signals when a completion, or work it deferred to us, comes in. */
  int notify_fd;      /* -1 until asked for */
  int notify_pending; /* not registered yet: only the submitter may */
  /* Ops a fork's child ended without the kernel, for the next wait. */
  bio_op_list ended;
  /* The buffers multishot recvs receive into, in two groups (see
   * buf_group): made at the first op that wants one. A buffer is the
   * kernel's (in its group's ring) or held: on an op's chain of received
   * chunks, from its CQE until the owner consumed it. Buffer ids are the
   * loop's, one range per group, so that chains and these arrays serve
   * both. */
  int recv_multi_refused; /* a kernel that said EINVAL to one */
  int bufs_dirty;         /* one took data since the last bufs_trim */
  struct buf_group {
    struct io_uring_buf_ring *br;
    char *mem;
    uint32_t size;  /* bytes per buffer */
    uint16_t first; /* the id of its buffer 0 */
    uint16_t count; /* the most buffers, its ring's entries */
    uint16_t start; /* buffers in use at first */
    uint16_t live;  /* buffers first..first+live-1 are in use (bufs_grow) */
    uint16_t bgid;
    uint8_t tried;
    uint8_t short_of; /* a recv found its ring empty (reap) */
  } grp[2];
  /* recvmsg's layout in a datagram buffer: the room for the sender's
   * address (IORING_OP_RECVMSG with multishot, 6.0). */
  struct msghdr dgram_hdr;
  uint16_t *buf_next; /* held: the next chunk of the same op's chain */
  uint32_t *buf_len;  /* held: bytes received into it */
  uint8_t *buf_held;
} uring_state;


static pid_t current_tid(void) {
  static __thread pid_t tid;
  if (tid == 0)
    tid = (pid_t)syscall(SYS_gettid);
  return tid;
}


/* ---- the set of live ops ---- */

/* An entry's low bit (ops are aligned): the owner asked for a cancel that
 * the ring has not carried out yet (a cancel SQE follows the op's). */
#define LIVE_CANCEL ((uintptr_t)1)

/* Entries are an op's address (and LIVE_CANCEL) in the table's width:
 * six bytes, which hold every address a process gets on x86_64 and
 * arm64 unless it asks for more (the set then widens to eight). At
 * 10,000 idle connections: 96 KiB, where libuv's array of watchers,
 * eight bytes per descriptor, takes 128 KiB. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LIVE_NARROW 6u
#else
#define LIVE_NARROW 8u
#endif

static bio_op *live_op(uintptr_t entry) {
  return (bio_op *)(entry & ~LIVE_CANCEL);
}


/* Each width its own fixed-size copies, which compile to plain loads
 * and stores (a copy of w bytes would be a call to memmove per probe:
 * 2.5% of an echo server's CPU at 10,000 connections). */
static inline uintptr_t live_get(const unsigned char *t, unsigned w,
                                 unsigned i) {
  uint64_t v;
  if (w == 6) {
    uint32_t lo;
    uint16_t hi;
    memcpy(&lo, t + (size_t)i * 6, 4);
    memcpy(&hi, t + (size_t)i * 6 + 4, 2);
    return (uintptr_t)((uint64_t)lo | (uint64_t)hi << 32);
  }
  memcpy(&v, t + (size_t)i * 8, 8);
  return (uintptr_t)v;
}


static inline void live_put(unsigned char *t, unsigned w, unsigned i,
                            uintptr_t e) {
  uint64_t v = e;
  if (w == 6) {
    uint32_t lo = (uint32_t)v;
    uint16_t hi = (uint16_t)(v >> 32);
    memcpy(t + (size_t)i * 6, &lo, 4);
    memcpy(t + (size_t)i * 6 + 4, &hi, 2);
    return;
  }
  memcpy(t + (size_t)i * 8, &v, 8);
}


static unsigned live_slot(unsigned cap, const bio_op *op) {
  /* The product's middle bits: its top bits would put ops that lie next
   * to each other (an array of them) in neighbouring slots, a cluster. */
  uint64_t h = (uint64_t)(uintptr_t)op * 0x9e3779b97f4a7c15ull;
  return (unsigned)(h >> 32) & (cap - 1);
}


/* The set's tables are mappings of their own, not the heap's: each
 * growth frees the table before, and on the heap those tables (2 to 64
 * KiB, touched all over) stayed resident as holes among the handles
 * allocated meanwhile. A mapping is zeroed and goes back whole when
 * unmapped. */
static unsigned char *live_table_new(unsigned cap, unsigned w) {
  void *p = mmap(NULL, (size_t)cap * w, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}


static void live_table_free(unsigned char *t, unsigned cap, unsigned w) {
  if (t != NULL)
    (void)munmap(t, (size_t)cap * w);
}


/* A new table of cap slots w bytes wide, holding the old one's entries. */
static int live_rebuild(uring_state *st, unsigned cap, unsigned w) {
  unsigned char *old = st->live;
  unsigned old_cap = st->live_cap;
  unsigned old_w = st->live_w;
  unsigned i;

  st->live = live_table_new(cap, w);
  if (st->live == NULL) {
    st->live = old;
    return -ENOMEM;
  }
  st->live_cap = cap;
  st->live_w = w;
  for (i = 0; i < old_cap; i++) {
    uintptr_t e = live_get(old, old_w, i);
    unsigned j;
    if (e == 0)
      continue;
    for (j = live_slot(cap, live_op(e)); live_get(st->live, w, j) != 0;
         j = (j + 1) & (cap - 1))
      ;
    live_put(st->live, w, j, e);
  }
  live_table_free(old, old_cap, old_w);
  return 0;
}


static int live_add(uring_state *st, bio_op *op) {
  unsigned i;
  if (st->live_w < sizeof(uintptr_t) &&
      ((uint64_t)(uintptr_t)op >> (8 * st->live_w)) != 0) {
    if (st->live_cap == 0)
      st->live_w = sizeof(uintptr_t);
    else if (live_rebuild(st, st->live_cap, sizeof(uintptr_t)) != 0)
      return -ENOMEM;
  }
  /* 4096 / 6 slots fill the first page; at most three quarters full. */
  if ((st->live_n + 1) * 4 > st->live_cap * 3 &&
      live_rebuild(st, st->live_cap != 0 ? st->live_cap * 2 : 512,
                   st->live_w) != 0)
    return -ENOMEM;
  for (i = live_slot(st->live_cap, op);
       live_get(st->live, st->live_w, i) != 0;
       i = (i + 1) & (st->live_cap - 1))
    assert(live_op(live_get(st->live, st->live_w, i)) != op);
  live_put(st->live, st->live_w, i, (uintptr_t)op);
  st->live_n++;
  return 0;
}


/* The slot of op, or live_cap when it is not in the set. */
static unsigned live_find(const uring_state *st, const bio_op *op) {
  unsigned i;
  uintptr_t e;
  if (st->live_cap == 0)
    return 0;
  for (i = live_slot(st->live_cap, op);
       (e = live_get(st->live, st->live_w, i)) != 0;
       i = (i + 1) & (st->live_cap - 1))
    if (live_op(e) == op)
      return i;
  return st->live_cap;
}


/* Removes op, shifting back the entries of its probe run that a hole
 * would cut off from their home slot. */
static void live_del(uring_state *st, bio_op *op) {
  unsigned mask = st->live_cap - 1;
  unsigned w = st->live_w;
  unsigned i = live_find(st, op);
  unsigned j;
  uintptr_t e;

  assert(i < st->live_cap);
  live_put(st->live, w, i, 0);
  st->live_n--;
  for (j = (i + 1) & mask; (e = live_get(st->live, w, j)) != 0;
       j = (j + 1) & mask) {
    unsigned home = live_slot(st->live_cap, live_op(e));
    /* Move j back to the hole at i unless its home lies in (i, j]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      live_put(st->live, w, i, e);
      live_put(st->live, w, j, 0);
      i = j;
    }
  }
}


/* MSG_RING (5.18) and a sender's SQE that posts no CQE when it succeeds
 * (5.17): wakes between rings (uring_wake_other). */
static void note_msg_ok(uring_state *st) {
  st->msg_ok = st->probe != NULL &&
               io_uring_opcode_supported(st->probe, IORING_OP_MSG_RING) &&
               (st->features & IORING_FEAT_CQE_SKIP);
}


int bio__uring_ring_fd(const bio_loop *loop) {
  const uring_state *st;
  if (loop == NULL || loop->backend != &bio__backend_uring)
    return -1;
  st = loop->backend_data;
  return st != NULL ? st->ring.ring_fd : -1;
}


/* ---- provided buffers for multishot recvs ---- */

/* Stream recvs: up to 512 buffers of 4 KiB: a request/response stream's
 * message fits one; more data arrives as more chunks. The memory is
 * mapped once per loop and touched as the kernel uses it (2 MiB at most);
 * the ring's entries take 8 KiB. The ring starts with 32 buffers: the
 * kernel takes them in turn, so each buffer in the ring gets touched, and
 * a loop that never needs more than a few at once keeps 128 KiB, not 2
 * MiB (at 10,000 idle connections that was 200 bytes of each one's
 * share). A recv that finds the ring empty ends with -ENOBUFS (its owner
 * arms it again) and doubles the buffers in use (bufs_grow).
 * Datagram recvmsgs: up to 512 buffers that hold the largest datagram
 * with recvmsg's header and the sender's address (a datagram never spans
 * two buffers, and one cut short is lost), 64 at first (with 64 in all,
 * 100 sockets received at 0.12x the rate: each recv that found the ring
 * empty ended and was armed again); the kernel writes (and so touches)
 * only what came. */
#define RECV_BUFS 512u
#define RECV_BUFS_START 32u
#define RECV_BUF_BYTES BIO_RECV_BUF_BYTES
#define DGRAM_BUFS 512u
#define DGRAM_BUFS_START 64u
#define DGRAM_BUF_BYTES (64u * 1024u + 4096u)
#define ALL_BUFS (RECV_BUFS + DGRAM_BUFS)
#define GRP_STREAM 0
#define GRP_DGRAM 1
#define CHAIN_NONE 0xffffu

_Static_assert(ALL_BUFS < CHAIN_NONE, "buffer ids fit a chain's 16 bits");

/* An armed multishot recv's chain of held chunks lives in its op's off
 * (unused by RECV and a multishot RECVMSG): the first buffer id, the
 * last, and how many bytes of the first the owner consumed already. */
static inline unsigned chain_head(const bio_op *op) {
  return (unsigned)((uint64_t)op->off & 0xffff);
}
static inline unsigned chain_tail(const bio_op *op) {
  return (unsigned)(((uint64_t)op->off >> 16) & 0xffff);
}
static inline uint32_t chain_skip(const bio_op *op) {
  return (uint32_t)((uint64_t)op->off >> 32);
}
static inline void chain_set(bio_op *op, unsigned head, unsigned tail,
                             uint32_t skip) {
  op->off = (int64_t)((uint64_t)head | (uint64_t)tail << 16 |
                      (uint64_t)skip << 32);
}


static struct buf_group *grp_of(uring_state *st, unsigned bid) {
  return &st->grp[bid < RECV_BUFS ? GRP_STREAM : GRP_DGRAM];
}


static char *buf_addr(uring_state *st, unsigned bid) {
  struct buf_group *g = grp_of(st, bid);
  return g->mem + (size_t)(bid - g->first) * g->size;
}


static void buf_give(uring_state *st, unsigned bid) {
  struct buf_group *g = grp_of(st, bid);
  st->buf_held[bid] = 0;
  io_uring_buf_ring_add(g->br, buf_addr(st, bid), g->size,
                        (unsigned short)bid, io_uring_buf_ring_mask(g->count),
                        0);
  io_uring_buf_ring_advance(g->br, 1);
}


/* Registers g's buffer ring with the (current) ring, every buffer not
 * held in it. 0 or -errno. */
static int bufs_register(uring_state *st, struct buf_group *g) {
  struct io_uring_buf_reg reg;
  unsigned i;

  io_uring_buf_ring_init(g->br);
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (uint64_t)(uintptr_t)g->br;
  reg.ring_entries = g->count;
  reg.bgid = g->bgid;
  for (i = 0; i < g->live; i++)
    if (!st->buf_held[g->first + i])
      buf_give(st, g->first + i);
  return io_uring_register_buf_ring(&st->ring, &reg, 0);
}


/* A recv found g's ring empty: twice the buffers in it from now on. */
static void bufs_grow(uring_state *st, struct buf_group *g) {
  unsigned want = 2u * g->live < g->count ? 2u * g->live : g->count;
  while (g->br != NULL && g->live < want)
    buf_give(st, g->first + g->live++);
}


static void grp_free(struct buf_group *g) {
  if (g->br != NULL)
    munmap(g->br, g->count * sizeof(struct io_uring_buf));
  if (g->mem != NULL)
    munmap(g->mem, (size_t)g->count * g->size);
  g->br = NULL;
  g->mem = NULL;
}


static void bufs_free(uring_state *st) {
  grp_free(&st->grp[GRP_STREAM]);
  grp_free(&st->grp[GRP_DGRAM]);
  bio__free(st->buf_next);
  bio__free(st->buf_len);
  bio__free(st->buf_held);
  st->buf_next = NULL;
  st->buf_len = NULL;
  st->buf_held = NULL;
}


static void grps_init(uring_state *st) {
  struct buf_group *g = &st->grp[GRP_STREAM];
  g->size = RECV_BUF_BYTES;
  g->first = 0;
  g->count = RECV_BUFS;
  g->start = RECV_BUFS_START;
  g->bgid = GRP_STREAM;
  g = &st->grp[GRP_DGRAM];
  g->size = DGRAM_BUF_BYTES;
  g->first = RECV_BUFS;
  g->count = DGRAM_BUFS;
  g->start = DGRAM_BUFS_START;
  g->bgid = GRP_DGRAM;
  st->dgram_hdr.msg_namelen = sizeof(struct sockaddr_storage);
}


/* Makes group gi's buffers at the first ask; 1 when they are there. */
static int bufs_ready(uring_state *st, int gi) {
  struct buf_group *g = &st->grp[gi];
  void *br, *mem;

  if (g->br != NULL)
    return 1;
  if (g->tried)
    return 0;
  g->tried = 1;
  if (st->buf_held == NULL) {
    st->buf_next = bio__calloc(ALL_BUFS, sizeof(*st->buf_next));
    st->buf_len = bio__calloc(ALL_BUFS, sizeof(*st->buf_len));
    st->buf_held = bio__calloc(ALL_BUFS, sizeof(*st->buf_held));
    if (st->buf_next == NULL || st->buf_len == NULL ||
        st->buf_held == NULL) {
      bufs_free(st);
      return 0;
    }
  }
  br = mmap(NULL, g->count * sizeof(struct io_uring_buf),
            PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mem = mmap(NULL, (size_t)g->count * g->size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  g->br = br == MAP_FAILED ? NULL : br;
  g->mem = mem == MAP_FAILED ? NULL : mem;
  g->live = g->start;
  if (g->br == NULL || g->mem == NULL || bufs_register(st, g) != 0) {
    grp_free(g);
    return 0;
  }
  return 1;
}


/* The loop is quiet (bio__loop_reap_ns): the pages of the recv buffers
 * that hold nothing go back to the system (a burst that grew the ring
 * leaves them resident: 10,000 connections answered at once kept 58
 * bytes each). A buffer used again is a fresh zero page, faulted in by
 * the kernel's copy. Only with DEFER_TASKRUN: then the kernel fills
 * buffers only inside our own io_uring_enter, so none is being written
 * now, and all it wrote has been reaped. */
static void bufs_trim(uring_state *st) {
  int gi;

  if (!st->bufs_dirty || !(st->setup_flags & IORING_SETUP_DEFER_TASKRUN))
    return;
  st->bufs_dirty = 0;
  for (gi = 0; gi < 2; gi++) {
    struct buf_group *g = &st->grp[gi];
    unsigned i = 0;
    while (g->br != NULL && i < g->live) {
      unsigned end;
      if (st->buf_held[g->first + i]) {
        i++;
        continue;
      }
      for (end = i + 1; end < g->live && !st->buf_held[g->first + end];
           end++)
        ;
      (void)madvise(g->mem + (size_t)i * g->size, (size_t)(end - i) * g->size,
                    MADV_DONTNEED);
      i = end;
    }
  }
}


/* A CQE's chunk joins the end of op's chain. */
static void chain_append(uring_state *st, bio_op *op, unsigned bid,
                         int32_t len) {
  st->bufs_dirty = 1;
  st->buf_held[bid] = 1;
  st->buf_len[bid] = (uint32_t)len;
  st->buf_next[bid] = CHAIN_NONE;
  if (chain_head(op) == CHAIN_NONE)
    chain_set(op, bid, bid, 0);
  else {
    st->buf_next[chain_tail(op)] = (uint16_t)bid;
    chain_set(op, chain_head(op), bid, chain_skip(op));
  }
}


static int uring_recv_chunk(bio_loop *loop, bio_op *op, char **data,
                            size_t *len) {
  uring_state *st = loop->backend_data;
  unsigned bid = chain_head(op);

  if (st->buf_held == NULL || bid == CHAIN_NONE)
    return 0;
  *data = buf_addr(st, bid) + chain_skip(op);
  *len = st->buf_len[bid] - chain_skip(op);
  return 1;
}


static void uring_recv_consume(bio_loop *loop, bio_op *op, size_t n) {
  uring_state *st = loop->backend_data;
  unsigned bid = chain_head(op);
  uint32_t skip;

  if (st->buf_held == NULL || bid == CHAIN_NONE)
    return;
  skip = chain_skip(op) + (uint32_t)n;
  assert(skip <= st->buf_len[bid]);
  if (skip < st->buf_len[bid]) {
    chain_set(op, bid, chain_tail(op), skip);
    return;
  }
  chain_set(op, st->buf_next[bid], bid == chain_tail(op) ? CHAIN_NONE
                                                          : chain_tail(op), 0);
  buf_give(st, bid);
}


/* The oldest datagram a multishot RECVMSG holds, parsed from recvmsg's
 * layout in its buffer (a whole buffer: chain_skip is 0). */
static int uring_recv_dgram(bio_loop *loop, bio_op *op, bio_dgram *d) {
  uring_state *st = loop->backend_data;
  struct io_uring_recvmsg_out *o;
  char *data;
  size_t len;

  if (!uring_recv_chunk(loop, op, &data, &len))
    return 0;
  o = io_uring_recvmsg_validate(data, (int)len, &st->dgram_hdr);
  d->chunk = len;
  if (o == NULL) { /* cannot be: the kernel wrote at least the header */
    d->data = NULL;
    d->len = 0;
    d->addr = NULL;
    d->addrlen = 0;
    d->flags = 0;
    return 1;
  }
  d->data = io_uring_recvmsg_payload(o, &st->dgram_hdr);
  d->len = io_uring_recvmsg_payload_length(o, (int)len, &st->dgram_hdr);
  d->addr = o->namelen != 0 ? io_uring_recvmsg_name(o) : NULL;
  d->addrlen = o->namelen > sizeof(struct sockaddr_storage)
                   ? sizeof(struct sockaddr_storage)
                   : o->namelen;
  d->flags = (int)o->flags;
  return 1;
}


static int create_ring(bio_loop *loop, uring_state *st) {
  struct io_uring_params p;
  unsigned try_flags[3];
  int n = 0;
  int err = -ENOSYS;
  int small = 0;
  int i;

  /* SINGLE_ISSUER (6.0) and DEFER_TASKRUN (6.1) let the kernel skip
   * locking and run completion work only when we wait. The ring starts
   * disabled (5.10) so that the thread running the loop, not the one that
   * initialised it, becomes the single issuer. BIO_URING_DEFER=0 turns
   * them off. */
  if (bio__settings()->uring_defer && !st->shared)
    try_flags[n++] = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                     IORING_SETUP_R_DISABLED | IORING_SETUP_TASKRUN_FLAG;
  /* COOP_TASKRUN (5.19) skips the IPI that would interrupt us. */
  try_flags[n++] = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  try_flags[n++] = 0;

  for (i = 0; i < n; i++) {
    memset(&p, 0, sizeof(p));
    p.flags = try_flags[i] | IORING_SETUP_CQSIZE;
    p.cq_entries = loop->ring_cq != 0 ? loop->ring_cq
                   : small            ? CQ_ENTRIES_SMALL
                                      : CQ_ENTRIES;
    if (loop->ring_sq > p.cq_entries)
      p.cq_entries = loop->ring_sq;
    if (loop->attach_wq_fd >= 0) {
      /* One io-wq (the kernel's threads for blocking work) for both. */
      p.flags |= IORING_SETUP_ATTACH_WQ;
      p.wq_fd = (unsigned)loop->attach_wq_fd;
    }
    err = io_uring_queue_init_params(loop->ring_sq != 0 ? loop->ring_sq
                                     : small          ? SQ_ENTRIES_SMALL
                                                      : SQ_ENTRIES,
                                     &st->ring, &p);
    if (err == 0) {
      st->setup_flags = p.flags;
      st->cq_entries = p.cq_entries;
      st->enabled = !(p.flags & IORING_SETUP_R_DISABLED);
      st->owner_tid = 0;
      st->features = p.features;
      /* An SQPOLL ring, or a kernel worker acting for it, may run ops
       * with its creator's credentials (CVE-2024-22017): remember them,
       * so that callers can tell when the process changed its own. */
      if (bio__creds_get(&loop->ring_creds) != 0)
        memset(&loop->ring_creds, 0xff, sizeof(loop->ring_creds));
      /* Without NODROP (5.5) an overflowing CQ loses completions. */
      if (!(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(&st->ring);
        return -ENOSYS;
      }
      return 0;
    }
    if (err == -ENOMEM)
      loop->ring_memlock_short = 1;
    if (err == -ENOMEM && !small && loop->ring_sq == 0 &&
        loop->ring_cq == 0) {
      /* The rings' pages count against RLIMIT_MEMLOCK (8 MiB by default
       * for a user without CAP_IPC_LOCK), and a closed ring's are given
       * back only a while later: under that pressure, a ring a quarter
       * the size is still a ring (the CQ overflows into the kernel's
       * list, not into loss). */
      small = 1;
      i--;
      continue;
    }
    if (err != -EINVAL)
      break; /* EPERM, ENOSYS, ENOMEM: no flag combination will help */
  }
  return err;
}


/* ---- seccomp: a filter may kill the process on io_uring_setup ---- */

/* The "Seccomp:" and "Seccomp_filters:" lines of /proc/self/status: the
 * mode (2: filters installed) and how many filters; -1 when unknown. */
static void seccomp_state(int *mode, int *filters) {
  char line[128];
  FILE *f = fopen("/proc/self/status", "re");

  *mode = -1;
  *filters = -1;
  if (f == NULL)
    return;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (sscanf(line, "Seccomp: %d", mode) == 1)
      continue;
    (void)sscanf(line, "Seccomp_filters: %d", filters);
  }
  fclose(f);
}


/* Not instrumented under ASan: a child killed in the middle of the call
 * would leave its frame's redzones poisoned in the parent's stack, which
 * the parent's later frames would then trip over. */
__attribute__((no_sanitize_address)) static int probe_child(void *arg) {
  struct io_uring_params p;
  long fd;
  (void)arg;
  /* A trap handler of the parent's must not run here (SECCOMP_RET_TRAP):
   * this child shares the parent's memory. */
  signal(SIGSYS, SIG_DFL);
  memset(&p, 0, sizeof(p));
  fd = syscall(__NR_io_uring_setup, 1, &p);
  if (fd >= 0)
    close((int)fd);
  _exit(0);
}


/* Some sandboxes kill the process that calls io_uring_setup (a seccomp
 * SECCOMP_RET_KILL_* rule) rather than fail the call. Where filters are
 * installed, a child that shares our memory and stops us until it exits
 * (no copy, no SIGCHLD: it has no exit signal) makes the call first; if
 * it dies of it, so would we, and epoll it is. 0 or -EPERM; remembered
 * per count of installed filters (filters are only ever added). */
static int seccomp_allows_uring(void) {
  static _Atomic int known_filters = -1, known_verdict;
  char stack[16384] __attribute__((aligned(16)));
  int mode, filters, status, verdict;
  pid_t pid;

  seccomp_state(&mode, &filters);
  if (mode != 2)
    return 0;
  if (filters >= 0 && atomic_load(&known_filters) == filters)
    return atomic_load(&known_verdict);
  pid = clone(probe_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK,
              NULL);
  if (pid < 0)
    return 0; /* no probe possible: try, as before */
  while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
    ;
  verdict = WIFSIGNALED(status) ? -EPERM : 0;
#ifdef __SANITIZE_ADDRESS__
  /* Whatever the child's uninstrumented callees left there. */
  __asan_unpoison_memory_region(stack, sizeof(stack));
#endif
  atomic_store(&known_verdict, verdict);
  atomic_store(&known_filters, filters);
  return verdict;
}


/* What the kernel's io_uring can do is the same for every ring of the
 * process: probed (IORING_REGISTER_PROBE, 5.6) with the first ring, then
 * shared by all, never freed. NULL when the kernel can't tell. */
static struct io_uring_probe *probe_once(struct io_uring *ring) {
  static struct io_uring_probe *shared;
  struct io_uring_probe *p = __atomic_load_n(&shared, __ATOMIC_ACQUIRE);
  struct io_uring_probe *none = NULL;

  if (p != NULL)
    return p;
  p = io_uring_get_probe_ring(ring);
  if (p == NULL)
    return NULL;
  if (!__atomic_compare_exchange_n(&shared, &none, p, 0, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    io_uring_free_probe(p); /* another ring's came first */
    p = none;
  }
  return p;
}


static int uring_init(bio_loop *loop) {
  uring_state *st;
  int err;

  err = seccomp_allows_uring();
  if (err != 0)
    return err;
  st = bio__calloc(1, sizeof(*st));
  if (st == NULL)
    return -ENOMEM;
  st->notify_fd = -1;
  grps_init(st);
  st->msg_fd = -1;
  st->wake_msg = &loop->wake_msg_op;
  st->live_w = LIVE_NARROW;
  bio__op_list_init(&st->ended);
  err = create_ring(loop, st);
  if (err != 0) {
    bio__free(st);
    return err;
  }
  /* The probe (5.6) tells which opcodes this kernel has. */
  st->probe = probe_once(&st->ring);
  note_msg_ok(st);
  if (st->probe == NULL || !io_uring_opcode_supported(st->probe,
                                                       IORING_OP_READ) ||
      !io_uring_opcode_supported(st->probe, IORING_OP_POLL_ADD) ||
      !io_uring_opcode_supported(st->probe, IORING_OP_RECVMSG) ||
      !io_uring_opcode_supported(st->probe, IORING_OP_SENDMSG) ||
      !io_uring_opcode_supported(st->probe, IORING_OP_SEND) ||
      !io_uring_opcode_supported(st->probe, IORING_OP_RECV) ||
      !io_uring_opcode_supported(st->probe, IORING_OP_ASYNC_CANCEL)) {
    io_uring_queue_exit(&st->ring);
    bio__free(st);
    return -ENOSYS;
  }
  /* IORING_RECVSEND_POLL_FIRST came with 5.19, as IORING_OP_SOCKET did;
   * an older kernel refuses a recv that has it. */
  st->poll_first = io_uring_opcode_supported(st->probe, IORING_OP_SOCKET);
  loop->backend_data = st;
  return 0;
}


/* Ends what is still in flight (the loop's own wake read, at least)
 * before the ring goes: a ring torn down with requests pending is freed by
 * a kernel worker that cancels them and then polls for their end every
 * 50 ms, keeping the ring's RLIMIT_MEMLOCK charge meanwhile (which loops
 * that come and go quickly run out of). Bounded: at most ~10 ms. */
static void drain_for_close(uring_state *st) {
  struct io_uring_sqe *sqe;
  struct io_uring_cqe *cqe;
  struct __kernel_timespec ts = {0, 2000000};
  int i;

  if (st->inflight == 0 || !st->enabled ||
      ((st->setup_flags & IORING_SETUP_SINGLE_ISSUER) &&
       st->owner_tid != current_tid()))
    return;
  sqe = io_uring_get_sqe(&st->ring);
  if (sqe == NULL)
    return;
  io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, 0);
  for (i = 0; i < 5; i++) {
    unsigned head, n = 0;
    int err = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, &ts, NULL);
    io_uring_for_each_cqe(&st->ring, head, cqe) {
      if (cqe->user_data != 0 && !(cqe->flags & IORING_CQE_F_MORE) &&
          st->inflight > 0)
        st->inflight--;
      n++;
    }
    io_uring_cq_advance(&st->ring, n);
    if (st->inflight == 0 || (err < 0 && err != -ETIME && err != -EINTR))
      break;
  }
}

static void uring_close(bio_loop *loop) {
  uring_state *st = loop->backend_data;
  if (st == NULL)
    return;
  __atomic_store_n(&st->msg_fd, -1, __ATOMIC_RELEASE);
  drain_for_close(st);
  io_uring_queue_exit(&st->ring);
  if (st->notify_fd >= 0)
    close(st->notify_fd);
  bufs_free(st);
  live_table_free(st->live, st->live_cap, st->live_w);
  bio__free(st);
  loop->backend_data = NULL;
}


/* A disabled ring is enabled by the first thread that uses it. */
static int ensure_enabled(uring_state *st) {
  int err;
  if (st->enabled)
    return 0;
  /* liburing 2.3 has no io_uring_enable_rings(): register it by hand. */
  err = (int)syscall(__NR_io_uring_register, st->ring.ring_fd,
                     IORING_REGISTER_ENABLE_RINGS, NULL, 0);
  if (err < 0)
    return -errno;
  st->enabled = 1;
  st->owner_tid = current_tid();
  return 0;
}


/* Called before SQEs are flushed to the kernel. Ops that must act as the
 * process is now (BIO_OPF_USER_CREDS) do not go if the process is no
 * longer who created the ring (CVE-2024-22017: an SQPOLL thread or a
 * worker may keep the creator's credentials). One check per flush that
 * carries such ops, not one per op: three cheap syscalls. */
static void gate_creds(bio_loop *loop, uring_state *st) {
  struct io_uring_sq *sq = &st->ring.sq;
  bio_creds now;
  unsigned i;

  if (!st->creds_sqes)
    return;
  st->creds_sqes = 0;
  if (bio__creds_get(&now) == 0 && bio__creds_equal(&now, &loop->ring_creds))
    return;
  for (i = sq->sqe_head; i != sq->sqe_tail; i++) {
    struct io_uring_sqe *sqe = &sq->sqes[i & sq->ring_mask];
    bio_op *op = (bio_op *)(uintptr_t)sqe->user_data;
    if (op == NULL || !(op->flags & BIO_OPF_USER_CREDS) ||
        sqe->opcode == IORING_OP_NOP)
      continue;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, op);
    op->flags |= BIO_OPF_CREDS_STALE;
  }
}


/* Hands the queued SQEs to the kernel now, without waiting. */
static void submit_now(bio_loop *loop, uring_state *st) {
  gate_creds(loop, st);
  if (io_uring_submit(&st->ring) >= 0)
    st->unsubmitted = 0;
}


static struct io_uring_sqe *get_sqe(bio_loop *loop, uring_state *st) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
  if (sqe == NULL && st->enabled) {
    /* SQ full: hand the batch to the kernel, which frees the slots. */
    submit_now(loop, st);
    sqe = io_uring_get_sqe(&st->ring);
  }
  return sqe;
}


/* An SQE taken for an op that can't go: given back as a no-op that
 * nobody waits for. Returns err. */
static int give_back(uring_state *st, struct io_uring_sqe *sqe, int err) {
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, IGNORED_CQE);
  st->inflight++;
  st->unsubmitted++;
  return err;
}


static int uring_submit(bio_loop *loop, bio_op *op) {
  uring_state *st = loop->backend_data;
  struct io_uring_sqe *sqe;

  /* In flight is not bounded by the CQ: an idle connection's read poll
   * stays out for as long as it is idle, and 10,000 of them must not
   * hold back everyone else's ops (they did, behind a CQ-sized cap). A
   * burst of more completions than the CQ holds goes to the kernel's
   * overflow list (IORING_FEAT_NODROP, checked at setup), which the next
   * enter flushes into the CQ (wait checks IORING_SQ_CQ_OVERFLOW), so
   * nothing is lost (libuv #4598 lost them). The cap left bounds the
   * kernel memory that overflow could take. */
  if (st->inflight + 2 > URING_INFLIGHT_MAX)
    return -EAGAIN;
  sqe = get_sqe(loop, st);
  if (sqe == NULL)
    return -EAGAIN;

  switch (op->opcode) {
  case BIO_OP_NOP:
    io_uring_prep_nop(sqe);
    break;
  case BIO_OP_READ:
    io_uring_prep_read(sqe, op->fd, op->buf, op->u.len, (uint64_t)op->off);
    break;
  case BIO_OP_WRITE:
    io_uring_prep_write(sqe, op->fd, op->buf, op->u.len, (uint64_t)op->off);
    break;
  case BIO_OP_POLL:
    if (op->flags & BIO_OPF_MULTI)
      io_uring_prep_poll_multishot(sqe, op->fd, op->u.events); /* 5.13 */
    else
      io_uring_prep_poll_add(sqe, op->fd, op->u.events);
    break;
  case BIO_OP_RECVMSG:
    if (op->flags & BIO_OPF_MULTI) {
      if (st->recv_multi_refused || !bufs_ready(st, GRP_DGRAM))
        return give_back(st, sqe, -EINVAL);
      io_uring_prep_recvmsg_multishot(sqe, op->fd, &st->dgram_hdr,
                                      op->u.msg_flags); /* 6.0 */
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = GRP_DGRAM;
      if (!(op->flags & BIO_OPF_LISTED))
        chain_set(op, CHAIN_NONE, CHAIN_NONE, 0);
      break;
    }
    io_uring_prep_recvmsg(sqe, op->fd, op->buf, op->u.msg_flags);
    break;
  case BIO_OP_SENDMSG:
    io_uring_prep_sendmsg(sqe, op->fd, op->buf, op->u.msg_flags);
    break;
  case BIO_OP_SEND:
    io_uring_prep_send(sqe, op->fd, op->buf, op->u.len, MSG_NOSIGNAL);
    break;
  case BIO_OP_RECV:
    if ((op->flags & BIO_OPF_MULTI) || op->buf == NULL) {
      if (st->recv_multi_refused || !bufs_ready(st, GRP_STREAM))
        return give_back(st, sqe, -EINVAL);
      if (op->flags & BIO_OPF_MULTI)
        io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, 0); /* 6.0 */
      else
        io_uring_prep_recv(sqe, op->fd, NULL, 0, 0); /* one buffer's worth */
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = GRP_STREAM;
      /* A chain it still has (a hand-over to a new ring with its data
       * not yet taken) stays; else it starts empty. */
      if (!(op->flags & BIO_OPF_LISTED))
        chain_set(op, CHAIN_NONE, CHAIN_NONE, 0);
      break;
    }
    io_uring_prep_recv(sqe, op->fd, op->buf, op->u.len, 0);
    if ((op->flags & BIO_OPF_POLL_FIRST) && st->poll_first)
      sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    break;
  case BIO_OP_ACCEPT:
    io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL,
                                   (int)op->u.sys_flags);
    break;
  /* The fs ops; bio__loop_supports said yes (uring_supports names the
   * kernel each needs), so the kernel knows the opcode. */
  case BIO_OP_READV:
    io_uring_prep_readv(sqe, op->fd, op->buf, op->u.len, (uint64_t)op->off);
    break;
  case BIO_OP_WRITEV:
    io_uring_prep_writev(sqe, op->fd, op->buf, op->u.len, (uint64_t)op->off);
    break;
  case BIO_OP_OPENAT:
    io_uring_prep_openat(sqe, op->fd, op->buf, (int)op->u.sys_flags,
                         op->mode);
    break;
  case BIO_OP_CLOSE:
    io_uring_prep_close(sqe, op->fd);
    break;
  case BIO_OP_STATX:
    io_uring_prep_statx(sqe, op->fd, op->buf, (int)op->u.sys_flags,
                        BIO_STATX_MASK, op->buf2);
    break;
  case BIO_OP_FSYNC:
    io_uring_prep_fsync(sqe, op->fd,
                        (op->u.sys_flags & BIO_FSYNC_DATASYNC)
                            ? IORING_FSYNC_DATASYNC
                            : 0);
    break;
  case BIO_OP_UNLINKAT:
    io_uring_prep_unlinkat(sqe, op->fd, op->buf, (int)op->u.sys_flags);
    break;
  case BIO_OP_RENAMEAT:
    io_uring_prep_renameat(sqe, op->fd, op->buf, op->fd, op->buf2, 0);
    break;
  case BIO_OP_MKDIRAT:
    io_uring_prep_mkdirat(sqe, op->fd, op->buf, op->mode);
    break;
  case BIO_OP_SYMLINKAT:
    io_uring_prep_symlinkat(sqe, op->buf, op->fd, op->buf2);
    break;
  case BIO_OP_LINKAT:
    io_uring_prep_linkat(sqe, op->fd, op->buf, op->fd, op->buf2,
                         (int)op->u.sys_flags);
    break;
  case BIO_OP_FTRUNCATE:
    /* No prep helper in liburing 2.3: the kernel wants fd and the length
     * in off, every other field zero (else EINVAL). */
    io_uring_prep_rw(BIO_IORING_OP_FTRUNCATE, sqe, op->fd, NULL, 0,
                     (uint64_t)op->off);
    break;
  default:
    return give_back(st, sqe, -EINVAL);
  }
  if (live_add(st, op) != 0)
    return give_back(st, sqe, -ENOMEM);
  if (op->flags & BIO_OPF_ASYNC)
    sqe->flags |= IOSQE_ASYNC;
  io_uring_sqe_set_data(sqe, op);
  if (op->flags & BIO_OPF_USER_CREDS)
    st->creds_sqes = 1;
  st->inflight++;
  st->unsubmitted++;
  return 0;
}


/* The kernel opcode behind each fs op, and the kernel that brought it
 * (-1: not an fs op). */
static int kernel_opcode(unsigned opcode) {
  /* clang-format off: a table reads better */
  switch (opcode) {
  case BIO_OP_READV:     return IORING_OP_READV;     /* 5.1 */
  case BIO_OP_WRITEV:    return IORING_OP_WRITEV;    /* 5.1 */
  case BIO_OP_FSYNC:     return IORING_OP_FSYNC;     /* 5.1 */
  case BIO_OP_OPENAT:    return IORING_OP_OPENAT;    /* 5.6 */
  case BIO_OP_CLOSE:     return IORING_OP_CLOSE;     /* 5.6 */
  case BIO_OP_STATX:     return IORING_OP_STATX;     /* 5.6 */
  case BIO_OP_RENAMEAT:  return IORING_OP_RENAMEAT;  /* 5.11 */
  case BIO_OP_UNLINKAT:  return IORING_OP_UNLINKAT;  /* 5.11 */
  case BIO_OP_MKDIRAT:   return IORING_OP_MKDIRAT;   /* 5.15 */
  case BIO_OP_SYMLINKAT: return IORING_OP_SYMLINKAT; /* 5.15 */
  case BIO_OP_LINKAT:    return IORING_OP_LINKAT;    /* 5.15 */
  case BIO_OP_FTRUNCATE: return BIO_IORING_OP_FTRUNCATE; /* 6.9 */
  default:               return -1;
  }
  /* clang-format on */
}


static int uring_supports(bio_loop *loop, unsigned opcode) {
  uring_state *st = loop->backend_data;
  int kop;

  /* Multishot accept came with 5.19, as did IORING_OP_SOCKET: the probe
   * knows the opcode, not the flag. */
  /* Buffer rings came with 5.19, multishot recv with 6.0: a kernel
   * between the two refuses the first recv (recv_multi_refused). */
  if (opcode == BIO_CAP_RECV_BUFS)
    return !st->recv_multi_refused && bufs_ready(st, GRP_STREAM);
  if (opcode == BIO_CAP_RECVMSG_BUFS)
    return !st->recv_multi_refused && bufs_ready(st, GRP_DGRAM);
  if (opcode == BIO_OP_ACCEPT)
    return st->probe != NULL &&
           io_uring_opcode_supported(st->probe, IORING_OP_SOCKET) &&
           io_uring_opcode_supported(st->probe, IORING_OP_ACCEPT);
  if (opcode < BIO_OP_FS_FIRST)
    return opcode < BIO_OP_COUNT; /* uring_init checked them */
  kop = kernel_opcode(opcode);
  if (kop < 0 || st->probe == NULL ||
      !io_uring_opcode_supported(st->probe, kop))
    return 0;
  /* Offset -1 as "the file position" for READV/WRITEV (and READ/WRITE)
   * is IORING_FEAT_RW_CUR_POS (5.6); without it -1 is an error. */
  if ((opcode == BIO_OP_READV || opcode == BIO_OP_WRITEV) &&
      !(st->features & IORING_FEAT_RW_CUR_POS))
    return 0;
  return 1;
}


static int uring_cancel(bio_loop *loop, bio_op *op) {
  uring_state *st = loop->backend_data;
  struct io_uring_sq *sq = &st->ring.sq;
  struct io_uring_sqe *sqe;
  unsigned i;

  /* SQEs between sqe_head and sqe_tail have not been flushed to the
   * kernel yet (they go in the next wait's enter): one of op's becomes a
   * NOP whose completion reports -ECANCELED, a certain cancel. */
  for (i = sq->sqe_head; i != sq->sqe_tail; i++) {
    sqe = &sq->sqes[i & sq->ring_mask];
    if (sqe->user_data != (uint64_t)(uintptr_t)op)
      continue;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, op);
    op->flags |= BIO_OPF_CANCELLED;
    return 0;
  }
  sqe = get_sqe(loop, st);
  if (sqe == NULL)
    return -EBUSY; /* the op will complete on its own; cancel is advisory */
  io_uring_prep_cancel(sqe, op, 0);
  io_uring_sqe_set_data64(sqe, IGNORED_CQE);
  st->inflight++;
  st->unsubmitted++;
  /* A move to a new ring (move_to_new_ring) must not revive it. Not in
   * the set: reaped already, its callback yet to run. */
  i = live_find(st, op);
  if (i < st->live_cap)
    live_put(st->live, st->live_w, i, (uintptr_t)op | LIVE_CANCEL);
  return -EBUSY;
}


static unsigned reap(uring_state *st, bio_op_list *done);


/* Cancels take effect at submit; with DEFER_TASKRUN the cancelled op's
 * completion is task work that GETEVENTS runs: one enter posts both. */
static void uring_flush(bio_loop *loop, bio_op_list *done) {
  uring_state *st = loop->backend_data;

  if (!st->enabled)
    return;
  if (io_uring_submit_and_get_events(&st->ring) >= 0)
    st->unsubmitted = 0;
  reap(st, done);
}


static unsigned reap(uring_state *st, bio_op_list *done) {
  struct io_uring_cqe *cqe;
  unsigned head;
  unsigned n = 0;

  unsigned armed = 0; /* CQEs of multishot ops that stay in flight */
  unsigned foreign = 0; /* CQEs of no SQE counted in inflight */
  int woken = 0; /* another ring's wake came */
  int gi;

  io_uring_for_each_cqe(&st->ring, head, cqe) {
    bio_op *op = io_uring_cqe_get_data(cqe);
    n++;
    if (cqe->user_data == WAKE_MSG_CQE) {
      foreign++;
      woken = 1;
      continue;
    }
    if (cqe->user_data & WAKE_MSG_FAILED) {
      /* The target's ring went away or refused: its eventfd then. */
      foreign++;
      bio__loop_wake_now(
          (bio_loop *)(uintptr_t)(cqe->user_data & ~WAKE_MSG_FAILED));
      continue;
    }
    if (op == NULL)
      continue;
    if ((op->flags & BIO_OPF_MULTI) &&
        (op->opcode == BIO_OP_RECV || op->opcode == BIO_OP_RECVMSG)) {
      int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      int listed = (op->flags & BIO_OPF_LISTED) != 0;
      int32_t res = cqe->res;
      armed += more;
      if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER))
        chain_append(st, op, cqe->flags >> IORING_CQE_BUFFER_SHIFT, res);
      if (!more) {
        live_del(st, op);
        if (op->flags & BIO_OPF_CANCELLED) {
          op->flags &= (uint16_t)~BIO_OPF_CANCELLED;
          res = -ECANCELED;
        } else if (res == -EINVAL && chain_head(op) == CHAIN_NONE) {
          st->recv_multi_refused = 1; /* a kernel before 6.0 */
        } else if (res == -ENOBUFS) {
          st->grp[op->opcode == BIO_OP_RECVMSG ? GRP_DGRAM : GRP_STREAM]
              .short_of = 1;
        }
        op->res = res > 0 ? 1 : res;
      } else if (!listed) {
        op->res = 1;
      }
      op->flags = (uint16_t)((op->flags & ~BIO_OPF_MORE) | BIO_OPF_LISTED |
                             (more ? BIO_OPF_MORE : 0));
      if (!listed)
        bio__op_list_push(done, op);
      continue;
    }
    if (op->flags & BIO_OPF_MULTI) {
      int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      int32_t res = cqe->res;
      armed += more;
      if (op->opcode == BIO_OP_ACCEPT && res >= 0) {
        /* A NOP standing in for a cancelled accept (uring_cancel)
         * completes with 0, no fd. */
        if (!(op->flags & BIO_OPF_CANCELLED))
          ((bio_fd_sink *)op->buf)->take(op->buf, res);
        res = 0;
      }
      if (!more)
        live_del(st, op);
      if ((op->flags & BIO_OPF_CANCELLED) && !more) {
        op->flags &= (uint16_t)~BIO_OPF_CANCELLED;
        res = -ECANCELED;
      }
      if (bio__op_fire_multi(op, res, more))
        bio__op_list_push(done, op);
      continue;
    }
    live_del(st, op);
    op->res = cqe->res;
    /* A one-shot recv into the loop's buffers: its data waits on the op,
     * as a multishot one's (a cancel that came too late keeps it too). */
    if (op->opcode == BIO_OP_RECV && op->buf == NULL) {
      if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER))
        chain_append(st, op, cqe->flags >> IORING_CQE_BUFFER_SHIFT, cqe->res);
      else if (cqe->res == -ENOBUFS)
        st->grp[GRP_STREAM].short_of = 1;
    }
    if (op->flags & BIO_OPF_CANCELLED) {
      op->flags &= (uint16_t)~(BIO_OPF_CANCELLED | BIO_OPF_CREDS_STALE);
      op->res = -ECANCELED;
    } else if (op->flags & BIO_OPF_CREDS_STALE) {
      op->res = -EPERM; /* the owner reads the flag, and clears it */
    }
    bio__op_list_push(done, op);
  }
  io_uring_cq_advance(&st->ring, n);
  /* Once per reap, however many recvs found a ring empty. */
  for (gi = 0; gi < 2; gi++)
    if (st->grp[gi].short_of) {
      st->grp[gi].short_of = 0;
      bufs_grow(st, &st->grp[gi]);
    }
  if (woken && !(st->wake_msg->flags & BIO_OPF_LISTED)) {
    st->wake_msg->flags |= BIO_OPF_LISTED;
    st->wake_msg->res = 0;
    bio__op_list_push(done, st->wake_msg);
  }
  assert(st->inflight >= n - armed - foreign);
  st->inflight -= n - armed - foreign;
  return n;
}


/* Registers notify_fd with the ring. A SINGLE_ISSUER ring takes
 * registrations from its submitter only: until that thread comes by
 * (uring_wait), the registration waits. */
static void register_notify(uring_state *st) {
  st->notify_pending = 1;
  if ((st->setup_flags & IORING_SETUP_SINGLE_ISSUER) && st->enabled &&
      st->owner_tid != current_tid())
    return;
  if (io_uring_register_eventfd(&st->ring, st->notify_fd) == 0)
    st->notify_pending = 0;
}


/* Replaces the ring with a new, empty one. The set of live ops is the
 * caller's to empty first. */
static int rebuild(bio_loop *loop, uring_state *st) {
  __atomic_store_n(&st->msg_fd, -1, __ATOMIC_RELEASE);
  io_uring_queue_exit(&st->ring);
  st->inflight = 0;
  st->unsubmitted = 0;
  st->creds_sqes = 0;
  if (create_ring(loop, st) != 0)
    return -ENOMEM;
  note_msg_ok(st);
  if (st->notify_fd >= 0)
    register_notify(st);
  /* The buffers go to the new ring, but for those chains still hold. */
  if ((st->grp[GRP_STREAM].br != NULL &&
       bufs_register(st, &st->grp[GRP_STREAM]) != 0) ||
      (st->grp[GRP_DGRAM].br != NULL &&
       bufs_register(st, &st->grp[GRP_DGRAM]) != 0))
    st->recv_multi_refused = 1;
  return 0;
}


/* An op that ends without the kernel: its last completion, res. */
static void end_op(bio_op *op, int32_t res, bio_op_list *done) {
  op->flags &= (uint16_t)~BIO_OPF_CANCELLED;
  if (op->flags & BIO_OPF_MULTI) {
    if (bio__op_fire_multi(op, res, 0))
      bio__op_list_push(done, op);
    return;
  }
  op->res = res;
  bio__op_list_push(done, op);
}


/* Gives every live op to a new ring: rebuilds it, then submits them again
 * or, when they must not run again, ends them (into done). Ops whose
 * cancel the owner had asked for end with -ECANCELED; in a fork's child
 * (child), so do file ops (below). */
static int hand_over(bio_loop *loop, uring_state *st, int child,
                     bio_op_list *done) {
  unsigned char *old = st->live;
  unsigned cap = st->live_cap;
  unsigned w = st->live_w;
  unsigned i;
  int err;

  st->live = NULL;
  st->live_cap = 0;
  st->live_w = LIVE_NARROW;
  st->live_n = 0;
  err = rebuild(loop, st);
  /* Enabled now, by this thread: a full SQ must be able to go to the
   * kernel to make room. */
  if (err == 0)
    err = ensure_enabled(st);
  for (i = 0; i < cap; i++) {
    uintptr_t e = live_get(old, w, i);
    bio_op *op = live_op(e);
    int32_t res;
    if (op == NULL)
      continue;
    if ((op->flags & BIO_OPF_CANCELLED) || (e & LIVE_CANCEL))
      res = -ECANCELED;
    else if (op->flags & BIO_OPF_CREDS_STALE)
      res = -EPERM; /* it was a NOP standing in: the owner reads the flag */
    else if (err != 0)
      res = err;
    else if (child && !(op->flags & BIO_OPF_INTERNAL) &&
             (op->opcode == BIO_OP_READ || op->opcode == BIO_OP_WRITE ||
              op->opcode >= BIO_OP_FS_FIRST))
      res = -ECANCELED;
    else if ((res = uring_submit(loop, op)) == 0)
      continue;
    end_op(op, res, done);
  }
  live_table_free(old, cap, w);
  return err;
}


/* The loop moved to another thread, and a SINGLE_ISSUER ring takes
 * nothing from there: not a submission, not an enter to run the work it
 * deferred. Take what the old CQ already shows (plain memory reads), then
 * give every op still live to a new ring that any thread may drive. The
 * old ring's exit cancels what it still held; socket I/O that readiness
 * had queued as deferred work was never done, so running it again is
 * sound. Not so for work a kernel worker finished whose completion still
 * waited for the old thread (a file read at the file position, an open
 * with O_CREAT|O_EXCL): that one runs twice. Ops go to the new ring in
 * no particular order. */
static int move_to_new_ring(bio_loop *loop, uring_state *st,
                            bio_op_list *done) {
  reap(st, done);
  st->shared = 1;
  return hand_over(loop, st, 0, done);
}


/* Nonzero when an enter with GETEVENTS would post completions that the CQ
 * does not show yet: task work deferred to us (IORING_SQ_TASKRUN, raised
 * with TASKRUN_FLAG; without that flag a deferring ring can't tell, so
 * yes) or an overflowed CQ to flush. */
static int kernel_has_work(uring_state *st) {
  unsigned kflags = IO_URING_READ_ONCE(*st->ring.sq.kflags);
  int deferred = (st->setup_flags & IORING_SETUP_TASKRUN_FLAG)
                     ? (kflags & IORING_SQ_TASKRUN) != 0
                     : (st->setup_flags & (IORING_SETUP_DEFER_TASKRUN |
                                           IORING_SETUP_COOP_TASKRUN)) != 0;
  return deferred || (kflags & IORING_SQ_CQ_OVERFLOW) != 0;
}


/* The embedder polls notify_fd, level-triggered: after a turn it must be
 * readable exactly when a wait would find something. Reading it empties
 * it; what came before the read and was not reaped (work the kernel
 * deferred to us, an overflowed CQ) makes it readable again. What comes
 * after the read signals it anew. */
static void rearm_notify(uring_state *st) {
  uint64_t n;
  if (read(st->notify_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    return;
  if (st->notify_pending || io_uring_cq_ready(&st->ring) != 0 ||
      kernel_has_work(st)) {
    n = 1;
    (void)!write(st->notify_fd, &n, sizeof(n));
  }
}


/* Submits and waits for a completion, up to timeout_ns (< 0: for ever).
 * 0 or more, or -errno (-ETIME: the time ran out). */
static int wait_once(bio_loop *loop, uring_state *st, int64_t timeout_ns) {
  struct io_uring_cqe *cqe;
  sigset_t mask;
  const sigset_t *sm = bio__wait_sigmask(loop, &mask);
  int err;

  if (timeout_ns < 0) {
    if (sm == NULL)
      err = io_uring_submit_and_wait(&st->ring, 1);
    else
      err = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, NULL,
                                             (sigset_t *)sm);
  } else {
    struct __kernel_timespec ts;
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    /* Uses IORING_ENTER_EXT_ARG (5.11): one syscall submits and waits. */
    err = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, &ts,
                                           (sigset_t *)sm);
  }
  if (err >= 0 || err == -ETIME)
    st->unsubmitted = 0;
  return err;
}


static int uring_wait(bio_loop *loop, int64_t timeout_ns,
                      bio_op_list *done) {
  uring_state *st = loop->backend_data;
  int err;

  /* A loop may move to another thread between runs (libuv allows it), but
   * a SINGLE_ISSUER ring refuses a second submitter with EEXIST. Start
   * over with a ring any thread may use, taking along what was in flight
   * (move_to_new_ring). */
  if ((st->setup_flags & IORING_SETUP_SINGLE_ISSUER) && st->enabled &&
      st->owner_tid != current_tid()) {
    err = move_to_new_ring(loop, st, done);
    if (err != 0)
      return err;
  }
  err = ensure_enabled(st);
  if (err != 0)
    return err;
  if (st->msg_ok && st->msg_fd != st->ring.ring_fd)
    __atomic_store_n(&st->msg_fd, st->ring.ring_fd, __ATOMIC_RELEASE);
  if (st->notify_pending)
    register_notify(st);
  if (st->ended.head != NULL) {
    bio__op_list_concat(done, &st->ended);
    bio__op_list_init(&st->ended);
  }

  gate_creds(loop, st);
  if (reap(st, done) != 0 || done->head != NULL || timeout_ns == 0) {
    /* No waiting. Enter the kernel only when it has something for us:
     * SQEs to submit, completion work it deferred to us (TASKRUN_FLAG,
     * 5.19, raises IORING_SQ_TASKRUN then), or an overflowed CQ to flush.
     * A busy loop polling with timeout 0 (idle handles) then costs no
     * syscall at all, where epoll_wait(0) costs one. */
    err = 0;
    if (st->unsubmitted != 0 || kernel_has_work(st)) {
      /* One enter: submits and, with GETEVENTS, runs deferred work. */
      err = io_uring_submit_and_get_events(&st->ring);
      if (err >= 0)
        st->unsubmitted = 0;
    }
  } else {
    err = wait_once(loop, st, timeout_ns);
  }
  reap(st, done);
  if (st->notify_fd >= 0)
    rearm_notify(st);
  /* -EINTR goes up: the core waits again when a signal cut it short. */
  if (err == -ETIME || err == -EAGAIN || err == -EBUSY)
    err = 0;
  return err < 0 ? err : 0;
}


/* The core spins here before it sleeps (see spin_before_sleep): send what
 * is queued now, so the peer can answer while we watch, then report
 * whether a wait would find anything. With DEFER_TASKRUN or COOP_TASKRUN
 * a completion is task work until we enter the kernel (kernel_has_work
 * sees it with a plain load). */
static int uring_ready(bio_loop *loop) {
  uring_state *st = loop->backend_data;

  if (st->embedded || ((st->setup_flags & IORING_SETUP_SINGLE_ISSUER) &&
                        st->enabled && st->owner_tid != current_tid()))
    return 1; /* wait has set-up work to do first */
  if (ensure_enabled(st) != 0)
    return 1;
  if (st->unsubmitted != 0)
    submit_now(loop, st);
  return io_uring_cq_ready(&st->ring) != 0 || kernel_has_work(st) ||
         st->ended.head != NULL;
}


static int uring_fd(bio_loop *loop) {
  uring_state *st = loop->backend_data;
  uint64_t one = 1;

  /* Someone will poll(2) this fd and run the loop when it is readable
   * (libuv's embedding pattern). The ring's own fd would not do: work the
   * kernel defers to us (DEFER_TASKRUN, COOP_TASKRUN) never makes it
   * readable. An eventfd registered with the ring is signalled for that
   * too, and the ring and what it holds stay as they are. */
  if (st->notify_fd < 0) {
    st->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st->notify_fd < 0)
      return -1;
    st->embedded = 1;
    register_notify(st);
    /* Readable at first: the turn it brings takes what came before. */
    (void)!write(st->notify_fd, &one, sizeof(one));
  }
  return st->notify_fd;
}


static int uring_busy(bio_loop *loop) {
  uring_state *st = loop->backend_data;
  /* Unsubmitted SQEs matter only to someone polling our fd; a loop that
   * only ever runs uv_run submits them in its next wait anyway. */
  if (st->embedded && st->unsubmitted != 0)
    return 1;
  return io_uring_cq_ready(&st->ring) != 0 || st->ended.head != NULL;
}


/* In a fork's child. The ring, and its mapping, are the parent's too:
 * nothing of it may be touched (a reap would take the parent's
 * completions). A new ring takes the child's copies of the live ops, as
 * libuv's child watches the parent's descriptors again: polls, socket
 * I/O, armed accepts, the core's wake read. File ops (reads and writes
 * of files, fs ops) end with -ECANCELED instead: the parent's ring
 * carries them out, and a second run in the child could do harm (a file
 * position moved twice, a file created or removed twice). */
static int uring_fork(bio_loop *loop) {
  uring_state *st = loop->backend_data;
  int err;

  if (st->notify_fd >= 0) {
    /* The eventfd is the parent's too: a fresh one under the same number. */
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
      return -errno;
    err = dup3(fd, st->notify_fd, O_CLOEXEC) < 0 ? -errno : 0;
    close(fd);
    if (err != 0)
      return err;
  }
  return hand_over(loop, st, 1, &st->ended);
}


/* A message from our ring to to's: its wait returns with a CQE
 * (WAKE_MSG_CQE), and reap lists its wake_msg_op. Sent now: the woken
 * loop must not wait for our next enter. Ours gets a CQE only if the
 * message fails (reap: to's eventfd then). */
static int uring_wake_other(bio_loop *from, bio_loop *to) {
  uring_state *st = from->backend_data;
  uring_state *tt = to->backend_data;
  struct io_uring_sqe *sqe;
  int fd;
  int err;

  if (!st->msg_ok || !st->enabled || tt == NULL ||
      ((st->setup_flags & IORING_SETUP_SINGLE_ISSUER) &&
       st->owner_tid != current_tid()))
    return -ENOTSUP;
  fd = __atomic_load_n(&tt->msg_fd, __ATOMIC_ACQUIRE);
  if (fd < 0)
    return -EAGAIN; /* not waited on yet: its eventfd */
  sqe = get_sqe(from, st);
  if (sqe == NULL)
    return -EBUSY;
  io_uring_prep_msg_ring(sqe, fd, 0, WAKE_MSG_CQE, 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)to | WAKE_MSG_FAILED);
  gate_creds(from, st);
  err = io_uring_submit(&st->ring);
  if (err < 0)
    return err; /* the SQE stays queued: a failure's CQE would wake to */
  st->unsubmitted = 0;
  return 0;
}


static void uring_trim(bio_loop *loop) {
  bufs_trim(loop->backend_data);
}


const bio_backend bio__backend_uring = {
    .name = "uring",
    .init = uring_init,
    .close = uring_close,
    .submit = uring_submit,
    .cancel = uring_cancel,
    .flush = uring_flush,
    .wait = uring_wait,
    .fd = uring_fd,
    .busy = uring_busy,
    .ready = uring_ready,
    .fork = uring_fork,
    .supports = uring_supports,
    .trim = uring_trim,
    .wake_other = uring_wake_other,
    .recv_chunk = uring_recv_chunk,
    .recv_consume = uring_recv_consume,
    .recv_dgram = uring_recv_dgram,
};
