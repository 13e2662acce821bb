#!/bin/bash
# TCP echo, one server thread each, side by side (part of make bench-task):
#   task   examples/echo-task (bio_task, one task per connection)
#   uv     bench/echo-uv.c on blitz-io's libuv.so.1 (the libuv API)
#   uring  bench/echo-uring.c (raw io_uring, every trick: the ceiling)
#   uringmt  the same on W threads (echo-uring -t W; with --workers only):
#          the ceiling for a multi-threaded server
#   tokio  bench/peers (current-thread runtime, a task per connection)
#   go     bench/peers (GOMAXPROCS=1, a goroutine per connection)
# The server is pinned to CPU 0 and bench/echo-load to CPU 1. Runs
# interleave the servers; each cell is the median. One line per server:
#
#   echo_SERVER rt_per_s=V server_cpu_us_per_rt=V p99_us=V cpu_vs_uring=R
#               [cpu_vs_uringmt=R] p50_us=V p999_us=V sys_per_rt=V cs_per_rt=V
#
# cpu_vs_uringmt (with --workers): against the W-thread ring. sys_per_rt
# and cs_per_rt: the server's syscalls and context switches per round
# trip, from perf stat over the middle of each run ("-" without perf).
#
# With --workers W (say 2, with --conns 10000): the servers on W threads
# (task: bio_runtime thread-per-core, a listener per worker; steal: work
# stealing, one listener, connections stolen; tokio: the
# multi-thread runtime; go: GOMAXPROCS=W; uring stays single-threaded, the
# reference for CPU per round trip), nothing pinned: the load generator
# shares the cores with the server.
#
# usage: echo-task.sh --builddir DIR [--peers DIR] [--runs N] [--conns N]
#                     [--size B] [--duration S] [--servers "..."]
#                     [--workers W] [--markdown FILE] [--plot SVG]
# --plot: the latency percentiles per server as an SVG (latency-plot.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=''
peers=''
runs=5
conns=100
size=64
duration=3
servers=''
workers=0
markdown=''
plot=''
while [ $# -gt 0 ]; do
  case $1 in
    --builddir) builddir=$2; shift ;;
    --peers) peers=$2; shift ;;
    --runs) runs=$2; shift ;;
    --conns) conns=$2; shift ;;
    --size) size=$2; shift ;;
    --duration) duration=$2; shift ;;
    --servers) servers=$2; shift ;;
    --workers) workers=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    --plot) plot=$2; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "echo-task.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$servers" ]; then
  if [ "$workers" -gt 0 ]; then servers="task steal uring uringmt tokio go"
  else servers="task uv uring tokio go"; fi
fi
[ -n "$builddir" ] || { echo "echo-task.sh: --builddir needed" >&2; exit 2; }
builddir=$(cd "$builddir" && pwd)
peers=${peers:-$builddir/bench-peers}
work=$(mktemp -d "${TMPDIR:-/tmp}/bio-echo-task.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}
# echo-uv sees the system uv.h and links -luv; ours is loaded at run time.
$cc -O2 -o "$work/echo-uv" "$here/echo-uv.c" -L/usr/lib/x86_64-linux-gnu -luv ||
  exit 1
$cc -O2 -pthread -o "$work/echo-uring" "$here/echo-uring.c" -luring || exit 1
if [ ! -x "$peers/tokio-taskbench" ] || [ ! -x "$peers/go-taskbench" ]; then
  sh "$here/peers/build.sh" "$peers"
fi

start() { # start KIND: sets pid, port
  local out=$work/out
  : > "$out"
  if [ "$workers" -gt 0 ]; then
    case $1 in
      task) "$builddir/examples/echo-task" 0 "$workers" > "$out" 2>/dev/null & ;;
      steal) "$builddir/examples/echo-task" 0 "$workers" stealing \
               > "$out" 2>/dev/null & ;;
      uring) "$work/echo-uring" 0 > "$out" 2>/dev/null & ;;
      uringmt) "$work/echo-uring" -t "$workers" 0 > "$out" 2>/dev/null & ;;
      tokio) TASKBENCH_WORKERS=$workers "$peers/tokio-taskbench" echo 0 \
               > "$out" 2>/dev/null & ;;
      go) GOMAXPROCS=$workers "$peers/go-taskbench" echo 0 \
            > "$out" 2>/dev/null & ;;
      *) return ;;
    esac
  else
  case $1 in
    task) taskset -c 0 "$builddir/examples/echo-task" 0 > "$out" 2>/dev/null & ;;
    uv) LD_LIBRARY_PATH=$builddir/.libs taskset -c 0 "$work/echo-uv" 0 \
          > "$out" 2>/dev/null & ;;
    uring) taskset -c 0 "$work/echo-uring" 0 > "$out" 2>/dev/null & ;;
    tokio) taskset -c 0 "$peers/tokio-taskbench" echo 0 > "$out" 2>/dev/null & ;;
    go) GOMAXPROCS=1 taskset -c 0 "$peers/go-taskbench" echo 0 \
          > "$out" 2>/dev/null & ;;
  esac
  fi
  pid=$!
  port=''
  for ((i = 0; i < 100; i++)); do
    port=$(awk '/^listening on/ { print $3 }' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
}

