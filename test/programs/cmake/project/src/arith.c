#include "bioutil.h"

long bu_add(long a, long b) { return a + b; }
long bu_mul(long a, long b) { return a * b; }

long bu_fact(int n) {
  long r = 1;
  while (n > 1)
    r *= n--;
  return r;
}

int bu_div(long a, long b, long *q) {
  if (b == 0)
    return -1;
  *q = a / b;
  return 0;
}
