#ifndef BIOUTIL_H
#define BIOUTIL_H
#include <stddef.h>

long bu_add(long a, long b);
long bu_mul(long a, long b);
long bu_fact(int n);
/* 0, or -1 when b is 0. */
int bu_div(long a, long b, long *q);

struct bu_counts {
  long lines, words, bytes, sum;
};
void bu_count(const char *s, size_t n, struct bu_counts *c);
/* Writes the parent's mapped libuv and its loop's kernel objects to path. */
int bu_inspect_parent(const char *path);
#endif
