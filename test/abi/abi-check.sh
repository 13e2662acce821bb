#!/bin/sh
# blitz-io: does our include/uv.h describe the same ABI as libuv's - both
# 1.44.2's (the system's libuv1-dev headers) and 1.52.1's (from the
# release tarball vendored in shared/vendor beside the source tree)? For
# each, a probe generated from that version's facts (items.txt,
# items-1.52.1.txt: types, fields, enumerators and macros, listed from
# libuv's headers by gen-items.sh) prints the size, alignment, offset or
# value of every fact; it is built once against libuv's headers and once
# against ours, in several feature-macro modes, and the outputs must agree
# line for line, except facts a later libuv changed on purpose
# (changed-facts.txt), left out against the older headers. A second check
# redeclares every function prototype of libuv's header after including
# ours, so any signature mismatch is a compile error.
# Exit: 0 pass, 1 fail, 77 skip.
#
# usage: abi-check.sh [OUR_INCLUDE_DIR]
#   env: SYS_INCLUDE (1.44.2's; default /usr/include), LIBUV152_TARBALL,
#        CC, CXX, ABI_KEEP=1; ABI_VERSION + ABI_SYS + ABI_ITEMS check one
#        version against the headers in ABI_SYS.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
ours=${1:-${OUR_INCLUDE:-$srcdir/include}}
CC=${CC:-cc}
CXX=${CXX:-c++}

