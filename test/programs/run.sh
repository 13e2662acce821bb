#!/bin/bash
# Runs real programs from Debian (cmake/ctest, uvloop, luv, Node 18) on our
# libuv.so.1, on each backend: BIO_BACKEND=uring, BIO_BACKEND=epoll,
# no-uring (io_uring denied by a seccomp filter, no BIO_BACKEND: the loop
# must fall back to epoll by itself), and kill-uring (a filter that kills
# the process calling io_uring: the loop must find that out without the
# call, and use epoll). One line per program and backend;
# exits 1 if any failed or hung.
#
#   run.sh --libdir DIR --no-uring PATH [--work DIR] [--timeout SECONDS]
#          [--backends 'uring epoll no-uring kill-uring'] [--system]
#          [PROGRAM...]
#
# --system runs the same scripts on the system libuv instead (no
# LD_LIBRARY_PATH, one run): what a program does there is the reference.
# PROGRAMs: cmake uvloop luv node (default: all). Logs stay in the work
# directory (default: ./check-programs.d). Each run is killed after its
# program's limit (cmake 120 s, node 60 s, others 30 s; --timeout or
# BIO_PROG_TIMEOUT overrides): a hang is a failure.
set -u
src=$(cd "$(dirname "$0")" && pwd)
libdir= nouring= work=$PWD/check-programs.d limit=${BIO_PROG_TIMEOUT:-}
backends="uring epoll no-uring kill-uring" system=0
while [ $# -gt 0 ]; do
  case $1 in
    --libdir) libdir=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --no-uring) nouring=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --system) system=1; shift ;;
    -h|--help) sed -n "2,18p" "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
die() { echo "run.sh: $*" >&2; exit 2; }
programs=${*:-cmake uvloop luv node}
if [ $system = 1 ]; then
  backends=system
  expect_lib=$(ldconfig -p |
    awk '$1 == "libuv.so.1" && /x86-64/ { print $NF; exit }')
  expect_lib=$(readlink -f "$expect_lib")
else
  [ -e "$libdir/libuv.so.1" ] || die "no libuv.so.1 in '$libdir'"
  expect_lib=$(readlink -f "$libdir/libuv.so.1")
  case " $backends " in
    *" no-uring "*|*" kill-uring "*) [ -x "$nouring" ] ||
      die "--no-uring PATH (test/programs/no-uring) needed" ;;
  esac
  nouring=$(readlink -f "$nouring")
fi
mkdir -p "$work" && work=$(cd "$work" && pwd) || exit 2

failed=0 total=0
for prog in $programs; do
  [ -f "$src/$prog/run.sh" ] || die "no program '$prog'"
  for mode in $backends; do
    dir=$work/$prog-$mode
    rm -rf "$dir" && mkdir -p "$dir/tmp"
    # A clean environment: what a user's shell might set (BIO_*, UV_*,
    # LD_PRELOAD) must not change what is tested, and PATH finds Debian's
    # programs, not others in /usr/local.
    env=(env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin
         HOME="$dir" TMPDIR="$dir/tmp" LANG=C.UTF-8
         BIO_PROG_MODE="$mode" BIO_PROG_EXPECT="$expect_lib"
         BIO_PROG_SRC="$src" BIO_PROG_WORK="$dir"
         BIO_NODE_ROOT="${BIO_NODE_ROOT:-/var/cache/blitz-io/node18/root}")
    wrap=()
    case $mode in
      uring|epoll) env+=(BIO_BACKEND="$mode" LD_LIBRARY_PATH="$libdir") ;;
      no-uring) env+=(LD_LIBRARY_PATH="$libdir"); wrap=("$nouring") ;;
      kill-uring)
        env+=(LD_LIBRARY_PATH="$libdir"); wrap=("$nouring" --kill) ;;
      system) ;;
      *) die "unknown backend '$mode'" ;;
    esac
    secs_max=$limit
    [ -n "$secs_max" ] || case $prog in
      cmake) secs_max=120 ;; node) secs_max=60 ;; *) secs_max=30 ;;
    esac
    start=$(date +%s.%N)
    (cd "$dir" && timeout -k 10 "$secs_max" "${env[@]}" "${wrap[@]}" \
       bash "$src/$prog/run.sh") > "$dir/log" 2>&1 < /dev/null
    rc=$?
    secs=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')
    total=$((total + 1))
    if [ $rc = 0 ]; then
      printf 'PASS  %-7s %-10s %6.1fs\n' "$prog" "$mode" "$secs"
    else
      failed=$((failed + 1))
      why="exit $rc"
      [ $rc = 124 ] || [ $rc = 137 ] && why="timed out after ${secs_max}s"
      printf 'FAIL  %-7s %-10s %6.1fs  (%s; log: %s)\n' "$prog" "$mode" \
        "$secs" "$why" "$dir/log"
      tail -n 25 "$dir/log" | sed 's/^/    | /'
    fi
  done
done
echo "check-programs: $((total - failed)) of $total passed"
[ $failed = 0 ]
