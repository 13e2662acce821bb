#!/bin/bash
# One of libuv's client/server benchmarks with its two processes apart:
# the server helper pinned to CPU 0, the client to CPU 1, each on the
# system libuv or on blitz-io, so that a difference can be laid at one
# side's door (the runner itself starts both on one library, unpinned).
# Runs interleave the four pairings; each cell is the median.
#
# usage: pinned.sh [options] BENCHMARK HELPER
#   --runs N        runs per pairing                (default: 7)
#   --libdir DIR    our libuv.so.1's directory      (default: <top>/.libs)
#   --runner PATH   a relinked run-benchmarks       (default: the one
#                   test/libuv/bench.sh builds, under $BIO_CACHE)
#   e.g. pinned.sh tcp_pump100_client tcp_pump_server
#        pinned.sh tcp4_pound_100 tcp4_echo_server
# Extra environment (BIO_*) reaches both processes; the system libuv
# ignores it. Prints "server/client: median [runs]" per pairing, in the
# benchmark's own unit (gbit/s, accepts/s, ...).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
libdir=$top/.libs
runs=7
runner=${BIO_CACHE:-/var/cache/blitz-io}/work/build/bench-relink/run-benchmarks

die() { echo "pinned.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift ;;
    --libdir) libdir=$2; shift ;;
    --runner) runner=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (try --help)" ;;
    *) break ;;
  esac
  shift
done
[ $# = 2 ] || die "want BENCHMARK HELPER (try --help)"
bench=$1 helper=$2
[ -x "$runner" ] || die "no runner at $runner (run test/libuv/bench.sh once)"
libdir=$(cd "$libdir" 2>/dev/null && pwd) || die "no lib dir $libdir"
[ "$(nproc)" -ge 2 ] || die "needs two CPUs"

# The library directory for a side: ours, or one with no libuv in it.
lib() { if [ "$1" = ours ]; then echo "$libdir"; else echo /nonexistent; fi; }

one_run() {
  local srv=$1 cli=$2 pid out
  (cd /tmp && LD_LIBRARY_PATH=$(lib "$srv") exec taskset -c 0 \
     "$runner" "$bench" "$helper") >/dev/null 2>&1 &
  pid=$!
  sleep 0.4 # the helper listens
  out=$(cd /tmp && LD_LIBRARY_PATH=$(lib "$cli") timeout 120 taskset -c 1 \
          "$runner" "$bench" "$bench" 2>&1)
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  sleep 0.3 # its port closes
  # The rate the client prints: "<name>: 12.3 gbit/s", "... 3456 accepts/s".
  echo "$out" | grep -oE '[0-9.]+ [a-z]+/s' | head -1 | cut -d' ' -f1
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for i in $(seq "$runs"); do
  for pair in "sys sys" "ours sys" "sys ours" "ours ours"; do
    r=$(one_run $pair)
    echo "${pair/ //} ${r:-FAIL}" >> "$results"
  done
done
echo "$bench ($helper on CPU 0, client on CPU 1), $runs runs; server/client:"
awk '{ v[$1] = v[$1] " " $2 }
     END { n = split("sys/sys ours/sys sys/ours ours/ours", k, " ")
           for (i = 1; i <= n; i++) print k[i] ":" v[k[i]] }' "$results" |
while IFS=: read -r pair vals; do
  med=$(echo $vals | tr ' ' '\n' | grep -v FAIL | sort -g |
        awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }')
  printf '  %-10s median %-8s [%s ]\n' "$pair" "$med" "$vals"
done
