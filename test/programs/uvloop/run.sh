# uvloop (python3-uvloop, Debian's, linked to libuv.so.1): main.py's
# checksum is the one the system libuv gives.
. "$BIO_PROG_SRC/lib.sh"
py=/usr/bin/python3 # Debian's, whose dist-packages hold uvloop
ext=$($py -c 'import uvloop.loop; print(uvloop.loop.__file__)') ||
  fail "cannot import uvloop (tools/install-deps --programs)"
ldd_check "$ext"
out=$BIO_PROG_WORK/out
# Through tee: a run killed by its timeout still shows how far it got.
$py -u "$BIO_PROG_SRC/uvloop/main.py" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
[ $rc = 0 ] || fail "main.py exited with status $rc"
runtime_check "$out"
expect "$out" '^tcp: 8a23e57d 5e1d195a c938dc8d a1001980$'
expect "$out" '^unix: b321d3ea 5ccbc0fc 725272e2$'
expect "$out" '^subprocess: 200000 bytes, status 3$'
expect "$out" '^signal: usr1$'
expect "$out" '^timers: abc$'
expect "$out" '^closed: True$'
expect "$out" '^checksum: 78b4b8af$'
