#!/bin/sh
# blitz-io: does our include/uv.h describe the same ABI as libuv 1.44.2's?
# A probe generated from items.txt prints the size, alignment, offset or
# value of every listed fact; it is built once against the system headers
# (libuv1-dev) and once against ours, in several feature-macro modes, and
# the outputs must agree line for line. A second check redeclares every
# function prototype from the system header after including ours, so any
# signature mismatch is a compile error. Exit: 0 pass, 1 fail, 77 skip.
#
# usage: abi-check.sh [OUR_INCLUDE_DIR]
#   env: SYS_INCLUDE (default /usr/include), ABI_ITEMS, CC, CXX, ABI_KEEP=1
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
ours=${1:-${OUR_INCLUDE:-$srcdir/include}}
sysinc=${SYS_INCLUDE:-/usr/include}
items=${ABI_ITEMS:-$here/items.txt}
CC=${CC:-cc}
CXX=${CXX:-c++}

if [ ! -f "$sysinc/uv.h" ] || [ ! -f "$sysinc/uv/version.h" ]; then
  echo "ABI: SKIP, no libuv headers in $sysinc (install libuv1-dev)"
  exit 77
fi
if ! grep -q 'UV_VERSION_MINOR 44' "$sysinc/uv/version.h" ||
   ! grep -q 'UV_VERSION_PATCH 2' "$sysinc/uv/version.h"; then
  echo "ABI: SKIP, $sysinc/uv.h is not libuv 1.44.2"
  exit 77
fi
if [ ! -f "$ours/uv.h" ]; then
  echo "ABI: FAIL, no uv.h in $ours"
  exit 1
fi

tmp=$(mktemp -d)
if [ "${ABI_KEEP:-0}" = 1 ]; then
  echo "ABI: keeping work files in $tmp"
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
' "$items" > "$tmp/probe.c" || { echo "ABI: FAIL, bad $items"; exit 1; }
nitems=$(grep -c '^[a-z]' "$items")

# ---- 2. Build and compare in each mode -----------------------------------
sysver=$(awk '/define UV_VERSION_(MAJOR|MINOR|PATCH)/ { v = v (v ? "." : "") $3 }
              END { print v }' "$sysinc/uv/version.h")
awk -v v="$sysver" '$1 == v { sub(/^[^ ]+ /, ""); print }' \
  "$here/changed-facts.txt" > "$tmp/changed.txt"
# grep -f with an empty list would drop every line.
[ -s "$tmp/changed.txt" ] || echo "no changed facts" > "$tmp/changed.txt"
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
        echo "ABI: mode $name: probe does not build against $sysinc; skipped"
        return 0
      fi
      echo "ABI: FAIL mode $name: probe does not build against $ours:"
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
      grep -v -F -f "$tmp/changed.txt" > "$tmp/out-$name-$side.txt"
  done
  n=$(wc -l < "$tmp/out-$name-sys.txt")
  d=$(diff "$tmp/out-$name-sys.txt" "$tmp/out-$name-ours.txt" |
      grep -c '^<')
  total=$((total + n))
  same=$((same + n - d))
  if [ "$d" -ne 0 ]; then
    echo "ABI: mode $name: $d of $n lines differ (< libuv, > ours):"
    diff "$tmp/out-$name-sys.txt" "$tmp/out-$name-ours.txt" | head -40
    fail=1
  else
    echo "ABI: mode $name: $n of $n lines match"
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
  echo "ABI: prototypes: $nproto of $nproto declarations agree"
  total=$((total + nproto))
  same=$((same + nproto))
else
  bad=$(grep -c 'error' "$tmp/protos.log")
  echo "ABI: FAIL prototypes: $bad errors among $nproto declarations:"
  grep -A3 'error' "$tmp/protos.log" | head -40
  total=$((total + nproto))
  same=$((same + nproto - bad))
  fail=1
fi

echo "ABI: $same of $total items match" \
  "($nitems facts from $(basename "$items") per mode, plus prototypes)"
exit $fail
