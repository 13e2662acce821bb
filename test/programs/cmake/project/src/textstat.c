#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bioutil.h"

static int count(const char *path) {
  static char buf[1 << 16];
  struct bu_counts c;
  size_t n;
  FILE *f = fopen(path, "rb");

  if (f == NULL) {
    perror(path);
    return 1;
  }
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  bu_count(buf, n, &c);
  printf("lines %ld words %ld bytes %ld sum %ld\n", c.lines, c.words,
         c.bytes, c.sum);
  return 0;
}


int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "count") == 0)
    return count(argv[2]);
  if (argc == 3 && strcmp(argv[1], "lots") == 0) {
    long i, n = atol(argv[2]);
    for (i = 0; i < n; i++)
      printf("line %ld %ld\n", i, bu_mul(i, i));
    printf("end %ld\n", n);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "stderr") == 0) {
    fprintf(stderr, "to-stderr\n");
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "write") == 0) {
    FILE *f = fopen(argv[2], "w");
    if (f == NULL || fprintf(f, "written by textstat %ld\n",
                             bu_fact(5)) < 0 || fclose(f) != 0) {
      perror(argv[2]);
      return 1;
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "slow") == 0) {
    long ms = atol(argv[2]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    printf("slept %ld ms\n", ms);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "inspect") == 0)
    return bu_inspect_parent(argv[2]);
  fprintf(stderr, "usage: textstat count FILE | lots N | stderr | "
                  "write FILE | slow MS | inspect FILE\n");
  return 2;
}
