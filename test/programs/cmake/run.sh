# cmake + ctest (Debian's, linked to libuv.so.1): configure and build
# project/ with the Makefile generator, then ctest -j4 runs its eleven tests
# in parallel; all must pass with their outputs.
. "$BIO_PROG_SRC/lib.sh"
for t in cmake ctest; do
  command -v $t > /dev/null || fail "no $t (tools/install-deps --programs)"
  ldd_check "$(command -v $t)"
done
b=$BIO_PROG_WORK/build
cmake -S "$BIO_PROG_SRC/cmake/project" -B "$b" -G "Unix Makefiles" ||
  fail "cmake configure failed"
cmake --build "$b" -j 4 || fail "cmake --build failed"
for f in calc textstat libbioutil.a; do
  [ -e "$b/$f" ] || fail "the build made no $f"
done
ctest --test-dir "$b" -j4 -V 2>&1 | tee "$BIO_PROG_WORK/ctest.out"
rc=${PIPESTATUS[0]}
[ $rc = 0 ] || fail "ctest exited with status $rc"
out=$BIO_PROG_WORK/ctest.out
expect "$out" '^100% tests passed, 0 tests failed out of 11$'
for t in calc_add calc_mul calc_fact calc_div0 calc_env text_count \
         text_lots text_stderr text_write text_slow inspect_ctest; do
  expect "$out" "Test +#[0-9]+: $t \.+ +Passed" "ctest: $t did not pass"
done
# Outputs, as ctest relayed them from the tests' pipes.
expect "$out" '^[0-9]+: 3628800$'
expect "$out" '^[0-9]+: forty-two$'
expect "$out" '^[0-9]+: lines 5 words 34 bytes 179 sum 16327$'
expect "$out" '^[0-9]+: line 39999 1599920001$'
expect "$out" '^[0-9]+: end 40000$'
expect "$out" '^[0-9]+: to-stderr$'
expect "$out" '^[0-9]+: slept 300 ms$'
[ "$(grep -c '^[0-9]*: line [0-9]* [0-9]*$' "$out")" = 40000 ] ||
  fail "ctest relayed $(grep -c '^[0-9]*: line ' "$out") of text_lots' 40000 lines"
[ "$(cat "$b/written.txt")" = "written by textstat 120" ] ||
  fail "text_write's file: '$(cat "$b/written.txt")'"
# cmake's own process mapped our libuv; ctest's, while its loop ran, too,
# on the backend asked for.
cat "$b/cmake-runtime.txt" "$b/ctest-runtime.txt"
BIO_PROG_MODE=system runtime_check "$b/cmake-runtime.txt"
runtime_check "$b/ctest-runtime.txt"
