#!/bin/bash
# Syscalls per round trip of the three echo servers (system libuv, blitz-io,
# raw io_uring), from a short run under strace -c; a companion to echo.sh,
# whose timed runs are never traced (strace slows a server many times).
#
# usage: echo-syscalls.sh [--libdir DIR] [--conns N] [--size B]
#                         [--duration S] [--workdir DIR]
#   defaults: <top>/.libs, 100 connections, 64 B, 2 s, a fresh temp dir.
# Prints, per server: round trips, syscalls, syscalls per round trip, and
# the three most frequent syscalls. Needs strace.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
libdir=$top/.libs
conns=100
size=64
duration=2
workdir=''

die() { echo "echo-syscalls.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --libdir) libdir=$2; shift ;;
    --conns) conns=$2; shift ;;
    --size) size=$2; shift ;;
    --duration) duration=$2; shift ;;
    --workdir) workdir=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
  shift
done
command -v strace > /dev/null || die "needs strace (apt-get install strace)"
libdir=$(cd "$libdir" 2>/dev/null && pwd) || die "no lib dir $libdir"
syslib=/usr/lib/x86_64-linux-gnu
if [ -z "$workdir" ]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/bio-echo-sc.XXXXXX") || die "mktemp"
  trap 'rm -rf "$workdir"' EXIT
fi
mkdir -p "$workdir" || die "cannot create $workdir"

cc=${CC:-cc}
cflags=${CFLAGS:--O2 -g}
$cc $cflags -o "$workdir/echo-uv" "$here/echo-uv.c" -L"$syslib" -luv ||
  die "cannot build echo-uv"
$cc $cflags -pthread -o "$workdir/echo-uring" "$here/echo-uring.c" \
  -luring || die "cannot build echo-uring"
$cc $cflags -pthread -o "$workdir/echo-load" "$here/echo-load.c" -luring ||
  die "cannot build echo-load"

printf '%-14s %10s %10s %8s  %s\n' server round_trips syscalls per_rt top3
for kind in sys ours uring; do
  out=$workdir/server-$kind.out
  trace=$workdir/strace-$kind.txt
  : > "$out"
  case $kind in
    sys) env -u LD_LIBRARY_PATH strace -f -c -o "$trace" \
           "$workdir/echo-uv" 0 > "$out" 2> /dev/null & ;;
    ours) LD_LIBRARY_PATH=$libdir strace -f -c -o "$trace" \
            "$workdir/echo-uv" 0 > "$out" 2> /dev/null & ;;
    uring) strace -f -c -o "$trace" "$workdir/echo-uring" 0 \
             > "$out" 2> /dev/null & ;;
  esac
  pid=$!
  for ((i = 0; i < 100; i++)); do
    grep -q '^listening on' "$out" && break
    sleep 0.05
  done
  port=$(awk '/^listening on/ { print $3 }' "$out")
  [ -n "$port" ] || { kill "$pid" 2>/dev/null; die "$kind did not start"; }
  line=$("$workdir/echo-load" -p "$port" -c "$conns" -s "$size" \
           -d "$duration" -w 0 2> /dev/null)
  # strace's child is the server: stop it so strace writes its summary.
  pkill -TERM -P "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  rate=$(sed -n 's/.*rt_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
  [ -n "$rate" ] || die "$kind: load failed"
  awk -v kind="$kind" -v rate="$rate" -v d="$duration" '
    $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
      calls = $4; name = $NF; n[name] = calls; total += calls }
    END {
      rts = rate * d
      top = ""
      for (k = 0; k < 3; k++) {
        best = ""; bv = -1
        for (s in n) if (n[s] > bv) { bv = n[s]; best = s }
        if (best == "") break
        top = top sprintf("%s %.2f  ", best, bv / rts); delete n[best]
      }
      printf "%-14s %10d %10d %8.2f  %s\n", kind, rts, total, total / rts, top
    }' "$trace"
done
