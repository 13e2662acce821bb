#!/bin/bash
# TCP echo benchmark (what `make bench-echo` runs): one echo server binary,
# bench/echo-uv.c, built against the system's uv.h and -luv, run on the
# system libuv and on blitz-io (LD_LIBRARY_PATH); bench/echo-uring.c on raw
# io_uring as the ceiling; bench/echo-load.c drives them. Runs interleave
# (system, blitz-io, uring, system, ...) so drift in machine load hits all
# alike; each cell is the median of the runs, each run a fresh server.
#
# usage: echo.sh [options]
#   --libdir DIR      our libuv.so.1's directory   (default: <top>/.libs)
#   --runs N          runs per server and cell     (default: 5; median)
#   --duration S      measured seconds per run     (default: 3)
#   --warmup S        unmeasured seconds first     (default: 1)
#   --conns LIST      connection counts            (default: "1 100 10000")
#   --sizes LIST      message bytes                (default: "64 4096")
#   --threads N       load generator threads       (default: 1)
#   --idle-conns N    idle-memory connections, 0 skips (default: 10000)
#   --workdir DIR     build and log directory      (default: a fresh temp dir)
#   --markdown FILE   also write the table to FILE
# env: BIO_BACKEND (uring|epoll; only blitz-io reads it), CC, CFLAGS.
# ours/system = blitz-io round trips/s / system libuv's (higher: faster);
# ours/uring CPU = blitz-io server CPU per round trip / echo-uring's
# (1.00 = at the ceiling; higher = more CPU than raw io_uring needs).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

libdir=$top/.libs
runs=5
duration=3
warmup=1
conns_list="1 100 10000"
sizes_list="64 4096"
threads=1
idle_conns=10000
workdir=''
markdown=''

die() { echo "echo.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --libdir) libdir=$2; shift ;;
    --runs) runs=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --conns) conns_list=$2; shift ;;
    --sizes) sizes_list=$2; shift ;;
    --threads) threads=$2; shift ;;
    --idle-conns) idle_conns=$2; shift ;;
    --workdir) workdir=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
  shift
done
[ "$runs" -ge 1 ] 2>/dev/null || die "--runs wants a positive number"
libdir=$(cd "$libdir" 2>/dev/null && pwd) || die "no lib dir $libdir"
[ -e "$libdir/libuv.so.1" ] || die "no libuv.so.1 in $libdir (run make)"
syslib=/usr/lib/x86_64-linux-gnu
[ -e "$syslib/libuv.so" ] || die "no $syslib/libuv.so: install libuv1-dev"

if [ -z "$workdir" ]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/bio-echo.XXXXXX") || die "mktemp"
  trap 'rm -rf "$workdir"' EXIT
fi
mkdir -p "$workdir" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)

# Built here with plain cc, not by automake: echo-uv must see the system's
# uv.h and link the system's -luv (our include/ is never on the path).
cc=${CC:-cc}
cflags=${CFLAGS:--O2 -g}
$cc $cflags -o "$workdir/echo-uv" "$here/echo-uv.c" -L"$syslib" -luv ||
  die "cannot build echo-uv"
$cc $cflags -pthread -o "$workdir/echo-uring" "$here/echo-uring.c" -luring ||
  die "cannot build echo-uring"
$cc $cflags -pthread -o "$workdir/echo-load" "$here/echo-load.c" -luring ||
  die "cannot build echo-load"

servers="sys ours uring"
declare -A label=([sys]="system libuv" [ours]="blitz-io" [uring]="io_uring")
server_pid=''

# start_server KIND: starts a fresh server on a free port; sets server_pid
# and server_port, and checks that the intended libuv.so.1 is the one mapped.
start_server() {
  local kind=$1 out=$workdir/server-$1.out i
  : > "$out"
  case $kind in
    sys) env -u LD_LIBRARY_PATH "$workdir/echo-uv" 0 \
           > "$out" 2>> "$workdir/server-$kind.err" & ;;
    ours) LD_LIBRARY_PATH=$libdir "$workdir/echo-uv" 0 \
           > "$out" 2>> "$workdir/server-$kind.err" & ;;
    uring) "$workdir/echo-uring" 0 \
           > "$out" 2>> "$workdir/server-$kind.err" & ;;
  esac
  server_pid=$!
  for ((i = 0; i < 100; i++)); do
    grep -q '^listening on' "$out" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  server_port=$(awk '/^listening on/ { print $3 }' "$out")
  if [ -z "$server_port" ]; then
    echo "echo.sh: ${label[$kind]} server did not start;" \
         "see $workdir/server-$kind.err" >&2
    stop_server
    return 1
  fi
  case $kind in
    sys) grep -q "$syslib/libuv.so" "/proc/$server_pid/maps" ;;
    ours) grep -q "$libdir/libuv.so" "/proc/$server_pid/maps" ;;
    *) true ;;
  esac || { echo "echo.sh: ${label[$kind]}: wrong libuv.so.1 loaded" >&2
            stop_server; return 1; }
}


stop_server() {
  local st
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid"
  st=$?
  [ $st = 0 ] || echo "echo.sh: server exited with status $st" >&2
  server_pid=''
}
trap 'stop_server' INT TERM


