# Shared by suite.sh and bench.sh (sourced, not run): the unprivileged test
# user, the private copy of our library, and building libuv's runners from
# libuv's own sources in the two ways we care about:
#   relink  - system uv.h, linked to the system -luv, run with our
#             libuv.so.1 first in LD_LIBRARY_PATH (binary compatibility)
#   rebuild - our uv.h, linked to our libuv.so.1 (source compatibility)

BIO_TEST_USER=${BIO_TEST_USER:-bio-test}
BIO_SYSLIBDIR=${BIO_SYSLIBDIR:-/usr/lib/x86_64-linux-gnu}

bio_say() { echo "${0##*/}: $*" >&2; }
bio_die() { bio_say "$*"; exit 2; }

# Creates the unprivileged user libuv's test runner insists on, and sets
# BIO_UID/BIO_GID.
bio_ensure_user() {
  if ! id -u "$BIO_TEST_USER" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || bio_die "user $BIO_TEST_USER missing and we are not root"
    useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$BIO_TEST_USER" ||
      bio_die "useradd $BIO_TEST_USER failed"
  fi
  BIO_UID=$(id -u "$BIO_TEST_USER")
  BIO_GID=$(id -g "$BIO_TEST_USER")
}

# Builds the isolation helper into $1 (work dir); sets BIO_ISOLATE.
bio_build_isolate() {
  local work=$1 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  BIO_ISOLATE=$work/isolate
  if [ ! -x "$BIO_ISOLATE" ] || [ "$here/isolate.c" -nt "$BIO_ISOLATE" ]; then
    ${CC:-cc} -O1 -g -Wall -o "$BIO_ISOLATE" "$here/isolate.c" ||
      bio_die "cannot build isolate.c"
  fi
}

# Copies our libuv.so.1 (and whatever else our build put next to it, unless
# the directory is a system one) to $2, readable by the test user, whose
# access to the build tree we cannot assume.
bio_copy_lib() {
  local from=$1 to=$2
  [ -e "$from/libuv.so.1" ] || bio_die "no libuv.so.1 in $from"
  rm -rf "$to"
  mkdir -p "$to"
  case "$(cd "$from" && pwd -P)" in
    /usr/lib*|/lib*) cp -L "$from"/libuv.so.1 "$to"/ ;;
    *) cp -a "$from"/*.so* "$to"/ ;;
  esac
  chmod -R a+rX "$to"
}

# Fails loudly unless binary $1, run as the test user with $2 first in
# LD_LIBRARY_PATH, resolves libuv.so.1 to $2/libuv.so.1.
bio_verify_loaded() {
  local bin=$1 libdir=$2 got
  got=$(env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$libdir" \
          "$BIO_ISOLATE" "$BIO_UID" "$BIO_GID" / /usr/bin/ldd "$bin" |
          awk '$1 == "libuv.so.1" { print $3 }')
  if [ "$got" != "$libdir/libuv.so.1" ]; then
    bio_say "FATAL: $bin loads libuv.so.1 from '${got:-nothing}'," \
            "not from $libdir (ours)"
    return 1
  fi
}

# The .c files of libuv's unix test runner (from libuv's Makefile.am).
bio_test_sources() {
  local src=$1
  awk '/^test_run_tests_SOURCES[[:space:]]*=/ { f = 1 }
       f { print; if ($0 !~ /\\$/) exit }' "$src/Makefile.am" |
    grep -o 'test/[A-Za-z0-9_.-]*\.c' | sed 's|^test/||'
  echo runner-unix.c
}

# The .c files of libuv's benchmark runner.
bio_bench_sources() {
  local src=$1
  (cd "$src/test" && ls benchmark-*.c)
  echo blackhole-server.c echo-server.c run-benchmarks.c runner.c runner-unix.c |
    tr ' ' '\n'
}

# bio_build KIND PATH SRC BUILDDIR OURINC OURLIB JOBS: builds run-tests
# (KIND=tests) or run-benchmarks (KIND=bench) in BUILDDIR; prints its path.
bio_build() {
  local kind=$1 path=$2 src=$3 dir=$4 ourinc=$5 ourlib=$6 jobs=$7
  local here prog sources cppflags libs
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  case $kind in
    tests) prog=run-tests; sources=$(bio_test_sources "$src") ;;
    bench) prog=run-benchmarks; sources=$(bio_bench_sources "$src") ;;
  esac
  case $path in
    relink)
      # libuv's headers and library: the system's 1.44.2, or the reference
      # build of another version (BIO_SYSINC, BIO_SYSLIBDIR).
      cppflags=${BIO_SYSINC:+-I$BIO_SYSINC}
      libs="-L$BIO_SYSLIBDIR -luv" ;;
    rebuild)
      [ -f "$ourinc/uv.h" ] || { bio_say "no uv.h in $ourinc"; return 1; }
      cppflags="-I$ourinc"
      libs="$ourlib/libuv.so.1 -Wl,-rpath,$ourlib -Wl,-rpath-link,$ourlib" ;;
    *) bio_say "unknown path $path"; return 1 ;;
  esac
  mkdir -p "$dir"
  echo "$src|$cppflags|$libs|${CC:-cc}|${CFLAGS:-}" > "$dir/flags.new"
  if cmp -s "$dir/flags.new" "$dir/flags.stamp"; then
    rm -f "$dir/flags.new"
  else
    mv "$dir/flags.new" "$dir/flags.stamp"
  fi
  if ! make -s -C "$dir" -f "$here/runner.mk" -j "$jobs" \
         SRCDIR="$src/test" SOURCES="$(echo $sources)" PROG="$prog" \
         UV_CPPFLAGS="$cppflags" UV_LIBS="$libs" >"$dir/build.log" 2>&1; then
    bio_say "building $kind ($path) failed; see $dir/build.log"
    tail -n 20 "$dir/build.log" >&2
    return 1
  fi
  chmod -R a+rX "$dir"
  echo "$dir/$prog"
}
