#!/usr/bin/env bash
# Packs what vsbench needs on a GPU machine that has no Go toolchain and no
# network (see bench/README.md): the vsbench binary, the GPU tests compiled
# as binaries, ONNX Runtime with its CUDA provider, and bench/reference.py,
# as an xz-compressed tar split into parts small enough to carry one per call.
#
#   bench/gpu-pack.sh [OUTDIR] [PART_SIZE]     default .gpu and 44M (a carried part plus the working tree must stay under 64 MiB)
#
# On the GPU machine, once every part is there:
#   cat OUTDIR/part-* | xz -dc | tar -x -C /tmp/vs     (or bench/gpu-unpack.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu}
size=${2:-44M}
ort_dir=${VOUCHSAFE_ORT_DIR:-$PWD/.cache/ort}

scripts/fetch-ort.sh cpu "$ort_dir"
scripts/fetch-ort.sh cuda "$ort_dir"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/ort" "$stage/bin"
go build -trimpath -o "$stage/bin/vsbench" ./bench/cmd/vsbench
go build -trimpath -o "$stage/bin/vouchsafe" ./cmd/vouchsafe
# The tests that need a GPU, as binaries: run them there with -test.run.
go test -c -o "$stage/bin/ort.test" ./internal/ort
go test -c -o "$stage/bin/engine.test" ./engine
cp "$ort_dir/libonnxruntime.so.1" "$ort_dir/libonnxruntime_providers_cuda.so" "$ort_dir/libonnxruntime_providers_shared.so" "$stage/ort/"
cp bench/reference.py bench/gpu-unpack.sh "$stage/"
git rev-parse HEAD > "$stage/REVISION" 2>/dev/null || true

# A binary built here must not need a newer C library than the GPU machine's.
glibc=$(for b in "$stage"/bin/*; do objdump -T "$b" 2>/dev/null; done | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
echo "gpu-pack: binaries need ${glibc:-an unknown} glibc (check with ldd --version on the GPU machine)"

mkdir -p "$out"
rm -f "$out"/part-* "$out"/SHA256SUMS
tar -C "$stage" -cf - . | xz -T0 -6 | split -b "$size" -d - "$out/part-"
(cd "$out" && sha256sum part-* > SHA256SUMS)
ls -l "$out"
