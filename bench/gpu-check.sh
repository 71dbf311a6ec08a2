#!/usr/bin/env bash
# The GPU check as one command (issue 15), for a lent GPU machine without Go
# or network once the parts made by bench/gpu-pack.sh are there:
#
#   bash bench/gpu-check.sh [flags] [OUTDIR]        OUTDIR: default $OUT, else bench/out/gpu-check
#
#   --parts DIR    where the parts are (default /tmp/parts); part-* and
#                  SHA256SUMS found in .gpu/ of this checkout are copied there first
#   --dest DIR     where to unpack (default /tmp/vs)
#   --photos DIR   camera JPEGs (default .photos, a git-ignored folder carried along)
#   --budget S     wall-clock budget in seconds for everything (default 330)
#   --dry-run      CPU only, tiny inputs and times: what `make test` runs so
#                  that this script cannot rot (parts from gpu-pack.sh --cpu-only)
#
# Steps, each bounded by `timeout` within the budget, each recorded (exit
# status, seconds, end of its log) and none stopping the next: check the
# parts, unpack, TestCUDAMatchesCPU and TestCUDAFloat16, vsbench inference
# sweep on CUDA (fp32 and fp16, batch 32-512, 1-4 streams), vsbench on small
# photos and on camera JPEGs (cpu and cuda, fp32 and fp16, with the reference
# pipeline), then one JSON (gpu-check.json) and one Markdown table
# (gpu-check.md) in OUTDIR, with each step's log under OUTDIR/logs. Exits 1 if
# any step failed, after writing everything.
set -uo pipefail
cd "$(dirname "$0")/.."
parts=/tmp/parts dest=/tmp/vs photos=.photos budget=330 dry=0 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --parts) parts=$2; shift 2 ;;
    --dest) dest=$2; shift 2 ;;
    --photos) photos=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "gpu-check: unknown flag $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
out=${out:-${OUT:-bench/out/gpu-check}}
mkdir -p "$out/logs" "$parts" "$dest"
out=$(cd "$out" && pwd) dest=$(cd "$dest" && pwd)
steps=$out/logs/steps.tsv
: > "$steps"
start=$(date +%s)
reserve=10 # seconds kept for writing the report
failed=0

# step NAME MAX CMD...: runs CMD under timeout (MAX seconds or what is left of
# the budget), logging to logs/NAME.log; 125 = skipped, out of time.
step() {
  local name=$1 max=$2; shift 2
  local left=$((start + budget - reserve - $(date +%s)))
  local t=$((max < left ? max : left)) rc t0 t1
  t0=$(date +%s.%N)
  if [ "$t" -lt 5 ]; then
    rc=125
    echo "skipped: out of time" > "$out/logs/$name.log"
  else
    echo "gpu-check: $name (up to ${t}s)" >&2
    if [ "$(type -t "$1")" = function ]; then
      # timeout runs programs, not shell functions: hand it the function's text.
      timeout -k 5 "$t" bash -c "$(declare -f "$1"); $*" > "$out/logs/$name.log" 2>&1
    else
      timeout -k 5 "$t" "$@" > "$out/logs/$name.log" 2>&1
    fi
    rc=$?
  fi
  t1=$(date +%s.%N)
  printf '%s\t%d\t%s\t%s\n' "$name" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "$out/logs/$name.log" >> "$steps"
  [ "$rc" -eq 0 ] || failed=1
  echo "gpu-check: $name: exit $rc" >&2
  return 0
}

# The last call of the device tool carries the last part and SHA256SUMS in .gpu/.
if [ "$dry" = 0 ] && ls .gpu/part-* > /dev/null 2>&1; then cp .gpu/part-* .gpu/SHA256SUMS "$parts/" 2> /dev/null; fi

export V=$dest/bin ORT=$dest/ort dry out py=python3
[ -x /opt/torch/.venv/bin/python3 ] && py=/opt/torch/.venv/bin/python3
# CUDA and cuDNN folders of the lent machine, beside what internal/ort finds itself.
cudalibs=""
for d in /usr/local/cuda/lib64 /opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib; do
  [ -d "$d" ] && cudalibs=${cudalibs:+$cudalibs:}$d
done
export VOUCHSAFE_CUDA_LIBS=${VOUCHSAFE_CUDA_LIBS:-$cudalibs}
export VOUCHSAFE_ORT_LIB=$ORT/libonnxruntime.so.1
# Converted fp16 models go to a cache inside OUTDIR's parent, not $HOME.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$dest/cache}

