#!/bin/sh
# blitz-io: does our libuv.so.1 export every function libuv 1.44.2 and
# libuv 1.52.1 do? The reference list is the union of the system's
# libuv.so.1 (1.44.2) when installed, else the committed
# libuv-1.44.2.symbols, and the committed libuv-1.52.1.symbols. Also flags
# uv_* symbols we export that neither has (a warning only).
# Exit: 0 pass, 1 fail, 77 skip.
#
# usage: symbols-check.sh [OUR_LIB]   (default: ../../.libs/libuv.so.1)
#   env: SYS_LIBUV (default /usr/lib/x86_64-linux-gnu/libuv.so.1)
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
lib=${1:-${OUR_LIBUV:-.libs/libuv.so.1}}
syslib=${SYS_LIBUV:-/usr/lib/x86_64-linux-gnu/libuv.so.1}
NM=${NM:-nm}

if ! command -v "$NM" > /dev/null 2>&1; then
  echo "symbols: SKIP, no nm"
  exit 77
fi
if [ ! -f "$lib" ]; then
  echo "symbols: FAIL, no library at $lib"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Exported, defined functions named uv_*.
exports() {
  "$NM" -D --defined-only "$1" |
    awk '$2 ~ /^[TWi]$/ && $3 ~ /^uv_/ { sub(/@.*/, "", $3); print $3 }' |
    sort -u
}

if [ -f "$syslib" ]; then
  exports "$syslib" > "$tmp/want"
  from=$syslib
else
  grep '^uv_' "$here/libuv-1.44.2.symbols" | sort -u > "$tmp/want"
  from=$here/libuv-1.44.2.symbols
fi
grep '^uv_' "$here/libuv-1.52.1.symbols" | sort -u > "$tmp/want152"
sort -u "$tmp/want" "$tmp/want152" > "$tmp/want.all"
mv "$tmp/want.all" "$tmp/want"
from="$from + $here/libuv-1.52.1.symbols"
exports "$lib" > "$tmp/have"

want=$(wc -l < "$tmp/want")
comm -23 "$tmp/want" "$tmp/have" > "$tmp/missing"
comm -13 "$tmp/want" "$tmp/have" > "$tmp/extra"
nmiss=$(wc -l < "$tmp/missing")
nextra=$(wc -l < "$tmp/extra")

if [ "$nextra" -gt 0 ]; then
  echo "symbols: note: $nextra uv_* exports libuv does not have:" \
    $(cat "$tmp/extra")
fi
echo "symbols: $((want - nmiss)) of $want exported (reference: $from)"
if [ "$nmiss" -gt 0 ]; then
  echo "symbols: FAIL, missing:"
  sed 's/^/  /' "$tmp/missing"
  exit 1
fi
exit 0
