#!/usr/bin/env python3
"""The public NeuralHash reference pipeline, timed, for vsbench to compare with.

For each image, one at a time, exactly the steps of the public reference
(AppleNeuralHash2ONNX's nnhash.py):

    Image.open(path).convert('RGB').resize([360, 360])    Pillow, its default filter
    / 255 * 2 - 1, HWC -> NCHW float32 [1, 3, 360, 360]
    onnxruntime InferenceSession.run, one image per call
    seed matrix (96 x 128 float32 after a 128-byte header) . embedding, bit = (dot >= 0)

It prints one JSON object on stdout: images/s over the whole loop (session
creation and one untimed warm-up call excluded), per-image latency
percentiles, and each image's hash as 24 hex digits.

    python3 bench/reference.py --model model.onnx --seed seed.dat [--list FILE] [IMAGE...]

Needs onnxruntime, Pillow and NumPy; if one is missing it says which on
stderr and exits with status 3.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

EXIT_MISSING_MODULES = 3


def import_modules():
    missing = []
    mods = {}
    for name, pip in (("numpy", "numpy"), ("PIL.Image", "Pillow"), ("onnxruntime", "onnxruntime")):
        try:
            mods[name] = __import__(name, fromlist=["_"])
        except ImportError as e:
            missing.append(f"{pip} ({e})")
    if missing:
        print(
            "reference.py: cannot run the reference pipeline with "
            + sys.executable
            + ": missing Python modules: "
            + ", ".join(missing)
            + ". Install them (pip install onnxruntime Pillow numpy) or pass another"
            " interpreter to vsbench --reference.",
            file=sys.stderr,
        )
        sys.exit(EXIT_MISSING_MODULES)
    return mods["numpy"], mods["PIL.Image"], mods["onnxruntime"]


def load_seed(np, path):
    with open(path, "rb") as f:
        data = f.read()
    want = 128 + 96 * 128 * 4
    if len(data) != want:
        raise SystemExit(f"reference.py: seed {path}: {len(data)} bytes, want {want}")
    return np.frombuffer(data[128:], dtype="<f4").reshape([96, 128])


def preprocess(np, Image, path):
    image = Image.open(path).convert("RGB")
    image = image.resize([360, 360])
    arr = np.asarray(image).astype(np.float32) / 255.0
    arr = arr * 2.0 - 1.0
    return arr.transpose(2, 0, 1).reshape([1, 3, 360, 360])


def to_hex(np, seed, emb):
    dots = seed.dot(emb.flatten())
    bits = "".join("1" if d >= 0 else "0" for d in dots)
    return "{:0{}x}".format(int(bits, 2), len(bits) // 4)


def percentile(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    i = max(0, min(len(sorted_ms) - 1, math.ceil(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="ONNX model file")
    ap.add_argument("--seed", required=True, help="seed file (neuralhash_128x96_seed1.dat format)")
    ap.add_argument("--list", help="file with one image path per line")
    ap.add_argument("--provider", default="CPUExecutionProvider", help="onnxruntime execution provider")
    ap.add_argument("images", nargs="*")
    args = ap.parse_args()

    paths = list(args.images)
    if args.list:
        with open(args.list, encoding="utf-8") as f:
            paths += [line.rstrip("\r\n") for line in f if line.strip()]
    if not paths:
        ap.error("no images given")

    np, Image, ort = import_modules()
    seed = load_seed(np, args.seed)
    session = ort.InferenceSession(args.model, providers=[args.provider])
    input_name = session.get_inputs()[0].name

    # One untimed call, so that session start-up is not charged to the first image.
    session.run(None, {input_name: np.zeros([1, 3, 360, 360], dtype=np.float32)})

    results, lat_ms, failed = [], [], 0
    t0 = time.perf_counter()
    for path in paths:
        t = time.perf_counter()
        try:
            arr = preprocess(np, Image, path)
            outs = session.run(None, {input_name: arr})
            results.append({"path": path, "hash": to_hex(np, seed, outs[0])})
        except Exception as e:  # a bad image is reported, the run goes on
            failed += 1
            results.append({"path": path, "error": f"{type(e).__name__}: {e}"})
        lat_ms.append((time.perf_counter() - t) * 1e3)
    wall = time.perf_counter() - t0

    lat_sorted = sorted(lat_ms)
    out = {
        "reference": "Pillow convert('RGB').resize([360, 360]), /255*2-1, NCHW, onnxruntime one image per call, seed projection",
        "onnxruntime": ort.__version__,
        "providers": session.get_providers(),
        "python": platform.python_version(),
        "images": len(paths),
        "failed": failed,
        "seconds": wall,
        "images_per_s": len(paths) / wall if wall > 0 else 0.0,
        "latency": {
            "p50_ms": percentile(lat_sorted, 50),
            "p90_ms": percentile(lat_sorted, 90),
            "p99_ms": percentile(lat_sorted, 99),
            "max_ms": lat_sorted[-1],
            "mean_ms": sum(lat_ms) / len(lat_ms),
        },
        "results": results,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
