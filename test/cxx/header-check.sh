#!/bin/sh
# The public headers compile cleanly: blitzio.h as C11 and as C++20, and
# blitzio.hpp as C++20, each with -Wall -Wextra -Werror, a task body
# written with the macros included.
srcdir=${BIO_TOP_SRCDIR:-.}
cc=${CC:-cc}
cxx=${CXX:-c++}
work=$(mktemp -d "${TMPDIR:-/tmp}/bio-headers.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cat > "$work/use.c" <<'SRC'
#include "blitzio.h"
struct frame { bio_task task; bio_io io; int n; char buf[64]; };
static int body(bio_task *t) {
  struct frame *f = bio_container_of(t, struct frame, task);
  BIO_BEGIN(t);
  BIO_AWAIT(t, f->n, bio_recv(t, &f->io, 0, f->buf, sizeof f->buf));
  BIO_YIELD(t);
  BIO_END(t, f->n);
}
int use(bio_scope *s, struct frame *f) { return bio_spawn(s, &f->task, body); }
SRC
cp "$work/use.c" "$work/use.cpp"
echo '#include "blitzio.hpp"
bio::task f() { co_await bio::sleep(1); co_return 0; }' > "$work/usehpp.cpp"
fail=0
$cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$srcdir/include" -c \
  "$work/use.c" -o "$work/a.o" || { echo "FAIL: blitzio.h as C11"; fail=1; }
if [ "${BIO_HAVE_CXX20:-yes}" = no ]; then
  echo "no C++20 compiler (configure): only the C11 check ran"
  [ $fail = 0 ] && echo "PASS: blitzio.h (C11)"
  exit $fail
fi
$cxx -std=c++20 -Wall -Wextra -Werror -I"$srcdir/include" -c \
  "$work/use.cpp" -o "$work/b.o" || { echo "FAIL: blitzio.h as C++20"; fail=1; }
$cxx -std=c++20 -Wall -Wextra -Werror -I"$srcdir/include" -c \
  "$work/usehpp.cpp" -o "$work/c.o" || { echo "FAIL: blitzio.hpp"; fail=1; }
[ $fail = 0 ] && echo "PASS: blitzio.h (C11, C++20), blitzio.hpp (C++20)"
exit $fail
