#!/bin/bash
# File-read benchmark (what `make bench-fs` runs): bench/fs-read.c, one
# binary built against the system's uv.h and -luv, run on the system libuv
# and on blitz-io (LD_LIBRARY_PATH), interleaved (system, blitz-io, ...),
# random 4 KiB and sequential 1 MiB reads of a 64 MiB file in the page
# cache, with 1, 16 and 256 requests in flight. Each cell: the median of
# the runs; ratio = blitz-io reads/s / system reads/s.
#
# usage: fs-read.sh [--runs N] [--seconds S] [--libdir DIR] [--markdown FILE]
# env: BIO_BACKEND (only blitz-io reads it), CC.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=5
seconds=2
libdir=$top/.libs
markdown=''
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --libdir) libdir=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fs-read.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -e "$libdir/libuv.so.1" ] || { echo "fs-read.sh: no libuv.so.1 in $libdir" >&2; exit 2; }

work=$(mktemp -d /tmp/bio-fs-read.XXXXXX)
trap 'rm -rf "$work"' EXIT
${CC:-cc} -O2 -o "$work/fs-read" "$here/fs-read.c" \
  -L/usr/lib/x86_64-linux-gnu -luv || exit 2
file=$work/data

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rows=()
for mode in rand4k seq1m; do
  for n in 1 16 256; do
    sys=() ours=()
    for ((r = 1; r <= runs; r++)); do
      s=$("$work/fs-read" "$file" $mode $n "$seconds" |
            sed -n 's/.*reads_per_s=\([0-9]*\).*/\1/p')
      o=$(LD_LIBRARY_PATH=$libdir "$work/fs-read" "$file" $mode $n "$seconds" |
            sed -n 's/.*reads_per_s=\([0-9]*\).*/\1/p')
      [ -n "$s" ] && [ -n "$o" ] || { echo "fs-read.sh: a run failed" >&2; exit 1; }
      echo "  $mode x$n run $r/$runs: system $s, blitz-io $o reads/s" >&2
      sys+=("$s") ours+=("$o")
    done
    ms=$(printf '%s\n' "${sys[@]}" | median)
    mo=$(printf '%s\n' "${ours[@]}" | median)
    ratio=$(awk -v a="$mo" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')
    rows+=("| $mode | $n | $ms | $mo | $ratio |")
  done
done

table=$(
  echo "| reads | in flight | system reads/s | blitz-io reads/s | ratio |"
  echo "|---|--:|--:|--:|--:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Median of $runs interleaved runs of ${seconds} s, 64 MiB file in the page cache, BIO_BACKEND=${BIO_BACKEND:-default}, $(nproc) CPUs, $(uname -r), $(date +%F)."
)
echo "$table"
[ -n "$markdown" ] && echo "$table" > "$markdown"
exit 0
