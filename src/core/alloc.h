/* The allocator every part of blitz-io uses, replaceable at run time
 * (uv_replace_allocator). Process-wide by nature: it is the one global. */
#ifndef BIO_CORE_ALLOC_H
#define BIO_CORE_ALLOC_H

#include <stddef.h>

typedef void *(*bio_malloc_fn)(size_t size);
typedef void *(*bio_realloc_fn)(void *ptr, size_t size);
typedef void *(*bio_calloc_fn)(size_t count, size_t size);
typedef void (*bio_free_fn)(void *ptr);

/* Returns 0, or -EINVAL if any function is NULL. */
int bio__replace_allocator(bio_malloc_fn m, bio_realloc_fn r, bio_calloc_fn c,
                           bio_free_fn f);
void *bio__malloc(size_t size);
void *bio__calloc(size_t count, size_t size);
/* realloc(p, 0) frees p and returns NULL, as libuv's uv__realloc does. */
void *bio__realloc(void *ptr, size_t size);
/* Preserves errno, so it is safe on error paths. */
void bio__free(void *ptr);
/* Gives the pages of the C library's free heap memory back to the system
 * (malloc_trim), when the C library's allocator is the one in use. */
void bio__heap_trim(void);
char *bio__strdup(const char *s);
char *bio__strndup(const char *s, size_t n);

#endif
