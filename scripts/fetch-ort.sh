#!/usr/bin/env bash
# Fetches ONNX Runtime shared libraries from the npm registry (no other network),
# verifies the tarball's sha256 and extracts the libraries into a cache folder.
#
#   scripts/fetch-ort.sh cpu  [DIR]   libonnxruntime.so.1 (ORT 1.29.0) from onnxruntime-node
#   scripts/fetch-ort.sh cuda [DIR]   the CUDA 13 execution provider, placed beside it
set -euo pipefail

what=${1:-cpu}
dir=${2:-.cache/ort}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$what" in
cpu)
  pkg=onnxruntime-node@1.29.0
  tgz=onnxruntime-node-1.29.0.tgz
  sum=cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037
  members=(package/bin/napi-v6/linux/x64/libonnxruntime.so.1)
  want=libonnxruntime.so.1
  ;;
cuda)
  pkg=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
  tgz=com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz
  sum=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
  members=(package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so)
  want=libonnxruntime_providers_cuda.so
  ;;
*)
  echo "usage: $0 cpu|cuda [DIR]" >&2
  exit 2
  ;;
esac

if [ -f "$dir/$want" ] && [ -f "$dir/$want.sha256" ] && [ "$(cat "$dir/$want.sha256")" = "$sum" ]; then
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "fetch-ort: only linux/amd64 libraries are fetched; set VOUCHSAFE_ORT_LIB to your own libonnxruntime" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -f "$dir/$tgz" ]; then
  cp "$dir/$tgz" "$tmp/"
else
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
fi
got=$(sha256sum "$tmp/$tgz" | cut -d' ' -f1)
if [ "$got" != "$sum" ]; then
  echo "fetch-ort: sha256 mismatch for $tgz: got $got, want $sum" >&2
  exit 1
fi
tar -xzf "$tmp/$tgz" -C "$tmp" "${members[@]}"
for m in "${members[@]}"; do
  install -m 0644 "$tmp/$m" "$dir/$(basename "$m")"
done
echo "$sum" > "$dir/$want.sha256"
echo "fetch-ort: $want in $dir"
