#!/bin/sh
# Builds the benchmark peers into BUILDDIR (default bench/peers/build):
# BUILDDIR/tokio-taskbench (tokio 1.24 from Debian's crate registry,
# offline) and BUILDDIR/go-taskbench. Installs nothing: the toolchains
# come from `tools/install-deps --peers`. A peer whose toolchain is
# missing is skipped with a note; exit 1 only when a build fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
rc=0
if [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] &&
   [ -d /usr/share/cargo/registry ]; then
  # Debian's cargo and rustc, not rustup's (which may come first in PATH):
  # the registry replacement (tokio/.cargo/config.toml) points at Debian's
  # packaged crates.
  (cd "$here/tokio" &&
   CARGO_HOME="$out/cargo-home" CARGO_TARGET_DIR="$out/tokio-target" \
   RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
     /usr/bin/cargo build --release --offline --quiet) &&
    cp "$out/tokio-target/release/taskbench" "$out/tokio-taskbench" ||
    { echo "build.sh: the tokio peer failed to build" >&2; rc=1; }
else
  echo "build.sh: no /usr/bin/cargo or /usr/bin/rustc (tools/install-deps --peers): tokio skipped" >&2
fi
if command -v go > /dev/null; then
  (cd "$here/go" &&
   GOCACHE="$out/go-cache" GOPATH="$out/go-path" GO111MODULE=off GOFLAGS= \
     go build -o "$out/go-taskbench" taskbench.go) ||
    { echo "build.sh: the Go peer failed to build" >&2; rc=1; }
else
  echo "build.sh: no go (tools/install-deps --peers): Go skipped" >&2
fi
exit $rc
