# luv (lua-luv, Debian's, linked to libuv.so.1) on lua5.1: main.lua's
# results and checksum are the ones the system libuv gives.
. "$BIO_PROG_SRC/lib.sh"
lua=/usr/bin/lua5.1
[ -x $lua ] || fail "no $lua (tools/install-deps --programs)"
mod=/usr/lib/x86_64-linux-gnu/lua/5.1/luv.so
[ -e "$mod" ] || fail "no luv for Lua 5.1 (tools/install-deps --programs)"
ldd_check "$mod"
out=$BIO_PROG_WORK/out
# Through tee: a run killed by its timeout still shows how far it got.
$lua "$BIO_PROG_SRC/luv/main.lua" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ $rc = 0 ] || fail "main.lua exited with status $rc"
runtime_check "$out"
expect "$out" '^timers: abc$'
expect "$out" '^fs: 300000 54829 3300$'
expect "$out" '^tcp: 250000 47958 44700$'
expect "$out" '^backend_fd: ok$'
expect "$out" '^run: returned$'
expect "$out" '^checksum: 6138 10162$'
