#!/bin/bash
# Runs libuv 1.44.2's own benchmark runner on the system libuv and on
# blitz-io, interleaved (sys, ours, sys, ours, ...) so drift in machine load
# hits both alike, and reports medians and ratios (what `make bench-libuv`
# runs). The main comparison is one binary - the relink build, made against
# the system headers and -luv - loaded with either library.
#
# usage: bench.sh [options] [BENCHMARK...]
#   --libdir DIR       our libuv.so.1's directory   (default: <top>/.libs)
#   --includedir DIR   our uv.h's directory         (default: <top>/include)
#   --paths LIST       how "ours" is built: relink[,rebuild] (default: relink)
#   --runs N           runs per library and benchmark (default: 3; median)
#   --markdown FILE    also write the table as markdown to FILE
#   --contended        keep every CPU busy with other processes during the
#                      runs (one busy loop per CPU, started here, stopped
#                      on exit and by themselves if this script dies): how
#                      the libraries fare on a loaded machine
#   --list             print the runner's benchmarks and exit
#   BENCHMARK...       default: $BIO_BENCHMARKS or
#                      "million_timers loop_count million_async async_pummel_1"
# env: BIO_BACKEND (uring|epoll, passed to both runs; the system libuv
#      ignores it), BIO_CACHE, CC, CFLAGS.
# Ratio = blitz-io speed / system speed: system time / our time for results
# printed as durations, our rate / system rate for rates. Higher = we are
# faster; 1.00 = the same. CPU/op ratio = system CPU per operation / ours
# (the CPU seconds of the benchmark and its helper processes; per
# operation because a rate benchmark runs for a fixed time): higher = we
# use less.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/common.sh"

libdir=${BIO_LIBDIR:-$top/.libs}
incdir=$top/include
paths=relink
runs=3
markdown=''
list=0
contended=0
benchmarks=()

while [ $# -gt 0 ]; do
  case $1 in
    --libdir) libdir=$2; shift ;;
    --includedir) incdir=$2; shift ;;
    --paths) paths=$2; shift ;;
    --runs) runs=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    --list) list=1 ;;
    --contended) contended=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) bio_die "unknown option $1 (try --help)" ;;
    *) benchmarks+=("$1") ;;
  esac
  shift
