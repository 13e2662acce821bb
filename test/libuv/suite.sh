#!/bin/bash
# Runs libuv's own test suite against blitz-io (what `make check-libuv`
# runs): libuv 1.44.2's (Debian's source package), or 1.52.1's (the release
# tarball vendored in ../shared/vendor, built into a reference library by
# fetch-1.52.sh). libuv's runner is built from libuv's sources twice -
# relink (libuv's headers and library: the system's for 1.44.2, the
# reference build for 1.52.1; our libuv.so.1 loaded at run time) and rebuild
# (our headers, linked to our library) - and every test runs under each
# backend. The verdict compares against the suite's expected-pass list;
# an expected test that fails runs once more, alone, and one that passes
# then is listed as such (FAILED, THEN PASSED ALONE) with its first log.
#
# usage: suite.sh [options]
#   --libdir DIR       our libuv.so.1's directory   (default: <top>/.libs)
#   --includedir DIR   our uv.h's directory         (default: <top>/include)
#   --suite VERSION    1.44 or 1.52                 (default: 1.44)
#   --paths LIST       relink,rebuild,reference     (default: relink,rebuild)
#                      reference: the relink runner on libuv's own library
#                      (the baseline: what libuv itself passes here)
#   --backends LIST    uring,epoll,denied,killed    (default: uring,epoll,
#                      and denied,killed when --no-uring is given)
#                      denied/killed: io_uring refused by a seccomp filter
#                      (EPERM / killing the caller), the backend left to
#                      blitz-io's own choice
#   --no-uring PROG    test/programs/no-uring, for denied and killed
#   --filter REGEX     only tests whose name matches (grep -E, whole name)
#   --slice            filter = the first slice's tests (loop, timers, ...)
#   --jobs N           tests run at once            (default: 16)
#   --budget SECONDS   wall-time cap for all runs   (default: 1500)
#   --expected FILE    (default: test/libuv/expected-pass.txt, or
#                      expected-pass-1.52.txt for --suite 1.52)
#   --no-isolate       no per-test network/mount namespaces (then jobs=1)
#   --verbose          print every test's result
#   --sanitize         our library is built with --enable-sanitizers: preload
#                      the ASan/UBSan runtimes into libuv's (unsanitized)
#                      runner and pass ASAN_OPTIONS (detect_leaks=1), UBSAN_
#                      OPTIONS (print_stacktrace=1:halt_on_error=1) and
#                      LSAN_OPTIONS to every test process and its helpers.
#                      On by itself when libuv.so.1 in --libdir needs libasan.
#                      A sanitizer report from any process of a test (helpers
#                      too: reports go to files) makes the test fail; its log
#                      holds the report. Tests in SANITIZE_OWN_LEAKS
#                      (below) run without leak checking: libuv's test code
#                      itself leaks there.
# env: BIO_CACHE (default /var/cache/blitz-io), BIO_TEST_USER (bio-test), CC,
#      CFLAGS (default -O1 -g),
#      BIO_SUITE_ENV: extra VAR=value words (whitespace-separated) set in
#      every test process, after --sanitize's, e.g.
#      BIO_SUITE_ENV='ASAN_OPTIONS=detect_leaks=0 BIO_TRACE=1'.
# Results: <work>/results/<path>-<backend>.txt ("name pass|fail|skip"),
#          <work>/logs/<path>-<backend>/<name>.log for failures; <work> is
#          <cache>/work for 1.44, <cache>/work-1.52.1 for 1.52.
# Exit: 0 if every expected test passed in every combination, 1 if not,
#       2 on harness errors.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/common.sh"

SLICE_RE='active|async.*|check_ref|close_order|default_loop_close|embed'
SLICE_RE+='|error_message|handle_type_name|has_ref|hrtime|idle_.*|loop_.*'
SLICE_RE+='|metrics_idle_time.*|prepare_ref|queue_foreach_delete|ref'
SLICE_RE+='|req_type_name|run_nowait|run_once|strscpy|sys_error|timer.*'
SLICE_RE+='|unref_in_prepare_cb|walk_handles|watcher_cross_stop|thread_.*'
SLICE_RE+='|barrier_.*|condvar_.*|semaphore_.*'