if [ -z "${ABI_VERSION:-}" ]; then
  # Both versions, one run each.
  tarball=${LIBUV152_TARBALL:-}
  if [ -z "$tarball" ]; then
    # The shared/ directory beside the project (or beside a parent: make
    # distcheck builds in a directory inside the tree).
    d=$(cd "$srcdir" && pwd)
    while [ "$d" != / ]; do
      d=$(dirname "$d")
      if [ -f "$d/shared/vendor/libuv-1.52.1.tar.gz" ]; then
        tarball=$d/shared/vendor/libuv-1.52.1.tar.gz
        break
      fi
    done
  fi
  ABI_VERSION=1.44.2 ABI_SYS=${SYS_INCLUDE:-/usr/include} \
    ABI_ITEMS=$here/items.txt sh "$0" "$ours"
  r1=$?
  if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
    echo "ABI 1.52.1: FAIL, no libuv-1.52.1.tar.gz in a shared/vendor beside the" \
         "source tree (set LIBUV152_TARBALL)"
    exit 1
  fi
  inc=$(mktemp -d)
  tar -xzf "$tarball" -C "$inc" --wildcards '*/include/*' ||
    { echo "ABI 1.52.1: FAIL, cannot read $tarball"; rm -rf "$inc"; exit 1; }
  ABI_VERSION=1.52.1 ABI_SYS=$(echo "$inc"/*/include) \
    ABI_ITEMS=$here/items-1.52.1.txt sh "$0" "$ours"
  r2=$?
  rm -rf "$inc"
  [ $r1 = 1 ] || [ $r2 = 1 ] && exit 1
  [ $r1 = 77 ] && exit 77
  exit $r2
fi

sysinc=$ABI_SYS
items=$ABI_ITEMS
if [ ! -f "$sysinc/uv.h" ] || [ ! -f "$sysinc/uv/version.h" ]; then
  echo "ABI $ABI_VERSION: SKIP, no libuv headers in $sysinc (install libuv1-dev)"
  exit 77
fi
sysver=$(awk '/define UV_VERSION_(MAJOR|MINOR|PATCH)/ { v[$2] = $3 }
              END { print v["UV_VERSION_MAJOR"] "." v["UV_VERSION_MINOR"] "." \
                          v["UV_VERSION_PATCH"] }' "$sysinc/uv/version.h")
if [ "$sysver" != "$ABI_VERSION" ]; then
  echo "ABI $ABI_VERSION: SKIP, $sysinc/uv.h is libuv $sysver"
  exit 77
fi

tmp=$(mktemp -d)
if [ "${ABI_KEEP:-0}" = 1 ]; then
  echo "ABI $ABI_VERSION: keeping work files in $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

# ---- 1. Generate the probe ------------------------------------------------
awk '
BEGIN {
  print "#include <uv.h>"
  print "#include <stdio.h>"
  print "#include <stddef.h>"
  print "#define PROBE_STR_(x) #x"
  print "#define PROBE_STR(x) PROBE_STR_(x)"
  print "#define TYPE(T, L) printf(\"type %s size=%lu align=%lu\\n\", L, \\"
  print "  (unsigned long)sizeof(T), (unsigned long)__alignof__(T))"
  # Scalar fields also report their exact arithmetic type (C only).
  print "#ifdef __cplusplus"
  print "#define KIND(x) 0"
  print "#else"
  print "#define KIND(x) _Generic((x), char: 1, signed char: 2, \\"
  print "  unsigned char: 3, short: 4, unsigned short: 5, int: 6, \\"
  print "  unsigned int: 7, long: 8, unsigned long: 9, long long: 10, \\"
  print "  unsigned long long: 11, float: 12, double: 13, long double: 14, \\"
  print "  _Bool: 15, void*: 16, char*: 17, const char*: 18, default: 0)"
  print "#endif"
  print "#define FIELD(T, M, L) printf(\"field %s off=%lu size=%lu \\"
  print "  class=%d kind=%d\\n\", L, (unsigned long)offsetof(T, M), \\"
  print "  (unsigned long)sizeof(((T*)0)->M), \\"
  print "  (int)__builtin_classify_type(((T*)0)->M), KIND(((T*)0)->M))"
  print "#define VALUE(K, X) printf(\"%s %s = %lld\\n\", K, #X, (long long)(X))"
  print "int main(void) {"
}
/^#/ || NF == 0 { next }
{ kind = $1; rest = $0; sub(/^[a-z]+ /, "", rest) }
kind == "type" { printf "  TYPE(%s, \"%s\");\n", rest, rest; next }
kind == "field" {
  member = $NF; t = rest; sub(/ [^ ]+$/, "", t)
  printf "  FIELD(%s, %s, \"%s %s\");\n", t, member, t, member; next
}
kind == "enumtype" {
  printf "  printf(\"enumtype %s signed=%%d\\n\", (int)((%s)-1 < (%s)0));\n",
    rest, rest, rest
  next
}
kind == "enum" { printf "  VALUE(\"enum\", %s);\n", rest; next }
kind == "macro" {
  printf "#ifdef %s\n  VALUE(\"macro\", %s);\n#else\n", rest, rest
  printf "  printf(\"macro %s undefined\\n\");\n#endif\n", rest; next
}
kind == "string" {
  printf "#ifdef %s\n", rest
  printf "  printf(\"string %s = [%%s]\\n\", %s);\n", rest, rest
  printf "#else\n  printf(\"string %s undefined\\n\");\n#endif\n", rest; next
}
kind == "expand" {
  printf "#ifdef %s\n  printf(\"expand %s = %%s\\n\", PROBE_STR(%s));\n",
    rest, rest, rest
  printf "#else\n  printf(\"expand %s undefined\\n\");\n#endif\n", rest; next
}
kind == "defined" {
  printf "#ifdef %s\n  printf(\"defined %s = 1\\n\");\n#else\n", rest, rest
  printf "  printf(\"defined %s = 0\\n\");\n#endif\n", rest; next
}
kind == "map" {
  printf "#define XX(a, b) printf(\"map %s %%s %%s\\n\", #a, PROBE_STR(b));\n",
    rest
  printf "  %s(XX)\n#undef XX\n", rest; next
}
{ print "unknown item kind: " kind > "/dev/stderr"; bad = 1 }
END { print "  return 0;"; print "}"; if (bad) exit 1 }
' "$items" > "$tmp/probe.c" || { echo "ABI $ABI_VERSION: FAIL, bad $items"; exit 1; }
nitems=$(grep -c '^[a-z]' "$items")

# ---- 2. Build and compare in each mode -----------------------------------
# changed-facts.txt, for this version: "VERSION PREFIX" lines name facts
# left out (a later libuv changed them on purpose); "VERSION ~ERE" lines
# name facts compared without their type class and kind (same offset and
# size, another type of the same shape).
awk -v v="$sysver" '$1 == v && $2 !~ /^~/ { sub(/^[^ ]+ /, ""); print }' \
  "$here/changed-facts.txt" > "$tmp/changed.txt"
awk -v v="$sysver" '$1 == v && $2 ~ /^~/ { sub(/^[^ ]+ ~/, ""); print }' \
  "$here/changed-facts.txt" > "$tmp/reshaped.txt"
# grep -f with an empty list would drop every line.
[ -s "$tmp/changed.txt" ] || echo "no changed facts" > "$tmp/changed.txt"
[ -s "$tmp/reshaped.txt" ] || echo "^no reshaped facts$" > "$tmp/reshaped.txt"
fail=0
total=0
same=0
run_mode() {
  name=$1; shift
  compiler=$1; shift
  src=$tmp/probe.c
  if [ "$compiler" = "$CXX" ]; then
    cp "$tmp/probe.c" "$tmp/probe.cc"
    src=$tmp/probe.cc
  fi
  for side in sys ours; do
    if [ $side = sys ]; then inc=$sysinc; else inc=$ours; fi
    if ! $compiler "$@" -I"$inc" -w "$src" -o "$tmp/probe-$side" \
         2> "$tmp/cc-$side.log"; then
      if [ $side = sys ]; then
        echo "ABI $ABI_VERSION: mode $name: probe does not build against $sysinc; skipped"
        return 0
      fi
      echo "ABI $ABI_VERSION: FAIL mode $name: probe does not build against $ours:"
      grep -m 20 'error' "$tmp/cc-$side.log"
      fail=1
      return 0
    fi
    # Sorted: the error map's entries may come in any order (a program
    # that expands UV_ERRNO_MAP gets the same names, values and messages;
    # ours lists them by value, libuv by name); each line is one item.
    # Facts that a later libuv changed on purpose (changed-facts.txt:
    # "1.44.2 PREFIX" lines) are compared against that version's headers,
    # not this one's.
    "$tmp/probe-$side" | LC_ALL=C sort |
      grep -v -F -f "$tmp/changed.txt" |
      awk 'NR == FNR { re[++n] = $0; next }
           { for (i = 1; i <= n; i++)
               if ($0 ~ re[i]) { sub(/ +class=[0-9]+ kind=[0-9]+$/, ""); break }
             print }' "$tmp/reshaped.txt" - > "$tmp/out-$name-$side.txt"
  done
  n=$(wc -l < "$tmp/out-$name-sys.txt")
  d=$(diff "$tmp/out-$name-sys.txt" "$tmp/out-$name-ours.txt" |
      grep -c '^<')
  total=$((total + n))
  same=$((same + n - d))
  if [ "$d" -ne 0 ]; then
    echo "ABI $ABI_VERSION: mode $name: $d of $n lines differ (< libuv, > ours):"
    diff "$tmp/out-$name-sys.txt" "$tmp/out-$name-ours.txt" | head -40
    fail=1
  else
    echo "ABI $ABI_VERSION: mode $name: $n of $n lines match"
  fi
}

run_mode default "$CC"
run_mode gnu "$CC" -D_GNU_SOURCE
run_mode posix2008 "$CC" -std=c99 -D_POSIX_C_SOURCE=200809L
run_mode xopen500 "$CC" -std=c99 -D_XOPEN_SOURCE=500
if command -v "$CXX" > /dev/null 2>&1; then
  run_mode cxx "$CXX"
fi

# ---- 3. Function prototypes ----------------------------------------------
# Pull every UV_EXTERN declaration out of the preprocessed system header and
# restate it after our uv.h; conflicting types do not compile.
printf '#include <uv.h>\n' > "$tmp/sys.c"
$CC -I"$sysinc" -E "$tmp/sys.c" | awk '
  /^# [0-9]+ "/ { f = $3; gsub(/"/, "", f)
                  keep = (f ~ /\/uv\.h$/ || f ~ /\/uv\/[^\/]*\.h$/); next }
  keep { printf "%s ", $0 }' |
  tr ';' '\n' |
  awk '/visibility\("default"\)/ && /uv_[a-z0-9_]+ *\(/ {
         sub(/^[ \t{}]+/, ""); print $0 ";" }' > "$tmp/protos.h"
nproto=$(wc -l < "$tmp/protos.h")
{ echo '#include <uv.h>'; cat "$tmp/protos.h"; } > "$tmp/protos.c"
if $CC -I"$ours" -c "$tmp/protos.c" -o "$tmp/protos.o" \
     2> "$tmp/protos.log"; then
  echo "ABI $ABI_VERSION: prototypes: $nproto of $nproto declarations agree"
  total=$((total + nproto))
  same=$((same + nproto))
else
  bad=$(grep -c 'error' "$tmp/protos.log")
  echo "ABI $ABI_VERSION: FAIL prototypes: $bad errors among $nproto declarations:"
  grep -A3 'error' "$tmp/protos.log" | head -40
  total=$((total + nproto))
  same=$((same + nproto - bad))
  fail=1
fi

echo "ABI $ABI_VERSION: $same of $total items match" \
  "($nitems facts from $(basename "$items") per mode, plus prototypes)"
exit $fail