done
if [ ${#benchmarks[@]} = 0 ]; then
  read -ra benchmarks <<< \
    "${BIO_BENCHMARKS:-million_timers loop_count million_async async_pummel_1}"
fi
[ "$runs" -ge 1 ] 2>/dev/null || bio_die "--runs wants a positive number"

libdir=$(cd "$libdir" 2>/dev/null && pwd) || bio_die "no lib dir $libdir"
incdir=$(cd "$incdir" 2>/dev/null && pwd) || incdir=/nonexistent
src=$("$here/fetch.sh") || bio_die "cannot fetch libuv's source"
work=$(dirname "$src")/work
mkdir -p "$work"
lib=$work/lib-bench
bio_copy_lib "$libdir" "$lib"
# Only to run ldd as someone else; the benchmark runner accepts root.
bio_ensure_user
bio_build_isolate "$work"

declare -A bin
IFS=, read -ra path_list <<< "$paths"
for path in "${path_list[@]}"; do
  bin[$path]=$(bio_build bench "$path" "$src" "$work/build/bench-$path" \
                 "$incdir" "$lib" "$(nproc)") || exit 2
  bio_verify_loaded "${bin[$path]}" "$lib" || exit 2
done
sysbin=${bin[relink]:-}
if [ -z "$sysbin" ]; then
  sysbin=$(bio_build bench relink "$src" "$work/build/bench-relink" \
             "$incdir" "$lib" "$(nproc)") || exit 2
fi

if [ $list = 1 ]; then
  "$sysbin" --list | awk '{ print $1 }'
  exit 0
fi

rundir=$work/bench-run
mkdir -p "$rundir"

# --contended: one busy process per CPU we may use. Each checks now and
# then that this script still lives, so none outlives it.
run_limit=300 # seconds for one run of one benchmark
load_pids=()
stop_load() {
  [ ${#load_pids[@]} -gt 0 ] && kill "${load_pids[@]}" 2>/dev/null
  wait "${load_pids[@]}" 2>/dev/null
  load_pids=()
}
if [ $contended = 1 ]; then
  trap stop_load EXIT
  trap 'exit 130' INT TERM
  for ((c = 0; c < $(nproc); c++)); do
    bash -c 'while kill -0 "$1" 2>/dev/null; do
               i=0; while [ $i -lt 100000 ]; do i=$((i + 1)); done
             done' load "$$" &
    load_pids+=($!)
  done
  # Everything takes longer with the CPUs shared: so may the runner's
  # limit on each benchmark.
  export UV_TEST_TIMEOUT_MULTIPLIER=4
  run_limit=1200
  bio_say "contended: ${#load_pids[@]} busy processes, one per CPU"
fi

# run_bench BIN LIBDIR NAME: runs one benchmark once; prints "time SECONDS"
# or "rate PER_SECOND" parsed from what it printed, or nothing on failure.
run_bench() {
  local b=$1 l=$2 name=$3 out=$rundir/$name.out cpu
  # The CPU time (user + system) of the benchmark and its children, from
  # the subshell's `times`: wall time alone hides work when a benchmark
  # mostly waits (million_timers sleeps through its 10 s of timeouts).
  cpu=$( (cd "$rundir" && timeout -k 5 "$run_limit" env ${l:+LD_LIBRARY_PATH=$l} \
      "$b" "$name" > "$out" 2>&1 < /dev/null; times) | tail -1 |
      awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/);
             t += p[1] * 60 + p[2] } printf "%.3f", t }')
  grep -q "^ok [0-9]* - $name" "$out" || {
    bio_say "$name failed with ${l:-system libuv}; see $out"; return 0; }
  # The pound benchmarks count failed connects (ephemeral ports in
  # TIME_WAIT, say) as they go, and print them: such a rate measures the
  # failures, not the library, so the run does not count.
  if grep -Eq '\(([1-9][0-9]*) failed\)' "$out"; then
    bio_say "$name with ${l:-system libuv}: $(grep -Eo '[0-9]+ failed' "$out" |
             head -1) connects; run not counted"
    return 0
  fi
  # million_timers prints "N seconds total" (and its parts); the others
  # print a rate ("(1,234/s)", "1234 spawns/s", "1.2 gbit/s"), else a
  # duration ("... in 1.23s"): the first such line counts. fs_stat is the
  # exception: it prints a sync rate (the bare syscall, which both
  # libraries make directly) and then one line per concurrency level
  # ("(N concurrent): 1.23s"), the asynchronous path it exists to measure;
  # those durations are summed. The CPU seconds follow as a third field.
  local parsed
  parsed=$(awk '
    match($0, /concurrent\): [0-9.]+ ?s/) {
      s = substr($0, RSTART, RLENGTH); sub(/^concurrent\): /, "", s)
      sub(/ ?s$/, "", s); conc += s; nconc++; next
    }
    found { next }
    match($0, /[0-9.]+ seconds total/) {
      s = substr($0, RSTART, RLENGTH); sub(/ .*/, "", s)
      first = "time " s; found = 1; next
    }
    match($0, /[0-9][0-9,]*(\.[0-9]+)? ?[a-z]*\/s(ec)?/) {
      s = substr($0, RSTART, RLENGTH)
      sub(/ ?[a-z]*\/s(ec)?$/, "", s); gsub(/,/, "", s)
      first = "rate " s; found = 1; next
    }
    match($0, /in [0-9.]+ ?s/) {
      s = substr($0, RSTART + 3, RLENGTH - 3); sub(/ ?s$/, "", s)
      first = "time " s; found = 1; next
    }
    END { if (nconc) print "time", conc; else if (found) print first }' "$out")
  [ -n "$parsed" ] && echo "$parsed $cpu"
}

median() {
  sort -g | awk '{ v[NR] = $1 }
                 END { if (NR == 0) print "-";
                       else if (NR % 2) print v[(NR + 1) / 2];
                       else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fmt_value() {
  case $1 in
    -) echo "failed" ;;
    *) if [ "$2" = time ]; then printf '%.3f s' "$1"
       else printf "%'.0f/s" "$1"; fi ;;
  esac
}

