#!/bin/sh
# The unit tests of the libuv API and of bio_task again, inside a seccomp filter that
# denies io_uring (EPERM) and inside one that kills its caller
# (test/programs/no-uring): each test's io_uring half then runs on the
# backend the library picks by itself, which must be epoll, and every
# test must pass there too (BIO_TEST_DENIED=1: test/unit/backend.h).
b=${BIO_TOP_BUILDDIR:-.}
units="test_embed test_fs test_fs_event test_loop test_net152 test_order
       test_pipe test_process test_release test_signal test_tcp
       test_tcp_open test_udp test_misc test_misc152 test_thread test_pool
       test_task test_task_uv test_runtime"
fail=0
for mode in "" --kill; do
  for t in $units; do
    out=$(BIO_TEST_DENIED=1 "$b/test/programs/no-uring" $mode \
            "$b/test/unit/$t" 2>&1)
    rc=$?
    echo "no-uring${mode:+ $mode} $t: $(echo "$out" | grep -E '^[0-9]+%')"
    if [ $rc != 0 ]; then
      echo "$out" | grep -E ':[FE]:' | head -20
      fail=1
    fi
  done
done
[ $fail = 0 ] && echo PASS
exit $fail
