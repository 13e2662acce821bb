/* The process-wide allocator behind bio__malloc and friends. It starts as the
 * C library's and may be swapped once, early, by uv_replace_allocator; the
 * wrappers add the edge-case rules (zero sizes, errno) libuv users rely on. */

#include "core/alloc.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Grouped so a replacement is visible as one unit to readers; swapping while
 * other threads allocate is the caller's problem, as it is in libuv. */
static struct {
  bio_malloc_fn malloc_fn;
  bio_realloc_fn realloc_fn;
  bio_calloc_fn calloc_fn;
  bio_free_fn free_fn;
} active = { malloc, realloc, calloc, free };


int bio__replace_allocator(bio_malloc_fn m, bio_realloc_fn r, bio_calloc_fn c,
                           bio_free_fn f) {
  if (m == NULL || r == NULL || c == NULL || f == NULL)
    return -EINVAL;
  active.malloc_fn = m;
  active.realloc_fn = r;
  active.calloc_fn = c;
  active.free_fn = f;
  return 0;
}


void bio__heap_trim(void) {
#ifdef __GLIBC__
  /* Free chunks among live ones keep their pages resident until reused:
   * after a burst of 10,000 connections answered at once, 28 bytes per
   * connection (a program's 64 KiB read buffers, freed while the write
   * requests allocated among them lived on). malloc_trim gives back every
   * whole free page, not only the top of the heap. */
  if (active.malloc_fn == malloc)
    (void)malloc_trim(0);
#endif
}


/* A zero-byte request yields NULL without consulting the allocator, so
 * callers never receive a unique-but-unusable pointer. */
void *bio__malloc(size_t size) {
  return size == 0 ? NULL : active.malloc_fn(size);
}


/* A program's calloc (uv_replace_allocator) is trusted for memory, not
 * for zeroing it: libuv 1.52's own loop_init_oom test hands in one that
 * does not, and every bio__calloc caller counts on zeroes. The C
 * library's is left alone. */
void *bio__calloc(size_t count, size_t size) {
  void *p = active.calloc_fn(count, size);
  if (p != NULL && active.calloc_fn != calloc && count != 0 &&
      size <= SIZE_MAX / count)
    memset(p, 0, count * size);
  return p;
}


void *bio__realloc(void *ptr, size_t size) {
  if (size == 0) {
    bio__free(ptr);
    return NULL;
  }
  return active.realloc_fn(ptr, size);
}


/* Error paths call free between a failing syscall and reading errno; a
 * user-supplied free may not be as careful as glibc's. */
void bio__free(void *ptr) {
  int saved = errno;

  active.free_fn(ptr);
  errno = saved;
}


char *bio__strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *copy = bio__malloc(len + 1);

  if (copy == NULL)
    return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}


char *bio__strdup(const char *s) {
  return bio__strndup(s, strlen(s));
}