# Under --sanitize, tests whose leaks are libuv's test code's own (the stack
# says so), run with detect_leaks=0; ASan's other checks stay on.
#   tty_pty: uv_loop_init on a stack loop, never uv_loop_close'd (libuv
#            skips the test in its own ASan builds).
SANITIZE_OWN_LEAKS='tty_pty'

libdir=${BIO_LIBDIR:-$top/.libs}
incdir=$top/include
paths=relink,rebuild
backends=''
filter=''
jobs=16
budget=1500
expected=''
suite=1.44
no_uring=
isolate=1
jobs_given=0
verbose=0
sanitize=0

while [ $# -gt 0 ]; do
  case $1 in
    --libdir) libdir=$2; shift ;;
    --includedir) incdir=$2; shift ;;
    --paths) paths=$2; shift ;;
    --backends) backends=$2; shift ;;
    --suite) suite=$2; shift ;;
    --no-uring) no_uring=$2; shift ;;
    --filter) filter=$2; shift ;;
    --slice) filter=$SLICE_RE ;;
    --jobs) jobs=$2; jobs_given=1; shift ;;
    --budget) budget=$2; shift ;;
    --expected) expected=$2; shift ;;
    --no-isolate) isolate=0 ;;
    --verbose) verbose=1 ;;
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bio_die "unknown option $1 (try --help)" ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || bio_die "run as root (it creates $BIO_TEST_USER and drops to it)"
case $suite in
  1.44) : "${expected:=$here/expected-pass.txt}" ;;
  1.52) : "${expected:=$here/expected-pass-1.52.txt}" ;;
  *) bio_die "--suite: 1.44 or 1.52, not $suite" ;;
esac
if [ -z "$backends" ]; then
  backends=uring,epoll
  [ -n "$no_uring" ] && backends+=,denied,killed
fi
if [[ ,$backends, == *,denied,* || ,$backends, == *,killed,* ]]; then
  [ -n "$no_uring" ] && [ -x "$no_uring" ] ||
    bio_die "backends denied/killed need --no-uring PROG (test/programs/no-uring)"
fi
libdir=$(cd "$libdir" 2>/dev/null && pwd) || bio_die "no lib dir $libdir"
incdir=$(cd "$incdir" 2>/dev/null && pwd) || incdir=/nonexistent

# The environment every test process gets besides the basics (run_env, as
# VAR=value words). A sanitized libuv.so.1 cannot load into the runner unless
# the ASan runtime comes first, hence the preload. It is set inside isolate
# (by env), so the isolation helper itself runs unsanitized.
run_env=()
if [ $sanitize = 0 ] &&
   readelf -d "$libdir/libuv.so.1" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
  bio_say "$libdir/libuv.so.1 is built with ASan: --sanitize"
  sanitize=1