# run_load KIND ARGS...: a fresh KIND server, echo-load ARGS against it;
# prints echo-load's result line, or nothing on failure.
run_load() {
  local kind=$1 line
  shift
  start_server "$kind" || return 0
  line=$("$workdir/echo-load" -p "$server_port" -P "$server_pid" "$@" \
           2>> "$workdir/load-$kind.err")
  [ $? = 0 ] || { line=''; echo "echo.sh: ${label[$kind]}: load failed:" \
      "$(tail -1 "$workdir/load-$kind.err")" >&2; }
  stop_server
  echo "$line"
}


# field LINE NAME: the value of NAME=... in an echo-load result line.
field() {
  sed -n "s/.*\\<$2=\\([^ ]*\\).*/\\1/p" <<< "$1"
}


median() {
  sort -g | awk '{ v[NR] = $1 }
                 END { if (NR == 0) print "-";
                       else if (NR % 2) print v[(NR + 1) / 2];
                       else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}


ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "-" || b == "-" || b + 0 == 0) print "-";
    else printf "%.2f", a / b }'
}


fmt_rate() {
  [ "$1" = - ] && { echo failed; return; }
  printf "%.0f" "$1"
}


fmt_lat() {
  [ "$1" = - ] && { echo -; return; }
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f / %.0f", a, b }'
}


fmt_cpu() {
  [ "$1" = - ] && { echo -; return; }
  printf "%.2f" "$1"
}


declare -A res
rows=()
for c in $conns_list; do
  for s in $sizes_list; do
    for ((i = 1; i <= runs; i++)); do
      for k in $servers; do
        line=$(run_load "$k" -c "$c" -s "$s" -d "$duration" -w "$warmup" \
                 -t "$threads")
        echo "  $c conns, $s B, run $i/$runs, ${label[$k]}: ${line:-failed}" >&2
        [ -n "$line" ] || continue
        for f in rt_per_s p50_us p99_us server_cpu_us_per_rt; do
          res[$k,$f]+="$(field "$line" $f) "
        done
      done
    done
    declare -A m=()
    for k in $servers; do
      for f in rt_per_s p50_us p99_us server_cpu_us_per_rt; do
        m[$k,$f]=$(tr ' ' '\n' <<< "${res[$k,$f]:-}" | grep . | median)
        res[$k,$f]=''
      done
    done
    row="$c|$s B"
    for k in $servers; do row+="|$(fmt_rate "${m[$k,rt_per_s]}")"; done
    row+="|$(ratio "${m[ours,rt_per_s]}" "${m[sys,rt_per_s]}")"
    for k in $servers; do
      row+="|$(fmt_lat "${m[$k,p50_us]}" "${m[$k,p99_us]}")"
    done
    for k in $servers; do
      row+="|$(fmt_cpu "${m[$k,server_cpu_us_per_rt]}")"
    done
    row+="|$(ratio "${m[ours,server_cpu_us_per_rt]}" "${m[uring,server_cpu_us_per_rt]}")"
    rows+=("$row")
  done
done

idle=''
if [ "$idle_conns" -gt 0 ] 2>/dev/null; then
  declare -A idle_vals=()
  for ((i = 1; i <= runs; i++)); do
    for k in $servers; do
      line=$(run_load "$k" -m -c "$idle_conns" -s 64)
      echo "  idle $idle_conns conns, run $i/$runs, ${label[$k]}: ${line:-failed}" >&2
      [ -n "$line" ] && idle_vals[$k]+="$(field "$line" bytes_per_conn) "
    done
  done
  idle="Idle memory, $idle_conns connections after one round trip each"
  idle+=" (server VmRSS growth per connection):"
  for k in $servers; do
    v=$(tr ' ' '\n' <<< "${idle_vals[$k]:-}" | grep . | median)
    [ "$v" = - ] && v=failed || v="$(printf "%.0f" "$v") B"
    idle+=" ${label[$k]} $v;"
  done
  idle=${idle%;}
fi

header="conns|size|system rt/s|blitz-io rt/s|uring rt/s|ours/system"
header+="|system p50/p99 µs|blitz-io p50/p99 µs|uring p50/p99 µs"
header+="|system CPU µs/rt|blitz-io CPU µs/rt|uring CPU µs/rt|ours/uring CPU"
note="Median of $runs interleaved runs (fresh server each), ${duration} s"
note+=" measured after ${warmup} s warmup, one message in flight per"
note+=" connection, $threads load thread(s), BIO_BACKEND=${BIO_BACKEND:-default},"
note+=" $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d). CPU = server"
note+=" utime+stime per round trip."
table=$(
  echo "| ${header//|/ | } |"
  echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for row in "${rows[@]}"; do echo "| ${row//|/ | } |"; done
  echo
  [ -n "$idle" ] && { echo "$idle"; echo; }
  echo "$note"
)
echo "$table"
if [ -n "$markdown" ]; then
  echo "$table" > "$markdown" || die "cannot write $markdown"
  echo "markdown table written to $markdown" >&2
fi
