#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bioutil.h"

int main(int argc, char **argv) {
  long q;

  if (argc == 3 && strcmp(argv[1], "fact") == 0) {
    printf("%ld\n", bu_fact(atoi(argv[2])));
  } else if (argc == 3 && strcmp(argv[1], "env") == 0) {
    const char *v = getenv(argv[2]);
    printf("%s\n", v ? v : "(unset)");
  } else if (argc == 4 && strcmp(argv[1], "add") == 0) {
    printf("%ld\n", bu_add(atol(argv[2]), atol(argv[3])));
  } else if (argc == 4 && strcmp(argv[1], "mul") == 0) {
    printf("%ld\n", bu_mul(atol(argv[2]), atol(argv[3])));
  } else if (argc == 4 && strcmp(argv[1], "div") == 0) {
    if (bu_div(atol(argv[2]), atol(argv[3]), &q) != 0) {
      fprintf(stderr, "division by zero\n");
      return 1;
    }
    printf("%ld\n", q);
  } else {
    fprintf(stderr, "usage: calc add|mul|div A B | fact N | env NAME\n");
    return 2;
  }
  return 0;
}
