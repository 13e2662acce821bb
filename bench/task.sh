#!/bin/bash
# bio_task against tokio (current-thread runtime) and Go (GOMAXPROCS=1):
# what `make bench-task` runs. Each benchmark runs on the three in turn
# (ours, tokio, Go, ours, ...) so drift in machine load hits all alike;
# each cell is the median of the runs. One line per benchmark:
#
#   NAME ours=V tokio=V go=V ratio=R ratio_go=R [cxx=V cxx_vs_c=R]
#
# With --ours-cxx (bench/task-bench-cxx, blitzio.hpp's coroutines), the
# benchmarks it has (spawn_join, pingpong) also run in C++, interleaved
# with the rest: cxx_vs_c is its rate over the C one's.
# ratio is ours against tokio, ratio_go against Go, both oriented so that
# above 1 means ours is better: for rates (spawn_join: tasks/s, pingpong:
# round trips/s) ours/peer; for costs (parked_rss, sleep_rss: bytes per
# task; sleep_late: p99 lateness in us) peer/ours.
#
# With --workers W, the multi-threaded benchmarks instead (mt_spawn_join,
# mt_pingpong with W >= 2, fanout from the main thread, fanout_in from a
# task): ours on a
# bio_runtime of W workers in both shapes (steal=: work stealing), tokio's
# multi-thread runtime with W workers, Go with GOMAXPROCS=W. fanout and
# fanout_in take each task's frame from one array of the caller's;
# fanout_frames and fanout_in_frames allocate it per spawn from the
# runtime's frame cache (bio_runtime_spawn_frame), as the peers allocate
# theirs: both are set against the peers' fanout and fanout_in.
# mt_pingpong: two tasks wake each other; ours are put on two workers, so
# every wake crosses threads (a post to the other worker's loop); the
# peers' two tasks go where their schedulers put them (each wakes the
# other onto its own thread, as a rule: no thread crossed).
#
# usage: task.sh --ours BIN [--ours-cxx BIN] [--peers DIR] [--runs N]
#                [--benches "..."] [--workers W] [--markdown FILE]
# The peers are built into DIR (bench/peers/build.sh) on first use; a
# peer whose toolchain is missing (tools/install-deps --peers) shows "-".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ours=''
ours_cxx=''
peers=$here/peers/build
runs=5
benches=''
workers=0
markdown=''
while [ $# -gt 0 ]; do
  case $1 in
    --ours) ours=$2; shift ;;
    --ours-cxx) ours_cxx=$2; shift ;;
    --peers) peers=$2; shift ;;
    --runs) runs=$2; shift ;;
    --benches) benches=$2; shift ;;
    --workers) workers=$2; shift ;;
    --markdown) markdown=$2; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "task.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$benches" ]; then
  if [ "$workers" -gt 1 ]; then benches="mt_spawn_join mt_pingpong fanout fanout_in fanout_frames fanout_in_frames"
  elif [ "$workers" -gt 0 ]; then benches="mt_spawn_join fanout fanout_in fanout_frames fanout_in_frames"
  else benches="spawn_join pingpong parked_rss sleep_rss sleep_late"; fi
fi
[ -x "$ours" ] || { echo "task.sh: --ours: no such program '$ours'" >&2; exit 2; }
if [ ! -x "$peers/tokio-taskbench" ] || [ ! -x "$peers/go-taskbench" ]; then
  sh "$here/peers/build.sh" "$peers" || exit 1
fi

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
  else if (NR % 2) print v[(NR + 1) / 2];
  else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { # ratio BENCH OURS PEER
  awk -v b="$1" -v o="$2" -v p="$3" 'BEGIN {
    if (o == "-" || p == "-" || o + 0 == 0 || p + 0 == 0) { print "-"; exit }
    if (b == "spawn_join" || b ~ /pingpong$/ || b == "mt_spawn_join" ||
        b ~ /^fanout/) printf "%.2f\n", o / p;
    else printf "%.2f\n", p / o }'
}
one() { # one PROGRAM BENCH: the value, or nothing
  [ -x "$1" ] || return 0
  if [ "$workers" -gt 0 ]; then
    # The peers have one fanout each: the _frames variants are ours.
    case $(basename "$1") in
      go-taskbench) GOMAXPROCS=$workers timeout 120 "$1" "${2%_frames}" ;;
      tokio-taskbench) TASKBENCH_WORKERS=$workers timeout 120 "$1" "${2%_frames}" ;;
      # Ours forces each wake across workers (5-6 us each here): fewer.
      *) timeout 120 "$1" "$2" "$([ "$2" = mt_pingpong ] && echo 100000 ||
                                   echo 1000000)" "$workers" ;;
    esac | awk -v b="$2" '$1 == b || $1 "_frames" == b { print $2 }'
  elif [ "$(basename "$1")" = go-taskbench ]; then
    GOMAXPROCS=1 timeout 120 "$1" "$2" | awk -v b="$2" '$1 == b { print $2 }'
  else
    timeout 120 "$1" "$2" | awk -v b="$2" '$1 == b { print $2 }'
  fi
}