machine() {
  uname -a; nproc; ldd --version 2>&1 | head -1
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$py" -c 'import sys; print(sys.version)'
  "$py" -c 'import onnxruntime, PIL, numpy; print("onnxruntime", onnxruntime.__version__, "Pillow", PIL.__version__, "NumPy", numpy.__version__)'
  return 0
}
step machine 20 machine

step parts 60 bash -c "cd '$parts' && sha256sum -c SHA256SUMS"
step unpack 90 bash bench/gpu-unpack.sh "$parts" "$dest"

# The CUDA tests; on the GPU machine a skip (no driver, no provider) is a failure.
cuda_tests() {
  "$V/ort.test" -test.run 'TestCUDAMatchesCPU|TestCUDAFloat16' -test.v -test.count=1 || return
  if [ "$dry" = 0 ] && grep -q -- '--- SKIP' "$out/logs/cuda-test.log"; then
    echo "gpu-check: a CUDA test skipped on the GPU machine"
    return 3
  fi
}
step cuda-test 90 cuda_tests

if [ "$dry" = 1 ]; then
  devs=cpu sweep=(--batches 1,2 --streams 1,2 --min-time 20ms)
  small=(--limit 3 --min-time 20ms --batches 2 --batch 2) camera=(--limit 2 --min-time 20ms --batch 2)
  [ -d "$photos" ] || photos=testdata/photos
  ref=()
  if "$py" -c 'import onnxruntime, PIL, numpy' 2> /dev/null; then ref=(--reference "$py" --reference-script "$dest/reference.py"); fi
else
  devs=cpu,cuda sweep=(--batches 32,64,128,256,512 --streams 1,2,4 --min-time 1s)
  small=(--min-time 2s --batches 128) camera=(--min-time 3s)
  ref=(--reference "$py" --reference-script "$dest/reference.py")
fi
sweepdev=cuda
[ "$dry" = 1 ] && sweepdev=cpu
step infer-sweep 100 "$V/vsbench" --ort-lib "$ORT" --devices "$sweepdev" --models bench --precisions fp32,fp16 \
  --stages infer "${sweep[@]}" --json "$out/infer-sweep.json"
step small-photos 90 "$V/vsbench" --ort-lib "$ORT" --devices "$devs" --models bench,default --precisions fp32,fp16 \
  --stages decode,infer,hash,e2e "${small[@]}" "${ref[@]}" --json "$out/small-photos.json" testdata/photos
step camera-photos 75 "$V/vsbench" --ort-lib "$ORT" --devices "$devs" --models bench --precisions fp32,fp16 \
  --stages decode,e2e "${camera[@]}" "${ref[@]}" --json "$out/camera-photos.json" "$photos"

# The one pass from photos to vouchers beside hashing alone and the two-step
# path (issue 12), on the GPU's device and the camera JPEGs.
step voucher 60 "$V/vsbench" --ort-lib "$ORT" --devices "${devs##*,}" --models default,bench --precisions fp32 \
  --stages voucher "${camera[@]}" --json "$out/voucher.json" "$photos"

# One JSON and one Markdown table from every report and step.
reports=()
for r in infer-sweep small-photos camera-photos voucher; do
  [ -f "$out/$r.json" ] && reports+=("$out/$r.json")
done
if [ -x "$V/vsbench" ] && timeout 30 "$V/vsbench" --combine --steps "$steps" --json "$out/gpu-check.json" \
  --markdown "$out/gpu-check.md" "${reports[@]}" 2> "$out/logs/combine.log"; then
  rm -f "${reports[@]}"
else
  # vsbench itself did not run (not unpacked, wrong C library): the steps alone.
  failed=1
  {
    echo '{"steps": ['
    awk -F'\t' '{printf "%s{\"name\": \"%s\", \"exit_status\": %d, \"seconds\": %s}", (NR > 1 ? ",\n" : ""), $1, $2, $3}' "$steps"
    echo '], "error": "vsbench --combine did not run; see logs/"}'
  } > "$out/gpu-check.json"
  { echo "| step | exit status | seconds |"; echo "|---|---|---|"; awk -F'\t' '{print "| " $1 " | " $2 " | " $3 " |"}' "$steps"; } > "$out/gpu-check.md"
fi
echo "gpu-check: $(($(date +%s) - start)) s; $out/gpu-check.json, $out/gpu-check.md" >&2
exit $failed
