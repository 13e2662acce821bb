#!/bin/bash
# Makes libuv 1.52.1's source available in a cache outside the source tree,
# with libuv's own build of it (the reference library the 1.52 suite's
# results are judged against), and prints the source's path. The source is
# the release tarball vendored beside the project (../shared/vendor/), never
# a copy in this repository: libuv is our oracle, not our code.
#
# usage: fetch-1.52.sh   (BIO_CACHE overrides /var/cache/blitz-io;
#                         BIO_LIBUV152_TARBALL the tarball's path; else
#                         shared/vendor/ beside the tree or a parent)
# The reference library ends up in <source>/.libs (libuv.so.1).
set -euo pipefail

version=1.52.1
cache=${BIO_CACHE:-/var/cache/blitz-io}
dest=$cache/libuv-$version

say() { echo "fetch-1.52.sh: $*" >&2; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# The shared/ directory beside the project (or beside a parent: check-asan
# and distcheck build copies inside the tree).
tarball=${BIO_LIBUV152_TARBALL:-}
if [ -z "$tarball" ]; then
  d=$top
  while [ "$d" != / ]; do
    d=$(dirname "$d")
    if [ -f "$d/shared/vendor/libuv-$version.tar.gz" ]; then
      tarball=$d/shared/vendor/libuv-$version.tar.gz
      break
    fi
  done
fi
: "${tarball:=$top/../shared/vendor/libuv-$version.tar.gz}"
mkdir -p "$cache"
cache_abs=$(cd "$cache" && pwd -P)
case "$cache_abs/" in
  "$(cd "$top" && pwd -P)"/*)
    say "refusing cache $cache_abs: it is inside the source tree $top"
    exit 1 ;;
esac

if [ -f "$dest/.bio-built" ] && [ -e "$dest/.libs/libuv.so.1" ]; then
  echo "$dest"
  exit 0
fi
[ -f "$tarball" ] || { say "no $tarball (libuv $version's release tarball)"; exit 1; }

tmp=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tarball" -C "$tmp"
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name "libuv*" | head -n 1)
if [ -z "$src" ] || [ ! -f "$src/test/run-tests.c" ]; then
  say "$tarball holds no libuv source tree"
  exit 1
fi
# The reference library, built the way libuv builds it (autotools), in
# the tree; only its shared library is used.
say "building libuv $version (reference library; once per cache)"
( cd "$src" && sh autogen.sh && ./configure --disable-static &&
  make -j"$(nproc)" libuv.la ) > "$tmp/build.log" 2>&1 || {
  say "building libuv $version failed:"; tail -n 30 "$tmp/build.log" >&2; exit 1; }
[ -e "$src/.libs/libuv.so.1" ] || { say "no .libs/libuv.so.1 after the build"; exit 1; }
rm -rf "$dest"
mv "$src" "$dest"
chmod -R a+rX "$dest"
echo "$tarball" > "$dest/.bio-built"
echo "$dest"