lines=()
for b in $benches; do
  o=(); t=(); g=(); x=()
  cxx=''
  case $b in spawn_join|pingpong) [ -x "$ours_cxx" ] && cxx=$ours_cxx ;; esac
  s=()
  for ((i = 0; i < runs; i++)); do
    o+=("$(one "$ours" "$b")")
    [ "$workers" -gt 0 ] && s+=("$(BIO_BENCH_SHAPE=stealing one "$ours" "$b")")
    [ -n "$cxx" ] && x+=("$(one "$cxx" "$b")")
    t+=("$(one "$peers/tokio-taskbench" "$b")")
    g+=("$(one "$peers/go-taskbench" "$b")")
  done
  mo=$(printf '%s\n' "${o[@]}" | grep . | median)
  mt=$(printf '%s\n' "${t[@]}" | grep . | median)
  mg=$(printf '%s\n' "${g[@]}" | grep . | median)
  line="$b ours=$mo tokio=$mt go=$mg ratio=$(ratio "$b" "$mo" "$mt") ratio_go=$(ratio "$b" "$mo" "$mg")"
  if [ "$workers" -gt 0 ]; then
    ms=$(printf '%s\n' "${s[@]}" | grep . | median)
    line="$line steal=$ms steal_ratio=$(ratio "$b" "$ms" "$mt") steal_ratio_go=$(ratio "$b" "$ms" "$mg")"
  fi
  if [ -n "$cxx" ]; then
    mx=$(printf '%s\n' "${x[@]}" | grep . | median)
    line="$line cxx=$mx cxx_vs_c=$(ratio "$b" "$mx" "$mo")"
  fi
  echo "$line"
  lines+=("$line")
done

if [ -n "$markdown" ]; then
  {
    if [ "$workers" -gt 0 ]; then
      echo "| benchmark ($workers workers) | unit | ours, per-core | ours, stealing | tokio | Go | per-core vs tokio | vs Go | stealing vs tokio | vs Go |"
      echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    else
      echo "| benchmark | unit | ours | tokio | Go | vs tokio | vs Go |"
      echo "|---|---|---:|---:|---:|---:|---:|"
    fi
    for l in "${lines[@]}"; do
      set -- $l
      case $1 in
        spawn_join|mt_spawn_join|fanout*) unit="tasks/s" ;;
        pingpong|mt_pingpong) unit="round trips/s" ;;
        parked_rss|sleep_rss) unit="RSS bytes/task" ;;
        sleep_late) unit="p99 lateness, us" ;;
        *) unit="" ;;
      esac
      if [ "$workers" -gt 0 ]; then
        echo "| $1 | $unit | ${2#ours=} | ${7#steal=} | ${3#tokio=} | ${4#go=} | ${5#ratio=} | ${6#ratio_go=} | ${8#steal_ratio=} | ${9#steal_ratio_go=} |"
      else
        echo "| $1 | $unit | ${2#ours=} | ${3#tokio=} | ${4#go=} | ${5#ratio=} | ${6#ratio_go=} |"
      fi
    done
    echo
    echo "Medians of $runs interleaved runs; ratios above 1: ours better."
    [ "$workers" -gt 0 ] &&
      echo "$workers workers: bio_runtime (thread-per-core and work stealing), tokio's multi-thread runtime, Go with GOMAXPROCS=$workers."
    for l in "${lines[@]}"; do
      case $l in
        *cxx=*) set -- $l
                echo "C++20 (blitzio.hpp) $1: ${7#cxx=} (${8#cxx_vs_c=} of C)." ;;
      esac
    done
  } > "$markdown.part"
  # The multi-threaded table goes below the single-threaded one.
  if [ "$workers" -gt 0 ]; then cat "$markdown.part" >> "$markdown"
  else cat "$markdown.part" > "$markdown"; fi
  rm -f "$markdown.part"
fi