fi
if [ $sanitize = 1 ]; then
  preload=''
  for rt in libasan.so libubsan.so; do
    f=$(readlink -f "$(${CC:-cc} -print-file-name=$rt)")
    [ -f "$f" ] || bio_die "--sanitize: no $rt (${CC:-cc} -print-file-name)"
    preload=${preload:+$preload:}$f
  done
  run_env+=("LD_PRELOAD=$preload"
            "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66:detect_stack_use_after_return=0:allocator_may_return_null=1"
            "LSAN_OPTIONS=exitcode=67"
            "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
fi
if [ -n "${BIO_SUITE_ENV:-}" ]; then
  read -ra extra <<< "$BIO_SUITE_ENV"
  for kv in "${extra[@]}"; do
    [[ $kv == [A-Za-z_]*=* ]] || bio_die "BIO_SUITE_ENV: '$kv' is not VAR=value"
    run_env+=("$kv")
  done
fi

if [ $suite = 1.44 ]; then
  src=$("$here/fetch.sh") || bio_die "cannot fetch libuv's source"
  cache=$(dirname "$src")
  work=$cache/work
  reflib=$BIO_SYSLIBDIR
else
  src=$("$here/fetch-1.52.sh") || bio_die "cannot fetch libuv 1.52.1"
  cache=$(dirname "$src")
  work=$cache/work-1.52.1
  # The relink runner is built on the reference build's headers and
  # library.
  export BIO_SYSINC=$src/include BIO_SYSLIBDIR=$src/.libs
  reflib=$src/.libs
fi
mkdir -p "$work"
chmod 755 "$cache" "$work"
start=$(date +%s)

bio_ensure_user
bio_build_isolate "$work"
bio_copy_lib "$libdir" "$work/lib"
bio_copy_lib "$reflib" "$work/reflib"
if [ -n "$no_uring" ]; then
  # Where the test user can run it.
  cp "$no_uring" "$work/no-uring"
  chmod 755 "$work/no-uring"
fi
rm -rf "$work/fixtures"
mkdir -p "$work/fixtures/test"
cp -a "$src/test/fixtures" "$work/fixtures/test/"
chmod -R a+rX "$work/fixtures"

if [ $isolate = 1 ] &&
   ! "$BIO_ISOLATE" -n "$BIO_UID" "$BIO_GID" / /bin/true 2>/dev/null; then
  bio_say "network/mount namespaces unavailable: tests share ports, so" \
          "they run one at a time (slow)"
  isolate=0
fi
if [ $isolate = 0 ] && [ $jobs_given = 0 ]; then
  jobs=1
fi

# Per-test time limits from libuv's test-list.h (5 s unless the entry says).
declare -A limit_ms
while read -r name ms; do
  limit_ms[$name]=$ms
done < <(sed -nE 's/^[[:space:]]*TEST_ENTRY_CUSTOM[[:space:]]*\(([a-z0-9_]+),[^,]*,[^,]*,[[:space:]]*([0-9]+)\).*/\1 \2/p' \
           "$src/test/test-list.h")

# Expected names, comments and blanks dropped.
expected_names() {
  [ -f "$expected" ] && sed -E 's/#.*//; s/[[:space:]]+//g; /^$/d' "$expected"
}

# One test in one combination; runs under xargs, so all it needs is exported.
run_one() {
  local name=$1 dir out rc now left secs status line
  local -a RUN_ENV
  local i
  eval "$RUN_ENV_DECL"
  if [ -n "$RUN_OWN_LEAKS" ] && [[ $name =~ ^($RUN_OWN_LEAKS)$ ]]; then
    for i in "${!RUN_ENV[@]}"; do
      [[ ${RUN_ENV[$i]} == ASAN_OPTIONS=* ]] &&
        RUN_ENV[$i]+=:detect_leaks=0
    done
  fi
  now=$(date +%s)
  left=$((RUN_DEADLINE - now))
  if [ $left -le 0 ]; then
    echo "$name fail" >> "$RUN_RESULTS"
    echo "not run: time budget exhausted" > "$RUN_LOGS/$name.log"
    return 0
  fi
  secs=$(( ${RUN_LIMITS_MS[$name]:-5000} / 1000 + 10 ))
  [ $secs -gt $left ] && secs=$((left + 5))
  dir=$RUN_DIR/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  # A private copy: the tests need to own it (connect() to a file needs
  # write permission) and some write next to it.
  cp -r "$RUN_FIXTURES/test" "$dir/test"
  # Sanitizer reports go to files, so those of helpers whose output or
  # status the test ignores are seen too.
  if [ "$RUN_SANITIZE" = 1 ]; then
    for i in "${!RUN_ENV[@]}"; do
      [[ ${RUN_ENV[$i]} == ASAN_OPTIONS=* || ${RUN_ENV[$i]} == UBSAN_OPTIONS=* ]] &&
        RUN_ENV[$i]+=:log_path=$dir/sanitizer
    done
  fi
  chown -R "$RUN_UID:$RUN_GID" "$dir"
  out=$RUN_DIR/$name.out
  timeout -k 5 "$secs" env -i PATH=/usr/bin:/bin HOME="$dir" \
      USER="$RUN_USER" LOGNAME="$RUN_USER" BIO_BACKEND="$RUN_BACKEND" \
      LD_LIBRARY_PATH="$RUN_LIB" \
      "$RUN_ISOLATE" $RUN_NS "$RUN_UID" "$RUN_GID" "$dir" \
      /usr/bin/env "${RUN_ENV[@]}" $RUN_WRAP "$RUN_BIN" "$name" \
      < /dev/null > "$out" 2>&1
  rc=$?
  line=$(grep -m 1 -E "^(not )?ok [0-9]+ - $name( |$)" "$out")
  case $line in
    ok*"# SKIP"*) status=skip ;;
    ok*) status=pass ;;
    *) status=fail ;;
  esac
  [ $rc = 124 ] || [ $rc = 137 ] && status=fail &&
    echo "# killed by the harness after ${secs}s" >> "$out"
  [ $rc = 125 ] && status=fail && echo "# isolation failed" >> "$out"
  # (Files without an error hold only warnings, e.g. LeakSanitizer in a
  # forked child listing the parent's threads as not suspended.)
  for i in "$dir"/sanitizer.*; do
    [ -f "$i" ] && grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$i" ||
      continue
    status=fail
    { echo "# sanitizer report ${i##*/}:"; cat "$i"; } >> "$out"
  done
  echo "$name $status" >> "$RUN_RESULTS"
  if [ $status = fail ]; then
    mv "$out" "$RUN_LOGS/$name.log"
  else
    rm -f "$out"
  fi
  [ "$RUN_VERBOSE" = 1 ] && echo "  $RUN_COMBO $name $status" >&2
  rm -rf "$dir"
  return 0
}

