#!/bin/bash
# Makes libuv 1.44.2's source (Debian's libuv1 source package, patches
# applied) available in a cache outside the source tree and prints its path.
# libuv is our oracle: its tests and benchmarks judge us, so we fetch it at
# test time and never keep a copy in the repository.
#
# usage: fetch.sh            (BIO_CACHE overrides /var/cache/blitz-io)
set -euo pipefail

version=1.44.2
cache=${BIO_CACHE:-/var/cache/blitz-io}
dest=$cache/libuv-$version

say() { echo "fetch.sh: $*" >&2; }

# The cache must not be inside a source tree: libuv would end up committed.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mkdir -p "$cache"
cache_abs=$(cd "$cache" && pwd -P)
case "$cache_abs/" in
  "$(cd "$top" && pwd -P)"/*)
    say "refusing cache $cache_abs: it is inside the source tree $top"
    exit 1 ;;
esac

if [ -f "$dest/test/run-tests.c" ] && [ -f "$dest/.bio-fetched" ]; then
  echo "$dest"
  exit 0
fi

have_deb_src() {
  grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list \
      /etc/apt/sources.list.d/*.list ||
    grep -qsE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources
}

if ! have_deb_src; then
  say "no deb-src entry in apt's sources; adding one"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -E 's/^Types:.*/Types: deb-src/' \
        /etc/apt/sources.list.d/debian.sources \
        > /etc/apt/sources.list.d/blitz-io-src.sources
  elif [ -f /etc/apt/sources.list ]; then
    sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list \
        > /etc/apt/sources.list.d/blitz-io-src.list
  else
    say "cannot find apt sources to derive a deb-src entry from"
    exit 1
  fi
  apt-get update -qq >&2
fi

# Pick the packaged 1.44.2 revision (e.g. 1.44.2-1+deb12u1); fail otherwise,
# since the suite's expectations are written against that version.
pkgver=$(apt-cache showsrc libuv1 2>/dev/null |
           sed -n 's/^Version: //p' | grep -E "^$version(-|$)" | head -n 1 || true)
if [ -z "$pkgver" ]; then
  apt-get update -qq >&2
  pkgver=$(apt-cache showsrc libuv1 2>/dev/null |
             sed -n 's/^Version: //p' | grep -E "^$version(-|$)" | head -n 1 || true)
fi
if [ -z "$pkgver" ]; then
  say "apt knows no libuv1 source of version $version"
  exit 1
fi

tmp=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "apt-get source libuv1=$pkgver into $tmp"
# As root, apt warns that _apt cannot reach the directory; harmless.
(cd "$tmp" && apt-get source -qq "libuv1=$pkgver") >&2
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name "libuv1-$version*" | head -n 1)
if [ -z "$src" ] || [ ! -f "$src/test/run-tests.c" ]; then
  say "apt-get source produced no libuv1-$version tree"
  exit 1
fi
rm -rf "$dest"
mv "$src" "$dest"
chmod -R a+rX "$dest"
echo "libuv1=$pkgver" > "$dest/.bio-fetched"
echo "$dest"