rows=()
backend=${BIO_BACKEND:-default}
for name in "${benchmarks[@]}"; do
  for path in "${path_list[@]}"; do
    sys_vals=() ours_vals=() sys_cpu=() ours_cpu=() kind=''
    for ((i = 1; i <= runs; i++)); do
      # The system run loads /usr's libuv: no LD_LIBRARY_PATH at all.
      sv='' sc='' ov='' oc=''
      read -r k sv sc <<< "$(run_bench "$sysbin" "" "$name")"
      [ -n "${sv:-}" ] && sys_vals+=("$sv") && sys_cpu+=("$sc") && kind=$k
      read -r k ov oc <<< "$(run_bench "${bin[$path]}" "$lib" "$name")"
      [ -n "${ov:-}" ] && ours_vals+=("$ov") && ours_cpu+=("$oc") && kind=$k
      echo "  $name [$path] run $i/$runs: system ${sv:-failed}," \
           "blitz-io ${ov:-failed} (${kind:-?}); cpu ${sc:-?} s / ${oc:-?} s" >&2
    done
    s=$(printf '%s\n' "${sys_vals[@]}" | grep . | median)
    o=$(printf '%s\n' "${ours_vals[@]}" | grep . | median)
    sc=$(printf '%s\n' "${sys_cpu[@]}" | grep . | median)
    oc=$(printf '%s\n' "${ours_cpu[@]}" | grep . | median)
    # CPU per operation: a duration benchmark does fixed work, a rate
    # benchmark runs for a fixed time, so its operations are rate-sized.
    cpu_ratio=-
    if [ "$sc" != - ] && [ "$oc" != - ] && [ "$s" != - ] && [ "$o" != - ]; then
      cpu_ratio=$(awk -v s="$s" -v o="$o" -v sc="$sc" -v oc="$oc" -v k="$kind" '
        BEGIN { if (k == "time") r = (oc > 0 ? sc / oc : 0)
                else r = (oc > 0 && s > 0 ? (sc / s) / (oc / o) : 0)
                printf "%.2f", r }')
    fi
    ratio=-
    if [ "$s" != - ] && [ "$o" != - ]; then
      if [ "$kind" = time ]; then
        ratio=$(awk -v s="$s" -v o="$o" 'BEGIN { printf "%.2f", (o > 0 ? s / o : 0) }')
      else
        ratio=$(awk -v s="$s" -v o="$o" 'BEGIN { printf "%.2f", (s > 0 ? o / s : 0) }')
      fi
    fi
    label=$name
    [ ${#path_list[@]} -gt 1 ] && label="$name ($path)"
    rows+=("$label|$(fmt_value "$s" "$kind")|$(fmt_value "$o" "$kind")|$ratio|$sc s|$oc s|$cpu_ratio")
  done
done

header="benchmark|system libuv|blitz-io|ratio|system CPU|blitz-io CPU|CPU/op ratio"
{
  echo "$header"
  printf '%s\n' "${rows[@]}"
} | awk -F'|' '
  { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
  END {
    total = 0
    for (r = 1; r <= NR; r++) {
      printf "%-" w[1] "s", c[r, 1]
      for (i = 2; i <= 7; i++) printf "  %" w[i] "s", c[r, i]
      printf "\n"
      if (r == 1) {
        line = ""
        for (i = 1; i <= 7; i++) total += w[i] + 2
        for (i = 2; i < total; i++) line = line "-"
        print line
      }
    }
  }'
load=quiet
[ $contended = 1 ] && load="contended: $(nproc) busy processes"
echo "(median of $runs interleaved runs; ratio = blitz-io speed / system speed," \
     "higher is faster; CPU/op ratio = system CPU per op / ours, higher uses" \
     "less; BIO_BACKEND=$backend; $load; ours from $libdir)"

if [ -n "$markdown" ]; then
  {
    echo "| benchmark | system libuv | blitz-io | ratio | system CPU | blitz-io CPU | CPU/op ratio |"
    echo "|---|--:|--:|--:|--:|--:|--:|"
    for row in "${rows[@]}"; do
      echo "| ${row//|/ | } |"
    done
    echo
    echo "libuv 1.44.2's run-benchmarks (relink build), median of $runs" \
         "interleaved runs, BIO_BACKEND=$backend, $(nproc) CPUs, $load," \
         "$(uname -r), $(date -u +%Y-%m-%d)." \
         "Ratio = blitz-io speed / system libuv speed; higher is faster." \
         "CPU = user + system seconds of the benchmark and its helpers;" \
         "CPU/op ratio = system CPU per operation / blitz-io's (higher: we" \
         "use less)."
  } > "$markdown"
  echo "markdown table written to $markdown"
fi
