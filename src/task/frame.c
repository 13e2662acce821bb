/* Frame memory: bio_spawn_new's, bio_runtime_spawn_frame's and C++
 * coroutines' frames.
 *
 * Each thread has a heap: a free list per 16-byte size class, and a
 * bump pointer into a 64 KiB chunk. An allocation is a pop and a free on
 * the same thread a push, with no lock and no atomic operation.
 *
 * Chunks are aligned to their size, and a chunk's first word names the
 * heap it was carved for. A frame freed on another thread (a task spawned
 * from one thread and finished on a worker) goes back to that heap: a
 * compare-and-swap push onto the heap's remote list for its class, which
 * the owner takes whole, with one exchange, when its own list for the
 * class runs dry. So a thread that spawns while others finish reuses the
 * same memory instead of carving (and page-faulting) new chunks, and a
 * thread that only frees doesn't hoard what others need.
 *
 * A thread's heap outlives the thread: at exit it is put on a list of
 * abandoned heaps, and the next thread to need a heap adopts it (with
 * its free frames, and the remote frees that still arrive for it).
 * Chunks come from mmap, in 2 MiB regions (huge pages asked for after
 * the first), and are never given back, as a thread-caching malloc's;
 * large frames go to the allocator. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "blitzio.h"
#include "core/alloc.h"
#include "task/task.h"

#define FRAME_CLASSES 64 /* up to 1024 bytes */
#define CHUNK_SIZE ((uintptr_t)64 * 1024)
#define CHUNK_HEAD 16 /* the owner, and the frames' 16-byte alignment */
#define REGION_CHUNKS 32
#define REGION (REGION_CHUNKS * CHUNK_SIZE) /* 2 MiB: a huge page */

typedef struct frame_heap {
  void *free[FRAME_CLASSES];
  _Atomic(void *) remote[FRAME_CLASSES];
  char *next;
  size_t left;
  struct frame_heap *abandoned_next;
} frame_heap;

static __thread __attribute__((tls_model("initial-exec"))) frame_heap *heap;

static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static frame_heap *abandoned;
static char *region_next; /* chunks not yet handed to a heap */
static size_t region_left;
static unsigned regions;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void heap_abandon(void *arg) {
  frame_heap *h = arg;
  if (heap == h)
    heap = NULL;
  pthread_mutex_lock(&heaps_lock);
  h->abandoned_next = abandoned;
  abandoned = h;
  pthread_mutex_unlock(&heaps_lock);
}

static void exit_key_init(void) {
  (void)pthread_key_create(&exit_key, heap_abandon);
}

/* The calling thread's heap: an abandoned one if there is one, else a
 * new one (zeroed by mmap). NULL when out of memory. */
static frame_heap *heap_get(void) {
  frame_heap *h;
  if (heap != NULL)
    return heap;
  (void)pthread_once(&exit_once, exit_key_init);
  pthread_mutex_lock(&heaps_lock);
  h = abandoned;
  if (h != NULL)
    abandoned = h->abandoned_next;
  pthread_mutex_unlock(&heaps_lock);
  if (h == NULL) {
    /* Its own pages: like the chunks, never given back. */
    void *m = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
      return NULL;
    h = m;
  }
  h->abandoned_next = NULL;
  if (pthread_setspecific(exit_key, h) != 0) {
    heap_abandon(h);
    return NULL;
  }
  heap = h;
  return h;
}

/* A chunk of CHUNK_SIZE bytes aligned to it, owned by h. */
static char *chunk_new(frame_heap *h) {
  char *c;
  pthread_mutex_lock(&heaps_lock);
  if (region_left == 0) {
    size_t len = 2 * REGION;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t lead, tail;
    if (m == MAP_FAILED) {
      pthread_mutex_unlock(&heaps_lock);
      return NULL;
    }
    /* Trim to a run of REGION_CHUNKS chunks aligned to its size. */
    lead = (REGION - ((uintptr_t)m & (REGION - 1))) & (REGION - 1);
    tail = REGION - lead;
    if (lead != 0)
      munmap(m, lead);
    if (tail != 0)
      munmap(m + lead + REGION, tail);
    region_next = m + lead;
    region_left = REGION_CHUNKS;
    /* A program past its first region holds many frames at once: huge
     * pages then, one fault per 2 MiB instead of 512 (where the system
     * leaves it to madvise). The first stays in small pages, so a few
     * tasks cost a few pages. */
    if (regions++ > 0)
      (void)madvise(region_next, REGION, MADV_HUGEPAGE);
  }
  c = region_next;
  region_next += CHUNK_SIZE;
  region_left--;
  pthread_mutex_unlock(&heaps_lock);
  *(frame_heap **)(void *)c = h;
  return c;
}

static inline size_t size_class(size_t size) {
  size_t cls = (size + 15) / 16;
  return cls == 0 ? 1 : cls;
}

BIO_EXTERN void *bio_frame_alloc(size_t size) {
  size_t cls = size_class(size);
  frame_heap *h;
  void *p;

  if (cls > FRAME_CLASSES)
    return bio__malloc(size);
  h = heap_get();
  if (h == NULL)
    return NULL;
  p = h->free[cls - 1];
  if (p == NULL && atomic_load_explicit(&h->remote[cls - 1],
                                        memory_order_relaxed) != NULL)
    p = atomic_exchange_explicit(&h->remote[cls - 1], NULL,
                                 memory_order_acquire);
  if (p != NULL) {
    h->free[cls - 1] = *(void **)p;
    return p;
  }
  if (h->left < cls * 16) {
    char *c = chunk_new(h);
    if (c == NULL)
      return NULL;
    h->next = c + CHUNK_HEAD;
    h->left = CHUNK_SIZE - CHUNK_HEAD;
  }
  p = h->next;
  h->next += cls * 16;
  h->left -= cls * 16;
  return p;
}

BIO_EXTERN void bio_frame_free(void *p, size_t size) {
  size_t cls = size_class(size);
  frame_heap *owner;
  void *top;

  if (p == NULL)
    return;
  if (cls > FRAME_CLASSES) {
    bio__free(p);
    return;
  }
  owner = *(frame_heap **)(void *)((uintptr_t)p & ~(CHUNK_SIZE - 1));
  if (owner == heap) {
    *(void **)p = owner->free[cls - 1];
    owner->free[cls - 1] = p;
    return;
  }
  /* Another thread's (or an abandoned) heap: its remote list. Only the
   * owner takes from it, and all at once, so a push can't meet ABA. */
  top = atomic_load_explicit(&owner->remote[cls - 1], memory_order_relaxed);
  do
    *(void **)p = top;
  while (!atomic_compare_exchange_weak_explicit(&owner->remote[cls - 1], &top,
                                                p, memory_order_release,
                                                memory_order_relaxed));
}
