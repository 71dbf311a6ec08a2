#!/usr/bin/env bash
# Reassembles the parts made by bench/gpu-pack.sh on the GPU machine.
#
#   gpu-unpack.sh PARTSDIR [DEST]      default DEST /tmp/vs
#
# Then: DEST/bin/vsbench --ort-lib DEST/ort ... (see bench/README.md).
set -euo pipefail
parts=${1:?usage: gpu-unpack.sh PARTSDIR [DEST]}
dest=${2:-/tmp/vs}
(cd "$parts" && sha256sum -c --quiet SHA256SUMS)
mkdir -p "$dest"
if command -v xz >/dev/null; then
  cat "$parts"/part-* | xz -dc | tar -x -C "$dest"
else # Python's lzma where xz is not installed
  cat "$parts"/part-* | python3 -c 'import lzma, sys, shutil; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)' | tar -x -C "$dest"
fi
echo "gpu-unpack: $(ls "$dest/bin" | tr '\n' ' ')in $dest/bin; ONNX Runtime in $dest/ort"