field() { sed -n "s/.*\\<$2=\\([^ ]*\\).*/\\1/p" <<< "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
  else if (NR % 2) print v[(NR + 1) / 2];
  else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A rate cpu p99 p50 p999 sys cs
have_perf=0
perf stat -e raw_syscalls:sys_enter,context-switches -o /dev/null true \
  2>/dev/null && have_perf=1
for ((r = 0; r < runs; r++)); do
  for k in $servers; do
    [ $k = tokio ] && [ ! -x "$peers/tokio-taskbench" ] && continue
    [ $k = go ] && [ ! -x "$peers/go-taskbench" ] && continue
    start $k
    if [ -z "$port" ]; then
      echo "echo-task.sh: $k did not start" >&2
      kill $pid 2>/dev/null
      continue
    fi
    # perf counts the server over the middle of the timed part (after
    # the 1 s warm-up and a little more, for duration - 1 s).
    stat=''
    if [ $have_perf = 1 ] && [ "$duration" -ge 2 ]; then
      ( sleep 1.5; perf stat -e raw_syscalls:sys_enter,context-switches \
          -x, -o "$work/stat" -p "$pid" -- sleep $((duration - 1)) \
          > /dev/null 2>&1 ) &
      stat=$!
      : > "$work/stat"
    fi
    if [ "$workers" -gt 0 ]; then
      line=$("$builddir/bench/echo-load" -p "$port" -P "$pid" \
               -c "$conns" -s "$size" -d "$duration" -w 1 2>/dev/null)
    else
      line=$(taskset -c 1 "$builddir/bench/echo-load" -p "$port" -P "$pid" \
               -c "$conns" -s "$size" -d "$duration" -w 1 2>/dev/null)
    fi
    [ -n "$stat" ] && wait "$stat"
    kill -TERM $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ -n "$line" ] || continue
    rate[$k]+="$(field "$line" rt_per_s) "
    cpu[$k]+="$(field "$line" server_cpu_us_per_rt) "
    p99[$k]+="$(field "$line" p99_us) "
    p50[$k]+="$(field "$line" p50_us) "
    p999[$k]+="$(field "$line" p999_us) "
    if [ -n "$stat" ] && [ -s "$work/stat" ]; then
      r=$(field "$line" rt_per_s)
      sys[$k]+="$(awk -F, -v rt="$r" -v d=$((duration - 1)) \
        '/raw_syscalls/ && rt > 0 { printf "%.4f", $1 / (rt * d) }' "$work/stat") "
      cs[$k]+="$(awk -F, -v rt="$r" -v d=$((duration - 1)) \
        '/context-switches/ && rt > 0 { printf "%.4f", $1 / (rt * d) }' "$work/stat") "
    fi
  done
done

uring_cpu=$(tr ' ' '\n' <<< "${cpu[uring]:-}" | grep . | median)
uringmt_cpu=$(tr ' ' '\n' <<< "${cpu[uringmt]:-}" | grep . | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
  if (a == "-" || b == "-" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
out=()
for k in $servers; do
  mr=$(tr ' ' '\n' <<< "${rate[$k]:-}" | grep . | median)
  mc=$(tr ' ' '\n' <<< "${cpu[$k]:-}" | grep . | median)
  mp=$(tr ' ' '\n' <<< "${p99[$k]:-}" | grep . | median)
  m50=$(tr ' ' '\n' <<< "${p50[$k]:-}" | grep . | median)
  m999=$(tr ' ' '\n' <<< "${p999[$k]:-}" | grep . | median)
  msys=$(tr ' ' '\n' <<< "${sys[$k]:-}" | grep . | median)
  mcs=$(tr ' ' '\n' <<< "${cs[$k]:-}" | grep . | median)
  vs=$(ratio "$mc" "$uring_cpu")
  l="echo_$k rt_per_s=$mr server_cpu_us_per_rt=$mc p99_us=$mp cpu_vs_uring=$vs"
  [ "$workers" -gt 0 ] && l+=" cpu_vs_uringmt=$(ratio "$mc" "$uringmt_cpu")"
  l+=" p50_us=$m50 p999_us=$m999 sys_per_rt=$msys cs_per_rt=$mcs"
  echo "$l"
  out+=("$l")
done
if [ -n "$markdown" ]; then
  {
    head="| server ($conns conns x $size B) | round trips/s | server CPU us/rt | p50 us | p99 us | p99.9 us | syscalls/rt | context switches/rt | CPU vs raw io_uring |"
    rule="|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if [ "$workers" -gt 0 ]; then
      head+=" CPU vs raw io_uring on $workers threads |"
      rule+="---:|"
    fi
    echo "$head"
    echo "$rule"
    for l in "${out[@]}"; do
      row="| $(cut -d' ' -f1 <<< "$l" | sed 's/^echo_//') |"
      for f in rt_per_s server_cpu_us_per_rt p50_us p99_us p999_us sys_per_rt \
               cs_per_rt cpu_vs_uring; do
        row+=" $(field "$l" $f) |"
      done
      [ "$workers" -gt 0 ] && row+=" $(field "$l" cpu_vs_uringmt) |"
      echo "$row"
    done
    echo
    if [ "$workers" -gt 0 ]; then
      echo "Servers on $workers threads (raw io_uring: one, and $workers as uringmt), the load generator on the same cores, nothing pinned; medians of $runs interleaved runs of ${duration} s."
    else
      echo "Server on CPU 0, load generator on CPU 1; medians of $runs interleaved runs of ${duration} s."
    fi
  } >> "$markdown"
fi
if [ -n "$plot" ]; then
  printf '%s\n' "${out[@]}" |
    "$here/latency-plot.sh" --title "Echo, $conns connections x $size B$(
      [ "$workers" -gt 0 ] && echo ", $workers server threads")" > "$plot"
fi