IFS=, read -ra path_list <<< "$paths"
IFS=, read -ra backend_list <<< "$backends"
ncombos=$(( ${#path_list[@]} * ${#backend_list[@]} ))
[ $ncombos -gt 0 ] || bio_die "nothing to run"
deadline_all=$((start + budget))

combos=()
rm -f "$work/retried"
harness_error=0
for path in "${path_list[@]}"; do
  # The reference path runs the relink runner on libuv's own library.
  build=$path runlib=$work/lib
  [ $path = reference ] && build=relink runlib=$work/reflib
  bin=$(bio_build tests "$build" "$src" "$work/build/tests-$build" \
          "$incdir" "$work/lib" "$jobs") || bin=''
  if [ -n "$bin" ]; then
    bio_verify_loaded "$bin" "$runlib" || exit 2
  fi
  # The runner's own list, asked as the test user (it refuses root).
  names=()
  if [ -n "$bin" ]; then
    mapfile -t names < <(env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$runlib" \
                           "$BIO_ISOLATE" "$BIO_UID" "$BIO_GID" / \
                           /usr/bin/env "${run_env[@]}" ASAN_OPTIONS=detect_leaks=0 \
                           "$bin" --list |
                           awk '{ print $1 }' |
                           { if [ -n "$filter" ]; then grep -E "^($filter)\$"; else cat; fi })
    [ ${#names[@]} -gt 0 ] || { bio_say "$path: the runner listed no tests"; bin=''; }
  fi
  for backend in "${backend_list[@]}"; do
    combo=$path-$backend
    combos+=("$combo")
    results=$work/results/$combo.txt
    logs=$work/logs/$combo
    mkdir -p "$work/results"
    rm -rf "$logs" "$results"
    mkdir -p "$logs"
    : > "$results"
    if [ -z "$bin" ]; then
      echo "$combo: build failed, nothing run"
      harness_error=1
      continue
    fi
    # Each combination gets an equal share of what is left of the budget.
    now=$(date +%s)
    remaining=$(( ${#combos[@]} - 1 ))
    left_combos=$(( ncombos - remaining ))
    share=$(( (deadline_all - now) / left_combos ))
    rundir=$work/run/$combo
    rm -rf "$rundir"
    mkdir -p "$rundir"
    chmod 755 "$work/run" "$rundir"
    # Expected tests first, so an exhausted budget hits the others.
    expected_names > "$work/expected.sorted"
    # run_names JOBS DEADLINE: runs the tests named on stdin.
    run_names() (
      export RUN_DEADLINE=$2 RUN_RESULTS=$results RUN_LOGS=$logs
      export RUN_DIR=$rundir RUN_FIXTURES=$work/fixtures RUN_UID=$BIO_UID
      # denied, killed: blitz-io picks its backend with io_uring refused.
      RUN_WRAP=''
      case $backend in
        denied) RUN_WRAP=$work/no-uring backend= ;;
        killed) RUN_WRAP="$work/no-uring --kill" backend= ;;
      esac
      export RUN_WRAP
      export RUN_GID=$BIO_GID RUN_USER=$BIO_TEST_USER RUN_BACKEND=$backend
      export RUN_LIB=$runlib RUN_ISOLATE=$BIO_ISOLATE RUN_BIN=$bin
      export RUN_VERBOSE=$verbose RUN_COMBO=$combo
      RUN_NS=''; [ $isolate = 1 ] && RUN_NS=-n
      export RUN_NS
      # Associative arrays do not export; pass the limits as a declaration.
      export RUN_LIMITS_DECL="$(declare -p limit_ms | sed 's/limit_ms=/RUN_LIMITS_MS=/')"
      export RUN_ENV_DECL="$(declare -p run_env | sed 's/run_env=/RUN_ENV=/')"
      RUN_OWN_LEAKS=''; [ $sanitize = 1 ] && RUN_OWN_LEAKS=$SANITIZE_OWN_LEAKS
      export RUN_OWN_LEAKS RUN_SANITIZE=$sanitize
      export -f run_one
      xargs -r -P "$1" -I{} bash -c 'eval "$RUN_LIMITS_DECL"; run_one "$1"' _ {}
    )
    t0=$(date +%s)
    { printf '%s\n' "${names[@]}" | grep -Fxf "$work/expected.sorted"
      printf '%s\n' "${names[@]}" | grep -Fxvf "$work/expected.sorted"
    } | run_names "$jobs" $((now + share))
    # An expected test that failed runs once more, alone: libuv's suite
    # has tests that lose races on a loaded machine (a 50 ms timer against
    # the time a loop took to start, SO_REUSEPORT's hash sending all ten
    # clients to one listener). Its first log stays beside the new one,
    # and the verdict names it.
    sort -o "$results" "$results"
    retry=$(sed -n 's/ fail$//p' "$results" | grep -Fxf "$work/expected.sorted")
    if [ -n "$retry" ]; then
      for name in $retry; do
        mv "$logs/$name.log" "$logs/$name.first.log" 2>/dev/null
        echo "$combo $name" >> "$work/retried"
      done
      grep -Fxvf <(sed 's/$/ fail/' <<< "$retry") "$results" > "$results.tmp"
      mv "$results.tmp" "$results"
      run_names 1 $(( $(date +%s) + 60 * $(wc -w <<< "$retry") )) <<< "$retry"
    fi
    t1=$(date +%s)
    sort -o "$results" "$results"
    np=$(grep -c ' pass$' "$results")
    nf=$(grep -c ' fail$' "$results")
    ns=$(grep -c ' skip$' "$results")
    echo "$suite $combo: $np passed, $nf failed, $ns skipped ($((t1 - t0)) s)"
    rmdir "$rundir" 2>/dev/null
  done
done

# Tests that failed once and then passed alone (see run_names' caller).
if [ -s "$work/retried" ]; then
  flaky=$(while read -r combo name; do
            grep -qx "$name pass" "$work/results/$combo.txt" &&
              echo "  $name ($combo; first log: $work/logs/$combo/$name.first.log)"
          done < "$work/retried")
  if [ -n "$flaky" ]; then
    echo "FAILED, THEN PASSED ALONE ($(wc -l <<< "$flaky")):"
    echo "$flaky"
  fi
fi

# Verdict against expected-pass.txt (restricted to the filter, if any).
status=0
missing=()
while read -r name; do
  [ -n "$filter" ] && ! [[ $name =~ ^($filter)$ ]] && continue
  bad=()
  for combo in "${combos[@]}"; do
    grep -qx "$name pass" "$work/results/$combo.txt" || bad+=("$combo")
  done
  [ ${#bad[@]} -gt 0 ] && missing+=("$name (${bad[*]})")
done < <(expected_names)
if [ ${#missing[@]} -gt 0 ]; then
  echo "EXPECTED TO PASS BUT DID NOT (${#missing[@]}):"
  printf '  %s\n' "${missing[@]}"
  echo "  logs: $work/logs/<combo>/<test>.log"
  status=1
fi

# Passed in every combination that ran, yet not listed.
if [ ${#combos[@]} -gt 0 ]; then
  newly=$(for combo in "${combos[@]}"; do
            sed -n 's/ pass$//p' "$work/results/$combo.txt"
          done | sort | uniq -c |
          awk -v n=${#combos[@]} '$1 == n { print $2 }' |
          grep -Fxvf <(expected_names; echo '#none#'))
  if [ -n "$newly" ]; then
    echo "NEWLY PASSING, add to $(basename "$expected") ($(echo "$newly" | wc -l)):"
    echo $newly | fold -s -w 76 | sed 's/^/  /'
  fi
fi
echo "total $(( $(date +%s) - start )) s; results in $work/results"
[ $harness_error = 1 ] && [ $status = 0 ] && status=2
exit $status
