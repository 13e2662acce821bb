#!/bin/bash
# Spawn cost benchmark (what `make bench-spawn` runs): bench/spawn-cost.c,
# one binary built against the system's uv.h and -luv, run on the system
# libuv and on blitz-io (LD_LIBRARY_PATH), interleaved (system, blitz-io,
# ...), with the parent at ~50 MiB and ~4 GiB of touched anonymous memory.
# Each cell: the median of the runs of the mean time per spawn of
# /bin/true (to its exit); ratio = blitz-io / system (lower: faster).
#
# usage: spawn-cost.sh [--runs N] [--sizes "MIB:SPAWNS ..."] [--libdir DIR]
#                      [--markdown FILE]
# env: BIO_BACKEND (only blitz-io reads it), CC.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=5
sizes="50:400 4096:40"
libdir=$top/.libs
markdown=''
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --libdir) libdir=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "spawn-cost.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -e "$libdir/libuv.so.1" ] ||
  { echo "spawn-cost.sh: no libuv.so.1 in $libdir" >&2; exit 2; }

work=$(mktemp -d /tmp/bio-spawn-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
${CC:-cc} -O2 -o "$work/spawn-cost" "$here/spawn-cost.c" -luv || exit 2

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
us() { sed -n 's/.*us_per_spawn=\([0-9.]*\).*/\1/p'; }

rows=()
for cell in $sizes; do
  mib=${cell%%:*} n=${cell##*:}
  sys=() ours=()
  for ((r = 1; r <= runs; r++)); do
    s=$("$work/spawn-cost" "$mib" "$n" | us)
    o=$(LD_LIBRARY_PATH=$libdir "$work/spawn-cost" "$mib" "$n" | us)
    [ -n "$s" ] && [ -n "$o" ] ||
      { echo "spawn-cost.sh: a run failed" >&2; exit 1; }
    echo "  $mib MiB run $r/$runs: system $s, blitz-io $o us/spawn" >&2
    sys+=("$s") ours+=("$o")
  done
  ms=$(printf '%s\n' "${sys[@]}" | median)
  mo=$(printf '%s\n' "${ours[@]}" | median)
  ratio=$(awk -v a="$mo" -v b="$ms" 'BEGIN { printf "%.3f", a / b }')
  rows+=("| $mib MiB | $n | $ms | $mo | $ratio |")
done

table=$(
  echo "| parent resident | spawns/run | system us/spawn | blitz-io us/spawn | ratio |"
  echo "|--:|--:|--:|--:|--:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Median of $runs interleaved runs; /bin/true spawned and waited for, one at a time; parent memory touched, small pages; BIO_BACKEND=${BIO_BACKEND:-default}, $(nproc) CPUs, $(uname -r), $(date +%F)."
)
echo "$table"
[ -n "$markdown" ] && echo "$table" > "$markdown"
exit 0
