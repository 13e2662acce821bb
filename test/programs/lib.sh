# Shared by the program scripts (sourced). The runner (run.sh) exports:
#   BIO_PROG_MODE    uring | epoll | no-uring | kill-uring | system
#   BIO_PROG_EXPECT  the file libuv.so.1 must resolve to (our build's, or
#                    the system's in system mode)
#   BIO_PROG_SRC     this directory; BIO_PROG_WORK: a fresh scratch directory
# and LD_LIBRARY_PATH (our .libs first) and BIO_BACKEND as the mode wants.

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect FILE REGEX [what]: FILE has a line matching REGEX (grep -E).
expect() {
  grep -Eq -- "$2" "$1" || fail "${3:-no line matching /$2/ in $1}"
}

# ldd_check FILE: the dynamic linker, with the environment we run the
# program in, resolves FILE's libuv.so.1 to BIO_PROG_EXPECT. A program
# with libuv linked in statically has no such line and fails here.
ldd_check() {
  local got
  got=$(ldd "$1" | awk '$1 == "libuv.so.1" { print $3 }')
  [ -n "$got" ] || fail "$1 does not load libuv.so.1 (static libuv?)"
  got=$(readlink -f "$got")
  [ "$got" = "$BIO_PROG_EXPECT" ] ||
    fail "$1 resolves libuv.so.1 to $got, not $BIO_PROG_EXPECT"
  echo "ldd: $1 -> $got"
}

# runtime_check FILE: the program's own report (from /proc/self while its
# loop ran) says the only libuv mapped was BIO_PROG_EXPECT and, on ours,
# that the loop used the backend the mode asks for: an io_uring instance
# with BIO_BACKEND=uring, none (and an epoll instance) otherwise.
runtime_check() {
  local out=$1 libs
  libs=$(sed -n 's/^libuv: //p' "$out" | tr ' ' '\n' | sort -u | grep .)
  [ -n "$libs" ] || fail "the program printed no 'libuv:' line"
  [ "$libs" = "$BIO_PROG_EXPECT" ] ||
    fail "libuv mapped in the process: $(echo $libs); expected $BIO_PROG_EXPECT"
  case $BIO_PROG_MODE in
    uring) expect "$out" '^ring: yes' "BIO_BACKEND=uring but no io_uring fd" ;;
    epoll|no-uring|kill-uring)
      expect "$out" '^ring: no' "an io_uring fd on the $BIO_PROG_MODE run"
      expect "$out" '^epoll: yes' "no epoll fd on the $BIO_PROG_MODE run" ;;
  esac
}
