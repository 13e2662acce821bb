#!/bin/sh
# The examples of the native API (examples/), run as a user would, on
# io_uring, on epoll, and under the filters that deny io_uring (no-uring)
# or kill on it (no-uring --kill), where the library must pick epoll:
#  - echo-task serves 10,000 concurrent connections of bench/echo-load
#    (every echoed byte checked), then exits 0 on SIGTERM;
#  - fetch-task fetches from it 50 times and from a server that never
#    answers 5 times, under a 300 ms deadline: 50 ok, 5 timed out;
#  - echo-task on 2 workers, thread-per-core and work stealing, serves
#    1,000 connections each;
#  - echo-task-cxx (the same in C++20) serves 1,000 connections;
#  - copy-task copies a 5 MiB file, compared with cmp.
# Each program runs under timeout: a hang fails.
b=${BIO_TOP_BUILDDIR:-.}
conns=${BIO_EXAMPLE_CONNS:-10000}
work=$(mktemp -d "${TMPDIR:-/tmp}/bio-examples.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL ($mode): $*"; fail=1; }

# start_server PROGRAM ARGS...: starts it (under $wrap) in the background;
# sets pid, and port once it says "listening on PORT" (empty if it did not).
start_server() {
  rm -f "$work/port"
  timeout 120 $wrap "$@" > "$work/port" 2> "$work/err" &
  pid=$!
  i=0
  while ! grep -q '^listening on' "$work/port" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
  done
  port=$(sed -n 's/^listening on //p' "$work/port")
}

# load NAME CONNS: echo-load against the server started last; reports.
load() {
  out=$(timeout 60 "$b/bench/echo-load" -p "${port:-1}" -c "$2" -s 64 -d 1 \
          -w 0.5 2>&1)
  rc=$?
  case $out in
    *rt_per_s=*conns=$2*) [ $rc = 0 ] || bad "$1: echo-load exit $rc" ;;
    *) bad "$1: echo-load: $out" ;;
  esac
  echo "$mode $1, $2 connections: $(echo "$out" | cut -d' ' -f1)"
}

# stop_server NAME: SIGTERM, and it must exit 0.
stop_server() {
  kill -TERM $pid
  wait $pid
  rc=$?
  [ $rc = 0 ] || bad "$1 exit $rc after SIGTERM: $(cat "$work/err")"
}

# 10,000 connections need 10,000 fds on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((conns + 100)) ]; then
  conns=$(($(ulimit -n) - 100))
  echo "note: open-file limit $(ulimit -n): $conns connections"
fi

head -c 5242880 /dev/urandom > "$work/src"
for mode in uring epoll denied killed; do
  case $mode in
    uring|epoll) wrap=""; export BIO_BACKEND=$mode ;;
    denied) wrap="$b/test/programs/no-uring"; unset BIO_BACKEND ;;
    killed) wrap="$b/test/programs/no-uring --kill"; unset BIO_BACKEND ;;
  esac
  # Under a sanitizer build (make check-asan), LeakSanitizer's exit-time
  # scan (a ptrace of the process by a helper) now and then never ends
  # inside the seccomp filters: the leak check runs in the two unfiltered
  # modes, which take the same paths; the filtered ones keep ASan/UBSan.
  case $mode in
    denied|killed) export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" ;;
  esac

  start_server "$b/examples/echo-task" 0
  if [ -z "$port" ]; then
    bad "echo-task did not start: $(cat "$work/err")"
    kill $pid 2>/dev/null
    continue
  fi
  load echo-task "$conns"
  out=$(timeout 30 $wrap "$b/examples/fetch-task" -t 300 -c 50 -s 5 \
          "127.0.0.1:$port" 2>&1)
  last=$(echo "$out" | tail -1)
  [ "$last" = "fetched 50 of 55: 5 timed out, 0 failed" ] ||
    bad "fetch-task: $last"
  echo "$mode fetch-task: $last"
  stop_server echo-task

  # Two workers, thread-per-core, a listener each (SO_REUSEPORT).
  start_server "$b/examples/echo-task" 0 2 per-core
  load "echo-task 2 workers per-core" 1000
  stop_server "echo-task 2 per-core"

  # Two workers, work stealing: one listener, connections stolen.
  start_server "$b/examples/echo-task" 0 2 stealing
  load "echo-task 2 workers stealing" 1000
  stop_server "echo-task 2 stealing"

  # The C++20 echo server, where it was built.
  if [ -x "$b/examples/echo-task-cxx" ]; then
    start_server "$b/examples/echo-task-cxx" 0
    load echo-task-cxx 1000
    stop_server echo-task-cxx
  fi

  rm -f "$work/dst"
  timeout 30 $wrap "$b/examples/copy-task" "$work/src" "$work/dst" ||
    bad "copy-task failed"
  cmp -s "$work/src" "$work/dst" || bad "copy-task: the copy differs"
  echo "$mode copy-task: $(wc -c < "$work/dst") bytes"
done
[ $fail = 0 ] && echo PASS
exit $fail
