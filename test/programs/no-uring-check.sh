#!/bin/sh
# no-uring (the check-programs helper) denies io_uring and nothing else:
# under it io_uring_setup fails with EPERM, as in a container that forbids
# io_uring; the program still runs, with its arguments and exit status.
b=${BIO_TOP_BUILDDIR:-.}/test/programs
fail() { echo "FAIL: $*"; exit 1; }

out=$("$b/no-uring" "$b/uring-probe")
[ "$out" = EPERM ] || fail "io_uring_setup under no-uring: '$out', not EPERM"
echo "under no-uring, io_uring_setup: $out"
echo "without it: $("$b/uring-probe")"
"$b/no-uring" sh -c 'exit 3'
rc=$?
[ $rc = 3 ] || fail "exit status through no-uring: $rc, not 3"
out=$("$b/no-uring" "$b/no-uring" echo nested 2>&1)
[ "$out" = nested ] || fail "a second filter on top: '$out'"
"$b/no-uring" /nonexistent/program 2>/dev/null
rc=$?
[ $rc = 127 ] || fail "exec failure status $rc, not 127"

# --kill: the call kills the process (SIGSYS), as some sandboxes do.
"$b/no-uring" --kill "$b/uring-probe" > /dev/null 2>&1
rc=$?
[ $rc = 159 ] || fail "io_uring_setup under no-uring --kill: status $rc, not 159 (SIGSYS)"
echo "under no-uring --kill, io_uring_setup: killed (status $rc)"
# A loop under such a filter finds out without dying and runs on epoll;
# without a filter it runs on io_uring.
out=$("$b/no-uring" --kill "$b/loop-backend")
rc=$?
[ $rc = 0 ] && [ "$out" = epoll ] ||
  fail "loop under no-uring --kill: status $rc, backend '$out' (want 0, epoll)"
out=$("$b/no-uring" "$b/loop-backend")
[ "$out" = epoll ] || fail "loop under no-uring: backend '$out', not epoll"
out=$("$b/loop-backend")
[ "$out" = uring ] || fail "loop without a filter: backend '$out', not uring"
echo "loop backend: $out; under no-uring and no-uring --kill: epoll"
echo PASS
