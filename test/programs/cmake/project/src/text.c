#include <ctype.h>

#include "bioutil.h"

void bu_count(const char *s, size_t n, struct bu_counts *c) {
  int in_word = 0;
  size_t i;

  c->lines = c->words = c->sum = 0;
  c->bytes = (long)n;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    c->sum += ch;
    if (ch == '\n')
      c->lines++;
    if (isspace(ch)) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      c->words++;
    }
  }
}
