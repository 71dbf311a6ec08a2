#!/usr/bin/env bash
# Packs what bench/gpu-check.sh needs on a GPU machine that has no Go
# toolchain and no network (see bench/README.md): vsbench and the ort tests
# compiled as a binary (stripped), ONNX Runtime with its CUDA provider and
# bench/reference.py, as an xz-compressed tar split into parts small enough to
# carry one per call of the device tool.
#
#   bench/gpu-pack.sh [--cpu-only] [--fast] [OUTDIR] [PART_SIZE]
#
# OUTDIR defaults to .gpu and PART_SIZE to 42M: a part, the working tree
# (about 12 MB) and the camera photos (up to 8 MB) must stay under 64 MiB.
# --cpu-only leaves the CUDA provider out and --fast compresses at xz -0:
# what the dry run of gpu-check.sh in `make test` uses.
#
# On the GPU machine, once every part is there: bench/gpu-unpack.sh PARTS
# (or: cat OUTDIR/part-* | xz -dc | tar -x -C /tmp/vs).
set -euo pipefail
cd "$(dirname "$0")/.."
cpu_only=0 level=-9
while [ $# -gt 0 ]; do
  case $1 in
    --cpu-only) cpu_only=1; shift ;;
    --fast) level=-0; shift ;;
    -*) echo "gpu-pack: unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
out=${1:-.gpu}
size=${2:-42M}
ort_dir=${VOUCHSAFE_ORT_DIR:-$PWD/.cache/ort}

scripts/fetch-ort.sh cpu "$ort_dir"
[ "$cpu_only" = 1 ] || scripts/fetch-ort.sh cuda "$ort_dir"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/ort" "$stage/bin"
# Stripped (-s -w): the symbol tables would be a third of the bundle.
go build -trimpath -ldflags='-s -w' -o "$stage/bin/vsbench" ./bench/cmd/vsbench
# The tests that need a GPU (TestCUDAMatchesCPU, TestCUDAFloat16), as a binary.
go test -c -trimpath -ldflags='-s -w' -o "$stage/bin/ort.test" ./internal/ort
cp "$ort_dir/libonnxruntime.so.1" "$stage/ort/"
if [ "$cpu_only" = 0 ]; then
  cp "$ort_dir/libonnxruntime_providers_cuda.so" "$ort_dir/libonnxruntime_providers_shared.so" "$stage/ort/"
fi
cp bench/reference.py bench/gpu-unpack.sh "$stage/"
git rev-parse HEAD > "$stage/REVISION" 2>/dev/null || true

# A binary built here must not need a newer C library than the GPU machine's.
glibc=$(for b in "$stage"/bin/*; do objdump -T "$b" 2>/dev/null; done | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
echo "gpu-pack: binaries need ${glibc:-an unknown} glibc (check with ldd --version on the GPU machine)"

mkdir -p "$out"
rm -f "$out"/part-* "$out"/SHA256SUMS
# xz rather than zstd: the GPU machine's Python can always decompress it (lzma).
tar -C "$stage" -cf - . | xz -T0 "$level" | split -b "$size" -d - "$out/part-"
(cd "$out" && sha256sum part-* > SHA256SUMS)
ls -l "$out"
