#!/bin/bash
# The two-minute demonstration: libuv's own benchmark runner, built from
# libuv 1.44.2's unmodified sources against the system's libuv, is run once
# on the system libuv and once on blitz-io - the same binary, only the
# library under it changes - and the results are set side by side.
#
# usage: bench/demo.sh [BENCHMARK...]   (default: loop_count million_timers)
# env: BIO_LIBDIR (our libuv.so.1; default: the build tree's .libs),
#      BIO_BACKEND (uring|epoll), BIO_RUNS (runs each; default 1)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
libdir=${BIO_LIBDIR:-$top/.libs}
[ $# -gt 0 ] || set -- loop_count million_timers

cat <<INTRO
blitz-io demo: libuv's own benchmarks, system libuv vs blitz-io
  library under test: $libdir/libuv.so.1
  backend:            ${BIO_BACKEND:-default (io_uring if available)}
  benchmarks:         $*

1. The same benchmark binary under both libraries (bio-run --compare):
INTRO
# bench.sh fetches libuv's source and builds the runner on first use.
"$top/test/libuv/bench.sh" --libdir "$libdir" --list > /dev/null
runner=${BIO_CACHE:-/var/cache/blitz-io}/work/build/bench-relink/run-benchmarks
if [ -x "$top/tools/bio-run" ] && [ -x "$top/tools/bio-measure" ]; then
  (cd "$(dirname "$runner")" &&
     BIO_LIBDIR=$libdir "$top/tools/bio-run" --compare "$runner" "$1" \
       > /dev/null) || true
else
  echo "  (skipped: build tools/bio-run and tools/bio-measure with make)"
fi

echo
echo "2. Interleaved runs, parsed results (test/libuv/bench.sh):"
"$top/test/libuv/bench.sh" --libdir "$libdir" --runs "${BIO_RUNS:-1}" "$@" \
  2>/dev/null
