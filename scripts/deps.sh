#!/usr/bin/env bash
# Decides how `make` builds: prints the cgo setting for the go commands on
# stdout (CGO_ENABLED=1 or CGO_ENABLED=0, with include and library flags for a
# prefix other than /usr), and one line on stderr when it installs something or
# falls back.
#
#   scripts/deps.sh [PREFIX]   PREFIX (default /usr) is where jpeglib.h and
#                              libjpeg.a are looked for
#
# The cgo JPEG decoder (internal/jpeg) links libjpeg-turbo's libjpeg API
# statically (package libjpeg-dev, which is libjpeg-turbo on Debian and
# Ubuntu). When it is missing and PREFIX is /usr, it is installed with apt-get
# (sudo when not root, never a password prompt without a terminal).
# When it cannot be had, the build goes on without cgo: the pure-Go decoders and
# the pure-Go default model, which the code already supports.
set -uo pipefail

prefix=${1:-/usr}
cc=${CC:-gcc}

if [ "${CGO_ENABLED:-}" = 0 ]; then
  echo "CGO_ENABLED=0" # the caller chose the pure-Go build
  exit 0
fi

# have_turbo reports whether PREFIX has libjpeg-turbo's headers and static
# library. The headers must define LIBJPEG_TURBO_VERSION, as internal/jpeg
# requires (it #errors without): IJG libjpeg has the same file names, and
# with it the build would fail instead of installing or falling back.
have_turbo() {
  [ -f "$prefix/include/jpeglib.h" ] || return 1
  local inc=()
  [ "$prefix" = /usr ] || inc=("-I$prefix/include")
  # jpeglib.h needs stdio.h first (FILE, size_t), as in internal/jpeg.
  printf '#include <stdio.h>\n#include <jpeglib.h>\n#ifndef LIBJPEG_TURBO_VERSION\n#error not libjpeg-turbo\n#endif\n' |
    "$cc" "${inc[@]}" -E -x c -o /dev/null - >/dev/null 2>&1 || return 1
  local arch d
  arch=$("$cc" -print-multiarch 2>/dev/null || true)
  for d in ${arch:+"$prefix/lib/$arch"} "$prefix/lib64" "$prefix/lib"; do
    [ -f "$d/libjpeg.a" ] && libdir=$d && return 0
  done
  return 1
}

setting() {
  if [ "$prefix" = /usr ]; then
    echo "CGO_ENABLED=1"
  else
    # -L the directory have_turbo found libjpeg.a in (libjpeg-turbo's own
    # packages install to lib64), not a guess.
    echo "CGO_ENABLED=1 CGO_CFLAGS=-I$prefix/include CGO_LDFLAGS=-L$libdir"
  fi
}

fallback() {
  echo "deps: $1; building WITHOUT cgo instead: JPEGs decode with Go's image/jpeg (5-10x slower per photo, and --exact is no longer bit-exact with Pillow), and only the embedded default model and --algo pdq can hash (no ONNX Runtime: no model files, no bench model, no CUDA)" >&2
  echo "CGO_ENABLED=0"
  exit 0
}

command -v "$cc" >/dev/null 2>&1 || fallback "no C compiler ($cc) for cgo"
if have_turbo; then
  setting
  exit 0
fi
[ "$prefix" = /usr ] || fallback "libjpeg-turbo (jpeglib.h defining LIBJPEG_TURBO_VERSION, libjpeg.a) not found under $prefix"

# Install it (.ci/run installs only what the tests need and leaves this to
# make, which runs this script).
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    sudo=(sudo)
  else
    fallback "libjpeg-dev is not installed and cannot be installed here (not root, no sudo)"
  fi
fi
command -v apt-get >/dev/null 2>&1 || fallback "libjpeg-dev is not installed and there is no apt-get to install it"
echo "deps: installing libjpeg-dev with ${sudo[*]:+sudo }apt-get (libjpeg-turbo, linked into the cgo JPEG decoder)" >&2
install() { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq libjpeg-dev >/dev/null 2>&1; }
if ! install; then
  "${sudo[@]}" apt-get update -qq >/dev/null 2>&1
  install || true
fi
have_turbo || fallback "installing libjpeg-dev with apt-get failed"
setting
