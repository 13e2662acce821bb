# Node 18 (Debian bookworm's nodejs and libnode108, which link the shared
# libuv.so.1), extracted by tools/install-deps --programs into BIO_NODE_ROOT
# rather than installed (a machine may have another nodejs package, with
# libuv built in). main.js's results and checksum are the system libuv's.
. "$BIO_PROG_SRC/lib.sh"
node=$BIO_NODE_ROOT/usr/bin/node
nodelib=$BIO_NODE_ROOT/usr/lib/x86_64-linux-gnu
[ -x "$node" ] && [ -e "$nodelib/libnode.so.108" ] ||
  fail "no Node 18 in $BIO_NODE_ROOT (tools/install-deps --programs)"
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$nodelib
ldd_check "$node"
ldd_check "$nodelib/libnode.so.108"
out=$BIO_PROG_WORK/out
# Through tee: a run killed by its timeout still shows how far it got.
"$node" "$BIO_PROG_SRC/node/main.js" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ $rc = 0 ] || fail "main.js exited with status $rc"
runtime_check "$out"
expect "$out" '^node: v18\.'
expect "$out" '^files: 400000 95dd42f0aa8e502a$'
expect "$out" '^net: d28df553ab48f1f2 a800959aaed26b4c 267c1ce90ada77fa$'
expect "$out" '^spawn: 200000 status 3$'
expect "$out" '^exec: "hello\\n" "world\\n"$'
expect "$out" '^dns: 127\.0\.0\.1 4$'
expect "$out" '^worker: sum 333833500 exit 0$'
expect "$out" '^timers: abc$'
expect "$out" '^chat: 800 e44d95435044c63a$'
expect "$out" '^checksum: 7ea5ad77a5240849$'
